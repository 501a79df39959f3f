#!/usr/bin/env bash
# The main job: installs gluster_mgmt and starts gluster-mgmtd on the embedded default store
# (local:///var/lib/gluster-mgmt/store.db), serving the gluster mgmt protocol on 24007 and its
# CLI socket. It returns once the daemon answers; then use `.venv/bin/gluster-mgmt ...`.
#   bash scripts/start.sh              start in the background (log: /var/log/gluster-mgmt/mgmtd.log)
#   bash scripts/start.sh --foreground run in the foreground (Ctrl-C / SIGTERM stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
bash scripts/setup-venv.sh

# gluster-mgmtd replaces glusterd: both cannot own port 24007.
if pgrep -x glusterd >/dev/null; then
    echo "stopping glusterd (gluster-mgmtd takes over port 24007)"
    pkill -x glusterd || true
fi
if [ "${1:-}" = "--foreground" ]; then
    exec .venv/bin/gluster-mgmtd
fi
if .venv/bin/gluster-mgmt pool list >/dev/null 2>&1; then
    echo "gluster-mgmtd is already running"
else
    mkdir -p /var/log/gluster-mgmt
    nohup .venv/bin/gluster-mgmtd >>/var/log/gluster-mgmt/mgmtd.log 2>&1 &
    for _ in $(seq 1 100); do
        .venv/bin/gluster-mgmt pool list >/dev/null 2>&1 && break
        sleep 0.2
    done
fi
.venv/bin/gluster-mgmt pool list
echo "gluster-mgmtd is ready: try '.venv/bin/gluster-mgmt volume create NAME $(hostname):/bricks/b1 force'"
