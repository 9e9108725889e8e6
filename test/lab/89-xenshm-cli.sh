#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The admin CLI on real Xen: `check` reads the real limits (gntalloc limit, Xen's command
# line), `attach`/`status`/`set`/`reclaim`/`detach` drive xenshmd through XenStore, a guest
# process sees the admin's reclaim notice, knobs written with xenstore-write apply live and a
# bad one is refused with the admin's error node.
. /xenlab/lib.sh
xenshmd -f --budget-kb 65536 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
OUT=$(xenshm check --budget 128M); RC=$?
echo "$OUT"
expect_eq "$RC" 0 "xenshm check --budget 128M (limit 65536, gnttab_max_frames=256)"
OUT=$(xenshm check --budget 1G); RC=$?
echo "$OUT" | head -4
expect_eq "$RC" 4 "xenshm check --budget 1G exit code"
echo "$OUT" | grep -q "options xen_gntalloc limit=263168" || fail "no gntalloc fix for 1G"
echo "$OUT" | grep -q "gnttab_max_frames=514" || fail "no gnttab_max_frames fix for 1G"
guest_create g1 0 || fail "guest g1"
D1=$(guest_domid g1)
xenshm attach g1 --quota 8M --devices 2 || fail "attach"
xenshm set budget=32M reclaim-deadline-ms=2000 || fail "set"
expect_eq "$(xenstore-read /tool/xenshm/budget-kb)" 32768 "budget-kb after set"
xenshm set budget=5K 2>/dev/null; expect_eq $? 2 "exit code of a bad size"
# xenstore-write goes around the CLI's checks: xenshmd refuses, keeps the old value, and says
# so in /tool/xenshm/error (and `status`) until the node holds a good value again.
xenstore-write /tool/xenshm/budget-kb banana
for i in $(seq 50); do xenstore-read /tool/xenshm/error > /dev/null 2>&1 && break; sleep 0.2; done
expect_eq "$(xenstore-read /tool/xenshm/error)" \
    "22 /tool/xenshm/budget-kb: 'banana' refused: not KiB in whole pages; keeping 32768 KiB" "the admin's error node"
xenshm status | grep -q "^refused setting: 22 /tool/xenshm/budget-kb" || fail "status does not show the refusal"
xenstore-write /tool/xenshm/budget-kb 32768
for i in $(seq 50); do xenstore-read /tool/xenshm/error > /dev/null 2>&1 || break; sleep 0.2; done
xenstore-read /tool/xenshm/error 2>/dev/null && fail "the error node stayed after a good value"
# Each knob live: a value xenshmd takes shows in status at once.
xenstore-write /tool/xenshm/accept-pct 85
xenstore-write /tool/xenshm/reclaim-interval-ms 3000
for i in $(seq 50); do grep -q "reclaim-interval-ms 3000" /tmp/xenshmd.log && break; sleep 0.2; done
grep -q "/tool/xenshm/accept-pct 85" /tmp/xenshmd.log || fail "accept-pct not applied live"
grep -q "/tool/xenshm/reclaim-interval-ms 3000" /tmp/xenshmd.log || fail "reclaim-interval-ms not applied live"
xenshm show nosuch 2>/dev/null; expect_eq $? 3 "exit code for an unknown domain"
guest_exec g1 'xenshm-probe serve 1024 1024 60 > /tmp/serve.out 2>&1 & echo $! > /tmp/serve.pid'
for i in $(seq 100); do [ "$(xenstore-read /tool/xenshm/used-kb)" -ge 2056 ] && break; sleep 0.2; done
JSON=$(xenshm status --json)
echo "$JSON"
echo "$JSON" | grep -q "\"budget_kb\":32768,\"used_kb\":2056," || fail "status --json: $JSON"
echo "$JSON" | grep -q "{\"domid\":$D1,\"name\":\"g1\",\"devid\":0,\"state\":4,\"state_name\":\"connected\",\"quota_kb\":8192,\"used_kb\":2056,\"segments\":2," \
    || fail "status --json device row"
xenshm reclaim g1 1M || fail "reclaim"
for i in $(seq 50); do guest_exec g1 cat /tmp/serve.out | grep -q "^reclaim" && break; sleep 0.2; done
SERVE=$(guest_exec g1 cat /tmp/serve.out)
echo "$SERVE" | grep -q "^reclaim id=1 bytes=1048576 deadline_ms=2000 honoured" || fail "the guest did not see the admin's notice: $SERVE"
xenshm status
guest_exec g1 'kill $(cat /tmp/serve.pid)'
for i in $(seq 100); do [ "$(xenstore-read /tool/xenshm/used-kb)" = 0 ] && break; sleep 0.2; done
xenshm detach g1 || fail "detach"
for i in $(seq 50); do xenstore-exists /local/domain/0/backend/xenshm/$D1 || break; sleep 0.2; done
xenstore-exists /local/domain/0/backend/xenshm/$D1 && fail "backend dirs left after detach"
kill -0 $XD || fail "xenshmd died"
echo "cli: check, attach, set, status --json, reclaim, detach on Xen"
