#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name what MemPipe's per-operation calls cost in dom0 and in a PV guest (a diagnostic)
# xenlab: timeout 600
# Splits the MemPipe benchmark's per-message time into its calls: a ring write, the clock,
# a plain system call (a PV guest's go through Xen), polling and draining the event-channel
# device, and an event-channel notify (a hypercall); then a byte copy's cost by size, with
# glibc's copy loops as it picks them and again with `rep movsb` turned off (GLIBC_TUNABLES),
# and the thresholds glibc picked them by.
. /xenlab/lib.sh
NO_MOVSB=glibc.cpu.x86_rep_movsb_threshold=1099511627776
guest_create g1 0 || fail "guest g1"
LDSO=$(ls /lib64/ld-linux-x86-64.so.2 2>/dev/null)
[ -n "$LDSO" ] && { echo "glibc's copy thresholds (dom0):"; "$LDSO" --list-tunables | grep -E 'movsb|non_temporal|cache_size'; }
echo "dom0:"
callcost 20000 | tee /tmp/dom0.cost || fail "callcost in dom0"
echo "dom0, rep movsb off:"
GLIBC_TUNABLES=$NO_MOVSB callcost 2000 | grep -E 'cpy|copy' | sed 's/memcpy/memcpy-nomovsb/' | tee -a /tmp/dom0.cost
echo "guest:"
G=$(guest_exec g1 callcost 20000) || fail "callcost in the guest: $G"
echo "$G"
echo "guest, rep movsb off:"
GN=$(guest_exec g1 env GLIBC_TUNABLES=$NO_MOVSB callcost 2000) || fail "callcost in the guest: $GN"
GN=$(echo "$GN" | grep -E 'cpy|copy' | sed 's/memcpy/memcpy-nomovsb/')
echo "$GN"
G="$G
$GN"
for who in dom0 guest; do
    if [ $who = dom0 ]; then out=$(cat /tmp/dom0.cost); else out=$G; fi
    echo "$out" | grep '^callcost' | while read -r _ name _ ns; do metric "callcost_ns.$who.$name" "$ns"; done
done
