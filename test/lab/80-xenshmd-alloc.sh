#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenshmd on Xen: a guest gets 1, 16 and 64 MiB through libxenshm, writes and reads every byte,
# frees it; a quota refusal; a guest writing garbage to its XenStore state is cut off with an
# error node while another guest keeps working; `xl destroy` mid-use gives every page back.
. /xenlab/lib.sh
xenshmd -f --budget-kb 262144 --quota-kb 131072 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
xenshm attach g1 --quota-kb 131072 || fail "attach g1"
xenshm attach g2 --quota-kb 8192 || fail "attach g2"
D1=$(guest_domid g1)

for kib in 1024 16384 65536; do
    OUT=$(GUEST_TIMEOUT=180 guest_exec g1 xenshm-probe alloc $kib) || fail "alloc $kib KiB: $OUT"
    echo "$OUT"
    echo "$OUT" | grep -q "bad_bytes=0 " || fail "pattern did not come back"
    metric "xenshm_alloc_ms.${kib}KiB" "$(echo "$OUT" | sed -n 's/.*alloc_ms=\([0-9.]*\).*/\1/p')"
    PLAIN=$(xenlab-gnt sharetime "$D1" $((kib / 4))) || fail "plain gntshr"
    echo "$PLAIN"
    metric "gntshr_share_ms.${kib}KiB" "$(echo "$PLAIN" | sed -n 's/.*share_ms=\([0-9.]*\).*/\1/p')"
done
expect_eq "$(used_kb_settles 0)" 0 "pool usage after the guest freed everything"

# Over quota: refused with a reason, nothing granted.
OUT=$(guest_exec g2 xenshm-probe alloc 16384) && fail "16 MiB granted over an 8 MiB quota"
echo "$OUT" | grep -q EDQUOT || fail "refusal without the quota reason: $OUT"
echo "over quota: $OUT"

# A guest writing garbage into its own frontend state is disconnected; g2 keeps working.
guest_exec g1 "xenstore-write /local/domain/$D1/device/xenshm/0/state banana"
for i in $(seq 50); do E=$(xenstore-read /local/domain/0/error/backend/xenshm/$D1/0/error 2>/dev/null) && break; sleep 0.2; done
[ -n "$E" ] || fail "no error node for the misbehaving guest"
echo "error node for g1: $E"
guest_exec g2 xenshm-probe alloc 4096 || fail "g2 broken by g1's garbage"
kill -0 $XD || fail "xenshmd died"

# Destroyed while holding 4 MiB: xenshmd takes everything back and removes the device.
guest_exec g2 'xenshm-probe alloc 4096 --hold 600 > /tmp/p.out 2>&1 &'
for i in $(seq 100); do [ "$(xenstore-read /tool/xenshm/used-kb)" -gt 0 ] && break; sleep 0.2; done
[ "$(xenstore-read /tool/xenshm/used-kb)" -gt 0 ] || fail "the held allocation never showed"
D2=$(guest_domid g2)
xl destroy g2
for i in $(seq 100); do [ "$(xenstore-read /tool/xenshm/used-kb)" = 0 ] && break; sleep 0.2; done
expect_eq "$(xenstore-read /tool/xenshm/used-kb)" 0 "pool usage after xl destroy"
xenstore-exists "/local/domain/0/backend/xenshm/$D2" && fail "backend dir of the dead guest left behind"
metric xenshm_used_kb_after_destroy 0
kill -0 $XD || fail "xenshmd died"
echo "destroy mid-use: 0 KiB outstanding, device removed"
