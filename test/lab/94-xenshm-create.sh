#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenshm create on Xen: a domain whose xl config carries xenshm's keys boots with its xenshm
# device and its MemFlex disk already there (the guest swaps on it at once), its MemPipe peer list
# applied (a ring cap, then a peer dropped and re-listed live); a config with a bad
# entry is refused before xl runs, naming file:line and the key; a config whose devices cannot
# be made leaves no half-made domain behind.  `xenshm schema-check` passes on the live system
# and names a permission planted wrong.
. /xenlab/lib.sh
xenshmd -f --budget-kb 262144 > /tmp/xenshmd.log 2>&1 &
XD=$!
trap 'kill $XD 2>/dev/null; collect /tmp/xenshmd.log xenshmd.log' EXIT
# The lab's own guest config (guest_create writes it), then xenshm's keys added to it.
GUEST_MEM=128 guest_create g1 0 || fail "guest g1"
xl destroy g1
cp /etc/xen/g1.cfg /tmp/web.cfg
sed -i 's/^name = .*/name = "web"/' /tmp/web.cfg
printf 'xenshm = "quota=8M,devices=2"\nmemflex = "size=64M,mem=32M,vdev=xvdt"\nmempipe = [ "peer=srv,max=256K" ]\n' >> /tmp/web.cfg
OUT=$(xenshm create /tmp/web.cfg -q 2>&1) || fail "xenshm create: $OUT"
echo "$OUT"
D=$(xl domid web) || fail "no domain web"
labexec -t 30 "$D" true > /dev/null || fail "web's agent is not up"
DEVID=268440320 # xvdt
expect_eq "$(xenstore-read /local/domain/0/backend/xenshm/$D/1/quota-kb)" 8192 "device 1 quota"
expect_eq "$(xenstore-read /local/domain/0/backend/memflex/$D/$DEVID/mem-kb)" 32768 "disk memory tier"
# The disk was there before the guest's kernel looked: blkfront found it at boot.
labexec -t 30 "$D" 'test -b /dev/xvdt && mkswap /dev/xvdt > /dev/null && swapon /dev/xvdt && grep -c xvdt /proc/swaps' \
    || fail "no swap on xvdt in web"
expect_eq "$(xenstore-read /local/domain/0/backend/memflex/$D/$DEVID/state)" 4 "disk state"

# The live XenStore against the schema: blkfront's keys, a device holding a segment, the host.
labexec -t 60 "$D" 'xenshm-probe alloc 1024 --hold 30 > /tmp/hold.out 2>&1 &' > /dev/null || fail "probe"
i=0
until xenstore-list "/local/domain/0/backend/xenshm/$D/0/segment" 2>/dev/null | grep -q . || [ $i -ge 150 ]; do
    sleep 0.2; i=$((i + 1))
done
OUT=$(xenshm schema-check) || fail "schema-check on a live system: $OUT"
echo "$OUT"
metric schema_check_nodes "$(echo "$OUT" | sed -n 's/^schema-check: \([0-9]*\) nodes.*/\1/p')"
# A planted hole: the guest may write its disk's memory allowance.  Found, named, exit 1.
NODE=/local/domain/0/backend/memflex/$D/$DEVID/mem-kb
xenstore-chmod "$NODE" n0 b"$D"
OUT=$(xenshm schema-check) && fail "schema-check missed a guest-writable backend node: $OUT"
echo "$OUT" | grep -q "^$NODE: wrong permissions: are 'n0 b$D', the schema (\[mf-be-mem-kb\]) says 'n0 r$D'" ||
    fail "the wrong permission is not named: $OUT"
xenstore-chmod "$NODE" n0 r"$D"
xenshm schema-check > /dev/null || fail "schema-check after the repair"

# The mempipe key: web may talk to srv only, rings capped at 256 KiB; then live changes.
expect_eq "$(xenstore-read /local/domain/0/backend/xenshm/$D/0/mempipe-peers)" "srv:256" "web's mempipe-peers"
guest_create srv 1 || fail "guest srv"
xenshm attach srv || fail "attach srv"
DS=$(guest_domid srv)
guest_exec srv 'mempipe-bench serve > /tmp/serve.out 2>&1 &' || fail "server"
guest_exec srv 'for i in $(seq 100); do grep -q serving /tmp/serve.out && exit 0; sleep 0.1; done; exit 1' ||
    fail "server did not start"
# pipe_run RING-KB: one checksummed 1 MiB stream web -> srv asking for RING-KB rings; prints
# the ring size xenshmd made (web's channel node: "PEER NAME TX-KB RX-KB ...") while it runs.
pipe_run() {
    labexec -t 120 "$D" "mempipe-bench run --transport mempipe --peer $DS --sizes 4096 --bytes 4194304 --rounds 200 --ring-kb $1 2>&1"
}
ring_kb() {  # web has two devices; the probe above may still hold device 0
    for dev in $(xenstore-list "/local/domain/0/backend/xenshm/$D"); do
        for c in $(xenstore-list "/local/domain/0/backend/xenshm/$D/$dev/channel" 2>/dev/null); do
            xenstore-read "/local/domain/0/backend/xenshm/$D/$dev/channel/$c" | awk '$1 ~ /^[0-9]+$/ { print $3 }'
        done
    done
}
pipe_run 1024 > /tmp/run.out &
RUN=$!
TX=
i=0
while [ -z "$TX" ] && [ $i -lt 100 ]; do TX=$(ring_kb | head -1); sleep 0.1; i=$((i + 1)); done
wait $RUN
grep -q "check ok" /tmp/run.out || fail "web -> srv under the key: $(cat /tmp/run.out)"
echo "asked for 1024 KiB rings, the cap gave $TX KiB"
expect_eq "$TX" 256 "ring size under max=256K"
# Live: the list no longer names srv (xenshm set); the next channel is refused.
xenshm set web mempipe-peers="db:0" || fail "xenshm set mempipe-peers"
OUT=$(pipe_run 64) && fail "web reached srv after the list dropped it: $OUT"
echo "$OUT" | grep -q "Permission denied" || fail "not refused for the list: $OUT"
grep -q "refused a MemPipe channel with domain $DS (srv): not in its mempipe-peers" /tmp/xenshmd.log ||
    fail "xenshmd did not say why"
# And back by xenstore-write, without a cap: any ring size asked for.
for dev in 0 1; do xenstore-write "/local/domain/0/backend/xenshm/$D/$dev/mempipe-peers" "srv:0"; done
OUT=$(pipe_run 64) || fail "web -> srv after the list named it again: $OUT"
echo "$OUT" | grep -q "check ok" || fail "stream after re-listing: $OUT"
metric mempipe_peers_cap_kb "$TX"
xl destroy srv
xl destroy web

# A bad entry: refused before xl runs, with file:line and the key.
printf 'name = "bad"\nmemory = 64\n\nmemflex = "size=64M,vdev=sdb"\n' > /tmp/bad.cfg
OUT=$(xenshm create /tmp/bad.cfg 2>&1) && fail "a bad memflex entry was accepted: $OUT"
echo "$OUT" | grep -q "/tmp/bad.cfg:4: memflex: vdev='sdb'" || fail "the message does not name file:line and key: $OUT"
xl domid bad > /dev/null 2>&1 && fail "a domain 'bad' exists"

# Devices that cannot be made: memflex named like a disk of the domain's own disk list.  The
# domain xl made is destroyed, not left half-made.
cp /tmp/web.cfg /tmp/clash.cfg
sed -i -e 's/^name = .*/name = "clash"/' -e '/^memflex/d' -e '/^disk/d' /tmp/clash.cfg
printf "disk = [ 'phy:/dev/vda,xvdb,w' ]\nmemflex = \"size=16M,vdev=xvdb\"\n" >> /tmp/clash.cfg
OUT=$(xenshm create /tmp/clash.cfg -q 2>&1) && fail "a memflex disk replaced the domain's own xvdb: $OUT"
echo "$OUT" | grep -q "already has a disk xvdb" || fail "no reason given: $OUT"
echo "$OUT" | grep -q "destroying the half-made domain" || fail "not destroyed: $OUT"
i=0
while xl domid clash > /dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
xl domid clash > /dev/null 2>&1 && fail "a half-made domain 'clash' was left behind"
echo "xenshm create: web booted with 2 devices and xvdt; a bad entry refused before xl ran; a clash destroyed the half-made domain"
