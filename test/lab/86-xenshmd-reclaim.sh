#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenshmd's pool on Xen, by its accounting: a guest grows and shrinks by segments; two
# processes of one guest hold a device each; two guests contend for a small budget and the
# guest above its fair share is asked to give back (it does, and the other is served; then it
# ignores a notice and is marked overdue).  Byte contents are the business of 80/81.
. /xenlab/lib.sh
xenshmd -f --budget-kb 16384 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
xenshm attach g1 --devices 2 || fail "attach g1"
xenshm attach g2 || fail "attach g2"
D1=$(guest_domid g1)
xenstore-write /tool/xenshm/reclaim-deadline-ms 3000
xenstore-write /tool/xenshm/reclaim-interval-ms 1000
used() { xenstore-read /tool/xenshm/used-kb; }
wait_used() { # wait_used OP VALUE: until used-kb OP VALUE (test(1) operator), 20 s at most
    for i in $(seq 100); do [ "$(used)" "$1" "$2" ] && return 0; sleep 0.2; done; return 1
}

# Grow by three 1 MiB segments, shrink back: the pages granted follow, each segment with its
# directory page.
OUT=$(guest_exec g1 xenshm-probe grow 1024 1024 3) || fail "grow: $OUT"
echo "$OUT"
echo "$OUT" | grep -q "^grown: stats_rc=0 size_kib=4096 segments=4 pages_granted=1028 " || fail "grown accounting"
echo "$OUT" | grep -q "^shrunk: stats_rc=0 size_kib=1024 segments=1 pages_granted=257 " || fail "shrunk accounting"
metric xenshm_grow_1MiB_ms "$(echo "$OUT" | sed -n 's/^grow 1: .*grow_ms=\([0-9.]*\).*/\1/p')"
wait_used = 0 || fail "pool usage after the grow probe: $(used) KiB"

# Two processes of g1 at once: the second gets device 1.
guest_exec g1 'xenshm-probe alloc 1024 --hold 4 > /tmp/hold.out 2>&1 &'
wait_used -gt 0 || fail "the first process never got memory"
OUT=$(guest_exec g1 xenshm-probe alloc 2048)
echo "second process: $OUT" | head -2
echo "$OUT" | grep -q "alloc_ms=.* pages_granted=513 " || fail "second process of g1 refused: $OUT"
xenstore-read /local/domain/0/backend/xenshm/$D1/1/state > /dev/null || fail "no device 1"
wait_used = 0 || fail "pool usage after both processes: $(used) KiB"

# Contention: g1 holds 2 + 10 MiB (513 + 2563 pages with their directories, 3076 of 4096); g2
# asks 6 MiB (1538 pages, within its fair share of 2048).  g1 is asked for the 518 missing
# pages, drops its extra segment, and g2 is served while its request waits.
guest_exec g1 'xenshm-probe serve 2048 10240 60 > /tmp/serve.out 2>&1 & echo $! > /tmp/serve.pid'
wait_used -ge 12296 || fail "g1 never held 12 MiB: $(used) KiB"
OUT=$(GUEST_TIMEOUT=60 guest_exec g2 xenshm-probe alloc 6144)
echo "g2: $(echo "$OUT" | head -1)"
echo "$OUT" | grep -q "alloc_ms=.* pages_granted=1538 " || fail "g2 not served: $OUT"
metric xenshm_alloc_after_reclaim_ms "$(echo "$OUT" | sed -n 's/.*alloc_ms=\([0-9.]*\).*/\1/p')"
SERVE=$(guest_exec g1 cat /tmp/serve.out)
echo "$SERVE" | grep "^reclaim" || fail "g1 saw no reclaim notice: $SERVE"
echo "$SERVE" | grep -q "^reclaim id=1 bytes=2121728 deadline_ms=3000 honoured" || fail "notice: $SERVE"
xenstore-exists /local/domain/0/backend/xenshm/$D1/0/reclaim && fail "reclaim node left after g1 complied"

# Again, but g1 ignores the notice: g2 is refused after its timeout, g1 is marked overdue.
guest_exec g1 'kill $(cat /tmp/serve.pid)' || fail "g1's server was gone early"
wait_used = 0 || fail "pool usage after g1's server: $(used) KiB"
guest_exec g1 'xenshm-probe serve 2048 10240 60 --ignore > /tmp/serve.out 2>&1 & echo $! > /tmp/serve.pid'
wait_used -ge 12296 || fail "g1 never held 12 MiB again: $(used) KiB"
OUT=$(GUEST_TIMEOUT=60 guest_exec g2 xenshm-probe alloc 6144) && fail "g2 served from nowhere: $OUT"
echo "g2 while g1 ignores: $OUT"
echo "$OUT" | grep -q ENOSPC || fail "refusal without ENOSPC: $OUT"
R=$(xenstore-read /local/domain/0/backend/xenshm/$D1/0/reclaim) || fail "no reclaim node"
expect_eq "$R" "518 overdue" "g1's reclaim node"
echo "g1 reclaim node: $R"
grep -q "ignored reclaim notice" /tmp/xenshmd.log || fail "no log line for the overdue guest"
guest_exec g1 'kill $(cat /tmp/serve.pid)' || fail "g1's server was gone early"
wait_used = 0 || fail "pool usage at the end: $(used) KiB"
kill -0 $XD || fail "xenshmd died"
