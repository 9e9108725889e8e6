#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1500
# Two 128 MiB guests swap 136 MiB each through MemFlex at the same time under a host budget
# far below what they swap out: each disk may hold 128 MiB in memory, the host grants 32 MiB
# in all, so most pages go to the spill files while both run.  Every word of both working
# sets comes back right, the pool never goes above the budget, neither guest is starved (both
# finish, times compared), and detaching both gives everything back.
. /xenlab/lib.sh
DEVID=268440064 # xvds
MIB=${MEMFLEX_MIB:-136}
BUDGET_KB=32768
# The spill files on a real disk (ext2 through the ext4 driver, on dom0's third virtio disk,
# a slot no guest here uses): dom0's root is RAM, and two guests' spilled pages filled it
# (ENOSPC, and a guest whose swap writes failed had its workload OOM-killed).
SPILL=/var/lib/xenshm-spill
mkdir -p $SPILL
mke2fs -F /dev/vdc > /dev/null 2>&1 && mount -t ext4 /dev/vdc $SPILL || fail "no spill filesystem on /dev/vdc"
xenshmd -f --budget-kb $BUDGET_KB --spill-dir $SPILL > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD $SAMPLER 2>/dev/null; sleep 0.5; umount $SPILL; collect /tmp/xenshmd.log xenshmd.log' EXIT
for g in g1 g2; do
    guest_create $g $([ $g = g1 ] && echo 0 || echo 1) || fail "guest $g"
    xenshm attach $g --memflex 256M --mem 128M || fail "attach $g"
done
for g in g1 g2; do
    guest_exec $g 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
        mkswap /dev/xvds > /dev/null && swapon /dev/xvds && grep -q xvds /proc/swaps' || fail "swapon xvds in $g"
done

# The pool's use, sampled every 0.2 s while both swap: its highest value is the claim.
( max=0; while :; do u=$(xenstore-read /tool/xenshm/used-kb 2>/dev/null || echo 0)
      [ "$u" -gt "$max" ] && max=$u && echo "$max" > /tmp/used-max; sleep 0.2; done ) &
SAMPLER=$!
echo 0 > /tmp/used-max

t0=$(now)
for g in g1 g2; do
    guest_exec $g "(pagework --mib $MIB --rounds 1 > /tmp/pw.out 2>&1; echo done >> /tmp/pw.out) > /dev/null 2>&1 &" ||
        fail "pagework in $g"
done
# Both run together; wait for each and keep its own time.
for g in g1 g2; do
    OUT=$(GUEST_TIMEOUT=1200 guest_exec $g 'while ! grep -q done /tmp/pw.out; do sleep 1; done; cat /tmp/pw.out')
    echo "$g: $OUT"
    echo "$OUT" | grep -q "bad=0 " || fail "$g's pages came back wrong: $OUT"
    eval "T_$g=$(elapsed "$t0")"
    metric "memflex_two_run_s.$g" "$(eval echo \$T_$g)"
done
kill $SAMPLER
MAX=$(cat /tmp/used-max)
metric memflex_two_pool_max_kb "$MAX"
[ "$MAX" -le $BUDGET_KB ] || fail "the pool went to $MAX KiB, above the $BUDGET_KB KiB budget"
awk -v a="$T_g1" -v b="$T_g2" 'BEGIN { printf "finish times g1 %.1f s, g2 %.1f s: ratio %.2f\n", a, b, (a > b ? a / b : b / a) }'

sleep 1.2
SPILLED=0
for g in g1 g2; do
    D=$(guest_domid $g)
    STATS=$(xenstore-read /local/domain/0/backend/memflex/$D/$DEVID/stats) || fail "no stats for $g"
    echo "$g: $STATS"
    stat() { echo "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    [ "$(stat writes)" -gt 0 ] && [ "$(stat reads)" -gt 0 ] || fail "$g did not swap through MemFlex"
    expect_eq "$(stat errors)" 0 "requests refused for $g"
    SPILLED=$((SPILLED + $(stat spilled) + $(stat demoted)))
    metric "memflex_two_p99_us.$g" "$(stat p99-us)"
done
[ "$SPILLED" -gt 0 ] || fail "no page went to a spill file: the budget did not bind"
metric memflex_two_pages_spilled "$SPILLED"

for g in g1 g2; do
    guest_exec $g 'swapoff /dev/xvds' || fail "swapoff in $g"
    xenshm detach $g --memflex || fail "detach $g"
done
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "$(xenstore-read /tool/xenshm/used-kb)" 0 "pool use after both detached"
expect_eq "$(ls /dev/shm $SPILL | grep -c memflex)" 0 "store files left"
echo "two guests swapped $MIB MiB each through MemFlex under a $BUDGET_KB KiB budget, every word right"
