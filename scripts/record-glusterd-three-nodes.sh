#!/bin/bash
# Re-record tests/data/glusterd-10.3/three-nodes/: three real glusterd 10.3 daemons, each in a
# network + mount namespace of its own, joined by a bridge (in a fourth namespace) on
# 10.214.0.1-3. They probe each other, create a replica 3 volume across the three, and the
# script keeps what each glusterd printed (pool list, volume info --xml, system:: uuid get)
# and, once they are stopped, each node's /var/lib/glusterd (sockets and pidfiles left out).
# Run as root; the host's network, /var/lib/glusterd and /run are never touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/data/glusterd-10.3/three-nodes}
WORK=$(mktemp -d /tmp/gm-record-3.XXXXXX)
TAG=gmrec$$
BR=$TAG-br
NODES=(1 2 3)
declare -A PIDS=()

ns() { echo "$TAG-n$1"; }
addr() { echo "10.214.0.$1"; }

cleanup() {
    set +e
    for n in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$n]}" 2>/dev/null
    done
    sleep 1
    for n in "${NODES[@]}"; do
        # whatever still runs in the node's namespace (glusterd, its children) goes now
        for pid in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$(ns "$n")" 2>/dev/null
    done
    ip netns del "$BR" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$BR"
ip -n "$BR" link add br0 type bridge
ip -n "$BR" link set br0 up
for n in "${NODES[@]}"; do
    ip netns add "$(ns "$n")"
    ip -n "$(ns "$n")" link set lo up
    ip link add "$TAG-v$n" type veth peer name "$TAG-p$n"
    ip link set "$TAG-v$n" netns "$(ns "$n")"
    ip link set "$TAG-p$n" netns "$BR"
    ip -n "$BR" link set "$TAG-p$n" master br0 up
    ip -n "$(ns "$n")" link set "$TAG-v$n" name eth0
    ip -n "$(ns "$n")" addr add "$(addr "$n")/24" dev eth0
    ip -n "$(ns "$n")" link set eth0 up
done

# One glusterd per node in the foreground (-N) of a private mount namespace: its own
# /var/lib/glusterd, /run, logs and brick directory, all under $WORK/nodeN.
for n in "${NODES[@]}"; do
    d=$WORK/node$n
    mkdir -p "$d/lib" "$d/log" "$d/bricks"
    ip netns exec "$(ns "$n")" unshare -m --propagation private bash -c "
        mount -t tmpfs -o mode=0755,size=16m gm-record-run /run
        mkdir -p /run/gluster /bricks
        mount --bind '$d/lib' /var/lib/glusterd
        mount --bind '$d/log' /var/log/glusterfs
        mount --bind '$d/bricks' /bricks
        exec glusterd -N --log-level INFO" &
    PIDS[$n]=$!
done

gluster_on() {  # gluster_on NODE ARGS...: the stock CLI inside NODE's namespaces
    local n=$1; shift
    local pid
    pid=$(pgrep -P "${PIDS[$n]}" -x glusterd || echo "${PIDS[$n]}")
    nsenter -t "$pid" -m -n gluster --mode=script "$@"
}

for n in "${NODES[@]}"; do
    for _ in $(seq 100); do
        gluster_on "$n" system:: uuid get >/dev/null 2>&1 && break
        sleep 0.2
    done
done

gluster_on 1 peer probe "$(addr 2)"
gluster_on 1 peer probe "$(addr 3)"
gluster_on 2 peer probe "$(addr 1)"   # glusterd's advice: name the first node from another
for _ in $(seq 100); do
    [ "$(gluster_on 1 pool list | grep -c Connected)" = 3 ] &&
        [ "$(gluster_on 3 pool list | grep -c Connected)" = 3 ] && break
    sleep 0.2
done
gluster_on 1 volume create rep3 replica 3 \
    "$(addr 1):/bricks/rep3" "$(addr 2):/bricks/rep3" "$(addr 3):/bricks/rep3" force

rm -rf "$OUT/cli" "$OUT"/node[0-9]   # README.md (the note) stays
mkdir -p "$OUT/cli"
for n in "${NODES[@]}"; do
    gluster_on "$n" system:: uuid get > "$OUT/cli/node$n-uuid-get.txt"
    gluster_on "$n" --xml system:: uuid get > "$OUT/cli/node$n-uuid-get.xml"
    gluster_on "$n" pool list > "$OUT/cli/node$n-pool-list.txt"
    gluster_on "$n" --xml pool list > "$OUT/cli/node$n-pool-list.xml"
done
gluster_on 1 --xml volume info > "$OUT/cli/volume-info.xml"
gluster_on 1 volume info > "$OUT/cli/volume-info.txt"

for n in "${NODES[@]}"; do
    kill -TERM "${PIDS[$n]}"
done
for n in "${NODES[@]}"; do
    wait "${PIDS[$n]}" || true
    unset "PIDS[$n]"
done
for n in "${NODES[@]}"; do
    mkdir -p "$OUT/node$n"
    # state only: no sockets, pidfiles or the hooks glusterd installs
    tar -C "$WORK/node$n/lib" --exclude=./hooks --exclude='*.pid' --exclude='*.socket' \
        --warning=no-file-ignored -cf - . | tar -C "$OUT/node$n" -xf -
done
echo "recorded into $OUT"
