#!/bin/sh
# xenlab: timeout 900
# SPDX-License-Identifier: GPL-2.0-only
# MemPipe on Xen: guest g2 streams to guest g1 through xenshmd's relay at every message size
# (checksummed), then the same program over TCP on netfront and over libxenvchan (64 KiB and
# 1 MiB rings) between the same guests.
# Throughput and round-trip ratios come from this one run; the server also reports each stream's
# receiving-ring memory, allocated and used (the source design's utilisation table).
. /xenlab/lib.sh
xenshmd -f --budget-kb 131072 --quota-kb 32768 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
guest_create g1 0 vif || fail "guest g1"
guest_create g2 1 vif || fail "guest g2"
xenshm attach g1 --quota-kb 32768 || fail "attach g1"
xenshm attach g2 --quota-kb 32768 || fail "attach g2"
D1=$(guest_domid g1)
SIZES=${MEMPIPE_SIZES:-64,128,256,512,1024,2048,4096,8192,16384,65536}
BYTES=${MEMPIPE_BYTES:-4194304}
# Each size is streamed this long unmeasured first: load-sized rings are measured settled
# (they double at most every 300 ms from 64 KiB), and every transport gets the same.
WARM=${MEMPIPE_WARMUP_MS:-2000}
# ... and then measured for about this long (paced from the warm-up; at least BYTES): a stream of
# a few milliseconds is shorter than a Xen time slice and measures the scheduler.
MEASURE=${MEMPIPE_MEASURE_MS:-500}

guest_exec g1 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; cat /tmp/serve.out; exit 1' ||
    fail "server did not start"

# The server prints each stream's receiving-ring memory (sink lines): which lines are whose.
serve_lines() { guest_exec g1 'wc -l < /tmp/serve.out'; }
N0=$(serve_lines)
MP=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport mempipe --peer "$D1" --sizes "$SIZES" --bytes "$BYTES" --warmup-ms "$WARM" --measure-ms "$MEASURE") ||
    fail "mempipe run: $MP"
echo "$MP"
xenstore-ls "/local/domain/0/backend/xenshm/$D1/0/channel" 2>/dev/null
N1=$(serve_lines)
C0=$(cpu_ticks $XD); T0=$(now)
ST=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport mempipe --peer "$D1" --sizes "$SIZES" --bytes "$BYTES" --warmup-ms "$WARM" --measure-ms "$MEASURE" --ring-kb 1024) ||
    fail "static mempipe run: $ST"
# What relaying costs dom0: xenshmd's CPU over the whole static run (streams and round trips).
XD_CPU=$(cpu_pct $(($(cpu_ticks $XD) - C0)) "$(elapsed "$T0")")
echo "xenshmd CPU over the static run: $XD_CPU%"
metric mempipe_static_xenshmd_cpu_pct "$XD_CPU"
echo "$ST" | sed 's/^mempipe/static/'
N2=$(serve_lines)
SINKS=$(guest_exec g1 cat /tmp/serve.out)
echo "server's streams (lines $N0..$N1 sized, ..$N2 static):"
echo "$SINKS"
# ring_use FROM TO SIZE: "alloc_kb used_kb peak_kb" of the measured (last) stream of SIZE in lines FROM..TO.
ring_use() {
    echo "$SINKS" | awk -v a="$1" -v b="$2" -v s="$3" 'NR > a && NR <= b && $1 == "sink" && $3 == s { r = $7 " " $9 " " $13 } END { print r }'
}
TCP=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport tcp --peer "$(guest_ip 0)" --sizes "$SIZES" --bytes "$BYTES" --warmup-ms "$WARM" --measure-ms "$MEASURE") ||
    fail "tcp run: $TCP"
echo "$TCP"
# libxenvchan, Xen's own guest-to-guest channel (g1 grants the rings, g2 maps them), 64 KiB and
# 1 MiB rings each way: one server per connection.
D2=$(guest_domid g2)
vchan() {  # vchan RING-KB: one run through a fresh vchan server in g1
    guest_exec g1 "mempipe-bench serve-vchan --peer $D2 --ring-kb $1 --path data/vchan-bench-$1 > /tmp/vchan$1.out 2>&1 &" ||
        fail "vchan server"
    GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport vchan --peer "$D1" --path "data/vchan-bench-$1" \
        --sizes "$SIZES" --bytes "$BYTES" --warmup-ms "$WARM" --measure-ms "$MEASURE" || { guest_exec g1 cat /tmp/vchan$1.out; fail "vchan $1 KiB run"; }
}
V64=$(vchan 64) || fail "vchan 64 KiB: $V64"
echo "$V64" | sed 's/^vchan/vchan64k/'
V1M=$(vchan 1024) || fail "vchan 1 MiB: $V1M"
echo "$V1M" | sed 's/^vchan/vchan1m/'

[ "$(echo "$MP" | grep -c " check ")" = "$(echo "$SIZES" | tr ',' '\n' | grep -c .)" ] || fail "missing sizes"
for s in $(echo "$SIZES" | tr ',' ' '); do
    m=$(echo "$MP" | awk -v s="$s" '$3 == s { print $7, $9 }')
    t=$(echo "$TCP" | awk -v s="$s" '$3 == s { print $7, $9 }')
    st=$(echo "$ST" | awk -v s="$s" '$3 == s { print $7, $9 }')
    metric "mempipe_MBps.$s" "${m% *}"
    metric "mempipe_rtt_us.$s" "${m#* }"
    metric "mempipe_static_MBps.$s" "${st% *}"
    metric "mempipe_static_rtt_us.$s" "${st#* }"
    # Memory: the receiving ring's size on average and how much of it held bytes (utilisation).
    u=$(ring_use "$N0" "$N1" "$s"); us=$(ring_use "$N1" "$N2" "$s")
    [ -n "$u" ] && [ -n "$us" ] || fail "no ring use printed by the server for $s B"
    set -- $u; metric "mempipe_alloc_kb.$s" "$1"; metric "mempipe_used_kb.$s" "$2"; metric "mempipe_peak_kb.$s" "$3"
    set -- $us; metric "mempipe_static_alloc_kb.$s" "$1"; metric "mempipe_static_used_kb.$s" "$2"
    metric "mempipe_static_peak_kb.$s" "$3"
    # The sender's tx over the same stream: a direction's memory is both rings.
    set -- $(echo "$MP" | awk -v s="$s" '$3 == s && $16 == "tx_alloc_kb" { print $17, $19 }')
    [ $# = 2 ] || fail "no tx ring use printed by the client for $s B"
    metric "mempipe_tx_alloc_kb.$s" "$1"; metric "mempipe_tx_used_kb.$s" "$2"
    set -- $(echo "$ST" | awk -v s="$s" '$3 == s && $16 == "tx_alloc_kb" { print $17, $19 }')
    [ $# = 2 ] || fail "no static tx ring use printed by the client for $s B"
    metric "mempipe_static_tx_alloc_kb.$s" "$1"; metric "mempipe_static_tx_used_kb.$s" "$2"
    # The sender's event-channel kicks and sleeps per message (each a hypercall or several).
    metric "mempipe_kicks_per_msg.$s" "$(echo "$MP" | awk -v s="$s" '$3 == s { print $13 }')"
    metric "mempipe_static_kicks_per_msg.$s" "$(echo "$ST" | awk -v s="$s" '$3 == s { print $13 }')"
    metric "tcp_MBps.$s" "${t% *}"
    metric "tcp_rtt_us.$s" "${t#* }"
    v=$(echo "$V64" | awk -v s="$s" '$3 == s { print $7, $9 }')
    w=$(echo "$V1M" | awk -v s="$s" '$3 == s { print $7, $9 }')
    metric "vchan64k_MBps.$s" "${v% *}"
    metric "vchan64k_rtt_us.$s" "${v#* }"
    metric "vchan1m_MBps.$s" "${w% *}"
    metric "vchan1m_rtt_us.$s" "${w#* }"
done
# The relay gave everything back when the channel closed.
guest_exec g1 'kill $(pidof mempipe-bench) 2>/dev/null; true'
for i in $(seq 50); do [ "$(xenstore-read /tool/xenshm/used-kb)" -le 16 ] 2>/dev/null && break; sleep 0.2; done
echo "pool use after the run: $(xenstore-read /tool/xenshm/used-kb) KiB"
if echo "$MP$ST" | grep -q "check BAD"; then fail "a MemPipe stream arrived corrupt"; fi
if echo "$V64$V1M" | grep -q "check BAD"; then fail "a vchan stream arrived corrupt (the baseline, not xenshm)"; fi
