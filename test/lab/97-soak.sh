#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 3300
# The soak: SOAK_CYCLES guests in a row, each made by `xenshm create` with a xenshm device and a
# MemFlex disk, used (1 MiB from the pool written and read back by xenshm-probe, 4 MiB written
# to the disk and read back) and destroyed.  Then what is left is counted against what was
# there before the first one: dom0's grants that some domain maps (Xen's own count), dom0's
# event channels, XenStore nodes, the pool's use and MemFlex's store files.  Every count must
# come back to where it started.
. /xenlab/lib.sh
# 5 in the ordinary suite (CI); the full soak is XENLAB_TEST_ENV=SOAK_CYCLES=100 (~27 minutes).
N=${SOAK_CYCLES:-5}
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 262144 --spill-dir /var/lib/xenshm > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
# The lab's guest config (guest_create writes it), with xenshm's keys.
guest_create soak 0 || fail "template guest"
xl destroy soak
cp /etc/xen/soak.cfg /tmp/soak.cfg
printf 'xenshm = "quota=8M"\nmemflex = "size=64M,mem=16M"\n' >> /tmp/soak.cfg

# counts: grants event-channels xenstore-nodes pool-kb store-files
counts() {
    i=0
    while [ "$(xenstore-read /tool/xenshm/used-kb 2>/dev/null)" != 0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    echo "$(active_grants 0) $(grep -c 'xen-dyn' /proc/interrupts) $(xenstore-ls -f / | wc -l)" \
         "$(xenstore-read /tool/xenshm/used-kb) $(ls /dev/shm /var/lib/xenshm | grep -c memflex)"
}
# cycle C: one guest made, used and destroyed.
cycle() {
    c=$1
    OUT=$(xenshm create /tmp/soak.cfg -q 2>&1) || fail "cycle $c: xenshm create: $OUT"
    D=$(xl domid soak) || fail "cycle $c: no domain"
    labexec -t 60 "$D" true > /dev/null || fail "cycle $c: domain $D's agent is not up"
    OUT=$(probe_exec soak xenshm-probe alloc 1024) || fail "cycle $c: 1 MiB from the pool: $OUT"
    labexec -t 60 "$D" 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
        dd if=/dev/urandom of=/tmp/pat bs=4k count=1024 2>/dev/null &&
        dd if=/tmp/pat of=/dev/xvds bs=4k conv=fsync 2>/dev/null && echo 3 > /proc/sys/vm/drop_caches &&
        dd if=/dev/xvds of=/tmp/back bs=4k count=1024 2>/dev/null && cmp /tmp/pat /tmp/back' > /dev/null ||
        fail "cycle $c: 4 MiB through the MemFlex disk did not read back"
    xl destroy soak || fail "cycle $c: xl destroy"
}

# One cycle first: the directories that stay once made (backend/memflex, as libxl leaves
# backend/vbd) are not what the soak looks for; growth per cycle is.
nodes() { xenstore-ls -f / | sed 's/ = .*//' | sort; }
nodes > /tmp/xs.start
cycle 0
BEFORE=$(counts)
nodes > /tmp/xs.before
echo "XenStore nodes the first guest left for good (+) or removed (-):"
diff -u /tmp/xs.start /tmp/xs.before | grep '^[+-]/' || echo "  none"
echo "before: grants evtchns nodes pool-kb stores = $BEFORE"
t0=$(now)
for c in $(seq "$N"); do
    cycle "$c"
    [ $((c % 10)) = 0 ] && echo "cycle $c of $N: $(elapsed "$t0") s"
done
metric soak_cycles "$N"
metric soak_s "$(elapsed "$t0")"
sleep 2
AFTER=$(counts)
nodes > /tmp/xs.after
echo "XenStore nodes the soak added (+) or removed (-):"
diff -u /tmp/xs.before /tmp/xs.after | grep '^[+-]/' || echo "  none"
echo "after $N cycles: grants evtchns nodes pool-kb stores = $AFTER"
set -- $BEFORE
B_GNT=$1 B_EVT=$2 B_XS=$3 B_POOL=$4 B_STORE=$5
set -- $AFTER
metric soak_grants_left $(($1 - B_GNT))
metric soak_evtchns_left $(($2 - B_EVT))
metric soak_xenstore_nodes_left $(($3 - B_XS))
expect_eq "$1" "$B_GNT" "dom0 grants mapped after $N cycles"
expect_eq "$2" "$B_EVT" "dom0 event channels after $N cycles"
expect_eq "$3" "$B_XS" "XenStore nodes after $N cycles"
expect_eq "$4" "$B_POOL" "pool KiB in use after $N cycles"
expect_eq "$5" "$B_STORE" "MemFlex store files after $N cycles"
xenshm schema-check || fail "schema-check after the soak"
