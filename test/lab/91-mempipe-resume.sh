#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# An unmodified TCP transfer through `mempipe forward --resume` / `expose --resume-port` while
# the guest at either end is saved and restored in the middle of it: the session loses its
# channel, the forward reconnects to the expose over the network, each side resends what the
# other had not received, and the transfer ends over TCP with every byte there once, in order
# (tcpblast's checksum and byte count). Then the next client goes over MemPipe again.
. /xenlab/lib.sh
xenshmd -f --budget-kb 65536 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 vif || fail "guest g1"
guest_create g2 1 vif || fail "guest g2"
xenshm attach g1 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --quota-kb 16384 || fail "attach g2"
A=$(guest_ip 0)
BYTES=$((768 << 20))

ready() {  # ready GUEST LOG WHAT
    guest_exec "$1" "for i in \$(seq 100); do grep -q '$3' $2 && exit 0; sleep 0.1; done; cat $2; exit 1" ||
        fail "$2 in $1 never said '$3'"
}
guest_exec g1 "mempipe expose blast 127.0.0.1:5555 --resume-port 7000 > /tmp/expose.log 2>&1 &" || fail "expose"
guest_exec g2 "mempipe forward 6000 g1 blast --resume $A:7000 > /tmp/fwd.log 2>&1 &" || fail "forward"
ready g1 /tmp/expose.log "sessions resumed over TCP on port 7000"
ready g2 /tmp/fwd.log "forwarding port"

# transfer_across_save GUEST BYTES: tcpblast g2 -> g1 through the forward; GUEST saved and
# restored once the transfer is under way; both checksums and the byte count compared.
transfer_across_save() {
    local who=$1 bytes=$2 send recv
    guest_exec g1 "rm -f /tmp/recv.out; tcpblast recv 5555 $bytes > /tmp/recv.out 2>&1 &" || fail "tcpblast recv"
    guest_exec g2 "rm -f /tmp/send.out; tcpblast send 127.0.0.1 6000 $bytes > /tmp/send.out 2>&1 &" || fail "tcpblast send"
    sleep 2
    guest_exec g1 '[ ! -s /tmp/recv.out ]' || fail "the transfer ended before the save: the test proves nothing"
    xenshm save "$who" /tmp/$who.save || fail "xenshm save $who mid-transfer"
    xenshm restore /tmp/$who.save || fail "xenshm restore $who"
    rm -f /tmp/$who.save # dom0's root is RAM
    recv=$(GUEST_TIMEOUT=400 guest_exec g1 'for i in $(seq 1800); do [ -s /tmp/recv.out ] && break; sleep 0.2; done; cat /tmp/recv.out')
    send=$(GUEST_TIMEOUT=60 guest_exec g2 'for i in $(seq 150); do [ -s /tmp/send.out ] && break; sleep 0.2; done; cat /tmp/send.out')
    echo "send: $send"
    echo "recv: $recv"
    expect_eq "$(echo "$recv" | cut -d' ' -f2)" "$bytes" "bytes received across the save of $who"
    expect_eq "${recv##* sum }" "${send##* sum }" "checksum across the save of $who"
}

# 1. The server's side saved: the expose keeps the server's connection and waits.
transfer_across_save g1 $BYTES
guest_exec g2 cat /tmp/fwd.log
guest_exec g1 cat /tmp/expose.log
guest_exec g2 'grep -q "goes on over TCP" /tmp/fwd.log' || fail "the forward did not resume the session over TCP"
guest_exec g1 'grep -q "goes on over TCP" /tmp/expose.log' || fail "the expose did not resume the session over TCP"
metric resume_g1_resent_bytes "$(guest_exec g1 'sed -n "s/.*resending \([0-9]*\) bytes.*/\1/p" /tmp/expose.log | tail -1')"
metric resume_g2_resent_bytes "$(guest_exec g2 'sed -n "s/.*resending \([0-9]*\) bytes.*/\1/p" /tmp/fwd.log | tail -1')"

# 2. The client's side saved: the forward lets go of its channel and reconnects after its restore.
transfer_across_save g2 $BYTES
guest_exec g2 cat /tmp/fwd.log
[ "$(guest_exec g2 'grep -c "goes on over TCP" /tmp/fwd.log')" -ge 2 ] || fail "the forward did not resume the second session"
metric resume_g2_saved_resent_bytes "$(guest_exec g2 'sed -n "s/.*resending \([0-9]*\) bytes.*/\1/p" /tmp/fwd.log | tail -1')"

# 3. And a new client goes over MemPipe again, its whole transfer on the channel.
guest_exec g2 'for i in $(seq 150); do grep -q "xenshm is back" /tmp/fwd.log && exit 0; sleep 0.2; done; exit 1' ||
    fail "the forward did not come back after its own restore"
guest_exec g1 "rm -f /tmp/recv.out; tcpblast recv 5555 $((64 << 20)) > /tmp/recv.out 2>&1 &" || fail "tcpblast recv"
SEND=$(GUEST_TIMEOUT=300 guest_exec g2 tcpblast send 127.0.0.1 6000 $((64 << 20))) || fail "send: $SEND"
RECV=$(guest_exec g1 'for i in $(seq 300); do [ -s /tmp/recv.out ] && break; sleep 0.2; done; cat /tmp/recv.out')
echo "$SEND"
expect_eq "${RECV##* sum }" "${SEND##* sum }" "checksum of a session that kept its channel"
metric mempipe_resume_session_MBps "$(echo "$SEND" | sed -n 's/.* s \([0-9.]*\) MB\/s.*/\1/p')"
N=$(guest_exec g2 'grep -c "lost its channel" /tmp/fwd.log')
expect_eq "$N" 2 "sessions that lost their channel (two saves)"
echo "two transfers across a save of either end, every byte once; the next one over MemPipe"
