#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenshm's real Xen layer: dom0 grants pages (gntshr), the guest maps them (gntdev), checks
# dom0's pattern, writes back and signals an event channel; dom0 checks the write-back.
. /xenlab/lib.sh
guest_create g1 0 || fail "guest"
D=$(guest_domid g1)
xenlab-gnt share "$D" 64 > /tmp/share.out 2>&1 &
SHARE=$!
guest_exec g1 xenlab-gnt map || fail "guest side"
wait $SHARE || { cat /tmp/share.out; fail "dom0 side"; }
cat /tmp/share.out
grep -q "guest wrote back ACK, 0 bad bytes" /tmp/share.out || fail "write-back not seen by dom0"
