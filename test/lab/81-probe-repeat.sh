#!/bin/sh
# xenlab: known-failure repeats the open problem's probe (docs/xenlab.md "Open problem") to measure its rate
# SPDX-License-Identifier: GPL-2.0-only
# The corruption hunt's measuring stick: PROBE_RUNS (30) allocations of 1 MiB through xenshmd,
# each written and read back by the guest; prints how many came back wrong.
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
xenshmd -f --budget-kb 262144 --quota-kb 131072 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
xenshm attach g1 --quota-kb 131072 || fail "attach g1"
bad=0
for i in $(seq "$RUNS"); do
    OUT=$(GUEST_TIMEOUT=180 guest_exec g1 xenshm-probe alloc 1024) || true
    echo "run $i: $OUT" | head -3
    echo "$OUT" | grep -q "bad_bytes=0 " || bad=$((bad + 1))
done
metric probe_bad_runs "$bad"
echo "probe: $bad of $RUNS runs bad"
[ "$bad" = 0 ] || fail "$bad of $RUNS runs came back wrong"
