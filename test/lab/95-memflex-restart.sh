#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# MemFlex across a crash of xenshmd on Xen: a guest has swapped most of a working set out to
# its MemFlex disk; xenshmd is killed with SIGKILL; a new xenshmd reattaches the store from
# /dev/shm, maps the ring again, binds the guest's port again and serves on; every page the
# guest swapped comes back right.  With persistent grants (blkfront's pool): the dead xenshmd's
# mappings went with it, and the new one maps the pool's references again as requests name them.
. /xenlab/lib.sh
DEVID=268440064 # xvds
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 262144 --memflex-persistent-grants 1056 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log; collect /tmp/xenshmd2.log xenshmd2.log' EXIT
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
D1=$(guest_domid g1)
BE=/local/domain/0/backend/memflex/$D1/$DEVID
xenshm attach g1 --memflex 256M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; mkswap /dev/xvds > /dev/null && swapon /dev/xvds' \
    || fail "swap on xvds"
guest_exec g1 "rm -f /tmp/go; pagework --mib 144 --rounds 1 --wait /tmp/go > /tmp/pw.out 2>&1 &"
GUEST_TIMEOUT=600 guest_exec g1 'while ! grep -q filled /tmp/pw.out; do sleep 1; grep -q mib= /tmp/pw.out && break; done; cat /tmp/pw.out' \
    || fail "pagework did not fill"
sleep 1.2
BEFORE=$(xenstore-read $BE/stats)
echo "before the crash: $BEFORE"

kill -9 $XD
wait $XD 2>/dev/null
ls /dev/shm | grep -q "^memflex-.*-$DEVID.mem$" || fail "the memory tier did not outlive xenshmd"
# Meanwhile a guest that needs its swap waits (its requests sit in the ring): a pause, no error.
t0=$(now)
GUEST_TIMEOUT=10 guest_exec g1 'dd if=/dev/urandom of=/tmp/x bs=1M count=4 2>/dev/null; echo answered' \
    || echo "the guest waits on its swap disk while no xenshmd runs (expected)"
xenshmd -f --budget-kb 262144 --memflex-persistent-grants 1056 > /tmp/xenshmd2.log 2>&1 &
XD=$!
i=0
while ! grep -q "resumed" /tmp/xenshmd2.log && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
metric memflex_outage_s "$(elapsed "$t0")"
grep "memflex" /tmp/xenshmd2.log
grep -q "store reattached" /tmp/xenshmd2.log || fail "the new xenshmd did not reattach the store"
grep -q "resumed" /tmp/xenshmd2.log || fail "the new xenshmd did not resume the ring"
expect_eq "$(xenstore-read $BE/state)" 4 "backend state after the restart"

OUT=$(GUEST_TIMEOUT=900 guest_exec g1 'touch /tmp/go; while ! grep -q mib= /tmp/pw.out; do sleep 1; done; cat /tmp/pw.out; grep -q "bad=0 " /tmp/pw.out')
rc=$?
echo "$OUT"
[ $rc -eq 0 ] || fail "pages came back wrong after the restart: $OUT"
sleep 1.2
AFTER=$(xenstore-read $BE/stats)
echo "after: $AFTER"
echo "$AFTER" | tr ' ' '\n' | grep -q '^reads=[1-9]' || fail "the new xenshmd served no read"
echo "$AFTER" | tr ' ' '\n' | grep -q '^persistent=[1-9]' || fail "the new xenshmd kept no persistent grant mapped"
echo "xenshmd killed and restarted under a swapping guest: every page back"
