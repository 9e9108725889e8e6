#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest maps dom0's grants and is destroyed mid-use: dom0 unshares and the whole gntalloc
# budget comes back (counted by granting exactly `limit` pages before and after).
# It changes the host-wide gntalloc limit, so it gets a boot of its own:
# xenlab: own-boot
. /xenlab/lib.sh
LIMIT_FILE=/sys/module/xen_gntalloc/parameters/limit
OLD=$(cat $LIMIT_FILE)
echo 64 > $LIMIT_FILE
trap 'echo $OLD > $LIMIT_FILE' EXIT
guest_create g1 0 || fail "guest"
D=$(guest_domid g1)
xenlab-gnt leakcheck "$D" 16 64 > /tmp/leak.out 2>&1 &
LC=$!
# The guest maps and holds the pages until it is destroyed; the agent returns at once.
guest_exec g1 'xenlab-gnt map --hold 600 > /tmp/map.out 2>&1 &'
wait $LC; RC=$?
cat /tmp/leak.out
[ $RC -eq 0 ] || fail "leakcheck"
xl list | grep -q '^g1 ' && fail "guest still listed"
echo "outstanding grants after destroy+unshare: 0 (the full 64-page budget was granted again)"
metric grants_outstanding_after_destroy 0
