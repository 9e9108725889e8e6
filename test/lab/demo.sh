#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The lab demo: what the project proves on real Xen today, told step by step.
. /xenlab/lib.sh
say() { echo "[demo] $*"; }
say "Xen $(xl info | sed -n 's/^xen_version *: //p') is up with a Debian dom0; gntalloc limit $(cat /sys/module/xen_gntalloc/parameters/limit) pages."
guest_create g1 0 || fail "guest"
D=$(guest_domid g1)
say "Guest g1 is domain $D; its labagent answers through XenStore."
xenlab-gnt share "$D" 256 > /tmp/share.out 2>&1 &
S=$!
guest_exec g1 xenlab-gnt map | sed 's/^/[demo] /'
wait $S || fail "share"
sed 's/^/[demo] /' /tmp/share.out
say "dom0 granted 1 MiB to the guest through xenshm's Xen layer; both sides saw each other's bytes."
xenlab-gnt pingpong-server "$D" 100 > /dev/null 2>&1 &
guest_exec g1 xenlab-gnt pingpong-client 100 | sed 's/^/[demo] /'
wait
say "Now xenshmd, the pool's daemon: it gives g1 a 256 MiB swap disk kept in host memory (MemFlex)."
xenshmd -f --budget-kb 262144 --spill-dir /var/lib/xenshm > /tmp/xenshmd.log 2>&1 &
XD=$!
xenshm attach g1 --memflex 256M --mem 64M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; mkswap /dev/xvds > /dev/null && swapon /dev/xvds && grep xvds /proc/swaps' \
    | sed 's/^/[demo] g1: /' || fail "swap on xvds"
say "g1's stock xen-blkfront found the disk; g1 runs a 128 MiB working set in its 128 MiB, every word checked:"
GUEST_TIMEOUT=600 guest_exec g1 pagework --mib 128 --rounds 1 --compressible | sed 's/^/[demo] g1: /' || fail "pagework"
sleep 1.2
say "What dom0 holds for g1 (at most 64 MiB in memory, the rest in xenshmd's spill file):"
xenshm show g1 | sed 's/^/[demo] /'
guest_exec g1 'swapoff /dev/xvds' && xenshm detach g1 --memflex || fail "detach"
i=0
while [ "$(xenstore-read /tool/xenshm/used-kb)" != 0 ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
say "Detached: the store is deleted and the pool is back to $(xenstore-read /tool/xenshm/used-kb) KiB in use."
kill $XD
say "done."
