# SPDX-License-Identifier: GPL-2.0-only
# Helpers for lab tests.  Tests run in dom0 under busybox sh, source this file, and end with
# exit 0 (pass), 77 (skip) or anything else (fail).  Every guest is gone before each test.

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
metric() { echo "XENLAB-METRIC $1 $2"; }
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
# A process's CPU time in /proc's ticks (1/100 s), and ticks over seconds as a percentage.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_pct() { awk -v c="$1" -v t="$2" 'BEGIN { printf "%.0f", c / t }'; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# used_kb_settles WANT: wait (up to 10 s) for /tool/xenshm/used-kb to read WANT, then print what
# it reads.  xenshmd publishes it at most every 200 ms, so right after a free it may lag.
used_kb_settles() {
    local i=0
    while [ "$(xenstore-read /tool/xenshm/used-kb 2>/dev/null)" != "$1" ] && [ $i -lt 50 ]; do
        sleep 0.2; i=$((i + 1))
    done
    xenstore-read /tool/xenshm/used-kb
}

# active_grants DOMID [MAPPER]: how many of DOMID's grants some domain (or MAPPER) maps right
# now, as Xen counts them (the `g` debug key prints every active entry of every grant table; the
# field after the reference is the domain that holds it).
active_grants() {
    xl dmesg -c > /dev/null
    xl debug-keys g
    sleep 1
    xl dmesg -c | awk -v d="d$1" -v m="${2:-}" '
        /grant-table for remote / { cur = $0; sub(/.*grant-table for remote /, "", cur); sub(/ .*/, "", cur); next }
        cur == d && /\[0x[0-9a-f]+\] / {
            if (m == "") { n++; next }
            for (i = 1; i < NF; i++) if ($i ~ /^\[0x[0-9a-f]+\]$/) { if ($(i + 1) == m) n++; break }
        }
        END { print n + 0 }'
}

# remote_ports DOMID REMOTE: DOMID's event channels for domain REMOTE, bound or waiting to be, as
# Xen counts them (the `e` debug key: "s=3 ... d=REMOTE" interdomain, "s=2 ... d=REMOTE" unbound).
remote_ports() {
    xl dmesg -c > /dev/null
    xl debug-keys e
    sleep 1
    xl dmesg -c | awk -v d="$1" -v r="d=$2" '
        /Event channel information for domain / { cur = $NF; sub(/:$/, "", cur); next }
        cur == d && / s=[23] / { for (i = 1; i <= NF; i++) if ($i == r) n++ }
        END { print n + 0 }'
}

# guest_create NAME SLOT [vif] [disk] [mem=MIB] [pvh]: a guest (PV unless pvh) running labagent.
# SLOT (0..2) picks its IP 10.77.0.(10+SLOT), its MAC and its disk /dev/vd[abc] (as xvdb).
# The emulated machine has no NIC: guest traffic never leaves it.
guest_create() {
    local name=$1 slot=$2 vif= disk= mem=${GUEST_MEM:-128} type=${GUEST_TYPE:-pv} o t0 domid
    shift 2
    for o in "$@"; do
        case $o in vif) vif=1 ;; disk) disk=1 ;; mem=*) mem=${o#mem=} ;; pvh) type=pvh ;; esac
    done
    {
        echo "name = \"$name\""
        echo "type = \"$type\""
        echo 'kernel = "/boot/vmlinuz"'
        echo 'ramdisk = "/boot/domu.cpio"'
        echo "extra = \"console=hvc0 rdinit=/init loglevel=4 xenlab_ip=10.77.0.$((slot + 10))\""
        echo "memory = $mem"
        echo 'vcpus = 1'
        echo 'on_crash = "preserve"'
        [ -n "$vif" ] && echo "vif = [ 'bridge=xenbr0,mac=00:16:3e:77:00:$((slot + 10))' ]"
        [ -n "$disk" ] && echo "disk = [ 'phy:/dev/vd$(echo abc | cut -c$((slot + 1))),xvdb,w' ]"
    } > "/etc/xen/$name.cfg"
    t0=$(now)
    # xl's monitoring child has died of SIGSEGV at creation on this emulated host (seen twice in
    # ~40 boots before eager FPU switching, docs/xenlab.md "The platform fault"): one retry, after removing the half-made domain.
    if ! xl create -q "/etc/xen/$name.cfg"; then
        echo "xl create $name failed; retrying once"
        xl destroy "$name" 2>/dev/null
        xl create -q "/etc/xen/$name.cfg" || { echo "xl create $name failed"; return 1; }
    fi
    domid=$(xl domid "$name") || return 1
    if ! labexec -t 10 "$domid" true >/dev/null; then
        # Name the cause when the console has it: a guest too small for the image dies
        # unpacking its initramfs ("Out of memory and no killable processes").
        echo "guest $name ($domid): agent not up;" \
            "console: $(grep -m 2 -E 'Kernel panic|Out of memory|BUG' "/var/log/xen/guest-$name.log" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    metric "guest_ready_s.$name" "$(elapsed "$t0")"
}

guest_domid() { xl domid "$1"; }
guest_ip() { echo "10.77.0.$(($1 + 10))"; }

# guest_exec NAME COMMAND...: run in the guest, print its output, return its status.
guest_exec() {
    local name=$1
    shift
    labexec -t "${GUEST_TIMEOUT:-60}" "$(xl domid "$name")" "$@"
}

# probe_exec NAME COMMAND...: guest_exec for a test that measures counts or times, not bytes.
# A run killed by a signal, or hit by one of the platform fault's signatures (docs/xenlab.md: a
# heap corrupted under a process holding grant mappings, a gntdev mapping refused), is said
# loudly and run once more; a second fault stands.
probe_exec() {
    local out rc
    out=$(guest_exec "$@")
    rc=$?
    if [ $rc -ge 128 ] || echo "$out" | grep -qE "malloc\(\): corrupted|gnttab: error: mmap failed: Invalid argument"; then
        echo "PLATFORM FAULT (docs/xenlab.md, \"The platform fault\"): '$2' in $1 ended with status $rc: $out; once more" >&2
        metric platform_fault_retries 1 >&2
        out=$(guest_exec "$@")
        rc=$?
    fi
    echo "$out"
    return $rc
}

guest_destroy() { xl destroy "$1"; }

destroy_all_guests() {
    xl list 2>/dev/null | awk 'NR > 2 { print $1 }' | while read -r d; do xl destroy "$d"; done
}

# collect FILE [NAME]: ship a dom0 file back to the host's log dir (as BOOT-TEST-NAME: tests of
# one boot that collect the same name keep their own copy).
collect() {
    echo "XENLAB-FILE-BEGIN ${XENLAB_TEST:+$XENLAB_TEST-}${2:-$(basename "$1")}"
    gzip -c "$1" | base64
    echo "XENLAB-FILE-END"
}
