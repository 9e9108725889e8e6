#!/bin/sh
# xenlab: by-name experiment of the platform fault hunt: a fresh xenshmd for every probe run
# SPDX-License-Identifier: GPL-2.0-only
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
xenshm attach g1 --quota-kb 131072 || fail "attach g1"
bad=0
for i in $(seq "$RUNS"); do
    xenshmd -f --budget-kb 262144 --quota-kb 131072 >> /tmp/xenshmd.log 2>&1 &
    XD=$!
    OUT=$(GUEST_TIMEOUT=180 guest_exec g1 xenshm-probe alloc 1024) || true
    kill $XD; wait $XD
    if echo "$OUT" | grep -q "bad_bytes=0 "; then echo "run $i: clean"; else bad=$((bad + 1)); echo "run $i: $OUT" | head -3; fi
done
metric probe_bad_runs "$bad"
echo "probe with a fresh xenshmd each run: $bad of $RUNS runs bad"
[ "$bad" = 0 ] || fail "$bad of $RUNS runs came back wrong"
