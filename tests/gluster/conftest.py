"""Fixtures for the real data path: gluster-mgmtd on 127.0.0.x:24007 (no glusterd), stock
glusterfsd bricks it starts, and stock FUSE mounts."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers import stop_glusterd_here

pytestmark = pytest.mark.gluster


@pytest.fixture
def gluster_daemons(make_daemons):
    """make(n) -> n daemons on 127.0.0.2... serving the mgmt protocol on port 24007."""
    if shutil.which("glusterfsd") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's glusterfs-server (scripts/install-deps.sh)")
    stop_glusterd_here()  # no glusterd may hold 24007
    return make_daemons


@pytest.fixture
def gluster_daemon(gluster_daemons):
    (daemon,) = gluster_daemons(1)
    return daemon


@pytest.fixture
def mounts(tmp_path):
    """mount(volume, host="127.0.0.2") -> (mountpoint, client log); all unmounted afterwards."""
    mounted = []

    def mount(volume: str, host: str = "127.0.0.2"):
        point = tmp_path / f"mnt-{volume}-{len(mounted)}"
        point.mkdir()
        log = tmp_path / f"client-{volume}-{len(mounted)}.log"
        result = subprocess.run(
            ["mount", "-t", "glusterfs", "-o", f"log-file={log}", f"{host}:/{volume}", str(point)],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"mount failed: {result.stderr}\n{tail}")
        mounted.append(point)
        return point, log

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "netns: needs root to create network namespaces and veth pairs "
        "(a client on a non-local address); fails, never skips, without them")
