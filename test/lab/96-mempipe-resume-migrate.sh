#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name a proxied TCP transfer across a live migration of a busy PVH guest (busy PVH guests triple-faulted in 2 of 4 live migrations under emulation: docs/xenlab.md)
# xenlab: timeout 900
# An unmodified TCP transfer (tcpblast, checksummed) from g1 into a PVH guest g2 through
# `mempipe forward --resume` / `expose --resume-port`; g2 is live-migrated within the host
# (`xenshm migrate`) in the middle of it. The proxy session loses its channel when g2 lets go,
# the forward reconnects to the expose over the network once g2 runs again under its new
# domid, each side resends what the other lacks, and the transfer ends over TCP with every
# byte there once, in order.
. /xenlab/lib.sh
xenshmd -f --budget-kb 131072 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 vif || fail "guest g1"
GUEST_TYPE=pvh guest_create g2 1 vif || fail "guest g2 (PVH)"
xenshm attach g1 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --quota-kb 16384 || fail "attach g2"
D2=$(guest_domid g2)
B=$(guest_ip 1)
BYTES=$((512 << 20))
guest_exec g2 "mempipe expose blast 127.0.0.1:5555 --resume-port 7000 > /tmp/expose.log 2>&1 &" || fail "expose in g2"
guest_exec g1 "mempipe forward 6000 g2 blast --resume $B:7000 > /tmp/fwd.log 2>&1 &" || fail "forward in g1"
guest_exec g2 'for i in $(seq 100); do grep -q "resumed over TCP" /tmp/expose.log && exit 0; sleep 0.1; done; exit 1' ||
    fail "the expose did not start: $(guest_exec g2 cat /tmp/expose.log)"
guest_exec g2 "tcpblast recv 5555 $BYTES > /tmp/recv.out 2>&1 &" || fail "tcpblast recv"
guest_exec g1 "tcpblast send 127.0.0.1 6000 $BYTES > /tmp/send.out 2>&1 &" || fail "tcpblast send"
sleep 2
guest_exec g2 '[ ! -s /tmp/recv.out ]' || fail "the transfer ended before the migration"
t0=$(now)
xenshm migrate g2 || fail "xenshm migrate g2 during the proxied transfer"
metric migrate_pvh_proxied_s "$(elapsed "$t0")"
D2B=$(guest_domid g2) || fail "no g2 after the migration"
[ "$D2B" != "$D2" ] || fail "g2 kept its domid: it did not move"
RECV=$(GUEST_TIMEOUT=400 guest_exec g2 'for i in $(seq 1800); do [ -s /tmp/recv.out ] && break; sleep 0.2; done; cat /tmp/recv.out')
SEND=$(guest_exec g1 'for i in $(seq 150); do [ -s /tmp/send.out ] && break; sleep 0.2; done; cat /tmp/send.out')
echo "send: $SEND"
echo "recv: $RECV"
guest_exec g1 cat /tmp/fwd.log
guest_exec g2 cat /tmp/expose.log
expect_eq "$(echo "$RECV" | cut -d' ' -f2)" "$BYTES" "bytes received across the migration"
expect_eq "${RECV##* sum }" "${SEND##* sum }" "checksum across the migration"
guest_exec g1 'grep -q "goes on over TCP" /tmp/fwd.log' || fail "the session did not switch to TCP"
metric resume_migrate_resent_bytes "$(guest_exec g1 'sed -n "s/.*resending \([0-9]*\) bytes.*/\1/p" /tmp/fwd.log | tail -1')"
echo "a proxied transfer across a live migration of its receiver: every byte once"
