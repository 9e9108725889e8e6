#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# xenshm save / restore of a guest whose working set sits in its MemFlex swap: the store
# outlives the saved domain, the restored domain (new domid, same UUID) gets the disk back
# before it runs, blkfront resumes against it, and every page comes back right.
. /xenlab/lib.sh
DEVID=268440064 # xvds
xenshmd -f --budget-kb 262144 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log; xenstore-ls -f /local/domain/0/backend/memflex > /tmp/xs.txt 2>&1; collect /tmp/xs.txt xenstore.txt' EXIT
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
D1=$(guest_domid g1)
xenshm attach g1 --memflex 256M --mem 64M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; mkswap /dev/xvds > /dev/null && swapon /dev/xvds' \
    || fail "swap on xvds"
guest_exec g1 "rm -f /tmp/go; pagework --mib 144 --rounds 1 --wait /tmp/go > /tmp/pw.out 2>&1 &"
GUEST_TIMEOUT=600 guest_exec g1 'while ! grep -q filled /tmp/pw.out; do sleep 1; grep -q mib= /tmp/pw.out && break; done; cat /tmp/pw.out' \
    || fail "pagework did not fill"
sleep 1.2
echo "before the save: $(xenstore-read /local/domain/0/backend/memflex/$D1/$DEVID/stats)"
t0=$(now)
xenshm save g1 /tmp/g1.save || fail "xenshm save"
metric memflex_save_s "$(elapsed "$t0")"
xl domid g1 > /dev/null 2>&1 && fail "g1 still runs after the save"
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ls /dev/shm | grep -q "memflex-.*\.mem\.saved$" || fail "the store was not kept for the restore: $(ls /dev/shm)"
t0=$(now)
xenshm restore /tmp/g1.save || fail "xenshm restore"
rm -f /tmp/g1.save # dom0's root is RAM
metric memflex_restore_s "$(elapsed "$t0")"
D2=$(guest_domid g1) || fail "no g1 after the restore"
echo "g1 was domain $D1, is domain $D2"
BE=/local/domain/0/backend/memflex/$D2/$DEVID
i=0
while [ "$(xenstore-read $BE/state 2>/dev/null)" != 4 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
expect_eq "$(xenstore-read $BE/state)" 4 "the restored domain's disk"
grep "memflex" /tmp/xenshmd.log | tail -4
OUT=$(GUEST_TIMEOUT=900 guest_exec g1 'touch /tmp/go; while ! grep -q mib= /tmp/pw.out; do sleep 1; done; cat /tmp/pw.out; grep -q "bad=0 " /tmp/pw.out')
rc=$?
echo "$OUT"
[ $rc -eq 0 ] || fail "pages came back wrong after save/restore: $OUT"
echo "after: $(xenstore-read $BE/stats)"
echo "saved and restored with its swap in MemFlex: every page back"
