#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# MemFlex on Xen: a guest's stock xen-blkfront finds the disk xenshmd serves from host memory,
# the guest swaps a working set of 1.5x its RAM through it with every word checked, dom0 then
# squeezes the disk's memory tier (pages move to the spill file behind the guest's back) and
# the working set is still right; detaching gives every page back.
. /xenlab/lib.sh
DEVID=268440064 # xvds
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 262144 --spill-dir /var/lib/xenshm > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
D1=$(guest_domid g1)
BE=/local/domain/0/backend/memflex/$D1/$DEVID
xenshm attach g1 --memflex 256M --mem 128M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds in the guest (backend state $(xenstore-read $BE/state 2>&1))"
expect_eq "$(xenstore-read $BE/state)" 4 "backend state"
expect_eq "$(guest_exec g1 cat /sys/block/xvds/size)" 524288 "xvds size in 512-byte sectors"
expect_eq "$(guest_exec g1 cat /sys/block/xvds/queue/logical_block_size)" 4096 "logical block size"
guest_exec g1 'mkswap /dev/xvds > /dev/null && swapon /dev/xvds && grep -q xvds /proc/swaps' || fail "swapon xvds"

OUT=$(GUEST_TIMEOUT=900 guest_exec g1 pagework --mib 192 --rounds 2) || fail "working set of 192 MiB in 128 MiB: $OUT"
echo "swap in host memory: $OUT"
STATS=$(xenstore-read $BE/stats) || fail "no stats node"
echo "stats: $STATS"
stat() { echo "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(stat writes)" -gt 0 ] || fail "no page was swapped out through MemFlex"
[ "$(stat reads)" -gt 0 ] || fail "no page was swapped in through MemFlex"
[ "$(stat mem-kb)" -gt 0 ] || fail "nothing held in host memory"
expect_eq "$(stat errors)" 0 "requests refused"
metric memflex_pagework_run_ms "$(echo "$OUT" | sed -n 's/.*run_ms=\([0-9]*\).*/\1/p')"
metric memflex_pages_written "$(stat writes)"
metric memflex_pages_read "$(stat reads)"
metric memflex_p50_us "$(stat p50-us)"
metric memflex_p99_us "$(stat p99-us)"
USED=$(xenstore-read /tool/xenshm/used-kb)
[ "$USED" -eq "$(stat mem-kb)" ] || fail "pool use $USED KiB is not the disk's memory tier $(stat mem-kb) KiB"

# dom0 wants memory back: the tier shrinks to 16 MiB without the guest's help, nothing is lost.
xenstore-write $BE/mem-kb 16384
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" -gt 16384 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(xenstore-read /tool/xenshm/used-kb)" -le 16384 ] || fail "memory tier not shrunk: $(xenstore-read /tool/xenshm/used-kb) KiB"
OUT=$(GUEST_TIMEOUT=900 guest_exec g1 pagework --mib 192 --rounds 1 --seed 7) || fail "working set after the squeeze: $OUT"
echo "after the squeeze: $OUT"
sleep 1.2
STATS=$(xenstore-read $BE/stats)
echo "stats: $STATS"
[ "$(stat demoted)" -gt 0 ] || fail "no page moved to the spill file"
[ "$(stat disk-kb)" -gt 0 ] || fail "nothing on the spill file"

guest_exec g1 'swapoff /dev/xvds' || fail "swapoff"
xenshm detach g1 --memflex || fail "detach"
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "$(xenstore-read /tool/xenshm/used-kb)" 0 "pool use after detach"
expect_eq "$(ls /dev/shm | grep -c memflex)" 0 "memory tier files left"
expect_eq "$(ls /var/lib/xenshm | grep -c memflex)" 0 "spill files left"
guest_exec g1 'test ! -b /dev/xvds' || fail "the guest still has xvds"
