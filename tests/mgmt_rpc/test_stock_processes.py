"""The real proof: stock GlusterFS 10.3 processes against our server on 127.0.0.1:24007.

A stock glusterfsd brick fetches its volfile and signs in; the stock FUSE client mounts,
finds the brick through PORTBYBRICK, and data written through the mount lands in the brick
directory; a volfile change plus notify makes the client re-fetch and reconfigure; SIGTERM
on the brick makes it sign out. Also: replica 3 (three bricks, data on all three) and an
unknown volfile (brick and mount exit instead of hanging). Everything started here is
stopped here, failures included.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, log_tail, stop_glusterd_here, wait_for
from tests.mgmt_rpc.wire import (
    GLUSTERD_PORT,
    RecordingBackend,
    ServerThread,
    minimal_brick_volfile,
)

GLUSTERFSD = "/usr/sbin/glusterfsd"
VOLUME = "mrv"

pytestmark = [
    pytest.mark.gluster,
    pytest.mark.skipif(not os.path.exists(GLUSTERFSD),
                       reason=f"{GLUSTERFSD} not installed (GlusterFS 10 server package)"),
]


def client_volfile(brick: Path, ping_timeout: int) -> bytes:
    """Distribute over one brick; ping-timeout makes the client PING us as stock ones do."""
    return f"""volume {VOLUME}-client-0
    type protocol/client
    option transport-type tcp
    option remote-host 127.0.0.1
    option remote-subvolume {brick}
    option ping-timeout {ping_timeout}
end-volume

volume {VOLUME}
    type cluster/distribute
    subvolumes {VOLUME}-client-0
end-volume
""".encode()


def replica3_client_volfile(volume: str, bricks: list[Path]) -> bytes:
    """Three protocol/clients under cluster/replicate (docs/protocol.md 9.3)."""
    clients = "".join(f"""volume {volume}-client-{i}
    type protocol/client
    option transport-type tcp
    option remote-host 127.0.0.1
    option remote-subvolume {brick}
    option ping-timeout 42
end-volume

""" for i, brick in enumerate(bricks))
    names = [f"{volume}-client-{i}" for i in range(len(bricks))]
    return (clients + f"""volume {volume}
    type cluster/replicate
    option afr-pending-xattr {",".join(names)}
    subvolumes {" ".join(names)}
end-volume
""").encode()


def brick_volfile_id(volume: str, brick: Path) -> str:
    """Stock form VOL.HOST.EXP (any key would do: we launch the bricks)."""
    return f"{volume}.127.0.0.1.{str(brick).lstrip('/').replace('/', '-')}"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stop_stock_glusterd() -> None:
    """A running glusterd owns 24007; the brief says stop it (by its pid)."""
    stop_glusterd_here(signal.SIGTERM)


def _fuse_client_pids(mountpoint: Path) -> list[int]:
    """Our FUSE client: a glusterfs process whose argv ends with our (unique) mountpoint."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        argv = [a for a in argv if a]
        if argv and os.path.basename(argv[0]) == b"glusterfs" and argv[-1] == bytes(mountpoint):
            pids.append(int(entry.name))
    return pids


def _is_mounted(mountpoint: Path) -> bool:
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == str(mountpoint) for line in mounts)


@pytest.fixture
def stock_setup(tmp_path: Path) -> Iterator[dict]:
    if os.geteuid() != 0:
        pytest.skip("bricks and FUSE mounts need root")
    _stop_stock_glusterd()
    if not wait_for(lambda: _port_free(GLUSTERD_PORT), 10, 0.2):
        pytest.fail(f"127.0.0.1:{GLUSTERD_PORT} is in use by something other than glusterd")
    brick = tmp_path / "brick"
    brick.mkdir()
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    brick_port = free_port()
    brick_id = brick_volfile_id(VOLUME, brick)
    backend = RecordingBackend(volfiles={
        VOLUME: client_volfile(brick, 42),
        brick_id: minimal_brick_volfile(brick, brick_port, VOLUME).encode(),
    })
    setup = {"tmp": tmp_path, "brick": brick, "mnt": mountpoint, "brick_port": brick_port,
             "brick_id": brick_id, "backend": backend, "procs": []}
    with ServerThread(backend, "127.0.0.1", GLUSTERD_PORT) as server:
        setup["server"] = server
        try:
            yield setup
        finally:
            if _is_mounted(mountpoint):
                subprocess.run(["umount", "-l", str(mountpoint)], check=False)
            for pid in _fuse_client_pids(mountpoint):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for proc in setup["procs"]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)


def _start_brick(setup: dict, foreground: bool = True, *, brick: Path | None = None,
                 port: int | None = None, volfile_id: str | None = None) -> subprocess.Popen:
    """glusterfsd as stock glusterd starts it; foreground (-N) so we own the brick's pid."""
    brick = brick or setup["brick"]
    tag = brick.name
    tmp: Path = setup["tmp"]
    argv = [GLUSTERFSD, *(["-N"] if foreground else []),
            "-s", "127.0.0.1", "--volfile-id", volfile_id or setup["brick_id"],
            "--brick-name", str(brick), "--brick-port", str(port or setup["brick_port"]),
            "-p", str(tmp / f"{tag}.pid"), "-l", str(tmp / f"{tag}.log"),
            "--process-name", "brick"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    setup["procs"].append(proc)
    return proc


def test_brick_and_fuse_client_work_against_our_server(stock_setup: dict) -> None:
    setup = stock_setup
    backend: RecordingBackend = setup["backend"]
    server: ServerThread = setup["server"]
    brick: Path = setup["brick"]
    mnt: Path = setup["mnt"]
    tmp: Path = setup["tmp"]
    brick_log = tmp / "brick.log"
    client_log = tmp / "client.log"

    # 1. brick: GETSPEC its volfile, then SIGNIN with the export name and --brick-port
    proc = _start_brick(setup)
    assert wait_for(lambda: str(brick) in backend.signed_in or proc.poll() is not None, 30), \
        log_tail(brick_log)
    assert proc.poll() is None, f"brick exited {proc.returncode}\n{log_tail(brick_log)}"
    signin = next(c for c in backend.calls if c[0] == "signin")
    assert signin[1:4] == (str(brick), setup["brick_port"], proc.pid)
    assert ("getspec", setup["brick_id"]) == backend.calls[0][:2]

    # 2. FUSE mount: GETSPEC /mrv, DUMP + PING + PORTBYBRICK, then I/O through the brick
    mounted = subprocess.run(
        ["mount", "-t", "glusterfs", "-o", f"log-file={client_log}",
         f"127.0.0.1:/{VOLUME}", str(mnt)],
        capture_output=True, text=True, timeout=60)
    assert mounted.returncode == 0, f"{mounted.stderr}\n{log_tail(client_log)}"
    assert _is_mounted(mnt)
    assert ("port_by_brick", str(brick)) in backend.calls
    payload = b"written through our mgmt server\n" * 100
    (mnt / "hello.txt").write_bytes(payload)
    assert (mnt / "hello.txt").read_bytes() == payload
    assert (brick / "hello.txt").read_bytes() == payload  # one brick: it must be there

    # 3. volfile change: notify -> FETCHSPEC -> the client (only) fetches again
    def client_fetches():
        return [c for c in backend.calls if c[0] == "getspec" and c[1] == f"/{VOLUME}"]
    before = len(client_fetches())
    backend.volfiles[VOLUME] = client_volfile(brick, 30)
    told = server.server.notify_threadsafe([VOLUME]).result(5)
    assert told == 1  # the brick fetched another id and is not told
    assert wait_for(lambda: len(client_fetches()) > before, 15), log_tail(client_log)
    assert wait_for(lambda: "Volume file changed" in client_log.read_text(errors="replace"), 10), \
        log_tail(client_log)
    # the new volfile really was applied in place (stock log line of rpc_clnt_reconfig)
    assert wait_for(lambda: "changing ping timeout to 30" in client_log.read_text(errors="replace"),
                    10), log_tail(client_log)
    assert (mnt / "hello.txt").read_bytes() == payload  # still serving after reconfigure

    # 4. unmount, then SIGTERM on the brick -> SIGNOUT
    subprocess.run(["umount", str(mnt)], check=True, timeout=30)
    proc.send_signal(signal.SIGTERM)
    assert wait_for(lambda: any(c[0] == "signout" for c in backend.calls), 20), \
        log_tail(brick_log)
    signout = next(c for c in backend.calls if c[0] == "signout")
    assert signout[1:3] == (str(brick), setup["brick_port"])
    assert str(brick) not in backend.signed_in
    proc.wait(20)


def test_unknown_volfile_makes_stock_processes_exit_not_hang(stock_setup: dict) -> None:
    """GETSPEC failure carries op_errno ENOENT: with 0 a brick or mount would hang forever."""
    setup = stock_setup
    setup["brick_id"] = "nosuchvol.127.0.0.1.nowhere"
    # daemonised, the parent exits with the child's status: op_errno of the failed GETSPEC
    proc = _start_brick(setup, foreground=False)
    assert proc.wait(30) == errno.ENOENT
    mounted = subprocess.run(
        ["mount", "-t", "glusterfs", "-o", f"log-file={setup['tmp'] / 'client.log'}",
         "127.0.0.1:/nosuchvol", str(setup["mnt"])],
        capture_output=True, text=True, timeout=60)
    assert mounted.returncode != 0
    # the client unmounts as it exits; mount.glusterfs may report the failure a moment before
    assert wait_for(lambda: not _is_mounted(setup["mnt"]), 10, 0.1), "the failed mount stayed"
    keys = [c[1] for c in setup["backend"].calls if c[0] == "getspec"]
    assert keys == ["nosuchvol.127.0.0.1.nowhere", "/nosuchvol"]


def test_replica3_writes_land_on_all_three_bricks(stock_setup: dict) -> None:
    """Three bricks sign in concurrently; AFR finds each through PORTBYBRICK."""
    setup = stock_setup
    backend: RecordingBackend = setup["backend"]
    tmp: Path = setup["tmp"]
    bricks = [tmp / f"r{i}" for i in range(1, 4)]
    procs = []
    for brick in bricks:
        brick.mkdir()
        port = free_port()
        volfile_id = brick_volfile_id("mrr", brick)
        backend.volfiles[volfile_id] = minimal_brick_volfile(brick, port, "mrr").encode()
        procs.append(_start_brick(setup, brick=brick, port=port, volfile_id=volfile_id))
    backend.volfiles["mrr"] = replica3_client_volfile("mrr", bricks)
    assert wait_for(lambda: all(str(b) in backend.signed_in for b in bricks), 30), \
        [log_tail(tmp / f"{b.name}.log", 10) for b in bricks]
    client_log = tmp / "client.log"
    mounted = subprocess.run(
        ["mount", "-t", "glusterfs", "-o", f"log-file={client_log}", "127.0.0.1:mrr",
         str(setup["mnt"])], capture_output=True, text=True, timeout=60)
    assert mounted.returncode == 0, f"{mounted.stderr}\n{log_tail(client_log)}"
    payload = b"three copies\n" * 1000
    (setup["mnt"] / "r.txt").write_bytes(payload)
    assert (setup["mnt"] / "r.txt").read_bytes() == payload
    for brick in bricks:
        assert (brick / "r.txt").read_bytes() == payload
    assert {c[1] for c in backend.calls if c[0] == "port_by_brick"} == {str(b) for b in bricks}
    subprocess.run(["umount", str(setup["mnt"])], check=True, timeout=30)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    assert wait_for(lambda: not backend.signed_in, 20), backend.signed_in
