#!/bin/sh
# xenlab: known-failure experiment for the open problem (docs/xenlab.md): the plain layer's rate, to compare with 81
# SPDX-License-Identifier: GPL-2.0-only
# The open problem's control: PROBE_RUNS (30) rounds of the plain Xen layer alone (dom0
# `xenlab-gnt share` of 256 pages, a pattern written by dom0; the guest maps, checks it, writes
# its own and reads it back, and checks its own heap through a stack buffer while mapped (the
# same memtest that fails under libxenshm); dom0 checks the guest's write), no xenshmd, no
# libxenshm.
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
D=$(guest_domid g1)
bad=0
for i in $(seq "$RUNS"); do
    xenlab-gnt share "$D" 256 > /tmp/share.out 2>&1 &
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
