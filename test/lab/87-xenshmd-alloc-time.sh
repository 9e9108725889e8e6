#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# How long xenshmd takes to give a guest 1, 16 and 64 MiB, against the plain gntshr call for
# the same pages in the same boot: shm_init (connect + first segment), a segment alone
# (shm_resize: request, grant, directory, XenStore entry, map in the guest), and
# xengntshr_share_pages in dom0.  Bytes are checked by 80/81; this test only times.
. /xenlab/lib.sh
xenshmd -f --budget-kb 262144 --quota-kb 131072 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=256 guest_create g1 0 || fail "guest g1"
xenshm attach g1 --quota-kb 131072 || fail "attach g1"
D1=$(guest_domid g1)
for kib in 1024 16384 65536; do
    INIT=$(GUEST_TIMEOUT=180 probe_exec g1 xenshm-probe alloc $kib)
    init_ms=$(echo "$INIT" | sed -n 's/.*alloc_ms=\([0-9.]*\).*/\1/p')
    if [ -z "$init_ms" ]; then
        # What the guest kernel and Xen said about the refused mapping (gntdev fails the whole
        # mmap with EINVAL when any one grant map op fails).
        guest_exec g1 'dmesg | tail -15; grep -i -E "gnt|grant" /proc/meminfo /proc/vmstat 2>/dev/null; free' 2>&1 | sed 's/^/guest: /'
        xl dmesg | tail -15 | sed 's/^/xen: /'
        xl info | grep -E "free_memory|total_memory" | sed 's/^/xen: /'
        fail "shm_init $kib KiB: $INIT"
    fi
    GROW=$(GUEST_TIMEOUT=180 probe_exec g1 xenshm-probe grow 4 $kib 1) || fail "grow $kib KiB: $GROW"
    seg_ms=$(echo "$GROW" | sed -n 's/^grow 1: rc=0 grow_ms=\([0-9.]*\).*/\1/p')
    [ -n "$seg_ms" ] || fail "no segment time: $GROW"
    PLAIN=$(xenlab-gnt sharetime "$D1" $((kib / 4))) || fail "plain gntshr"
    share_ms=$(echo "$PLAIN" | sed -n 's/.*share_ms=\([0-9.]*\).*/\1/p')
    metric "xenshm_init_ms.${kib}KiB" "$init_ms"
    metric "xenshm_segment_ms.${kib}KiB" "$seg_ms"
    metric "gntshr_share_ms.${kib}KiB" "$share_ms"
    awk -v k=$kib -v i="$init_ms" -v s="$seg_ms" -v p="$share_ms" 'BEGIN {
        printf "%6d KiB: shm_init %8.1f ms (%.1fx gntshr), segment %8.1f ms (%.1fx), gntshr %8.1f ms\n",
               k, i, i / p, s, s / p, p }'
done
expect_eq "$(used_kb_settles 0)" 0 "pool usage after the probes"
