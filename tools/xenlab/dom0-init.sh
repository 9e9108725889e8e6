#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the lab's dom0: bring up the Xen services and backends, then run what the
# kernel command line asks for (xenlab=check|demo|shell), then power the machine off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /run/lock /run/xen-hotplug /var/log/xen /var/lib/xen /tmp
# The hotplug block script stats /dev/stdin; devtmpfs has none.
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
echo "XENLAB: dom0 init (uptime $(cut -d' ' -f1 /proc/uptime)s)"

GNTALLOC_LIMIT=$(arg xenlab_gntalloc); GNTALLOC_LIMIT=${GNTALLOC_LIMIT:-65536}
for m in xen-privcmd xenfs xen-evtchn xen-gntdev llc stp bridge xen-netback xen-blkback \
         virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
         crc16 mbcache jbd2 crc32c_generic ext4; do
    insmod /lib/modules/$m.ko 2>/dev/null || echo "XENLAB: insmod $m failed"
done
insmod /lib/modules/xen-gntalloc.ko limit=$GNTALLOC_LIMIT || echo "XENLAB: insmod xen-gntalloc failed"
mount -t xenfs xenfs /proc/xen

xenstored --pid-file /run/xenstored.pid || echo "XENLAB: xenstored failed"
xen-init-dom0 >/dev/null || echo "XENLAB: xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen || echo "XENLAB: xenconsoled failed"

# Guest network: one bridge, no uplink (the emulated machine has no NIC: nothing leaves it).
brctl addbr xenbr0
echo 0 > /sys/class/net/xenbr0/bridge/stp_state
echo 0 > /sys/class/net/xenbr0/bridge/forward_delay
ip link set xenbr0 up
ip link set lo up

xl info | grep -E 'xen_version|total_memory|free_memory|xen_commandline'
echo "XENLAB: gntalloc limit $(cat /sys/module/xen_gntalloc/parameters/limit), disks: $(ls /dev/vd? 2>/dev/null | tr '\n' ' ')"
echo "XENLAB: DOM0 READY"

# Test knobs from the host (XENLAB_TEST_ENV): NAME=VALUE pairs, plain names and values only.
for kv in $(arg xenlab_env | tr ',' ' '); do
    case $kv in
    *[!A-Za-z0-9_.=-]*) echo "XENLAB: ignoring test setting '$kv'" ;;
    [A-Z]*=*) export "$kv" ;;
    esac
done

MODE=$(arg xenlab)
case "$MODE" in
shell) setsid cttyhack sh ;;
check|demo) /xenlab/run-tests "$MODE" "$(arg xenlab_tests)" ;;
*) echo "XENLAB: unknown mode '$MODE'" ;;
esac
echo "XENLAB: powering off"
poweroff -f
