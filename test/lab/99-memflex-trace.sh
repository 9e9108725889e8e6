#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name where a MemFlex request's time goes in dom0: xenshmd's system calls per request (a diagnostic)
# xenlab: timeout 1800
# A 128 MiB guest swaps a working set of 1.5x its available memory to MemFlex, once plain and
# once with xenshmd under strace -c: system calls per blkif request, by name, and the guest's
# mean read time both ways (strace slows every call, so the plain run is the reference).
. /xenlab/lib.sh
command -v strace > /dev/null || skip "no strace in the image"
DEVID=268440064 # xvds
xenshmd -f --budget-kb 524288 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
BE=/local/domain/0/backend/memflex/$(guest_domid g1)/$DEVID
xenshm attach g1 --memflex 512M --mem 512M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds"
guest_exec g1 'mkswap /dev/xvds > /dev/null && swapon -d /dev/xvds' || fail "swapon"
AVAIL=$(guest_exec g1 "awk '/^MemAvailable:/ { print int(\$2 / 1024) }' /proc/meminfo")
MIB=${MEMFLEX_MIB:-$((AVAIL * 3 / 2))}
requests() { xenstore-read "$BE/stats" | tr ' ' '\n' | sed -n 's/^requests=//p'; }
# run: pagework, and the guest's reads and read ms over it (/sys/block/xvds/stat).
run() {
    GUEST_TIMEOUT=1200 guest_exec g1 "set -- \$(cat /sys/block/xvds/stat); r0=\$1 t0=\$4
        pagework --mib $MIB --rounds 1 --compressible || exit 1
        set -- \$(cat /sys/block/xvds/stat); echo reads=\$((\$1 - r0)) read_ms=\$((\$4 - t0))"
}
PLAIN=$(run) || fail "plain run: $PLAIN"
echo "plain: $PLAIN"
sleep 1.2
R0=$(requests)
strace -c -f -p $XD -o /tmp/xd.strace &
ST=$!
sleep 1
TRACED=$(run) || fail "traced run: $TRACED"
kill -INT $ST; wait $ST 2>/dev/null
sleep 1.2
N=$(($(requests) - R0))
echo "traced: $TRACED"
echo "xenshmd system calls over the traced run ($N requests):"
cat /tmp/xd.strace
mean_read_us() { echo "$1" | tr ' ' '\n' | awk -F= '$1 == "reads" { r = $2 } $1 == "read_ms" { t = $2 } END { printf "%.0f", r ? 1000 * t / r : 0 }'; }
metric memflex_trace.plain_read_us "$(mean_read_us "$PLAIN")"
metric memflex_trace.traced_read_us "$(mean_read_us "$TRACED")"
metric memflex_trace.requests "$N"
metric memflex_trace.calls_per_request "$(awk -v n="$N" '$NF == "total" { printf "%.2f", $4 / n }' /tmp/xd.strace)"
awk -v n="$N" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "%s %.3f\n", $NF, $4 / n }' /tmp/xd.strace |
    while read -r name per; do metric "memflex_trace.per_request.$name" "$per"; done
