#!/bin/bash
# Re-record tests/data/glusterd-10.3/probe-errors/: what real glusterd 10.3 answers to a
# `peer probe` of a name that does not resolve and of an address nothing answers on (text and
# --xml). glusterd runs in a network namespace of its own (only its loopback: no name server,
# no route) and a private mount namespace (/run a tmpfs, /var/lib/glusterd a scratch copy of
# the package's hooks and groups). Run as root; the host is never touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/data/glusterd-10.3/probe-errors}
WORK=$(mktemp -d /tmp/gm-record-probe.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/glusterd" "$OUT"
for part in hooks groups; do
    [ -d "/var/lib/glusterd/$part" ] && cp -a "/var/lib/glusterd/$part" "$WORK/glusterd/"
done

cat > "$WORK/inner.sh" <<'INNER'
set -u
WORK=$1 OUT=$2
ip link set lo up
mount --bind "$WORK/glusterd" /var/lib/glusterd
mount -t tmpfs tmpfs /run
mkdir -p /run/gluster
glusterd -N --log-file="$WORK/glusterd.log" &
GLUSTERD=$!
trap 'kill -KILL $GLUSTERD 2>/dev/null' EXIT
for _ in $(seq 120); do [ -S /var/run/glusterd.socket ] && break; sleep 0.5; done
record() {  # NAME WORDS...: the command, its exit code and what the CLI printed
    name=$1; shift
    { echo "\$ gluster --mode=script $*"; timeout 120 gluster --mode=script "$@" > "$WORK/out" 2>&1
      echo "exit $?"; cat "$WORK/out"; } > "$OUT/$name.txt"
}
record unresolvable peer probe no-such-host.invalid
record unresolvable-xml --xml peer probe no-such-host.invalid
record unreachable peer probe 192.0.2.1
record unreachable-xml --xml peer probe 192.0.2.1
grep -h "DNS resolution failed\|getaddrinfo" "$WORK/glusterd.log" | sed 's/^\[[^]]*\] //' \
    > "$OUT/glusterd-log-unresolvable.txt"
kill -TERM $GLUSTERD; wait $GLUSTERD || true
INNER
unshare --net --mount --propagation private bash "$WORK/inner.sh" "$WORK" "$OUT" < /dev/null
echo "recorded into $OUT"
