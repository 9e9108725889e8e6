#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name what MemPipe's per-operation calls cost in dom0 and in a PV guest (a diagnostic)
# xenlab: timeout 600
# Splits the MemPipe benchmark's per-message time into its calls: a ring write, the clock,
# a plain system call (a PV guest's go through Xen), polling and draining the event-channel
# device, and an event-channel notify (a hypercall).
. /xenlab/lib.sh
guest_create g1 0 || fail "guest g1"
echo "dom0:"
callcost 20000 | tee /tmp/dom0.cost || fail "callcost in dom0"
echo "guest:"
G=$(guest_exec g1 callcost 20000) || fail "callcost in the guest: $G"
echo "$G"
for who in dom0 guest; do
    if [ $who = dom0 ]; then out=$(cat /tmp/dom0.cost); else out=$G; fi
    echo "$out" | while read -r _ name _ ns; do metric "callcost_ns.$who.$name" "$ns"; done
done
