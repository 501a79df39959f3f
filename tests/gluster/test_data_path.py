"""Stock GlusterFS 10.3 against gluster_mgmt, no glusterd anywhere: `volume start` launches real
glusterfsd bricks that fetch their volfiles from the daemon and sign in their ports; the stock
FUSE client mounts, reads and writes, and picks up `volume set` live."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.services.supervisor import pid_runs
from tests.helpers import accepts, wait_for

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
    return wait_for(check, 60, interval=0.2)


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
    assert wait_for(lambda: not any(pid_runs(p) for p in pids), 30), \
        [open(f"/proc/{p}/stat").read() for p in pids if os.path.exists(f"/proc/{p}")]
    # and the daemon (their subreaper) collects them: no zombies left behind
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 10), \
        f"brick processes left unreaped: {[_status(p) for p in pids if os.path.exists(f'/proc/{p}')]}"
    assert not any(accepts("127.0.0.2", port) for port in ports)
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


def test_volume_set_on_any_peer_reaches_clients_of_every_daemon(gluster_daemons, mounts, tmp_path):
    d1, d2 = gluster_daemons(2)
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("volume", "create", "spread", f"{d1.address}:{tmp_path}/s1", f"{d2.address}:{tmp_path}/s2",
           "force", check=True)
    d1.cli("volume", "start", "spread", check=True)
    assert online_bricks(d2, "spread", 2), brick_status(d2, "spread")
    point, client_log = mounts("spread", host=d2.address)  # volfile and port lookups from d2 / d1
    for i in range(6):
        (point / f"f{i}").write_text(str(i))
    on_bricks = [p.name for b in ("s1", "s2") for p in (tmp_path / b).iterdir() if not p.name.startswith(".")]
    assert sorted(on_bricks) == [f"f{i}" for i in range(6)]
    d1.cli("volume", "set", "spread", "performance.quick-read", "off", check=True)  # on the other peer
    assert wait_for(lambda: "Volume file changed" in client_log.read_text(errors="replace"), 20)
    assert (point / "f3").read_text() == "3"


def test_daemon_restart_readopts_running_bricks(gluster_daemon, mounts, tmp_path):
    daemon = gluster_daemon
    daemon.cli("volume", "create", "keep", "replica", "3",
               *[f"{daemon.address}:{tmp_path}/k{i}" for i in range(3)], "force", check=True)
    daemon.cli("volume", "start", "keep", check=True)
    before = {(n["path"], n["pid"], n["port"]) for n in online_bricks(daemon, "keep", 3)}
    point, client_log = mounts("keep")
    (point / "a").write_text("a")
    daemon.stop()  # bricks keep serving without the daemon, as with glusterd
    assert all(os.path.exists(f"/proc/{pid}") for _, pid, _ in before)
    (point / "b").write_text("b")
    daemon.start()
    after = {(n["path"], n["pid"], n["port"]) for n in online_bricks(daemon, "keep", 3)}
    assert after == before  # re-adopted from their pidfiles: same processes, same ports
    daemon.cli("volume", "set", "keep", "performance.quick-read", "off", check=True)
    # the client's mgmt connection comes back to the new daemon and it takes the new graph
    # (notified, or re-fetched on reconnect: quick-read off changes the graph's shape)
    changed = ("Volume file changed", "switched to graph")
    assert wait_for(lambda: any(m in client_log.read_text(errors="replace") for m in changed), 30)
    assert (point / "b").read_text() == "b"


def _status(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            return " ".join(line.strip() for line in f if line.startswith(("Name", "State", "PPid")))
    except OSError:
        return f"{pid}: gone"


GFAPI_CLIENT = """
import ctypes, os, sys
api = ctypes.CDLL("libgfapi.so.0")
api.glfs_new.restype = ctypes.c_void_p
api.glfs_new.argtypes = [ctypes.c_char_p]
api.glfs_set_volfile_server.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
api.glfs_set_logging.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
api.glfs_init.argtypes = [ctypes.c_void_p]
api.glfs_get_volumeid.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
volume, host, log = sys.argv[1:4]
fs = api.glfs_new(volume.encode())
api.glfs_set_volfile_server(fs, b"tcp", host.encode(), 24007)
api.glfs_set_logging(fs, log.encode(), 7)
if api.glfs_init(fs) != 0:
    sys.exit("glfs_init failed")
uuid = ctypes.create_string_buffer(16)
size = api.glfs_get_volumeid(fs, uuid, 16)
print(size, uuid.raw.hex(), flush=True)
os._exit(0)  # as a short-lived tool would; the daemon sees the connection close
"""


def test_a_gfapi_client_gets_the_volume_id(gluster_daemon, tmp_path):
    """libgfapi (qemu, Samba, NFS-Ganesha) fetches the volfile like FUSE does, and asks the
    volume's UUID with HANDSHAKE GET_VOLUME_INFO (glfs_get_volumeid)."""
    daemon = gluster_daemon
    daemon.cli("volume", "create", "api", f"{daemon.address}:{tmp_path}/g0", "force", check=True)
    daemon.cli("volume", "start", "api", check=True)
    assert online_bricks(daemon, "api", 1)
    info = ET.fromstring(daemon.cli("--xml", "volume", "info", "api", check=True).stdout)
    volume_id = info.findtext(".//volume/id")
    log = tmp_path / "gfapi.log"
    result = subprocess.run([sys.executable, "-c", GFAPI_CLIENT, "api", daemon.address, str(log)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.stderr, log.read_text(errors="replace")[-3000:])
    assert result.stdout.split() == ["16", volume_id.replace("-", "")]
