#!/usr/bin/env bash
# The test command: installs everything (servers, GlusterFS, Python packages), then runs the
# whole suite against real etcd, Consul and ZooKeeper servers and the embedded store.
#
# With no arguments the suite runs in two stages at once: the multi-host scenarios (network
# namespaces of their own, mostly waiting out leases, elections and partitions; tests marked
# multihost, in tests/multihost and tests/benchmarks) beside the
# rest, so that their waiting does not add to the wall time. Both stages must pass; the
# second stage's report follows the first's. With arguments, one pytest run of exactly those.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/setup-venv.sh
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m pytest -ra --durations=25 "$@"
fi
multihost_log=$(mktemp /tmp/gluster-mgmt-multihost.XXXXXX.log)
.venv/bin/python -m pytest -ra --durations=10 -m multihost tests/multihost tests/benchmarks \
    >"$multihost_log" 2>&1 &
multihost=$!
trap 'kill "$multihost" 2>/dev/null || true' EXIT
status=0
.venv/bin/python -m pytest -ra --durations=25 -m "not multihost" || status=$?
multihost_status=0
wait "$multihost" || multihost_status=$?
trap - EXIT
echo
echo "================ second stage: multi-host scenarios (tests/multihost) ================"
cat "$multihost_log"
rm -f "$multihost_log"
if [ "$status" -ne 0 ] || [ "$multihost_status" -ne 0 ]; then
    echo "FAILED: first stage exit $status, multi-host stage exit $multihost_status"
    exit 1
fi
