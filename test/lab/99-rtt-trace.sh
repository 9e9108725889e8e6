#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name where a MemPipe round trip goes: system calls of xenshmd and of both guests (a diagnostic)
# xenlab: timeout 900
# 64-byte echoes between g2 and g1 through xenshmd, once plain and once under strace -c in
# dom0 (xenshmd) and in g2 (the client): system calls per round trip, by name.
. /xenlab/lib.sh
command -v strace > /dev/null || skip "no strace in the image"
xenshmd -f --budget-kb 65536 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
xenshm attach g1 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --quota-kb 16384 || fail "attach g2"
D1=$(guest_domid g1)
ROUNDS=${RTT_ROUNDS:-400}
guest_exec g1 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; exit 1' || fail "server did not start"
run() { GUEST_TIMEOUT=600 guest_exec g2 "$1 mempipe-bench run --transport mempipe --peer $D1 --sizes 64 --bytes 4096 --rounds $ROUNDS --ring-kb 64"; }
PLAIN=$(run "") || fail "plain run: $PLAIN"
echo "plain: $PLAIN"
strace -c -f -p $XD -o /tmp/xd.strace &
ST=$!
sleep 1
TRACED=$(run "strace -c -f -o /tmp/cl.strace") || fail "traced run: $TRACED"
kill -INT $ST; wait $ST 2>/dev/null
echo "traced: $TRACED"
echo "xenshmd system calls over the traced run ($ROUNDS round trips and a 4 KiB stream):"
cat /tmp/xd.strace
echo "client (g2) system calls:"
guest_exec g2 cat /tmp/cl.strace
metric rtt_trace_plain_us "$(echo "$PLAIN" | awk '{ print $9 }')"
metric rtt_trace_xenshmd_calls_per_rtt "$(awk -v r=$ROUNDS '$NF == "total" { print $4 / r }' /tmp/xd.strace)"
