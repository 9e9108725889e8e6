#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenlab: by-name the source design's Table 2 on Xen: a disk's random writes beside a swapping workload (about 10 minutes)
# xenlab: timeout 3600
# xenlab: disk-iops 200
# One 128 MiB guest, its disk xvdb cut in two: xvdb1 for swap, xvdb2 for a random-write file
# test (fileio: 4 KiB O_DIRECT writes, fdatasync every 100, sysbench's rndwr shape).  The
# boot's disks are throttled to 200 requests a second, a spinning disk's pace (the lab's disks
# are otherwise files in the host's page cache, where swap and the file test do not contend).
# The file test's KiB/s: alone; beside pagework (1.5x the guest's available memory, every word
# checked) swapping to xvdb1, the same disk; beside the same workload swapping to MemFlex,
# which takes the swap traffic off the disk.  pagework's times are disk swap against MemFlex
# on such a disk.
. /xenlab/lib.sh
mkdir -p /var/lib/xenshm
xenshmd -f --budget-kb 524288 --spill-dir /var/lib/xenshm > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
GUEST_MEM=128 guest_create g1 0 disk || fail "guest g1"
xenshm attach g1 --memflex 512M --mem 512M || fail "attach"
guest_exec g1 'i=0; while [ ! -b /dev/xvds ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; test -b /dev/xvds' \
    || fail "no /dev/xvds"
# A fresh DOS label, partition 1 of 320 MiB, partition 2 the rest; fdisk's write re-reads it.
guest_exec g1 "printf 'o\nn\np\n1\n\n+320M\nn\np\n2\n\n\nw\n' | fdisk /dev/xvdb > /dev/null 2>&1;
    i=0; while [ ! -b /dev/xvdb2 ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done; test -b /dev/xvdb2" \
    || fail "cannot partition xvdb: $(guest_exec g1 'cat /proc/partitions')"
AVAIL=$(guest_exec g1 "awk '/^MemAvailable:/ { print int(\$2 / 1024) }' /proc/meminfo")
[ "$AVAIL" -gt 16 ] 2>/dev/null || fail "g1 has $AVAIL MiB available"
MIB=${MEMFLEX_MIB:-$((AVAIL * 3 / 2))}
metric memflex_beside.working_set_mib "$MIB"
metric memflex_beside.available_mib "$AVAIL"
SECONDS_ALONE=${FILEIO_SECONDS:-30}

# kib_per_s LINE: fileio's rate from its output line.
kib_per_s() { echo "$1" | sed -n 's/.*fileio: .*kib_per_s=\([0-9]*\).*/\1/p'; }

out=$(GUEST_TIMEOUT=600 guest_exec g1 "fileio --dev /dev/xvdb2 --seconds $SECONDS_ALONE") || fail "fileio alone: $out"
echo "alone: $out"
metric memflex_beside.alone.kib_per_s "$(kib_per_s "$out")"

# beside NAME SWAPDEV: the file test runs for as long as pagework does, swapping to SWAPDEV.
beside() {
    local name=$1 dev=$2 out
    guest_exec g1 "mkswap $dev > /dev/null && { swapon -d $dev 2>/dev/null || swapon $dev; }" || fail "$name: swapon $dev"
    out=$(GUEST_TIMEOUT=2400 guest_exec g1 "rm -f /tmp/stop; fileio --dev /dev/xvdb2 --until /tmp/stop > /tmp/fileio.out 2>&1 &
        pagework --mib $MIB --rounds 1 --compressible; r=\$?; touch /tmp/stop; wait; cat /tmp/fileio.out; exit \$r") \
        || fail "$name: $out"
    echo "$name: $out"
    metric "memflex_beside.$name.kib_per_s" "$(kib_per_s "$out")"
    metric "memflex_beside.$name.run_ms" "$(echo "$out" | sed -n 's/.*run_ms=\([0-9]*\).*/\1/p')"
    metric "memflex_beside.$name.fill_ms" "$(echo "$out" | sed -n 's/.*fill_ms=\([0-9]*\).*/\1/p')"
    guest_exec g1 "swapoff $dev" || fail "$name: swapoff"
}

beside disk-swap /dev/xvdb1
beside memflex-swap /dev/xvds
