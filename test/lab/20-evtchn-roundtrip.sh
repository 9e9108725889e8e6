#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Event channel round trips dom0 <-> guest through xenshm's Xen layer; reports the RTT.
. /xenlab/lib.sh
guest_create g1 0 || fail "guest"
D=$(guest_domid g1)
xenlab-gnt pingpong-server "$D" 200 > /tmp/pp.out 2>&1 &
SRV=$!
OUT=$(guest_exec g1 xenlab-gnt pingpong-client 200) || fail "client: $OUT"
echo "$OUT"
wait $SRV || { cat /tmp/pp.out; fail "server"; }
P50=$(echo "$OUT" | sed -n 's/.*p50 \([0-9]*\) us.*/\1/p')
[ -n "$P50" ] || fail "no RTT reported"
metric evtchn_rtt_p50_us "$P50"
metric evtchn_rtt_p99_us "$(echo "$OUT" | sed -n 's/.*p99 \([0-9]*\) us.*/\1/p')"
