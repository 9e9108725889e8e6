#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# What `make install` put under ROOT (DESTDIR, PREFIX=/usr) is what a Debian admin and a guest
# application author expect: every file in place, the library's soname, a program built with
# `pkg-config libxenshm` against the installed headers and library, man pages that render.
set -eu
ROOT=$1
fail() { echo "install-check: $*" >&2; exit 1; }
for f in usr/sbin/xenshmd usr/sbin/xenshm usr/lib/libxenshm.so usr/lib/libxenshm.so.0 \
         usr/lib/pkgconfig/libxenshm.pc usr/include/xenshm/shm.h usr/share/man/man8/xenshm.8 \
         usr/share/man/man8/xenshmd.8 usr/share/man/man3/libxenshm.3 usr/share/man/man5/xenshm.cfg.5 \
         usr/lib/systemd/system/xenshmd.service etc/modprobe.d/xenshm.conf \
         etc/modules-load.d/xenshm.conf; do
    [ -e "$ROOT/$f" ] || fail "missing $f"
done
readelf -d "$ROOT/usr/lib/libxenshm.so.0" | grep -q 'SONAME.*\[libxenshm.so.0\]' || fail "soname is not libxenshm.so.0"
grep -q "ExecStart=/usr/sbin/xenshmd -f" "$ROOT/usr/lib/systemd/system/xenshmd.service" || fail "unit's ExecStart"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/app.c" <<'C'
#include <stdio.h>
#include <xenshm/shm.h>
int main(void) { struct shm *s = shm_init(4096); printf("%p\n", (void *)s); shm_exit(s); return 0; }
C
# The .pc says prefix=/usr: point it at the scratch root.
sed "s|^prefix=.*|prefix=$ROOT/usr|" "$ROOT/usr/lib/pkgconfig/libxenshm.pc" > "$T/libxenshm.pc"
PKG_CONFIG_PATH=$T cc -Wall -Werror -o "$T/app" "$T/app.c" $(PKG_CONFIG_PATH=$T pkg-config --cflags --libs libxenshm) \
    || fail "a program does not build against the installed library"
LD_LIBRARY_PATH=$ROOT/usr/lib ldd "$T/app" | grep -q "libxenshm.so.0 => $ROOT/usr/lib/libxenshm.so.0" \
    || fail "the program does not load the installed libxenshm.so.0"
for m in "$ROOT"/usr/share/man/man*/*; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null) || fail "man $m"
    [ -z "$out" ] || fail "man $m: $out"
done
echo "install-check: $(find "$ROOT" -type f -o -type l | wc -l) files, soname libxenshm.so.0, pkg-config build and man pages fine"
