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
say "done."
