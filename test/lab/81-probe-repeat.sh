#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The platform fault's measuring stick (docs/xenlab.md, "The platform fault"; with
# XENLAB_LAZY_FPU=1 about a third of the runs go bad): PROBE_RUNS (30) runs of a guest process that takes
# 1 MiB through libxenshm and then, while holding it, copies a pattern through a 64 KiB stack
# buffer into 1 MiB of its own heap and back (PROBE_WRITE=memtest; =memcpy or =direct write the
# segment instead); prints how many came back wrong.
. /xenlab/lib.sh
RUNS=${PROBE_RUNS:-30}
xenshmd -f --budget-kb 262144 --quota-kb 131072 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
xenshm attach g1 --quota-kb 131072 || fail "attach g1"
# Canaries: each domain streams its own letter through pipe buffers (kernel pages) meanwhile,
# so foreign bytes that are a pipe page of one domain name that domain.
if [ "${PROBE_CANARY:-0}" = 1 ]; then
    (while :; do yes DDDDDDDDDDDDDDD | head -c 4000000 > /dev/null; done) &
    CANARY=$!
    guest_exec g1 '(while :; do yes GGGGGGGGGGGGGGG | head -c 4000000 > /dev/null; done) > /dev/null 2>&1 &'
fi
bad=0
for i in $(seq "$RUNS"); do
    OUT=$(GUEST_TIMEOUT=180 guest_exec g1 env DUMP=${PROBE_DUMP:-1} PROBE_WRITE=${PROBE_WRITE:-memtest} xenshm-probe alloc ${PROBE_KIB:-1024}) || true
    if echo "$OUT" | grep -q "bad_bytes=0"; then echo "run $i: clean"; else echo "run $i: $OUT" | head -9; fi
    echo "$OUT" | grep -q "bad_bytes=0" || bad=$((bad + 1))
done
[ -n "${CANARY:-}" ] && { kill $CANARY; killall yes 2>/dev/null; }
metric probe_bad_runs "$bad"
echo "probe: $bad of $RUNS runs bad"
[ "$bad" = 0 ] || fail "$bad of $RUNS runs came back wrong"
