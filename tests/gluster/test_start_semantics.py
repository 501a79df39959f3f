"""glusterd's `volume start` / `volume stop` semantics on three daemons with real bricks:
start returns once every brick signed in and every self-heal daemon runs (so a script may
mount at once), or fails as glusterd does naming the host and leaves the volume as it was; stop
returns once they exited. The messages are those glusterd 10.3 printed
(tests/data/glusterd-10.3/semantics/)."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.services.supervisor import pid_runs
from tests.daemon.cluster_fixture import STOCK_GLUSTER

pytestmark = pytest.mark.gluster


def _status_nodes(daemon, volume: str) -> list[dict]:
    out = daemon.cli("--xml", "volume", "status", volume, check=True).stdout
    nodes = ET.fromstring(out).findall(".//volStatus/volumes/volume/node")
    return [{child.tag: child.text for child in node} for node in nodes]


def _replica3(daemons, tmp_path, name: str) -> list:
    d1, d2, d3 = daemons
    for other in (d2, d3):
        d1.cli("peer", "probe", other.address, check=True)
    bricks = [tmp_path / f"{name}-{i}" for i in range(3)]
    d1.cli("volume", "create", name, "replica", "3",
           *[f"{d.address}:{b}" for d, b in zip(daemons, bricks)], "force", check=True)
    return bricks


def _info_status(daemon, volume: str) -> str:
    out = daemon.cli("--xml", "volume", "info", volume, check=True).stdout
    return ET.fromstring(out).findtext(".//volume/statusStr")


def test_start_then_mount_at_once_and_stop_waits_for_the_bricks(gluster_daemons, mounts, tmp_path):
    daemons = gluster_daemons(3)
    _replica3(daemons, tmp_path, "now")
    daemons[0].cli("volume", "start", "now", check=True)
    # no wait: every brick and self-heal daemon is up when start returns
    nodes = _status_nodes(daemons[1], "now")
    bricks = [n for n in nodes if n["path"].startswith("/")]
    assert len(bricks) == 3 and all(n["status"] == "1" for n in nodes), nodes
    point, _ = mounts("now", host=daemons[2].address)
    (point / "f.txt").write_text("written at once\n")
    assert (point / "f.txt").read_text() == "written at once\n"
    assert all((tmp_path / f"now-{i}" / "f.txt").read_text() == "written at once\n"
               for i in range(3))
    pids = [int(n["pid"]) for n in bricks]
    res = daemons[1].cli("--mode=script", "volume", "stop", "now")
    assert res.returncode == 0 and res.stdout.strip() == "volume stop: now: success", res
    assert not any(pid_runs(p) for p in pids)  # no wait: they exited before stop returned


def test_stock_cli_start_and_mount_with_no_wait_in_between(gluster_daemons, tmp_path):
    """The script line users write, `gluster volume start V && mount -t glusterfs HOST:/V
    MNT`, with the stock gluster binary on the glusterd socket: the mount sees all three
    bricks of the replica at once (a write lands on every brick)."""
    daemons = gluster_daemons(3)
    d1, d2, d3 = daemons
    for other in (d2, d3):
        assert d1.gluster("peer", "probe", other.address).returncode == 0
    bricks = [tmp_path / f"sm-{i}" for i in range(3)]
    created = d2.gluster("volume", "create", "sm", "replica", "3",
                         *[f"{d.address}:{b}" for d, b in zip(daemons, bricks)], "force")
    assert created.returncode == 0, created
    point, client_log = tmp_path / "mnt-sm", tmp_path / "client-sm.log"
    point.mkdir()
    line = (f"{STOCK_GLUSTER} --mode=script --glusterd-sock={d1.glusterd_socket} volume start sm"
            f" && mount -t glusterfs -o log-file={client_log} {d3.address}:/sm {point}")
    try:
        res = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and res.stdout == "volume start: sm: success\n", (
            res, client_log.read_text(errors="replace")[-3000:] if client_log.exists() else "")
        (point / "f.txt").write_text("written at once\n")
        assert (point / "f.txt").read_text() == "written at once\n"
        assert [(b / "f.txt").read_text() for b in bricks] == ["written at once\n"] * 3
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
    assert d2.gluster("volume", "stop", "sm").stdout == "volume stop: sm: success\n"


def test_start_with_a_missing_brick_directory_fails_at_staging(gluster_daemons, tmp_path):
    daemons = gluster_daemons(3)
    bricks = _replica3(daemons, tmp_path, "gone")
    os.rmdir(bricks[1])
    res = daemons[0].cli("volume", "start", "gone")
    assert res.returncode == 1
    assert res.stderr.strip() == (  # glusterd's staging error from another host
        f"volume start: gone: failed: Staging failed on {daemons[1].address}. Error: Failed to "
        f"find brick directory {bricks[1]} for volume gone. Reason : No such file or directory")
    assert _info_status(daemons[2], "gone") == "Created"  # as it was (glusterd: see 50-info-*)
    res = daemons[1].cli("volume", "start", "gone")  # on the brick's own host: the bare message
    assert res.stderr.strip() == (f"volume start: gone: failed: Failed to find brick directory "
                                  f"{bricks[1]} for volume gone. Reason : No such file or directory")
    # force starts what can start and succeeds, the missing brick offline (as glusterd does)
    res = daemons[0].cli("volume", "start", "gone", "force")
    assert res.returncode == 0 and res.stdout.strip() == "volume start: gone: success", res
    nodes = {n["hostname"] + n.get("path", ""): n["status"] for n in _status_nodes(daemons[0], "gone")
             if n.get("path", "").startswith("/")}
    assert nodes == {f"{d.address}{b}": ("0" if b == bricks[1] else "1")
                     for d, b in zip(daemons, bricks)}
    # the directory back, force brings the offline brick back before it returns
    bricks[1].mkdir()
    daemons[2].cli("volume", "start", "gone", "force", check=True)
    assert all(n["status"] == "1" for n in _status_nodes(daemons[0], "gone"))
    daemons[0].cli("--mode=script", "volume", "stop", "gone", check=True)


def test_a_brick_that_cannot_start_fails_the_commit_naming_its_host(gluster_daemons, tmp_path):
    daemons = gluster_daemons(3)
    bricks = _replica3(daemons, tmp_path, "bad")
    (bricks[2] / ".glusterfs").write_text("not a directory\n")  # the brick cannot be served
    res = daemons[0].cli("volume", "start", "bad")
    assert res.returncode == 1
    assert res.stderr.strip() == (f"volume start: bad: failed: Commit failed on "
                                  f"{daemons[2].address}. Please check log file for details.")
    # nothing half-started: the volume is as it was and no brick of it runs anywhere
    assert _info_status(daemons[1], "bad") == "Created"
    stopped = daemons[0].cli("volume", "status", "bad")
    assert stopped.returncode == 1 and "Volume bad is not started" in stopped.stdout + stopped.stderr
    (bricks[2] / ".glusterfs").unlink()
    daemons[0].cli("volume", "start", "bad", check=True)
    assert all(n["status"] == "1" for n in _status_nodes(daemons[0], "bad"))
    daemons[0].cli("--mode=script", "volume", "stop", "bad", check=True)
