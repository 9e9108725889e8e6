#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# XenStore permissions as libxl sets them for device dirs: a guest reads its backend dir but
# cannot write it, writes its frontend dir, and cannot read another guest's backend dir.
. /xenlab/lib.sh
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
A=$(guest_domid g1); B=$(guest_domid g2)
for d in $A $B; do
    fe=/local/domain/$d/device/xenshm/0; be=/local/domain/0/backend/xenshm/$d/0
    xenstore-write "$fe/state" 1 "$be/state" 1 "$be/frontend-id" "$d" || fail "write dirs"
    xenstore-chmod -r "$fe" "n$d" r0 || fail "chmod fe"
    xenstore-chmod -r "$be" n0 "r$d" || fail "chmod be"
done
ownbe=/local/domain/0/backend/xenshm/$A/0
otherbe=/local/domain/0/backend/xenshm/$B/0
V=$(guest_exec g1 xenstore-read "$ownbe/state") || fail "guest cannot read its own backend dir"
expect_eq "$V" 1 "own backend state"
guest_exec g1 xenstore-write "$ownbe/state" 4 && fail "guest wrote its backend dir"
guest_exec g1 xenstore-read "$otherbe/state" && fail "guest read another guest's backend dir"
guest_exec g1 xenstore-ls "/local/domain/0/backend/xenshm/$B" && fail "guest listed another guest's backend dir"
guest_exec g1 xenstore-write "/local/domain/$A/device/xenshm/0/state" 3 || fail "guest cannot write its frontend"
expect_eq "$(xenstore-read /local/domain/$A/device/xenshm/0/state)" 3 "frontend state seen by dom0"
guest_exec g1 xenstore-read "/local/domain/$B/device/xenshm/0/state" && fail "guest read another guest's frontend"
guest_exec g1 xenstore-write /tool/xenshm/budget-kb 1 && fail "guest wrote a host tunable"
echo "permissions hold: own backend r/o, other guest's dirs invisible, frontend writable"
