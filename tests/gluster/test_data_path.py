"""Stock GlusterFS 10.3 against gluster_mgmt, no glusterd anywhere: `volume start` launches real
glusterfsd bricks that fetch their volfiles from the daemon and sign in their ports; the stock
FUSE client mounts, reads and writes, and picks up `volume set` live."""

from __future__ import annotations

import os
import signal
import socket
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import wait_for

pytestmark = pytest.mark.gluster

LAYOUTS = {
    "dist": ((), 2),
    "rep3": (("replica", "3"), 3),
    "arb": (("replica", "3", "arbiter", "1"), 3),
    "disp": (("disperse", "3", "redundancy", "1"), 3),
}


def brick_status(daemon, volume: str) -> list[dict]:
    out = daemon.cli("--xml", "volume", "status", volume, check=True).stdout
    nodes = ET.fromstring(out).findall(".//volStatus/volumes/volume/node")
    return [{child.tag: child.text for child in node} for node in nodes]


def online_bricks(daemon, volume: str, count: int):
    def check():
        bricks = [n for n in brick_status(daemon, volume) if n.get("path", "").startswith("/")]
        return bricks if len(bricks) == count and all(n["status"] == "1" for n in bricks) else None
    return wait_for(check, 60)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_volume_end_to_end(gluster_daemon, mounts, tmp_path, layout):
    daemon = gluster_daemon
    words, count = LAYOUTS[layout]
    bricks = [tmp_path / f"{layout}-b{i}" for i in range(count)]
    daemon.cli("volume", "create", layout, *words, *[f"127.0.0.2:{b}" for b in bricks], "force", check=True)
    daemon.cli("volume", "start", layout, check=True)
    status = online_bricks(daemon, layout, count)
    assert status, f"bricks not online: {brick_status(daemon, layout)}\n{daemon.log_tail()}"
    for node in status:
        assert int(node["port"]) >= 49152 and int(node["pid"]) > 0
        assert os.path.exists(f"/proc/{node['pid']}")
    for brick in bricks:
        assert os.getxattr(brick, "trusted.glusterfs.volume-id")
        assert (brick / ".glusterfs").is_dir()

    point, client_log = mounts(layout)
    names = [f"file{i}.txt" for i in range(12)]
    for name in names:
        (point / name).write_text(f"hello {name}\n")
    assert sorted(os.listdir(point)) == sorted(names)
    assert (point / "file3.txt").read_text() == "hello file3.txt\n"
    on_bricks = [sorted(p.name for p in b.iterdir() if not p.name.startswith(".")) for b in bricks]
    if layout == "dist":
        assert sorted(on_bricks[0] + on_bricks[1]) == sorted(names)
    elif layout == "rep3":
        assert on_bricks == [sorted(names)] * 3
        assert (bricks[2] / "file3.txt").read_text() == "hello file3.txt\n"
    elif layout == "arb":
        assert on_bricks == [sorted(names)] * 3
        assert (bricks[2] / "file3.txt").stat().st_size == 0  # the arbiter keeps no data
    else:
        assert all(b == sorted(names) for b in on_bricks)  # disperse: a fragment on each

    # `volume set` while mounted: FETCHSPEC, the client re-fetches and keeps working.
    daemon.cli("volume", "set", layout, "performance.quick-read", "off", check=True)
    assert wait_for(lambda: "Volume file changed" in client_log.read_text(errors="replace"), 20), \
        client_log.read_text(errors="replace")[-2000:]
    (point / "after-set.txt").write_text("still works\n")
    assert (point / "after-set.txt").read_text() == "still works\n"

    if layout in ("rep3", "arb"):
        # kill -9 a brick: the supervisor restarts it; the mount keeps working meanwhile.
        victim = int(status[0]["pid"])
        os.kill(victim, signal.SIGKILL)
        (point / "during-restart.txt").write_text("x\n")
        restarted = wait_for(lambda: (s := online_bricks(daemon, layout, count)) and
                             int(s[0]["pid"]) != victim and s, 60)
        assert restarted, brick_status(daemon, layout)
        assert (point / "during-restart.txt").read_text() == "x\n"

    # stop: every brick process ends and its port is released; start brings the mount back.
    running = online_bricks(daemon, layout, count)
    pids = [int(n["pid"]) for n in running]
    ports = [int(n["port"]) for n in running]
    daemon.cli("--mode=script", "volume", "stop", layout, check=True)
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 30)
    assert not any(_listening(port) for port in ports)
    stopped = daemon.cli("volume", "status", layout)
    assert stopped.returncode == 1 and f"Volume {layout} is not started" in stopped.stdout + stopped.stderr
    daemon.cli("volume", "start", layout, check=True)
    assert online_bricks(daemon, layout, count)
    assert wait_for(lambda: _readable(point / "file3.txt"), 60)


def _readable(path) -> bool:
    try:
        return path.read_text() == "hello file3.txt\n"
    except OSError:
        return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.2", port), timeout=1):
            return True
    except OSError:
        return False
