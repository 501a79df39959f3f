"""`remove-brick start|status|stop|commit` and `rebalance` with real data: the stock rebalance
process moves a mounted volume's files off decommissioned bricks, or onto added ones, while
clients keep reading them."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.services.supervisor import pid_runs
from tests.gluster.test_data_path import brick_status, online_bricks
from tests.helpers import wait_for

pytestmark = pytest.mark.gluster

FILES = [f"file{i:02d}.dat" for i in range(40)]


def _data_files(brick) -> list[str]:
    """Regular files holding data on a brick (not DHT link files, not .glusterfs)."""
    found = []
    for root, dirs, files in os.walk(brick):
        dirs[:] = [d for d in dirs if d != ".glusterfs"]
        for name in files:
            info = os.lstat(os.path.join(root, name))
            is_link_file = info.st_size == 0 and info.st_mode & stat.S_ISVTX
            if not is_link_file:
                found.append(name)
    return sorted(found)


def _status_rows(daemon, volume: str, brick: str) -> list[dict]:
    out = daemon.cli("--xml", "volume", "remove-brick", volume, brick, "status", check=True).stdout
    return [{child.tag: child.text for child in node}
            for node in ET.fromstring(out).findall(".//volRemoveBrick/node")]


def _rebalance_pids(daemon, volume: str) -> list[int]:
    pidfiles = (daemon.run_dir / "rebalance" / volume).glob("*.pid")
    return [int(p.read_text().split()[0]) for p in pidfiles if p.read_text().strip()]


LAYOUTS = {
    # volume words, bricks (daemon index, name), the bricks to remove
    "dist": ((), [(0, "d0"), (0, "d1"), (1, "d2")], ["d2"]),
    "distrep": (("replica", "2"), [(0, "r0"), (1, "r1"), (0, "r2"), (1, "r3")], ["r2", "r3"]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_remove_brick_moves_data_then_commits(gluster_daemons, mounts, tmp_path, layout):
    d1, d2 = gluster_daemons(2)
    d1.cli("peer", "probe", d2.address, check=True)
    words, bricks, removed = LAYOUTS[layout]
    daemons = (d1, d2)
    spec = {name: f"{daemons[i].address}:{tmp_path / name}" for i, name in bricks}
    d1.cli("volume", "create", layout, *words, *spec.values(), "force", check=True)
    d1.cli("volume", "start", layout, check=True)
    assert online_bricks(d1, layout, len(bricks)), brick_status(d1, layout)
    point, client_log = mounts(layout)
    for name in FILES:
        (point / name).write_bytes(name.encode() * 1000)
    leaving = [spec[name] for name in removed]
    assert any(_data_files(tmp_path / name) for name in removed)  # something to move

    out = d1.cli("--mode=script", "volume", "remove-brick", layout, *leaving, "start",
                 check=True).stdout
    assert out.startswith("volume remove-brick start: success\nID: ")
    task_id = out.split("ID: ")[1].strip()
    tasks = d2.cli("volume", "status", layout, "tasks", check=True).stdout
    assert "Remove brick" in tasks and task_id in tasks

    def completed():
        rows = _status_rows(d1, layout, leaving[0])
        return rows if rows and all(r["statusStr"] == "completed" for r in rows) else None
    rows = wait_for(completed, 120, interval=1.0)
    assert rows, (_status_rows(d1, layout, leaving[0]),
                  (d2.log_dir / f"{layout}-rebalance.log").read_text(errors="replace")[-3000:])
    assert sum(int(r["files"]) for r in rows) > 0 and all(r["failures"] == "0" for r in rows)
    assert {r["nodeName"] for r in rows} == {"localhost" if daemons[i] is d1 else daemons[i].address
                                             for i, name in bricks if name in removed}
    human = d1.cli("volume", "remove-brick", layout, *leaving, "status", check=True).stdout
    assert "Rebalanced-files" in human and "completed" in human

    for name in removed:
        assert _data_files(tmp_path / name) == [], name
    assert sorted(os.listdir(point)) == FILES
    for name in FILES:
        assert (point / name).read_bytes() == name.encode() * 1000

    out = d1.cli("--mode=script", "volume", "remove-brick", layout, *leaving, "commit",
                 check=True).stdout
    assert out.startswith("volume remove-brick commit: success\n")
    info = d2.cli("volume", "info", layout, check=True).stdout
    assert all(b not in info for b in leaving)
    assert "There are no active volume tasks" in d1.cli("volume", "status", layout, check=True).stdout
    assert wait_for(lambda: not any(pid_runs(p) for d in daemons for p in _rebalance_pids(d, layout)), 30)
    # start and commit each changed the client's volfile: the mount now runs without the brick
    assert wait_for(lambda: client_log.read_text(errors="replace").count("Volume file changed") >= 2, 30)
    assert sorted(os.listdir(point)) == FILES
    for name in FILES:
        assert (point / name).read_bytes() == name.encode() * 1000
    assert wait_for(lambda: client_log.read_text(errors="replace").count("switched to graph") >= 2, 30)


def test_remove_brick_rules_and_stop(gluster_daemon, tmp_path):
    daemon = gluster_daemon
    bricks = [f"{daemon.address}:{tmp_path}/s{i}" for i in range(3)]
    daemon.cli("volume", "create", "rb", *bricks, "force", check=True)

    def fails(*words: str) -> str:
        result = daemon.cli("--mode=script", "volume", "remove-brick", "rb", *words)
        assert result.returncode == 1, result
        return result.stderr + result.stdout

    assert ("volume remove-brick start: failed: Volume rb needs to be started before "
            "remove-brick (you can use 'force' or 'commit' to override this behavior)"
            in fails(bricks[2], "start"))
    daemon.cli("volume", "start", "rb", check=True)
    assert online_bricks(daemon, "rb", 3)
    assert (f"volume remove-brick commit: failed: Brick {bricks[2]} is not decommissioned. "
            "Use start or force option" in fails(bricks[2], "commit"))
    assert ("volume remove-brick status: failed: remove-brick not started for volume rb."
            in fails(bricks[2], "status"))
    assert ("volume remove-brick start: failed: Deleting all the bricks of the volume is not "
            "allowed" in fails(*bricks, "start"))
    assert (f"Incorrect brick {daemon.address}:{tmp_path}/nope for volume rb"
            in fails(f"{daemon.address}:{tmp_path}/nope", "start"))

    daemon.cli("--mode=script", "volume", "remove-brick", "rb", bricks[2], "start", check=True)
    assert ("An earlier remove-brick task exists for volume rb. Either commit it or stop it "
            "before starting a new task." in fails(bricks[1], "start"))
    assert "Incorrect brick for volume rb" in fails(bricks[1], "status")
    out = daemon.cli("volume", "remove-brick", "rb", bricks[2], "stop", check=True).stdout
    assert "'remove-brick' process may be in the middle of a file migration." in out
    assert "There are no active volume tasks" in daemon.cli("volume", "status", "rb",
                                                            check=True).stdout
    assert wait_for(lambda: not any(pid_runs(p) for p in _rebalance_pids(daemon, "rb")), 30)
    assert "remove-brick not started for volume rb." in fails(bricks[2], "status")
    info = daemon.cli("volume", "info", "rb", check=True).stdout
    assert "Number of Bricks: 3" in info


def _rebalance_rows(daemon, volume: str) -> list[dict]:
    out = daemon.cli("--xml", "volume", "rebalance", volume, "status", check=True).stdout
    return [{child.tag: child.text for child in node}
            for node in ET.fromstring(out).findall(".//volRebalance/node")]


def test_rebalance_spreads_files_onto_an_added_brick(gluster_daemons, mounts, tmp_path):
    d1, d2 = gluster_daemons(2)
    d1.cli("peer", "probe", d2.address, check=True)
    first = [f"{d1.address}:{tmp_path}/a0", f"{d2.address}:{tmp_path}/a1"]
    d1.cli("volume", "create", "grow", *first, "force", check=True)
    d1.cli("volume", "start", "grow", check=True)
    assert online_bricks(d1, "grow", 2)
    point, _ = mounts("grow")
    for name in FILES:
        (point / name).write_bytes(name.encode() * 1000)
    d2.cli("volume", "add-brick", "grow", f"{d2.address}:{tmp_path}/a2", "force", check=True)
    assert online_bricks(d1, "grow", 3)
    assert _data_files(tmp_path / "a2") == []  # new bricks get nothing by themselves

    out = d2.cli("volume", "rebalance", "grow", "start", check=True).stdout
    assert "Rebalance on grow has been started successfully" in out and "ID: " in out

    def completed():
        rows = _rebalance_rows(d1, "grow")
        return rows if len(rows) == 2 and all(r["statusStr"] == "completed" for r in rows) else None
    rows = wait_for(completed, 120, interval=1.0)
    assert rows, _rebalance_rows(d1, "grow")
    assert {r["nodeName"] for r in rows} == {"localhost", d2.address}
    assert _data_files(tmp_path / "a2"), "nothing moved onto the added brick"
    # the mount's client reaches the added brick within its reconnect interval (~3 s)
    assert wait_for(lambda: sorted(os.listdir(point)) == FILES, 30), sorted(os.listdir(point))
    for name in FILES:
        assert (point / name).read_bytes() == name.encode() * 1000
    status = d1.cli("volume", "status", "grow", "tasks", check=True).stdout
    assert "Rebalance" in status and "completed" in status
    assert "volume rebalance: grow: success" in d2.cli("volume", "rebalance", "grow", "status",
                                                      check=True).stdout

    # fix-layout only: directory layouts rewritten, no file moved (GlusterFS 10's process
    # reports it "completed" like a full run)
    out = d1.cli("volume", "rebalance", "grow", "fix-layout", "start", check=True).stdout
    fix_id = out.split("ID: ")[1].strip()

    def fixed():
        doc = ET.fromstring(d1.cli("--xml", "volume", "rebalance", "grow", "status",
                                   check=True).stdout)
        states = {n.findtext("statusStr") for n in doc.findall(".//volRebalance/node")}
        return doc.findtext(".//volRebalance/task-id") == fix_id and states == {"completed"}
    assert wait_for(fixed, 60, interval=1.0), _rebalance_rows(d1, "grow")
