#!/bin/sh
# xenlab: timeout 900
# SPDX-License-Identifier: GPL-2.0-only
# MemPipe on Xen: guest g2 streams to guest g1 through xenshmd's relay at every message size
# (checksummed), then the same program over TCP on netfront between the same guests.
# Throughput and round-trip ratios come from this one run.
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

guest_exec g1 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec g1 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; cat /tmp/serve.out; exit 1' ||
    fail "server did not start"

MP=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport mempipe --peer "$D1" --sizes "$SIZES" --bytes "$BYTES") ||
    fail "mempipe run: $MP"
echo "$MP"
xenstore-ls "/local/domain/0/backend/xenshm/$D1/0/channel" 2>/dev/null
ST=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport mempipe --peer "$D1" --sizes "$SIZES" --bytes "$BYTES" --ring-kb 1024) ||
    fail "static mempipe run: $ST"
echo "$ST" | sed 's/^mempipe/static/'
TCP=$(GUEST_TIMEOUT=600 guest_exec g2 mempipe-bench run --transport tcp --peer "$(guest_ip 0)" --sizes "$SIZES" --bytes "$BYTES") ||
    fail "tcp run: $TCP"
echo "$TCP"

[ "$(echo "$MP" | grep -c " check ")" = "$(echo "$SIZES" | tr ',' '\n' | grep -c .)" ] || fail "missing sizes"
for s in $(echo "$SIZES" | tr ',' ' '); do
    m=$(echo "$MP" | awk -v s="$s" '$3 == s { print $7, $9 }')
    t=$(echo "$TCP" | awk -v s="$s" '$3 == s { print $7, $9 }')
    st=$(echo "$ST" | awk -v s="$s" '$3 == s { print $7, $9 }')
    metric "mempipe_MBps.$s" "${m% *}"
    metric "mempipe_rtt_us.$s" "${m#* }"
    metric "mempipe_static_MBps.$s" "${st% *}"
    metric "mempipe_static_rtt_us.$s" "${st#* }"
    metric "tcp_MBps.$s" "${t% *}"
    metric "tcp_rtt_us.$s" "${t#* }"
done
# The relay gave everything back when the channel closed.
guest_exec g1 'kill $(pidof mempipe-bench) 2>/dev/null; true'
for i in $(seq 50); do [ "$(xenstore-read /tool/xenshm/used-kb)" -le 16 ] 2>/dev/null && break; sleep 0.2; done
echo "pool use after the run: $(xenstore-read /tool/xenshm/used-kb) KiB"
if echo "$MP$ST" | grep -q "check BAD"; then fail "a MemPipe stream arrived corrupt"; fi
