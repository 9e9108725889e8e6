#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: timeout 1800
# A hostile guest beside a well-behaved pair.  g1 serves MemPipe, g2 streams to it in a loop
# (checksummed, 2 MiB a run), and g3 runs xenshm-hostile: each case breaks the protocol in
# one way.  After every case: xenshmd is alive, a case that breaks the protocol left g3 cut
# off with an error node naming what it did, and the error node goes once g3 connects
# properly again.  At the end: every one of g2's runs arrived intact, g3 holds no grant and
# no event channel more than before, and a guest cannot touch another's XenStore nodes,
# xenshmd's tunables or dom0's grants meant for another domain.  The event-channel flood
# also measures what it costs the neighbour (its runs during the flood against before).
. /xenlab/lib.sh
xenshmd -f --budget-kb 131072 --quota-kb 16384 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
guest_create g3 2 || fail "guest g3"
for g in g1 g2; do xenshm attach $g || fail "attach $g"; done
# g3's quota, not the host's budget, is what its greed meets first.
xenshm attach g3 --quota 16M || fail "attach g3"
D1=$(guest_domid g1)
D2=$(guest_domid g2)
D3=$(guest_domid g3)
ERR=/local/domain/0/error/backend/xenshm/$D3/0/error
BE=/local/domain/0/backend/xenshm/$D3/0

# g3's footprint when it holds nothing, after a well-behaved session.
OUT=$(probe_exec g3 xenshm-probe alloc 1024) || fail "g3 before: $OUT"
sleep 1
GRANTS0=$(active_grants 0 "$D3")
PORTS0=$(remote_ports 0 "$D3")
echo "g3 before the cases: $GRANTS0 dom0 grants mapped, $PORTS0 dom0 event channels for it"

guest_exec g1 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; exit 1' ||
    fail "server did not start"
guest_exec g2 "(while [ ! -e /tmp/stop ]; do
        [ -e /tmp/pause ] && { sleep 0.2; continue; }
        mempipe-bench run --transport mempipe --peer $D1 --sizes 16384 --bytes 2097152 --rounds 10 || echo 'run failed'
    done) > /tmp/nb.out 2>&1 &" || fail "neighbour"
# The neighbour's finished runs (an agent call can fail while dom0 is busy: asked again).
runs() {
    local n i
    for i in 1 2 3 4 5; do
        n=$(guest_exec g2 'grep -c " check " /tmp/nb.out') && [ -n "$n" ] && { echo "$n"; return 0; }
        sleep 1
    done
    echo 0
}
for i in $(seq 100); do [ "$(runs)" -ge 3 ] && break; sleep 1; done
[ "$(runs)" -ge 3 ] || fail "the neighbour's stream did not start: $(guest_exec g2 cat /tmp/nb.out)"

alive() { kill -0 $XD 2>/dev/null || fail "xenshmd died in case $1"; }
hostile() { GUEST_TIMEOUT=300 guest_exec g3 xenshm-hostile "$@"; }
# cut_off CASE PATTERN [ARG...]: the case breaks the protocol; g3 is disconnected with PATTERN
# in its error node.
cut_off() {
    c=$1 p=$2
    shift 2
    xenstore-rm "$ERR" 2>/dev/null
    OUT=$(hostile "$c" "$@") || fail "case $c did not run as planned: $OUT"
    echo "$OUT"
    alive "$c"
    E=$(xenstore-read "$ERR" 2>/dev/null)
    echo "$E" | grep -qE "$p" || fail "case $c: error node '$E', want /$p/"
    expect_eq "$(xenstore-read $BE/state)" 6 "backend state after case $c"
    metric "hostile_cut_off.$c" 1
}
# served CASE ARGS...: the case is abuse within the protocol: g3 is not cut off.
served() {
    xenstore-rm "$ERR" 2>/dev/null
    OUT=$(hostile "$@") || fail "case $1 did not run as planned: $OUT"
    echo "$OUT"
    alive "$1"
    E=$(xenstore-read "$ERR" 2>/dev/null) && fail "case $1: cut off: $E"
    true
}

cut_off garbage-msg "^71 bad control message"
# The error node went when g3 connected again (the next case's handshake); checked here once.
cut_off ring-index "^71 control ring corrupt"
cut_off oversize "^71 control ring corrupt"
cut_off no-read "^105 guest does not read its responses"
cut_off version "^93 frontend protocol version"
# A MemPipe channel to g1's server (which g2 streams to meanwhile) whose tx index lies: g3 is
# cut off, the server goes on serving g2 (every one of g2's runs is checked at the end).
cut_off chan-index "^71 channel ring corrupt" "$D1"
# A message channel to itself whose next frame is larger than the receiving ring.
cut_off chan-oversize "^71 channel ring corrupt"
served quota
echo "$OUT" | grep -qE "refusal=122 huge=[0-9]+ connected=1" || fail "quota: $OUT"
served unmap-early
echo "$OUT" | grep -q "first_free=0 second_free=2 held_at_exit=16" || fail "unmap-early: $OUT"

T0=$(now)
served flap 2000
metric hostile_flap_writes_per_s "$(awk -v t="$(elapsed "$T0")" 'BEGIN { printf "%.0f", 2000 / t }')"
# After 2000 state writes xenshmd still follows g3's state: a proper session works.
OUT=$(probe_exec g3 xenshm-probe alloc 1024) || fail "g3 after the flapping: $OUT"

served churn 1000
echo "$OUT" | grep -q "pairs=1000" || fail "churn: $OUT"
metric hostile_churn_pairs_per_s "$(echo "$OUT" | sed -n 's/.*pairs in .* s (\([0-9]*\)\/s).*/\1/p')"

# The flood, measured: the neighbour's loop paused, one 64 MiB run of its stream with g3 quiet
# and one while g3 kicks its port as fast as it can; xenshmd's CPU over each (the relay of the
# neighbour's stream costs some of its own).
cpu() { cpu_ticks $XD; }
guest_exec g2 'touch /tmp/pause'
for i in $(seq 60); do guest_exec g2 'pidof mempipe-bench > /dev/null' || break; sleep 0.5; done
measure() {
    GUEST_TIMEOUT=300 guest_exec g2 "mempipe-bench run --transport mempipe --peer $D1 --sizes 16384 --bytes 67108864 --rounds 50 >> /tmp/nb.out 2>&1; tail -1 /tmp/nb.out" |
        awk '/ check ok/ { print $7 }'
}
C0=$(cpu); T0=$(now)
QUIET_MB=$(measure)
QUIET_CPU=$(cpu_pct $(($(cpu) - C0)) "$(elapsed "$T0")")
# The control: g3 spinning its vCPU without a single kick (what any busy guest costs the others
# on the 2 emulated CPUs), so that the flood's own cost shows apart from its CPU use.
guest_exec g3 "sh -c 'while :; do :; done' > /dev/null 2>&1 & echo \$! > /tmp/hog.pid"
sleep 3
C0=$(cpu); T0=$(now)
HOG_MB=$(measure)
HOG_CPU=$(cpu_pct $(($(cpu) - C0)) "$(elapsed "$T0")")
guest_exec g3 'kill $(cat /tmp/hog.pid)'
guest_exec g3 'xenshm-hostile flood 60 > /tmp/flood.out 2>&1 &'
sleep 3
C0=$(cpu); T0=$(now)
FLOOD_MB=$(measure)
FLOOD_CPU=$(cpu_pct $(($(cpu) - C0)) "$(elapsed "$T0")")
for i in $(seq 120); do guest_exec g3 'grep -q "^result" /tmp/flood.out' && break; sleep 1; done
OUT=$(guest_exec g3 cat /tmp/flood.out)
echo "$OUT"
alive flood
echo "$OUT" | grep -q "served_after=1" || fail "flood: $OUT"
[ -n "$QUIET_MB" ] && [ -n "$HOG_MB" ] && [ -n "$FLOOD_MB" ] ||
    fail "a measured neighbour run failed: $(guest_exec g2 tail -3 /tmp/nb.out)"
guest_exec g2 'rm /tmp/pause'
echo "neighbour 64 MiB: $QUIET_MB MB/s with g3 quiet (xenshmd ${QUIET_CPU}% CPU), $HOG_MB MB/s with g3 spinning (xenshmd ${HOG_CPU}%), $FLOOD_MB MB/s during the flood (xenshmd ${FLOOD_CPU}%)"
metric hostile_hog_xenshmd_cpu_pct "$HOG_CPU"
metric hostile_neighbour_MBps_hog "$HOG_MB"
metric hostile_flood_kicks_per_s "$(echo "$OUT" | sed -n 's/.*per_s=\([0-9]*\).*/\1/p')"
metric hostile_quiet_xenshmd_cpu_pct "$QUIET_CPU"
metric hostile_flood_xenshmd_cpu_pct "$FLOOD_CPU"
metric hostile_neighbour_MBps_quiet "$QUIET_MB"
metric hostile_neighbour_MBps_flood "$FLOOD_MB"
grep -q "domain $D3 device xenshm/0: .* kicks of its event channel found no work" /tmp/xenshmd.log ||
    fail "the flood was not noticed as a storm"

OUT=$(probe_exec g3 xenshm-probe alloc 1024) || fail "g3 after the cases: $OUT"
alive end
sleep 1
GRANTS1=$(active_grants 0 "$D3")
PORTS1=$(remote_ports 0 "$D3")
echo "g3 after the cases: $GRANTS1 dom0 grants mapped, $PORTS1 dom0 event channels for it"
expect_eq "$GRANTS1" "$GRANTS0" "dom0 grants g3 maps after the cases"
expect_eq "$PORTS1" "$PORTS0" "dom0 event channels for g3 after the cases"
metric hostile_grants_left "$((GRANTS1 - GRANTS0))"
metric hostile_ports_left "$((PORTS1 - PORTS0))"

# Isolation: g3 against g2's nodes and the grants dom0 gave g2 (its control page, its channel
# ring segments' directory pages).
REFS=$(xenstore-read "/local/domain/0/backend/xenshm/$D2/0/ring-ref" 2>/dev/null) # between runs: none
for c in $(xenstore-list "/local/domain/0/backend/xenshm/$D2/0/segment" 2>/dev/null); do
    # "PAGES PURPOSE DIR-GNTREF"
    REFS="$REFS $(xenstore-read "/local/domain/0/backend/xenshm/$D2/0/segment/$c" | awk '{ print $3 }')"
done
# libxengnttab reports every refused map on stderr: 1024 lines of what is expected here.
OUT=$(GUEST_TIMEOUT=300 guest_exec g3 "xenshm-hostile isolation $D2 $REFS 2>/dev/null")
RC=$?
echo "$OUT"
[ $RC = 0 ] || fail "isolation: g3 got at something of g2's or of dom0's"
metric hostile_isolation_grants_tried "$(echo "$OUT" | sed -n 's/.*grants_tried=\([0-9]*\).*/\1/p')"

# xl pause of the receiving guest for longer than the sender's 60 s timeout is not needed to
# show the point: 20 s paused, the sender blocks (its ring full), nothing is lost, and the
# stream goes on when g1 runs again.
R0=$(runs)
xl pause g1
sleep 20
alive pause
xl unpause g1
for i in $(seq 120); do [ "$(runs)" -ge $((R0 + 2)) ] && break; sleep 1; done
[ "$(runs)" -ge $((R0 + 2)) ] || fail "the neighbour's stream did not resume after g1 was unpaused"
echo "g1 paused 20 s mid-stream: $(( $(runs) - R0 )) runs since, xenshmd alive"

# The neighbour, all along.
guest_exec g2 'touch /tmp/stop'
for i in $(seq 120); do guest_exec g2 'pidof mempipe-bench > /dev/null' || break; sleep 1; done
NB=$(guest_exec g2 cat /tmp/nb.out)
RUNS=$(echo "$NB" | grep -c " check ok")
echo "$NB" | grep -E "check BAD|run failed|mempipe-bench:" && fail "the neighbour saw an error"
[ "$RUNS" -ge 10 ] || fail "the neighbour ran only $RUNS times"
metric hostile_neighbour_runs "$RUNS"
echo "neighbour: $RUNS runs, all intact"

# A guest suspended behind xenshm's back (plain xl save while it holds a segment): xenshmd
# cannot stop it, but says loudly what will break.
guest_exec g3 'xenshm-probe alloc 1024 --hold 600 > /tmp/hold.out 2>&1 &'
for i in $(seq 100); do xenstore-list "$BE/segment" 2>/dev/null | grep -q . && break; sleep 0.2; done
xenstore-list "$BE/segment" 2>/dev/null | grep -q . || fail "g3 holds no segment to be saved with"
xl save g3 /tmp/g3.save > /dev/null 2>&1 || fail "xl save g3"
rm -f /tmp/g3.save
for i in $(seq 50); do grep -q "domain $D3 device xenshm/0: the domain is being suspended" /tmp/xenshmd.log && break; sleep 0.2; done
grep "domain $D3 device xenshm/0: the domain is being suspended" /tmp/xenshmd.log ||
    fail "xenshmd said nothing of a suspend with mappings held"
alive "a suspend behind its back"
