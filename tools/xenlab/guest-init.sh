#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of a lab guest: Xen devices, optional network, then the command agent forever.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /tmp; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /tmp
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-netfront xen-blkfront; do
    insmod /lib/modules/$m.ko 2>/dev/null
done
mount -t xenfs xenfs /proc/xen
ip link set lo up
IP=$(sed -n 's/.*xenlab_ip=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$IP" ] && [ -e /sys/class/net/eth0 ]; then
    ip addr add "$IP/24" dev eth0 && ip link set eth0 up
fi
echo "XENLAB-GUEST: up (uptime $(cut -d' ' -f1 /proc/uptime)s) devs: $(ls /dev/xen | tr '\n' ' ')"
while :; do
    labagent
    echo "XENLAB-GUEST: labagent exited ($?), restarting"
    sleep 1
done
