"""A brick started by the reconciler is told the node's UUID (``*-posix.glusterd-uuid``, as
glusterd does), so it answers ``trusted.glusterfs.node-uuid`` (what geo-replication and
rebalance ask) with the UUID of the node's glusterd.info."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.gluster.test_data_path import online_bricks
from tests.helpers import REFERENCE

pytestmark = pytest.mark.gluster

NODE3 = REFERENCE / "three-nodes" / "node3" / "glusterd.info"


def test_a_brick_carries_the_uuid_of_glusterd_info(gluster_daemons, mounts, tmp_path):
    workdir = tmp_path / "glusterd"
    workdir.mkdir()
    shutil.copy(NODE3, workdir / "glusterd.info")
    uuid = NODE3.read_text().split()[0].removeprefix("UUID=")
    (daemon,) = gluster_daemons(1, glusterd_dirs=[workdir])
    brick = tmp_path / "ident-b0"
    daemon.cli("volume", "create", "ident", f"{daemon.address}:{brick}", "force", check=True)
    daemon.cli("volume", "start", "ident", check=True)
    (node,) = online_bricks(daemon, "ident", 1)
    argv = open(f"/proc/{node['pid']}/cmdline", "rb").read().split(b"\0")
    assert f"*-posix.glusterd-uuid={uuid}".encode() in argv
    logs = [p for p in daemon.log_dir.rglob("*.log") if "Final graph" in p.read_text(errors="replace")
            and str(brick).lstrip("/").replace("/", "-") in p.name]
    assert logs, sorted(daemon.log_dir.rglob("*"))
    graph = logs[0].read_text(errors="replace")
    assert f"option glusterd-uuid {uuid}" in graph  # the posix xlator of the brick's graph
    point, _ = mounts("ident", daemon.address)
    assert uuid in os.getxattr(point, "trusted.glusterfs.node-uuid").decode(errors="replace")
