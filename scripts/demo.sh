#!/usr/bin/env bash
# The data-path demo: starts gluster-mgmtd on the embedded store, creates and starts a
# distribute volume on two local directories (stock glusterfsd bricks), mounts it with the
# stock FUSE client, writes and reads a file, and shows `volume info` and `volume status`.
# Everything it made is stopped and removed at the end (pass --keep to leave it running).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/start.sh >/dev/null
G=.venv/bin/gluster-mgmt
HOST=$(hostname)
DEMO=/var/tmp/gluster-mgmt-demo
MNT=/mnt/gluster-mgmt-demo
VOL=demo
cleanup() {
    umount -l "$MNT" 2>/dev/null || true
    $G --mode=script volume stop "$VOL" >/dev/null 2>&1 || true
    $G --mode=script volume delete "$VOL" >/dev/null 2>&1 || true
    rm -rf "$DEMO"
}
[ "${1:-}" = "--keep" ] || trap cleanup EXIT
cleanup
mkdir -p "$DEMO" "$MNT"
set -x
$G volume create "$VOL" "$HOST:$DEMO/b1" "$HOST:$DEMO/b2" force
$G volume start "$VOL"
for _ in $(seq 1 50); do $G --xml volume status "$VOL" | grep -q '<status>1</status>' && break; sleep 0.2; done
mount -t glusterfs "$HOST:/$VOL" "$MNT"
echo "hello from gluster_mgmt" > "$MNT/hello.txt"
cat "$MNT/hello.txt"
ls -l "$DEMO"/b1 "$DEMO"/b2
$G volume info "$VOL"
$G volume status "$VOL"
