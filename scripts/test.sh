#!/usr/bin/env bash
# The test command: installs everything (servers, GlusterFS, Python packages), then runs the
# whole suite against real etcd, Consul and ZooKeeper servers and the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/setup-venv.sh
exec .venv/bin/python -m pytest -ra --durations=25 "$@"
