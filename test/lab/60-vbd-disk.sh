#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest gets a real disk (QEMU virtio disk in dom0 -> blkback -> xvdb): the disk-swap
# baseline and MemFlex's slow tier of later work.
. /xenlab/lib.sh
guest_create g1 0 disk || fail "guest"
guest_exec g1 'test -b /dev/xvdb' || fail "no /dev/xvdb in the guest"
SZ=$(guest_exec g1 'cat /sys/block/xvdb/size') || fail "size"
[ "$SZ" -gt 0 ] || fail "empty disk"
guest_exec g1 'dd if=/dev/urandom of=/tmp/pat bs=4k count=256 2>/dev/null && dd if=/tmp/pat of=/dev/xvdb bs=4k conv=fsync 2>/dev/null && echo 3 > /proc/sys/vm/drop_caches && dd if=/dev/xvdb of=/tmp/back bs=4k count=256 2>/dev/null && cmp /tmp/pat /tmp/back' \
    || fail "1 MiB written to xvdb did not read back"
guest_exec g1 'mkswap /dev/xvdb >/dev/null && swapon /dev/xvdb && grep -q xvdb /proc/swaps && swapoff /dev/xvdb' \
    || fail "swap on xvdb"
echo "xvdb: $((SZ / 2048)) MiB, 1 MiB written and read back, swapon works"
