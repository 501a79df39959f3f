"""add-brick, rebalance, remove-brick and replace-brick through the STOCK `gluster` binary
against a gluster-mgmtd daemon, on every store backend: the volume's bricks change as asked,
the rebalance processes really move the files of a FUSE mount, and the mount still reads
every file after `remove-brick commit` (answered at the CLI's interactive prompt)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.cli_program.test_brick_ops_recordings import mount_volume
from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.helpers import child_env

FILES = [f"f{i:02d}" for i in range(30)]


def ok(daemon, *words: str) -> str:
    result = daemon.gluster(*words)
    assert result.returncode == 0, (words, result.stdout, result.stderr, daemon.log_tail())
    return result.stdout


def bricks_of(daemon, volume: str) -> list[str]:
    out = daemon.gluster("volume", "info", volume, xml=True).stdout
    return [b.findtext("name") for b in ET.fromstring(out).iter("brick")]


def data_files(brick: Path) -> list[str]:
    """Files holding data on a brick (not DHT link files, not .glusterfs)."""
    found = []
    for root, dirs, files in os.walk(brick):
        dirs[:] = [d for d in dirs if d != ".glusterfs"]
        for name in files:
            info = os.lstat(os.path.join(root, name))
            if not (info.st_size == 0 and info.st_mode & stat.S_ISVTX):
                found.append(name)
    return sorted(found)


def wait_completed(daemon, *words: str) -> ET.Element:
    deadline = time.monotonic() + 120
    while True:
        root = ET.fromstring(daemon.gluster(*words, xml=True).stdout)
        states = [e.text for e in root.iter("statusStr")]
        if states and all(s == "completed" for s in states):
            return root
        assert time.monotonic() < deadline, (words, daemon.gluster(*words).stdout,
                                             daemon.log_tail())
        time.sleep(0.5)


def test_brick_operations_through_the_stock_cli(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    brick = lambda name: f"{daemon.address}:{tmp_path}/bricks/{name}"  # noqa: E731
    ok(daemon, "volume", "create", "dv", brick("d1"), brick("d2"), "force")
    ok(daemon, "volume", "start", "dv")
    point = tmp_path / "mnt"
    mount_volume("dv", point, tmp_path / "client.log")
    try:
        for name in FILES:
            (point / name).write_bytes(name.encode() * 500)

        assert ok(daemon, "volume", "add-brick", "dv", brick("d3"), "force") == \
            "volume add-brick: success\n"
        assert bricks_of(daemon, "dv") == [brick("d1"), brick("d2"), brick("d3")]
        refused = daemon.gluster("volume", "add-brick", "dv", brick("d2"), "force")
        assert refused.returncode == 1 and "not available" in refused.stderr
        assert bricks_of(daemon, "dv") == [brick("d1"), brick("d2"), brick("d3")]  # unchanged

        started = ok(daemon, "volume", "rebalance", "dv", "start")
        task_id = started.rsplit("ID: ", 1)[1].strip()
        status = wait_completed(daemon, "volume", "rebalance", "dv", "status")
        assert status.findtext(".//task-id") == task_id
        assert int(status.findtext(".//aggregate/files")) > 0
        assert data_files(tmp_path / "bricks" / "d3")  # the rebalance moved files there
        assert "completed" in ok(daemon, "volume", "rebalance", "dv", "status")

        started = ok(daemon, "volume", "remove-brick", "dv", brick("d1"), "start")
        assert started.startswith("volume remove-brick start: success\nID: ")
        wait_completed(daemon, "volume", "remove-brick", "dv", brick("d1"), "status")
        assert data_files(tmp_path / "bricks" / "d1") == []
        # the CLI asks before a commit: answered at its prompt (no --mode=script)
        commit = subprocess.run(
            [STOCK_GLUSTER, f"--glusterd-sock={daemon.glusterd_socket}", "volume",
             "remove-brick", "dv", brick("d1"), "commit"],
            input="y\n", capture_output=True, text=True, env=child_env(), timeout=120)
        assert commit.returncode == 0, (commit.stdout, commit.stderr)
        assert "volume remove-brick commit: success" in commit.stdout
        assert bricks_of(daemon, "dv") == [brick("d2"), brick("d3")]
        assert sorted(os.listdir(point)) == FILES
        for name in FILES:
            assert (point / name).read_bytes() == name.encode() * 500
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, timeout=60)

    ok(daemon, "volume", "create", "rv", "replica", "3", brick("r1"), brick("r2"), brick("r3"),
       "force")
    ok(daemon, "volume", "start", "rv")
    assert "replace-brick commit force operation successful" in ok(
        daemon, "volume", "replace-brick", "rv", brick("r2"), brick("r4"), "commit", "force")
    assert bricks_of(daemon, "rv") == [brick("r1"), brick("r4"), brick("r3")]
    refused = daemon.gluster("volume", "replace-brick", "rv", brick("r1"), brick("r3"), "commit",
                             "force")
    assert refused.returncode == 1 and "not available" in refused.stderr
    assert ok(daemon, "volume", "remove-brick", "rv", "replica", "2", brick("r3"), "force") == \
        "volume remove-brick commit force: success\n"
    assert bricks_of(daemon, "rv") == [brick("r1"), brick("r4")]
    assert "Number of Bricks: 1 x 2 = 2" in ok(daemon, "volume", "info", "rv")
    refused = daemon.gluster("volume", "rebalance", "rv", "start")
    assert refused.returncode == 1 and "not a distribute volume" in refused.stderr
