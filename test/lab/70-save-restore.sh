#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xl save + xl restore of a PV guest (Debian's Xen cannot live-migrate PV guests): the guest
# comes back under a new domid and its agent answers again.
. /xenlab/lib.sh
guest_create g1 0 || fail "guest"
D1=$(guest_domid g1)
guest_exec g1 'echo before > /tmp/mark' || fail "mark"
T0=$(now)
xl save g1 /tmp/g1.save || fail "xl save"
xl list | grep -q '^g1 ' && fail "guest still running after save"
xl restore /tmp/g1.save || fail "xl restore"
metric save_restore_s "$(elapsed "$T0")"
D2=$(guest_domid g1)
[ "$D1" != "$D2" ] || fail "domid did not change"
V=$(guest_exec g1 cat /tmp/mark) || fail "agent did not come back after restore"
expect_eq "$V" before "guest memory after restore"
echo "saved and restored: domid $D1 -> $D2"
rm -f /tmp/g1.save
