#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the Xen lab's boot images from Debian packages and the project's binaries.
#
# Two layers, because the project's binaries change every build and the rest almost never:
#   base    (cached in $XENLAB_CACHE, keyed by package versions and this script's BASE_REV):
#           Xen, the Debian 6.1 kernel (downloaded with apt-get download, never installed),
#           busybox, the Xen toolstack, hotplug scripts, kernel modules
#   overlay (rebuilt every time, seconds): /init scripts, lab tests, the project's binaries
# The initramfs images are the base and overlay cpio archives concatenated, which Linux
# unpacks in order (later files win).
#
# Output in $OUT (default build/xenlab): xen, vmlinuz, dom0.cpio, disk{0,1,2}.img
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/tools/xenlab
BUILD=${BUILD:-$TOP/build}
OUT=${OUT:-$BUILD/xenlab}
CACHE=${XENLAB_CACHE:-${HOME:-/root}/.cache/xenshm-xenlab}
BASE_REV=7                      # bump when the base layer's recipe changes
XENBIN=/usr/lib/xen-4.17/bin
KPKG=${KPKG:-}
DISK_MB=${XENLAB_DISK_MB:-512}

log() { echo "xenlab-build: $*" >&2; }

mkdir -p "$OUT" "$CACHE"

# ---------- the guest/dom0 kernel: newest Debian 6.1 kernel package, unpacked only ----------
if [ -z "$KPKG" ]; then
    KPKG=$(cat "$CACHE/kpkg" 2>/dev/null || true)
    if [ -z "$KPKG" ] || [ ! -d "$CACHE/kernel-$KPKG/boot" ]; then
        KPKG=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' \
               | awk '{print $1}' | sort -V | tail -1)
        [ -n "$KPKG" ] || { log "no linux-image-6.1.0-*-amd64-unsigned in apt (run apt-get update)"; exit 1; }
    fi
fi
KDIR=$CACHE/kernel-$KPKG
if [ ! -d "$KDIR/boot" ]; then
    log "downloading $KPKG (once)"
    rm -rf "$KDIR" "$CACHE/dl"; mkdir -p "$CACHE/dl"
    (cd "$CACHE/dl" && apt-get download "$KPKG" >&2)
    dpkg-deb -x "$CACHE"/dl/"${KPKG}"_*.deb "$KDIR.tmp"
    mv "$KDIR.tmp" "$KDIR"
    rm -rf "$CACHE/dl"
fi
echo "$KPKG" > "$CACHE/kpkg"
KVER=$(ls "$KDIR/lib/modules" | head -1)
MODDIR=$KDIR/lib/modules/$KVER/kernel

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
KEY=$(printf '%s\n' "$BASE_REV" "$KPKG" "$(pkgver xen-utils-4.17)" "$(pkgver xen-hypervisor-4.17-amd64)" \
      "$(pkgver busybox-static)" "$(pkgver bash)" | sha256sum | cut -c1-16)
BASE=$CACHE/base-$KEY

# ---------- helpers ----------
add_bin() {  # add_bin ROOT BINARY [DEST]: copy a binary and the libraries ldd names
    local root=$1 bin=$2 dest=${3:-$2}
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$bin" "$root$dest"
    ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}
add_mods() {  # add_mods ROOT MODULE...: paths relative to the kernel's module dir, no .ko
    local root=$1; shift
    mkdir -p "$root/lib/modules"
    for m in "$@"; do cp "$MODDIR/$m.ko" "$root/lib/modules/"; done
}
busybox_root() {
    local root=$1
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,var/lib,var/log,root,usr/bin,usr/sbin}
    ln -s ../run "$root/var/run"
    cp /bin/busybox "$root/bin/busybox"
    for a in $(/bin/busybox --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
}
mkcpio() {  # mkcpio DIR OUT raw|gzip
    if [ "$3" = raw ]; then (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$2"
    else (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$2"; fi
}
extract_vmlinux() {  # the xz payload of a bzImage, as scripts/extract-vmlinux does
    local off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -1 | cut -d: -f1)
    [ -n "$off" ] || { log "no xz payload in $1"; exit 1; }
    tail -c +$((off + 1)) "$1" | xz -dc 2>/dev/null > "$2" || true
    [ -s "$2" ] || { log "could not extract vmlinux"; exit 1; }
}

XEN_MODS="drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc"

# ---------- base layer (cached) ----------
if [ ! -f "$BASE/done" ]; then
    log "building base layer $KEY (kernel $KVER)"
    rm -rf "$BASE"; mkdir -p "$BASE"
    W=$BASE/work; mkdir -p "$W"

    cp "$KDIR/boot/vmlinuz-$KVER" "$BASE/vmlinuz"
    zcat /boot/xen-4.17-amd64.gz > "$BASE/xen"

    # Guest base: busybox, XenStore tools, modules.
    R=$W/domu; busybox_root "$R"
    for b in xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-list xenstore-exists; do
        add_bin "$R" "/usr/bin/$b"
    done
    # zram (with zsmalloc) for the swap baselines of the MemFlex benchmark; loaded on demand.
    add_mods "$R" $XEN_MODS drivers/net/xen-netfront drivers/block/xen-blkfront mm/zsmalloc drivers/block/zram/zram
    # libxenstore's xs_close() cancels its watch thread: pthread_cancel dlopen()s libgcc_s.
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/"
    mkcpio "$R" "$BASE/domu-base.cpio" raw

    # dom0 base: toolstack, hotplug scripts and what they run, backends, the guest kernel.
    R=$W/dom0; busybox_root "$R"
    for b in xl xenstored xenconsoled xen-init-dom0 xenconsole libxl-save-helper; do add_bin "$R" "$XENBIN/$b"; done
    for b in xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-list xenstore-exists \
             xenstore-chmod xenstore-watch; do add_bin "$R" "/usr/bin/$b"; done
    add_bin "$R" /bin/bash
    add_bin "$R" /usr/bin/flock
    # xl's pthread_cancel dlopen()s libgcc_s, which ldd cannot see.
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/"
    mkdir -p "$R/etc/xen" "$R/var/lib/xen" "$R/var/log/xen" "$R/var/lib/xenstored" "$R/boot"
    cp -a /etc/xen/scripts "$R/etc/xen/scripts"
    printf 'autoballoon="off"\nlockfile="/run/xl.lock"\n' > "$R/etc/xen/xl.conf"
    add_mods "$R" $XEN_MODS net/llc/llc net/802/stp net/bridge/bridge drivers/net/xen-netback/xen-netback \
        drivers/block/xen-blkback/xen-blkback drivers/virtio/virtio_ring drivers/virtio/virtio \
        drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci \
        drivers/block/virtio_blk lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4
    # A pre-decompressed guest kernel: libxenguest unpacking xz under TCG costs ~5 s per guest.
    extract_vmlinux "$BASE/vmlinuz" "$W/vmlinux"
    gzip -1 -c "$W/vmlinux" > "$R/boot/vmlinuz"
    rm -f "$W/vmlinux"
    mkcpio "$R" "$BASE/dom0-base.cpio" raw
    rm -rf "$W"
    touch "$BASE/done"
fi

# ---------- overlay (every build) ----------
OV=$OUT/overlay; rm -rf "$OV"; mkdir -p "$OV"
LABBIN=$BUILD/lab

# Guest overlay: init, agent, the project's guest binaries.
R=$OV/domu; mkdir -p "$R/bin"
install -m 0755 "$HERE/guest-init.sh" "$R/init"
for b in "$LABBIN"/* "$BUILD/bin/mempipe-bench" "$BUILD/bin/mempipe"; do add_bin "$R" "$b" "/bin/$(basename "$b")"; done
# strace, where the host has it, to count what a wake-up costs in system calls (test 99-rtt-trace).
[ -x /usr/bin/strace ] && add_bin "$R" /usr/bin/strace
mkcpio "$R" "$OV/domu-overlay.cpio" raw

# dom0 overlay: init, runner, tests, guest image, the project's binaries.
R=$OV/dom0; mkdir -p "$R/bin" "$R/boot" "$R/xenlab/tests"
install -m 0755 "$HERE/dom0-init.sh" "$R/init"
install -m 0755 "$HERE/run-tests.sh" "$R/xenlab/run-tests"
install -m 0644 "$HERE/lib.sh" "$R/xenlab/lib.sh"
for t in "$TOP"/test/lab/*.sh; do install -m 0755 "$t" "$R/xenlab/tests/"; done
for b in "$LABBIN"/* "$BUILD/bin/xenshmd" "$BUILD/bin/xenshm"; do add_bin "$R" "$b" "/bin/$(basename "$b")"; done
[ -x /usr/bin/strace ] && add_bin "$R" /usr/bin/strace
# Raw, not gzip: libxenguest tries to gunzip a ramdisk and fails on concatenated members.
cat "$BASE/domu-base.cpio" "$OV/domu-overlay.cpio" > "$R/boot/domu.cpio"
mkcpio "$R" "$OV/dom0-overlay.cpio" raw

cp "$BASE/xen" "$OUT/xen"
cp "$BASE/vmlinuz" "$OUT/vmlinuz"
cat "$BASE/dom0-base.cpio" "$OV/dom0-overlay.cpio" > "$OUT/dom0.cpio"

# One disk per guest slot, handed to dom0 by QEMU as /dev/vda..vdc, to guests as xvdb.
for i in 0 1 2; do
    [ -f "$OUT/disk$i.img" ] || truncate -s "${DISK_MB}M" "$OUT/disk$i.img"
done
echo "$KPKG $KVER base=$KEY" > "$OUT/versions"
log "images ready in $OUT ($(du -sh "$OUT/dom0.cpio" | cut -f1) dom0 initramfs)"
