#!/usr/bin/env bash
# The main job: installs gluster_mgmt and runs a session of the store API on the embedded
# default store (the daemon arrives with the cluster-management issue).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
bash scripts/setup-venv.sh
exec .venv/bin/python examples/store_session.py "$@"
