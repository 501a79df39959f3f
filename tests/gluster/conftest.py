"""Fixtures for the real data path: a gluster-mgmtd on 127.0.0.2:24007 (no glusterd), stock
glusterfsd bricks it starts, and stock FUSE mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from tests.daemon.cluster_fixture import DaemonProcess

pytestmark = pytest.mark.gluster


def _no_glusterd() -> None:
    running = subprocess.run(["pgrep", "-x", "glusterd"], capture_output=True, text=True).stdout.split()
    for pid in running:
        subprocess.run(["kill", "-9", pid], check=False)


@pytest.fixture
def gluster_daemon(store_server, tmp_path):
    if shutil.which("glusterfsd") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's glusterfs-server (scripts/install-deps.sh)")
    _no_glusterd()
    daemon = DaemonProcess(tmp_path, "127.0.0.2", store_server.url(f"g{uuid.uuid4().hex[:10]}"),
                           24012, lease_ttl=10.0, mgmt_port=24007)
    daemon.start()
    yield daemon
    daemon.stop_all()


@pytest.fixture
def mounts(tmp_path):
    """mount(volume) -> (mountpoint, client log); everything is unmounted afterwards."""
    mounted = []

    def mount(volume: str):
        point = tmp_path / f"mnt-{volume}-{len(mounted)}"
        point.mkdir()
        log = tmp_path / f"client-{volume}-{len(mounted)}.log"
        result = subprocess.run(
            ["mount", "-t", "glusterfs", "-o", f"log-file={log}", f"127.0.0.2:/{volume}", str(point)],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"mount failed: {result.stderr}\n{tail}")
        mounted.append(point)
        return point, log

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)
