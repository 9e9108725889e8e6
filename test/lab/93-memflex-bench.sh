#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name the MemFlex swap benchmark (about 10 minutes under TCG; tools/bench/lab-memflex-report.sh)
# xenlab: timeout 5400
# One boot, one guest of 128 MiB running working sets of 1.5x and 2x the memory its programs
# can have (MemAvailable: the rest of the 128 MiB holds the kernel and the RAM-backed root;
# MEMFLEX_MIBS overrides the sizes) of pages that compress about 2.5:1 (pagework
# --compressible; lz4 makes a page 1.7 KiB), every word checked, swapping to: a blkback disk
# (xvdb: a QEMU virtio disk in dom0, a file in the host's page cache), MemFlex with the whole
# set in host memory, MemFlex with an 8 MiB memory tier (the rest in the spill file, on dom0's
# RAM-backed root: a second memory tier, not a disk), zram in the guest; and a guest with room
# for the set, which needs no swap.  Where the time goes, per run: the guest's swap-ins and
# -outs (/proc/vmstat), its block layer's busy time and mean request time (/sys/block/DEV/stat),
# and for MemFlex xenshmd's requests, wake-ups by the guest's port and kicks back.  Times are
# TCG times: compare the ratios.  MemFlex runs once more with xenshmd polling busy rings
# (--memflex-poll-us, MEMFLEX_POLL_US, default 1000), with xenshmd's CPU per run.  pagework also times one access in 16: those over 50 us are
# faults, and their p50/p99 are swap-in latency as the program sees it.  Then the disk is attached
# again with xenshmd offering persistent grants, and MemFlex runs plain and polled that way.
. /xenlab/lib.sh
DEVID=268440064 # xvds
POLL_US=${MEMFLEX_POLL_US:-1000}
mkdir -p /var/lib/xenshm
# start_xenshmd [ARGS...]: xenshmd with the benchmark's budget and spill dir, and ARGS.
start_xenshmd() {
    xenshmd -f --budget-kb 524288 --spill-dir /var/lib/xenshm "$@" >> /tmp/xenshmd.log 2>&1 &
    XD=$!
}
# attach_xvds: the 512 MiB MemFlex disk, all in host memory, seen by g1.
attach_xvds() {
    xenshm attach g1 --memflex 512M --mem 512M || fail "attach"
    guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
        || fail "no /dev/xvds after attach"
}
: > /tmp/xenshmd.log
start_xenshmd
# restart_xenshmd [ARGS...]: a new xenshmd with ARGS; it takes the disk over where it stands.
restart_xenshmd() {
    kill $XD; wait $XD 2>/dev/null
    start_xenshmd "$@"
    i=0; while [ "$(xenstore-read "$BE/state" 2>/dev/null)" != 4 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    sleep 1
}
# reattach [ARGS...]: the disk detached, xenshmd restarted with ARGS, the disk attached again, so
# that blkfront negotiates its features (persistent grants) anew.
reattach() {
    xenshm detach g1 --memflex || fail "detach"
    guest_exec g1 'i=0; while [ -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test ! -b /dev/xvds' \
        || fail "xvds stayed after detach"
    kill $XD; wait $XD 2>/dev/null
    start_xenshmd "$@"
    sleep 1
    attach_xvds
    echo "blkfront: $(guest_exec g1 'dmesg | grep "blkfront: xvds" | tail -1')"
}
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=128 guest_create g1 0 disk || fail "guest g1"
D1=$(guest_domid g1)
BE=/local/domain/0/backend/memflex/$D1/$DEVID
attach_xvds
guest_exec g1 'insmod /lib/modules/zsmalloc.ko && insmod /lib/modules/zram.ko' || fail "zram modules"
echo "g1 memory before the runs: $(guest_exec g1 "awk '/^(MemTotal|MemAvailable|Shmem):/ { printf \"%s %s kB \", \$1, \$2 }' /proc/meminfo")"
AVAIL=$(guest_exec g1 "awk '/^MemAvailable:/ { print int(\$2 / 1024) }' /proc/meminfo")
[ "$AVAIL" -gt 16 ] 2>/dev/null || fail "g1 has $AVAIL MiB available"
MIBS=${MEMFLEX_MIBS:-$((AVAIL * 3 / 2)) $((AVAIL * 2))}

# One line of counters, "key value" pairs, for the deltas of a run.
guest_counters() {
    guest_exec "$1" "awk '/^pswp(in|out) / { printf \"%s %s \", \$1, \$2 }' /proc/vmstat;
        set -- \$(cat /sys/block/$2/stat 2>/dev/null); echo rd \${1:-0} rd_ms \${4:-0} wr \${5:-0} wr_ms \${8:-0} busy_ms \${10:-0}"
}
be_counters() {
    xenstore-read "$BE/stats" 2>/dev/null | tr ' =' '\n ' | awk '/^(requests|events|notifies|batches) / { printf "%s %s ", $1, $2 }'
}
# delta BEFORE AFTER KEY: AFTER's KEY minus BEFORE's (pairs "key value").
delta() {
    echo "$1" | awk -v after="$2" -v k="$3" '
        { for (i = 1; i < NF; i += 2) if ($i == k) b = $(i + 1) }
        END { n = split(after, a, " "); for (i = 1; i < n; i += 2) if (a[i] == k) v = a[i + 1]; print v - b }'
}

# run MIB NAME DEVICE [GUEST]: swapon DEVICE (none: no swap; with discard where busybox has
# it), the workload, swapoff; metrics.  A workload that dies (the OOM killer) is recorded, not
# fatal.
run() {
    local mib=$1 name=$2 dev=$3 g=${4:-g1} out segv0 segv1 gc0 gc1 bc0 bc1 m k v cpu0 t0
    m="memflex_bench.$mib.$name"
    segv0=$(guest_exec "$g" 'dmesg | grep -c segfault')
    if [ "$dev" != none ]; then
        guest_exec "$g" "mkswap $dev > /dev/null && { swapon -d $dev 2>/dev/null || swapon $dev; }" \
            || fail "$name: swapon $dev"
    fi
    metric "$m.available_mib" "$(guest_exec "$g" "awk '/^MemAvailable:/ { print int(\$2 / 1024) }' /proc/meminfo")"
    gc0=$(guest_counters "$g" "${dev#/dev/}")
    bc0=$(be_counters)
    cpu0=$(cpu_ticks $XD); t0=$(now)
    if out=$(GUEST_TIMEOUT=2400 guest_exec "$g" pagework --mib "$mib" --rounds 1 --compressible); then
        echo "$mib MiB $name: $out"
        metric "$m.fill_ms" "$(echo "$out" | sed -n 's/.*fill_ms=\([0-9]*\).*/\1/p')"
        metric "$m.run_ms" "$(echo "$out" | sed -n 's/.*run_ms=\([0-9]*\).*/\1/p')"
        metric "$m.bad" "$(echo "$out" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')"
        metric "$m.fault_p50_us" "$(echo "$out" | sed -n 's/.*fault_p50_us=\([0-9]*\).*/\1/p')"
        metric "$m.fault_p99_us" "$(echo "$out" | sed -n 's/.*fault_p99_us=\([0-9]*\).*/\1/p')"
    else
        echo "$mib MiB $name: the workload failed: $out $(guest_exec "$g" 'dmesg | grep -i -E "killed process|out of memory" | tail -2')"
        metric "$m.failed" 1
    fi
    gc1=$(guest_counters "$g" "${dev#/dev/}")
    metric "$m.xenshmd_cpu_pct" "$(cpu_pct $(($(cpu_ticks $XD) - cpu0)) "$(elapsed "$t0")")"
    # xenshmd refreshes the stats node at most once a second: let it catch up with the run.
    if [ "$dev" = /dev/xvds ]; then sleep 1.2; fi
    bc1=$(be_counters)
    for k in pswpin pswpout rd rd_ms wr wr_ms busy_ms; do
        metric "$m.$k" "$(delta "$gc0" "$gc1" $k)"
    done
    if [ "$dev" = /dev/xvds ]; then
        for k in requests events notifies batches; do
            metric "$m.$k" "$(delta "$bc0" "$bc1" $k)"
        done
    fi
    if [ "$dev" = /dev/zram0 ]; then
        # mm_stat's fifth field, mem_used_max: the most of the guest's RAM zram held at once.
        v=$(guest_exec "$g" 'cat /sys/block/zram0/mm_stat')
        echo "$mib MiB zram mm_stat at the end ($(guest_exec "$g" 'cat /sys/block/zram0/comp_algorithm')): $v"
        metric "$m.zram_peak_kb" "$(echo "$v" | awk '{ print int($5 / 1024) }')"
    fi
    if [ "$dev" != none ]; then
        guest_exec "$g" "swapoff $dev" || fail "$name: swapoff"
    fi
    segv1=$(guest_exec "$g" 'dmesg | grep -c segfault')
    metric "$m.guest_segfaults" $((segv1 - segv0))
}

for mib in $MIBS; do
    metric "memflex_bench.$mib.guest_mib" 128
    metric "memflex_bench.$mib.available_mib" "$AVAIL"
    run "$mib" blkback-disk /dev/xvdb
    xenstore-write "$BE/mem-kb" 524288
    run "$mib" memflex-memory /dev/xvds
    xenstore-write "$BE/mem-kb" 8192
    run "$mib" memflex-spill /dev/xvds
    sleep 1.2
    echo "memflex stats: $(xenstore-read "$BE/stats")"
    # The same with xenshmd polling each busy ring POLL_US after its answers (restarted: the
    # store and the connected disk carry over, as in 95-memflex-restart), then back to none.
    xenstore-write "$BE/mem-kb" 524288
    restart_xenshmd --memflex-poll-us "$POLL_US"
    run "$mib" memflex-polled /dev/xvds
    sleep 1.2
    echo "memflex stats (polled): $(xenstore-read "$BE/stats")"
    restart_xenshmd
    guest_exec g1 'echo 1 > /sys/block/zram0/reset; echo 512M > /sys/block/zram0/disksize' || fail "zram"
    run "$mib" zram /dev/zram0
    # With persistent grants: blkfront copies through a pool of pages granted for good (1056
    # pages, 4 MiB of its RAM), xenshmd maps each once and copies with memcpy instead of a grant
    # copy per batch; plain, then polled.
    reattach --memflex-persistent-grants 1056
    run "$mib" memflex-persistent /dev/xvds
    restart_xenshmd --memflex-persistent-grants 1056 --memflex-poll-us "$POLL_US"
    run "$mib" memflex-persistent-polled /dev/xvds
    reattach
done
guest_destroy g1
for mib in $MIBS; do
    GUEST_MEM=$((mib + 128)) guest_create g2 1 || fail "guest g2"
    run "$mib" enough-ram none g2
    guest_destroy g2
done
