#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# MemFlex on Xen: a guest's stock xen-blkfront finds the disk xenshmd serves from host memory;
# bytes written to it read back; the guest swaps a working set larger than its RAM through it
# with every word checked, and while the swapped-out pages sit there dom0 squeezes the disk's
# memory tier (pages move to the spill file behind the guest's back) and they still come back
# right; detaching gives every page and every mapped grant back.
. /xenlab/lib.sh
DEVID=268440064 # xvds
MIB=${MEMFLEX_MIB:-144}
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 262144 --spill-dir /var/lib/xenshm --memflex-persistent-grants 1056 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log; guest_exec g1 "dmesg | tail -40" > /tmp/g1-dmesg 2>&1; collect /tmp/g1-dmesg g1-dmesg.log' EXIT
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
D1=$(guest_domid g1)
BE=/local/domain/0/backend/memflex/$D1/$DEVID
GNT0=$(active_grants $D1 0) # xenstored's and xenconsoled's rings
xenshm attach g1 --memflex 256M --mem 128M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds in the guest (backend state $(xenstore-read $BE/state 2>&1))"
expect_eq "$(xenstore-read $BE/state)" 4 "backend state"
expect_eq "$(guest_exec g1 cat /sys/block/xvds/size)" 524288 "xvds size in 512-byte sectors"
expect_eq "$(guest_exec g1 cat /sys/block/xvds/queue/logical_block_size)" 4096 "logical block size"
guest_exec g1 'dd if=/dev/urandom of=/tmp/pat bs=4k count=256 2>/dev/null && dd if=/tmp/pat of=/dev/xvds bs=4k seek=1000 conv=fsync 2>/dev/null && echo 3 > /proc/sys/vm/drop_caches && dd if=/dev/xvds of=/tmp/back bs=4k skip=1000 count=256 2>/dev/null && cmp /tmp/pat /tmp/back && rm /tmp/pat /tmp/back' \
    || fail "1 MiB written to xvds did not read back"

guest_exec g1 'mkswap /dev/xvds > /dev/null && swapon /dev/xvds && grep -q xvds /proc/swaps' || fail "swapon xvds"
# A working set larger than the guest's RAM, filled, then held while dom0 acts.
guest_exec g1 "rm -f /tmp/go; pagework --mib $MIB --rounds 1 --wait /tmp/go > /tmp/pw.out 2>&1 &"
t0=$(now)
GUEST_TIMEOUT=900 guest_exec g1 'while ! grep -q filled /tmp/pw.out; do sleep 1; grep -q mib= /tmp/pw.out && break; done; cat /tmp/pw.out' \
    || fail "pagework did not fill"
metric memflex_fill_s "$(elapsed "$t0")"
sleep 1.2
STATS=$(xenstore-read $BE/stats) || fail "no stats node"
echo "filled $MIB MiB in a 128 MiB guest: $STATS"
stat() { echo "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(stat writes)" -gt 0 ] || fail "no page was swapped out through MemFlex"
[ "$(stat mem-kb)" -gt 0 ] || fail "nothing held in host memory"
expect_eq "$(stat errors)" 0 "requests refused"
# Debian's blkfront asks for persistent grants and xenshmd offers them here (not by default):
# its pool is mapped once.
expect_eq "$(xenstore-read /local/domain/$D1/device/vbd/$DEVID/feature-persistent)" 1 "blkfront feature-persistent"
expect_eq "$(xenstore-read $BE/feature-persistent)" 1 "backend feature-persistent"
[ "$(stat persistent)" -gt 0 ] || fail "no persistent grant kept mapped"
metric memflex_persistent_grants "$(stat persistent)"
USED=$(xenstore-read /tool/xenshm/used-kb)
[ "$USED" -eq "$(stat mem-kb)" ] || fail "pool use $USED KiB is not the disk's memory tier $(stat mem-kb) KiB"
metric memflex_swapped_out_kb "$(stat mem-kb)"

# dom0 wants memory back: the tier shrinks to 8 MiB without the guest's help.
xenstore-write $BE/mem-kb 8192
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" -gt 8192 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(xenstore-read /tool/xenshm/used-kb)" -le 8192 ] || fail "memory tier not shrunk: $(xenstore-read /tool/xenshm/used-kb) KiB"
sleep 1.2
STATS=$(xenstore-read $BE/stats)
echo "squeezed: $STATS"
[ "$(stat demoted)" -gt 0 ] || fail "no page moved to the spill file"
[ "$(stat disk-kb)" -gt 0 ] || fail "nothing on the spill file"

# Now every page is read back (from memory, the spill file, or RAM) and checked.
t0=$(now)
OUT=$(GUEST_TIMEOUT=900 guest_exec g1 'touch /tmp/go; while ! grep -q mib= /tmp/pw.out; do sleep 1; done; cat /tmp/pw.out; grep -q "bad=0 " /tmp/pw.out')
rc=$?
echo "$OUT"
[ $rc -eq 0 ] || fail "pages came back wrong: $OUT"
metric memflex_run_s "$(elapsed "$t0")"
sleep 1.2
STATS=$(xenstore-read $BE/stats)
echo "after the run: $STATS"
[ "$(stat reads)" -gt 0 ] || fail "no page was swapped in through MemFlex"
expect_eq "$(stat errors)" 0 "requests refused"
metric memflex_pages_written "$(stat writes)"
metric memflex_pages_read "$(stat reads)"
metric memflex_p50_us "$(stat p50-us)"
metric memflex_p99_us "$(stat p99-us)"

guest_exec g1 'swapoff /dev/xvds' || fail "swapoff"
xenshm detach g1 --memflex || fail "detach"
t0=$(now)
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
metric memflex_detach_release_s "$(elapsed "$t0")"
if [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ]; then
    # Once seen in CI (8192 KiB left after 5 s, not reproduced alone): say what xenshmd thinks.
    kill -0 $XD 2>/dev/null && echo "xenshmd is alive" || echo "xenshmd is DEAD"
    xenshm status
    xenstore-ls -f /local/domain/0/backend/memflex 2>&1 | head -20
    tail -20 /tmp/xenshmd.log
fi
expect_eq "$(used_kb_settles 0)" 0 "pool use after detach"
expect_eq "$(active_grants $D1 0)" "$GNT0" "g1's grants dom0 maps after detach (before attach: its console and XenStore rings)"
expect_eq "$(ls /dev/shm | grep -c memflex)" 0 "memory tier files left"
expect_eq "$(ls /var/lib/xenshm | grep -c memflex)" 0 "spill files left"
guest_exec g1 'i=0; while [ -b /dev/xvds ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; test ! -b /dev/xvds' \
    || fail "the guest still has xvds"
