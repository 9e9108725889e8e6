#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 900
# xenshm save / restore of a guest that serves MemPipe while a stream runs into it. The save
# first asks the guest to let go (a grant mapping or user event channel kept across a suspend
# corrupts the guest): its server sees SHM_EV_RELEASE / ESHUTDOWN, closes everything, and the
# save runs only once Xen counts no dom0 grant mapped by it. The stream's sender sees a reset,
# not a hang. After the restore (new domid) the server opens its fresh device again and
# serves checksummed streams. A guest whose program ignores the request keeps running,
# unsaved, its memory intact.
. /xenlab/lib.sh
xenshmd -f --budget-kb 65536 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
xenshm attach g1 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --quota-kb 16384 || fail "attach g2"
D1=$(guest_domid g1)
guest_exec g1 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; cat /tmp/serve.out; exit 1' ||
    fail "server did not start"

# The same short run before and after: what the restore costs a channel.
short_run() {
    GUEST_TIMEOUT=300 guest_exec g2 mempipe-bench run --transport mempipe --peer "$1" --sizes 64,16384 --bytes 4194304 --rounds 20
}
BEFORE=$(short_run "$D1") || fail "stream to g1 before the save: $BEFORE"
echo "$BEFORE"

# A long stream into g1 when the save comes.
guest_exec g2 "mempipe-bench run --transport mempipe --peer $D1 --sizes 16384 --bytes 1073741824 --rounds 10 > /tmp/run1.out 2>&1 &"
sleep 4
HELD=$(active_grants 0 "$D1")
echo "g1 maps $HELD of dom0's grants while the stream runs"
[ "$HELD" -gt 0 ] || fail "g1 maps nothing of dom0's mid-stream: the test proves nothing"
t0=$(now)
xenshm save g1 /tmp/g1.save || fail "xenshm save"
metric mempipe_save_s "$(elapsed "$t0")"
grep -E "release|frontend closed" /tmp/xenshmd.log | tail -4
grep -q "release requested: the guest has 10000 ms" /tmp/xenshmd.log || fail "xenshmd did not ask g1 to let go"
grep -q "suspended (xl save or migrate) while its guest holds" /tmp/xenshmd.log &&
    fail "g1 was suspended holding mappings"
xl domid g1 > /dev/null 2>&1 && fail "g1 still runs after the save"
# The sender saw its peer go: the run ends with an error, not a hang.
OUT=$(guest_exec g2 'for i in $(seq 150); do pidof mempipe-bench > /dev/null || break; sleep 0.2; done; pidof mempipe-bench > /dev/null && echo STILL-RUNNING; cat /tmp/run1.out')
echo "the sender: $OUT"
echo "$OUT" | grep -q STILL-RUNNING && fail "the sender hangs on its vanished peer"

t0=$(now)
xenshm restore /tmp/g1.save || fail "xenshm restore"
rm -f /tmp/g1.save # dom0's root is RAM: a guest image left here starves the tests after
metric mempipe_restore_s "$(elapsed "$t0")"
D1B=$(guest_domid g1) || fail "no g1 after the restore"
echo "g1 was domain $D1, is domain $D1B"
guest_exec g1 'for i in $(seq 300); do grep -q "serving mempipe bench again" /tmp/serve.out && exit 0; sleep 0.2; done; exit 1' ||
    fail "g1's server did not come back: $(guest_exec g1 cat /tmp/serve.out)"
guest_exec g1 cat /tmp/serve.out
# By name: the restored g1 is found under its new domid.
OUT=$(short_run g1) || fail "stream to the restored g1: $OUT"
echo "$OUT"
for s in 64 16384; do
    metric "mempipe_MBps_before_save.$s" "$(echo "$BEFORE" | awk -v s=$s '$3 == s { print $7 }')"
    metric "mempipe_rtt_us_before_save.$s" "$(echo "$BEFORE" | awk -v s=$s '$3 == s { print $9 }')"
    metric "mempipe_MBps_after_restore.$s" "$(echo "$OUT" | awk -v s=$s '$3 == s { print $7 }')"
    metric "mempipe_rtt_us_after_restore.$s" "$(echo "$OUT" | awk -v s=$s '$3 == s { print $9 }')"
done
echo "$OUT" | grep -q "check BAD" && fail "a stream to the restored g1 arrived corrupt"
[ "$(echo "$OUT" | grep -c "check ok")" = 2 ] || fail "missing sizes after the restore"
K=$(guest_exec g1 'dmesg | grep -ciE "kernel BUG|general protection|segfault"')
expect_eq "$K" 0 "kernel complaints in g1 after the restore"

# A program that never looks at its events: the save gives up after --release-ms, g2 runs on.
guest_exec g2 'xenshm-probe alloc 1024 --hold 40 > /tmp/hold.out 2>&1 &' || fail "holder"
guest_exec g2 'for i in $(seq 100); do grep -q alloc_ms /tmp/hold.out && exit 0; sleep 0.2; done; cat /tmp/hold.out; exit 1' ||
    fail "holder did not start"
D2=$(guest_domid g2)
if xenshm save g2 /tmp/g2.save --release-ms 2000 > /tmp/save2.out 2>&1; then
    fail "g2 was saved while its program held a segment"
fi
cat /tmp/save2.out
grep -q "did not let go of its shared memory within 2000 ms" /tmp/save2.out || fail "no reason given for the refusal"
expect_eq "$(guest_domid g2)" "$D2" "g2 after the refused save"
xenstore-exists "/local/domain/0/backend/xenshm/$D2/0/release" && fail "the release request stayed behind"
OUT=$(GUEST_TIMEOUT=120 guest_exec g2 'while pidof xenshm-probe > /dev/null; do sleep 1; done; cat /tmp/hold.out')
echo "$OUT"
echo "$OUT" | grep -q "after hold: bad_bytes=0" || fail "g2's segment changed under the refused save"
echo "save with a release, restore, serve again; a guest that does not let go is not saved"
