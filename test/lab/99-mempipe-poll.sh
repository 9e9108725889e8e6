#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name MemPipe with and without xenshmd polling hot channels (--relay-poll-us), one boot (a benchmark)
# xenlab: timeout 1800
# g2 streams to g1 and echoes with it through xenshmd (static 1 MiB rings, every stream
# checksummed), first with xenshmd as it runs by default, then restarted with
# --relay-poll-us POLL_US (default 1000), twice each: throughput and round trip per size, and
# xenshmd's share of a dom0 CPU over each run; then libxenvchan (1 MiB rings) for reference.
. /xenlab/lib.sh
SIZES=${MEMPIPE_SIZES:-64,1024,16384}
BYTES=${MEMPIPE_BYTES:-16777216}
POLL_US=${MEMPIPE_POLL_US:-1000}
guest_create g1 0 || fail "guest g1"
guest_create g2 1 || fail "guest g2"
D1=$(guest_domid g1)
xenshm attach g1 --quota-kb 16384 || fail "attach g1"
xenshm attach g2 --quota-kb 16384 || fail "attach g2"
XD=
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT

# phase NAME [XENSHMD ARGS...]: a fresh xenshmd and server, one run; metrics mempipe_poll.NAME.*
phase() {
    local name=$1 out c0 t0
    shift
    xenshmd -f --budget-kb 65536 --quota-kb 16384 "$@" >> /tmp/xenshmd.log 2>&1 &
    XD=$!
    guest_exec g1 'rm -f /tmp/serve.out; mempipe-bench serve > /tmp/serve.out 2>&1 & echo $! > /tmp/serve.pid' \
        || fail "$name: server"
    guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; exit 1' \
        || fail "$name: server did not start: $(guest_exec g1 cat /tmp/serve.out)"
    c0=$(cpu_ticks $XD); t0=$(now)
    out=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport mempipe --peer "$D1" --sizes "$SIZES" \
        --bytes "$BYTES" --ring-kb 1024) || fail "$name: $out"
    metric "mempipe_poll.$name.xenshmd_cpu_pct" "$(cpu_pct $(($(cpu_ticks $XD) - c0)) "$(elapsed "$t0")")"
    echo "$name:"
    echo "$out"
    record "$name" "$out"
    guest_exec g1 'kill $(cat /tmp/serve.pid); true'
    kill $XD; wait $XD 2>/dev/null
    XD=
}

# record NAME OUTPUT: its lines' MB/s and round trip per size.
record() {
    echo "$2" | grep -q 'check BAD' && fail "$1: a stream came back wrong"
    echo "$2" | while read -r _ _ size _ _ _ mbps _ rtt _; do
        metric "mempipe_poll.$1.$size.MBps" "$mbps"
        metric "mempipe_poll.$1.$size.rtt_us" "$rtt"
    done
}

# Twice each, alternating: boots and runs spread (docs/xenlab.md).
for round in 1 2; do
    phase "events$round"
    phase "polled$round" --relay-poll-us "$POLL_US"
done
# libxenvchan with 1 MiB rings, the same program, for the same boot's reference (no dom0 on its
# data path: g1 grants the rings, g2 maps them).
D2=$(guest_domid g2)
guest_exec g1 "mempipe-bench serve-vchan --peer $D2 --ring-kb 1024 --path data/vchan-poll > /tmp/vchan.out 2>&1 &" ||
    fail "vchan server"
out=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport vchan --peer "$D1" --path data/vchan-poll \
    --sizes "$SIZES" --bytes "$BYTES") || fail "vchan: $out $(guest_exec g1 cat /tmp/vchan.out)"
echo "vchan:"
echo "$out"
record vchan "$out"
