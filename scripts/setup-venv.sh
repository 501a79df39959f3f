#!/usr/bin/env bash
# Creates .venv with gluster_mgmt, its three backend plugins and the test tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]' -e backends/etcd -e backends/consul -e backends/zookeeper
