#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two guests on the dom0 bridge talk TCP over netfront/netback: the netfront baseline and the
# TCP fallback path of later work.  tcpblast checksums the stream at both ends.
. /xenlab/lib.sh
guest_create g1 0 vif || fail "guest g1"
guest_create g2 1 vif || fail "guest g2"
B=$(guest_ip 1)
guest_exec g1 ping -c 2 -W 5 "$B" || fail "ping g1 -> g2"
BYTES=$((8 << 20))
guest_exec g2 "tcpblast recv 5000 $BYTES > /tmp/recv.out 2>&1 &" || fail "listen"
SEND=$(guest_exec g1 tcpblast send "$B" 5000 $BYTES) || fail "send: $SEND"
RECV=$(guest_exec g2 'for i in $(seq 100); do [ -s /tmp/recv.out ] && break; sleep 0.2; done; cat /tmp/recv.out')
echo "$SEND"
echo "$RECV"
expect_eq "${RECV##* sum }" "${SEND##* sum }" "stream checksum g1 -> g2"
expect_eq "$(echo "$RECV" | cut -d' ' -f2)" "$BYTES" "bytes received"
metric netfront_tcp_MBps "$(echo "$SEND" | sed -n 's/.* s \([0-9.]*\) MB\/s.*/\1/p')"
