#!/bin/sh
# xenlab: by-name experiment of the platform fault hunt: is a process's own memory reliable without Xen?
# SPDX-License-Identifier: GPL-2.0-only
# The platform fault without grants: PROBE_RUNS (30) runs of `xenshm-probe memtest 1024` (64 KiB
# stack buffer copied into and out of 1 MiB of heap) in a guest and in dom0.
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
gbad=0; dbad=0
for i in $(seq "$RUNS"); do
    OUT=$(guest_exec g1 xenshm-probe memtest 1024) || { gbad=$((gbad + 1)); echo "guest run $i: $OUT" | head -2; }
    OUT=$(xenshm-probe memtest 1024) || { dbad=$((dbad + 1)); echo "dom0 run $i: $OUT" | head -2; }
done
metric memtest_bad_runs.guest "$gbad"
metric memtest_bad_runs.dom0 "$dbad"
echo "memtest: guest $gbad of $RUNS bad, dom0 $dbad of $RUNS bad"
[ "$gbad$dbad" = 00 ] || fail "plain memory came back wrong"
