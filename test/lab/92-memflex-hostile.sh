#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A hostile MemFlex frontend beside a swapping guest.  g1 swaps a checksummed workload to its
# MemFlex disk; g2 unloads its xen-blkfront and plays blkfront itself (memflex-hostile): 2000
# requests of random bytes, every one answered and the disk still connected; its event channel
# kicked for 5 s with nothing queued (held to the storm window, logged, an honest read still
# answered); then a request index 2^31 ahead, which closes g2's disk with an error node.  xenshmd stays up, g1's every
# word comes back right, and g2's death takes back every page and grant it held.
. /xenlab/lib.sh
DEVID=268440064 # xvds
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 262144 --spill-dir /var/lib/xenshm --memflex-persistent-grants 1056 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
D2=$(guest_domid g2)
BE2=/local/domain/0/backend/memflex/$D2/$DEVID
ERR2=/local/domain/0/error/backend/memflex/$D2/$DEVID/error
xenshm attach g1 --memflex 256M --mem 256M || fail "attach g1"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds in g1"
guest_exec g1 'mkswap /dev/xvds > /dev/null && swapon -d /dev/xvds' || fail "swapon in g1"
MIB=$(guest_exec g1 "awk '/^MemAvailable:/ { print int(\$2 / 1024 * 3 / 2) }' /proc/meminfo")
guest_exec g1 "(pagework --mib $MIB --rounds 2 --compressible > /tmp/pw.out 2>&1; echo \$? > /tmp/pw.rc) > /dev/null 2>&1 &" \
    || fail "start the workload in g1"

# g2's kernel must not own the disk: without xen-blkfront, nothing binds the new vbd.
guest_exec g2 'rmmod xen_blkfront' || fail "rmmod xen_blkfront in g2"
xenshm attach g2 --memflex 16M --mem 16M || fail "attach g2"
out=$(GUEST_TIMEOUT=120 guest_exec g2 "memflex-hostile $DEVID garbage 2000") || fail "garbage: $out"
echo "$out"
# Some of the nearly-right requests must have run: the data path, not only the refusals.
[ "$(echo "$out" | sed -n 's/.* okay=\([0-9]*\).*/\1/p')" -gt 0 ] || fail "no garbage request was served: $out"
metric memflex_hostile.garbage_errors "$(echo "$out" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')"
metric memflex_hostile.garbage_okay "$(echo "$out" | sed -n 's/.* okay=\([0-9]*\).*/\1/p')"
kill -0 $XD 2>/dev/null || fail "xenshmd died of g2's garbage"
# g2 asked for persistent grants, which xenshmd offers here: it maps the data pages it names until 16 random refs have
# failed to map, then grant-copies everything; never a random ref kept.
sleep 1.2
P2=$(xenstore-read "$BE2/stats" | tr ' ' '\n' | sed -n 's/^persistent=//p')
echo "g2's grants xenshmd keeps mapped after the garbage: $P2"
[ -n "$P2" ] && [ "$P2" -le 11 ] || fail "g2's persistent grants: '$P2' (want 0 .. 11: its data pages at most)"
metric memflex_hostile.persistent_grants "$P2"
out=$(GUEST_TIMEOUT=120 guest_exec g2 "memflex-hostile $DEVID flood 5") || fail "flood: $out"
echo "$out"
metric memflex_hostile.flood_kicks "$(echo "$out" | sed -n 's/.*kicks=\([0-9]*\).*/\1/p')"
grep -q "domain $D2 disk memflex/$DEVID: .* kicks of its event channel found no work" /tmp/xenshmd.log || fail "xenshmd did not notice g2's flood"
kill -0 $XD 2>/dev/null || fail "xenshmd died of g2's flood"
out=$(GUEST_TIMEOUT=120 guest_exec g2 "memflex-hostile $DEVID index") || fail "index: $out"
echo "$out"
expect_eq "$(xenstore-read "$BE2/state")" 6 "g2's disk after the lying index"
xenstore-read "$ERR2" > /dev/null || fail "no error node for g2's disk"
echo "g2's error node: $(xenstore-read "$ERR2")"
kill -0 $XD 2>/dev/null || fail "xenshmd died of g2's index"

# g1 swapped on throughout.
guest_exec g1 'i=0; while [ ! -f /tmp/pw.rc ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done; test -f /tmp/pw.rc' \
    || fail "g1's workload never finished"
pw=$(guest_exec g1 'cat /tmp/pw.out')
echo "g1: $pw"
expect_eq "$(guest_exec g1 'cat /tmp/pw.rc')" 0 "g1's workload exit status ($pw)"
echo "$pw" | grep -q ' bad=0 ' || fail "g1 read back wrong words: $pw"

# g2's death: its disk's dirs, pages and dom0's mappings of its grants all go.
guest_destroy g2
i=0
while xenstore-exists "$BE2" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
xenstore-exists "$BE2" 2>/dev/null && fail "g2's backend dir outlived it"
expect_eq "$(active_grants "$D2" 0)" 0 "grants of dead g2 that dom0 still maps"
kill -0 $XD 2>/dev/null || fail "xenshmd died"
