#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian 12 packages that building, testing and the Xen lab need, if any is missing.
# Nothing is installed on a machine that already has everything (apt-get is not even called).
set -eu

PKGS="gcc make pkg-config libc6-dev libxen-dev check gcovr
      qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 busybox-static cpio bc xz-utils
      util-linux grep gzip coreutils clang libclang-rt-14-dev clang-tidy cppcheck valgrind man-db binutils"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update -q
# xen-utils' postinst warns that it finds no hypervisor in sysfs: expected on a build host.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
