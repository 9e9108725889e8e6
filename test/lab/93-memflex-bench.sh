#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name the MemFlex swap benchmark (about 15 minutes under TCG; tools/bench/lab-memflex-report.sh)
# xenlab: timeout 2400
# One boot, one guest of 128 MiB with a working set of MIB (default 144) MiB of pages that
# compress about 4:1 (pagework --compressible), every word checked, swapping to: a blkback disk (xvdb: a QEMU virtio disk in dom0), MemFlex with the whole set in
# host memory, MemFlex with an 8 MiB memory tier (the rest in the spill file, which in the lab
# lives on dom0's RAM-backed root: a second memory tier, not a disk), zram in the guest; and a
# guest of 320 MiB that needs no swap.  Times are TCG times: compare the ratios.
. /xenlab/lib.sh
DEVID=268440064 # xvds
MIB=${MEMFLEX_MIB:-144}
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 524288 --spill-dir /var/lib/xenshm > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=128 guest_create g1 0 disk || fail "guest g1"
D1=$(guest_domid g1)
BE=/local/domain/0/backend/memflex/$D1/$DEVID
xenshm attach g1 --memflex 256M --mem 256M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds"
guest_exec g1 'insmod /lib/modules/zsmalloc.ko && insmod /lib/modules/zram.ko && echo 256M > /sys/block/zram0/disksize' \
    || fail "zram"

# run NAME DEVICE [GUEST]: swapon DEVICE (none: no swap; with discard where busybox has it),
# the workload, swapoff; metrics.  A workload that dies (the OOM killer) is recorded, not fatal.
run() {
    local name=$1 dev=$2 g=${3:-g1} out segv0 segv1
    segv0=$(guest_exec "$g" 'dmesg | grep -c segfault')
    if [ "$dev" != none ]; then
        guest_exec "$g" "mkswap $dev > /dev/null && { swapon -d $dev 2>/dev/null || swapon $dev; }" \
            || fail "$name: swapon $dev"
    fi
    if out=$(GUEST_TIMEOUT=1800 guest_exec "$g" pagework --mib "$MIB" --rounds 1 --compressible); then
        echo "$name: $out"
        metric "memflex_bench.$name.fill_ms" "$(echo "$out" | sed -n 's/.*fill_ms=\([0-9]*\).*/\1/p')"
        metric "memflex_bench.$name.run_ms" "$(echo "$out" | sed -n 's/.*run_ms=\([0-9]*\).*/\1/p')"
        metric "memflex_bench.$name.bad" "$(echo "$out" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')"
    else
        echo "$name: the workload failed: $out $(guest_exec "$g" 'dmesg | grep -i -E "killed process|out of memory" | tail -2')"
        metric "memflex_bench.$name.failed" 1
    fi
    if [ "$dev" != none ]; then
        guest_exec "$g" "swapoff $dev" || fail "$name: swapoff"
    fi
    segv1=$(guest_exec "$g" 'dmesg | grep -c segfault')
    metric "memflex_bench.$name.guest_segfaults" $((segv1 - segv0))
}

run blkback-disk /dev/xvdb
run memflex-memory /dev/xvds
sleep 1.2
echo "memflex stats: $(xenstore-read $BE/stats)"
xenstore-write $BE/mem-kb 8192
run memflex-spill /dev/xvds
sleep 1.2
echo "memflex stats: $(xenstore-read $BE/stats)"
run zram /dev/zram0
guest_destroy g1
GUEST_MEM=320 guest_create g2 1 || fail "guest g2"
run enough-ram none g2
