#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The platform fault (docs/xenlab.md; bad in 3 to 13 of 30 runs with XENLAB_LAZY_FPU=1, 0 of 30
# with Xen's eager FPU switching) with the plain Xen layer alone, no xenshmd, no libxenshm: PROBE_RUNS (30)
# rounds of dom0 `xenlab-gnt share` of 256 pages plus (XENLAB_CTRL=1) a separate one-page
# grant like xenshmd's control page; the guest maps both, checks dom0's pattern, writes its
# own, and checks its own heap through a stack buffer while mapped (the memtest).  With
# XENLAB_CTRL_VAR=XENLAB_NOCTRL=1 (no separate page) it is the clean control.
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
D=$(guest_domid g1)
bad=0
for i in $(seq "$RUNS"); do
    env ${XENLAB_CTRL_VAR:-XENLAB_CTRL=1} xenlab-gnt share "$D" 256 > /tmp/share.out 2>&1 &
    SHARE=$!
    OUT=$(guest_exec g1 env XENLAB_MEMTEST=1 xenlab-gnt map)
    wait $SHARE
    if echo "$OUT" | grep -q "mapped .* 0 bad bytes" && echo "$OUT" | grep -q "own write: 0 bad" &&
       { ! echo "$OUT" | grep -q "memtest" || echo "$OUT" | grep -q "memtest while mapped: 0 bad"; } &&
       grep -q "ACK, 0 bad bytes" /tmp/share.out; then
        echo "run $i: clean"
    else
        bad=$((bad + 1))
        echo "run $i: $OUT / $(cat /tmp/share.out | tail -1)"
    fi
done
metric plain_bad_runs "$bad"
echo "plain layer: $bad of $RUNS runs bad"
[ "$bad" = 0 ] || fail "$bad of $RUNS runs came back wrong"
