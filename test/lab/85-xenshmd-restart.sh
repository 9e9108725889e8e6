#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# kill -9 of xenshmd while a guest holds memory: the guest's data stays readable, a new
# xenshmd sends the device through Closed -> Initialising, and the guest allocates again.
. /xenlab/lib.sh
start() { xenshmd -f --budget-kb 65536 --quota-kb 32768 >> /tmp/xenshmd.log 2>&1 & XD=$!; }
start
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest"
xenshm attach g1 --quota-kb 32768 || fail "attach"
D=$(guest_domid g1)
guest_exec g1 'xenshm-probe alloc 4096 --hold 15 > /tmp/p.out 2>&1 &'
for i in $(seq 100); do [ "$(xenstore-read /tool/xenshm/used-kb 2>/dev/null)" -gt 0 ] 2>/dev/null && break; sleep 0.2; done
kill -9 $XD
sleep 1
start
for i in $(seq 50); do [ "$(xenstore-read /local/domain/0/backend/xenshm/$D/0/state)" = 6 ] && break; sleep 0.2; done
expect_eq "$(xenstore-read /local/domain/0/backend/xenshm/$D/0/state)" 6 "backend state after restart"
OUT=$(GUEST_TIMEOUT=90 guest_exec g1 'for i in $(seq 300); do grep -q exit_ms /tmp/p.out && break; sleep 0.2; done; cat /tmp/p.out')
echo "$OUT"
echo "$OUT" | grep -q "after hold: bad_bytes=0" || fail "data lost across the restart"
guest_exec g1 xenshm-probe alloc 2048 || fail "no allocation after the restart"
expect_eq "$(used_kb_settles 0)" 0 "pool usage at the end"
echo "kill -9 + restart: 4 MiB held through it intact, new allocations work"
