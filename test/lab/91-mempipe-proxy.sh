#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Unmodified TCP programs over MemPipe: tcpblast (checksummed) and busybox nc run between two
# guests through `mempipe forward` (client side) and `mempipe expose` (server side); with the
# channel's listener gone, the same forward carries the next client over the network instead.
# In between, each guest is saved and restored with `xenshm save`/`restore`: the forward names
# its peer (`g1`), so it finds the server again under its new domid.
. /xenlab/lib.sh
xenshmd -f --budget-kb 65536 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 vif || fail "guest g1"
guest_create g2 1 vif || fail "guest g2"
xenshm attach g1 --devices 2 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --devices 2 --quota-kb 16384 || fail "attach g2"
D1=$(guest_domid g1)
A=$(guest_ip 0)
BYTES=$((4 << 20))

# ready GUEST LOG WHAT: wait (10 s at most) until a mempipe proxy says it is up.
ready() {
    guest_exec "$1" "for i in \$(seq 100); do grep -q '$3' $2 && exit 0; sleep 0.1; done; cat $2; exit 1" ||
        fail "$2 in $1 never said '$3'"
}

blast() {  # blast PORT: tcpblast recv in g1, send from g2 through the forward; prints both lines
    guest_exec g1 "tcpblast recv 5555 $BYTES > /tmp/recv.out 2>&1 &" || fail "tcpblast recv"
    SEND=$(GUEST_TIMEOUT=300 guest_exec g2 tcpblast send 127.0.0.1 "$1" $BYTES) || fail "send: $SEND"
    RECV=$(guest_exec g1 'for i in $(seq 300); do [ -s /tmp/recv.out ] && break; sleep 0.2; done; cat /tmp/recv.out')
    echo "$SEND"
    echo "$RECV"
    expect_eq "${RECV##* sum }" "${SEND##* sum }" "stream checksum through port $1"
    expect_eq "$(echo "$RECV" | cut -d' ' -f2)" "$BYTES" "bytes received"
}

guest_exec g1 "mempipe expose blast 127.0.0.1:5555 > /tmp/expose.log 2>&1 & echo \$! > /tmp/expose.pid" || fail "expose"
guest_exec g2 "mempipe forward 6000 g1 blast --fallback $A:5555 > /tmp/fwd.log 2>&1 &" || fail "forward"
ready g1 /tmp/expose.log "leads to"
ready g2 /tmp/fwd.log "forwarding port"
blast 6000
metric mempipe_proxy_MBps "$(echo "$SEND" | sed -n 's/.* s \([0-9.]*\) MB\/s.*/\1/p')"
guest_exec g2 cat /tmp/fwd.log
guest_exec g2 'grep -q "goes over TCP" /tmp/fwd.log' && fail "the client went over TCP although a channel was there"

# busybox nc through the same kind of path.  nc -l's stdin is empty, so it half-closes at
# once: `mempipe expose` half-closes the channel (mempipe_shutdown) and the bytes from the
# peer still arrive (with a full close they were lost in 2 of 3 runs).
guest_exec g1 "mempipe expose chat 127.0.0.1:5556 > /tmp/expose2.log 2>&1 &" || fail "expose chat"
guest_exec g1 "nc -l -p 5556 > /tmp/nc.out 2>&1 &" || fail "nc -l"
guest_exec g2 "mempipe forward 6001 $D1 chat > /tmp/fwd2.log 2>&1 &" || fail "forward chat"
ready g1 /tmp/expose2.log "leads to"
ready g2 /tmp/fwd2.log "forwarding port"
guest_exec g2 'echo from-g2 | nc -w 3 127.0.0.1 6001'
NC=$(guest_exec g1 'for i in $(seq 50); do [ -s /tmp/nc.out ] && break; sleep 0.1; done; cat /tmp/nc.out')
if [ "$NC" != from-g2 ]; then
    guest_exec g2 'echo "fwd2.log:"; cat /tmp/fwd2.log'
    guest_exec g1 'echo "expose2.log:"; cat /tmp/expose2.log; ps'
fi
expect_eq "$NC" "from-g2" "nc through MemPipe"

# g2, both forwards in it, saved and restored: the proxies let go when asked (nothing mapped
# across the suspend), open their devices again after the restore and carry the next client
# over MemPipe again.
xenshm save g2 /tmp/g2.save || fail "xenshm save of g2 with its proxies"
xenshm restore /tmp/g2.save || fail "xenshm restore of g2"
rm -f /tmp/g2.save # dom0's root is RAM: a guest image left here starves the tests after
guest_exec g2 'for i in $(seq 150); do grep -q "xenshm is back" /tmp/fwd.log && exit 0; sleep 0.2; done; exit 1' ||
    fail "the forward did not come back: $(guest_exec g2 cat /tmp/fwd.log)"
guest_exec g2 cat /tmp/fwd.log
blast 6000
guest_exec g2 'grep -q "goes over TCP" /tmp/fwd.log' && fail "after the restore the client went over TCP: $(guest_exec g2 cat /tmp/fwd.log)"

# Now the server side, g1: its expose lets go and listens again under a new domid, and the
# forward, which looks the name up for every client, reaches it over MemPipe, not over TCP.
xenshm save g1 /tmp/g1.save || fail "xenshm save of g1 with its exposes"
xenshm restore /tmp/g1.save || fail "xenshm restore of g1"
rm -f /tmp/g1.save
D1B=$(guest_domid g1)
[ "$D1B" != "$D1" ] || fail "g1 kept its domid across the restore: the test proves nothing"
guest_exec g1 'for i in $(seq 150); do grep -q "xenshm is back" /tmp/expose.log && exit 0; sleep 0.2; done; exit 1' ||
    fail "the expose did not come back: $(guest_exec g1 cat /tmp/expose.log)"
echo "g1 was domain $D1, is $D1B"
blast 6000
guest_exec g2 'grep -q "goes over TCP" /tmp/fwd.log' && fail "the forward did not find g1 by name after its restore: $(guest_exec g2 cat /tmp/fwd.log)"

# The listener goes away: the same forward falls back to the network, no byte lost.
guest_exec g1 'kill $(cat /tmp/expose.pid)' || fail "stopping the expose"
sleep 1
blast 6000
guest_exec g2 'grep "goes over TCP" /tmp/fwd.log' || fail "the fallback was not taken"
