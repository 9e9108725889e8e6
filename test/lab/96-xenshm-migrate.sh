#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1200
# xenshm migrate. Debian's Xen live-migrates PVH guests (HAP log-dirty) but not PV ones (built
# without shadow paging), so: a PVH guest that serves MemPipe and keeps data on its MemFlex disk
# is migrated within the host (with MIGRATE_MIDSTREAM=1 in the middle of a stream into it, which
# CI leaves out: docs/xenlab.md): its server lets go when asked,
# the domain moves (new domid), its disk comes back with every block, and its server serves
# checksummed streams again, found by name. A PV guest's migration fails inside xl: the request
# is withdrawn, the guest runs on and serves again. A domain with a MemFlex disk is refused for
# another host; without one it goes "there" through --ssh (a stand-in that runs the other
# host's side here): xl over that command, then its device made there by `xenshm attach`.
. /xenlab/lib.sh
DEVID=268440064 # xvds
xenshmd -f --budget-kb 262144 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
GUEST_TYPE=pvh guest_create g2 1 || fail "guest g2 (PVH)"
xenshm attach g1 --devices 2 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --devices 2 --quota-kb 16384 || fail "attach g2"
xenshm attach g2 --memflex 64M --mem 32M || fail "attach g2's MemFlex disk"
D1=$(guest_domid g1)
D2=$(guest_domid g2)

# 48 MiB of random blocks on g2's disk (more than its memory tier: some are in the spill file).
SUM=$(GUEST_TIMEOUT=300 guest_exec g2 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    dd if=/dev/urandom of=/dev/xvds bs=1M count=48 conv=fsync 2> /dev/null &&
    echo 3 > /proc/sys/vm/drop_caches && dd if=/dev/xvds bs=1M count=48 2> /dev/null | md5sum') ||
    fail "data on g2's MemFlex disk: $SUM"
SUM=${SUM%% *}
echo "g2's disk: 48 MiB, md5 $SUM"

serve() {
    guest_exec "$1" 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server in $1"
    guest_exec "$1" 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; cat /tmp/serve.out; exit 1' ||
        fail "the server in $1 did not start"
}
# served_again NAME N: its server has opened its device again after N releases.
served_again() {
    GUEST_TIMEOUT=120 guest_exec "$1" "for i in \$(seq 300); do [ \$(grep -c 'serving mempipe bench again' /tmp/serve.out) -ge $2 ] && exit 0; sleep 0.2; done; exit 1" ||
        fail "$1's server did not come back: $(guest_exec "$1" cat /tmp/serve.out)"
}
# short_run FROM TO: checksummed streams FROM -> TO (by name), 64 B and 16 KiB messages.
short_run() {
    local out
    out=$(GUEST_TIMEOUT=300 guest_exec "$1" mempipe-bench run --transport mempipe --peer "$2" --sizes 64,16384 --bytes 4194304 --rounds 20) ||
        fail "stream $1 -> $2: $out"
    echo "$out"
    echo "$out" | grep -q "check BAD" && fail "a stream $1 -> $2 arrived corrupt"
    [ "$(echo "$out" | grep -c "check ok")" = 2 ] || fail "missing sizes in the stream $1 -> $2"
}
serve g2
serve g1
short_run g1 g2

# 1. Within the host (two devices each: one for its server, one for its client). A PVH guest
# reading its disk in a loop during the live migration triple-faulted in 2 of 4 runs under
# emulation (docs/xenlab.md): the disk is checked before and after.
# MIGRATE_MIDSTREAM=1: a 64 GiB stream into g2 when the migration comes (far more than moves
# before it). Off in CI: a PVH guest under a MemPipe stream triple-faulted once under
# emulation, before any migration (docs/xenlab.md); without it g2 holds its server's control page.
MIDSTREAM=${MIGRATE_MIDSTREAM:-0}
if [ "$MIDSTREAM" = 1 ]; then
    guest_exec g1 "mempipe-bench run --transport mempipe --peer g2 --sizes 16384 --bytes 68719476736 --rounds 10 > /tmp/run1.out 2>&1 & echo \$! > /tmp/run1.pid"
    sleep 3
    guest_exec g1 'kill -0 $(cat /tmp/run1.pid)' || fail "the stream ended before the migration: $(guest_exec g1 cat /tmp/run1.out)"
fi
HELD=$(active_grants 0 "$D2")
echo "g2 maps $HELD of dom0's grants before the migration"
[ "$HELD" -gt 0 ] || fail "g2 maps nothing of dom0's: the test proves nothing"
t0=$(now)
xenshm migrate g2 || fail "xenshm migrate g2"
metric migrate_pvh_s "$(elapsed "$t0")"
D2B=$(guest_domid g2) || fail "no g2 after the migration"
echo "g2 was domain $D2, is domain $D2B"
[ "$D2B" != "$D2" ] || fail "g2 kept its domid: it did not move"
grep -q "release requested: the guest has 10000 ms" /tmp/xenshmd.log || fail "xenshmd did not ask g2 to let go"
grep -q "suspended (xl save or migrate) while its guest holds" /tmp/xenshmd.log &&
    fail "g2 was suspended holding mappings"
if [ "$MIDSTREAM" = 1 ]; then # the sender saw its peer go: its run ends with an error, not a hang
    OUT=$(guest_exec g1 'for i in $(seq 150); do kill -0 $(cat /tmp/run1.pid) 2> /dev/null || break; sleep 0.2; done
        kill -0 $(cat /tmp/run1.pid) 2> /dev/null && echo STILL-RUNNING; cat /tmp/run1.out')
    echo "the sender: $OUT"
    echo "$OUT" | grep -q STILL-RUNNING && fail "the sender hangs on its moved peer"
    echo "$OUT" | grep -q "check ok" && fail "the 64 GiB stream finished: the migration did not happen mid-stream"
fi
served_again g2 1
BE=/local/domain/0/backend/memflex/$D2B/$DEVID
i=0
while [ "$(xenstore-read $BE/state 2>/dev/null)" != 4 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
expect_eq "$(xenstore-read $BE/state)" 4 "g2's MemFlex disk on its new domid"
grep -q "store of the saved domain taken back" /tmp/xenshmd.log || fail "the store was not taken back"
AFTER=$(GUEST_TIMEOUT=300 guest_exec g2 'echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/xvds bs=1M count=48 2> /dev/null | md5sum')
expect_eq "${AFTER%% *}" "$SUM" "g2's disk after the migration"
short_run g1 g2
K=$(guest_exec g2 'dmesg | grep -ciE "kernel BUG|general protection|segfault"')
expect_eq "$K" 0 "kernel complaints in g2 after the migration"

# 2. A PV guest: xl cannot (no log-dirty without shadow paging); it runs on and serves again.
if xenshm migrate g1 > /tmp/mig1.out 2>&1; then
    fail "a PV guest migrated on Debian's Xen: $(cat /tmp/mig1.out)"
fi
tail -3 /tmp/mig1.out
grep -q "it runs on here" /tmp/mig1.out || fail "no word that g1 runs on"
expect_eq "$(guest_domid g1)" "$D1" "g1 after the failed migration"
xenstore-exists "/local/domain/0/backend/xenshm/$D1/0/release" && fail "the release request stayed behind"
served_again g1 1
short_run g2 g1

# 3. To another host: not with its swap in this host's memory.
if xenshm migrate g2 elsewhere > /tmp/mig2.out 2>&1; then
    fail "g2 went to another host with its MemFlex disk"
fi
cat /tmp/mig2.out
grep -q "swaps to MemFlex disk xvds" /tmp/mig2.out || fail "no reason given"
expect_eq "$(guest_domid g2)" "$D2B" "g2 after the refusal"

# 4. Without the disk, "there" through a stand-in ssh that runs the other host's side here.
xenshm detach g2 --memflex || fail "detach g2's disk"
printf '#!/bin/sh\nshift\nexec sh -c "$*"\n' > /tmp/heressh
chmod +x /tmp/heressh
t0=$(now)
xenshm migrate g2 elsewhere --ssh /tmp/heressh || fail "xenshm migrate g2 elsewhere"
metric migrate_pvh_there_s "$(elapsed "$t0")"
D2C=$(guest_domid g2) || fail "no g2 after the second migration"
[ "$D2C" != "$D2B" ] || fail "g2 kept its domid the second time"
served_again g2 2
short_run g1 g2
echo "migrated within the host with its disk and channels; a failed migration gives back; there without swap"
