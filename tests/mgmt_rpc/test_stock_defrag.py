"""The defrag client and EVENT_NOTIFY against stock GlusterFS 10.3 processes.

Two setups, both on loopback with ports picked free (nothing binds 24007):

* a plain ``glusterfs`` with a dht xlator but no rebalance: what its ``--socket-file``
  answers to status/stop, a wrong xlator name and each credential flavour;
* a real remove-brick migration: two stock bricks, a stock rebalance process fetching
  ``rebalance/VOL`` from our server, progress read with :func:`defrag_command` while it
  runs, STOP, and the final EVENT_NOTIFY arriving at our backend.

Every process started here is stopped here, failures included.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gluster_mgmt.mgmt_rpc import defrag_client as dc
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
from gluster_mgmt.mgmt_rpc.gluster_dict import encode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import (
    AcceptStat,
    AuthFlavor,
    RejectStat,
    Reply,
    ReplyStat,
    decode_message,
    encode_call,
)
from gluster_mgmt.mgmt_rpc.server import PeerInfo
from gluster_mgmt.model import MigrationStatus
from gluster_mgmt.services.rebalance import RebalanceSpecs
from tests.helpers import accepts, free_port, log_tail, stop_process, wait_for
from tests.mgmt_rpc.wire import (
    V2_CRED,
    RecordingBackend,
    ServerThread,
    minimal_brick_volfile,
)

GLUSTERFS = "/usr/sbin/glusterfs"
GLUSTERFSD = "/usr/sbin/glusterfsd"
VOLUME = "dfv"
NODE_UUID = "8a5b7a4e-3c7e-4a59-9d0c-2f1e4b6d7a10"

pytestmark = [
    pytest.mark.gluster,
    pytest.mark.skipif(not os.path.exists(GLUSTERFS),
                       reason=f"{GLUSTERFS} not installed (GlusterFS 10 client package)"),
]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes (foreground, -N); all of them are stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([*argv, "-N"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        stop_process(proc)


def _wait_for_socket(path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    if not wait_for(lambda: path.exists() or proc.poll() is not None, 15):
        pytest.fail(f"no socket {path} after 15s:\n{log_tail(log)}")
    if not path.exists():
        pytest.fail(f"process exited ({proc.returncode}) without a socket:\n{log_tail(log)}")


def client_graph(volume: str, ports: list[int], bricks: list[str], dht_options: str = "") -> str:
    """dht named VOL-dht (the xlator glusterd addresses) over protocol/clients that skip
    portmap (remote-port given)."""
    clients = "".join(f"""volume {volume}-client-{i}
    type protocol/client
    option transport-type tcp
    option remote-host 127.0.0.1
    option remote-port {port}
    option remote-subvolume {brick}
end-volume

""" for i, (port, brick) in enumerate(zip(ports, bricks, strict=True)))
    names = " ".join(f"{volume}-client-{i}" for i in range(len(ports)))
    return clients + f"""volume {volume}-dht
    type cluster/distribute
{dht_options}    subvolumes {names}
end-volume
"""


# --- a plain glusterfs: dht without rebalance state ------------------------------------

@pytest.fixture
def plain_dht(tmp_path: Path, spawn) -> Path:
    """``glusterfs --volfile`` needs no mount point to serve its --socket-file; its
    protocol/clients point at ports nobody listens on, so it just keeps retrying."""
    volfile = tmp_path / "client.vol"
    volfile.write_text(client_graph(VOLUME, [free_port(), free_port()], ["/b0", "/b1"]))
    sock, log = tmp_path / "dht.sock", tmp_path / "glusterfs.log"
    proc = spawn(GLUSTERFS, f"--volfile={volfile}", f"--socket-file={sock}",
                 f"--pid-file={tmp_path / 'glusterfs.pid'}", "-l", str(log))
    _wait_for_socket(sock, proc, log)
    return sock


@pytest.mark.parametrize("command", [dc.DefragCommand.STATUS, dc.DefragCommand.STOP])
def test_no_rebalance_is_op_ret_minus_one_without_message(plain_dht: Path, command) -> None:
    # dht_notify returns -1 when it has no defrag state; glusterfsd sends that with an
    # empty output dict (4 bytes: count 0) and an empty op_errstr
    with pytest.raises(dc.DefragOpError, match="no error message") as caught:
        dc.defrag_command(str(plain_dht), VOLUME, command)
    err = caught.value
    assert (err.op_ret, err.op_errno, err.op_errstr, err.output) == (-1, 0, "", b"\0\0\0\0")


def test_wrong_xlator_name_gets_no_reply_at_all(plain_dht: Path) -> None:
    # glusterfs_handle_defrag formats "xlator NAME is not loaded" but returns 0 without
    # sending it, and rpcsvc replies only to actors returning -1: the caller times out
    with pytest.raises(dc.DefragTimeout):
        dc.defrag_command(str(plain_dht), "nosuchvol", dc.DefragCommand.STATUS, timeout=1.0)
    with pytest.raises(dc.DefragOpError):  # the process is fine and answers the next call
        dc.defrag_command(str(plain_dht), VOLUME, dc.DefragCommand.STATUS)


def _raw_call(path: Path, flavor: int, cred: bytes) -> Reply:
    args = pg.encode(pg.BrickOpRequest(f"{VOLUME}-dht", pg.BrickProc.XLATOR_DEFRAG,
                                       encode_dict({"rebalance-command": 3})))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(encode_record(encode_call(9, pg.Program.BRICK, 2,
                                               pg.BrickProc.XLATOR_DEFRAG, args,
                                               cred_flavor=flavor, cred_body=cred)))
        decoder = RecordDecoder()
        while True:
            data = sock.recv(65536)
            assert data, "closed without a reply"
            if records := decoder.feed(data):
                reply = decode_message(records[0])
                assert isinstance(reply, Reply) and reply.xid == 9
                return reply


@pytest.mark.parametrize(("flavor", "cred"), [
    (AuthFlavor.AUTH_GLUSTERFS_V2, V2_CRED),  # what glusterd's rpc_clnt sends
    (AuthFlavor.AUTH_NULL, b""),              # also enabled in glusterfsd's rpcsvc
])
def test_credentials_glusterfsd_accepts(plain_dht: Path, flavor: int, cred: bytes) -> None:
    reply = _raw_call(plain_dht, flavor, cred)
    assert (reply.reply_stat, reply.accept_stat) == (ReplyStat.MSG_ACCEPTED, AcceptStat.SUCCESS)
    assert pg.decode(pg.BrickOpReply, reply.body).op_ret == -1  # no rebalance, as above


def test_undecodable_credential_is_denied(plain_dht: Path) -> None:
    # AUTH_UNIX whose body is not an authunix_parms: MSG_DENIED/AUTH_ERROR, and glusterfsd
    # leaves auth_stat at 0 (AUTH_OK)
    reply = _raw_call(plain_dht, AuthFlavor.AUTH_UNIX, V2_CRED)
    assert (reply.reply_stat, reply.reject_stat, reply.auth_stat) == (
        ReplyStat.MSG_DENIED, RejectStat.AUTH_ERROR, 0)


# --- a real migration off a decommissioned brick ---------------------------------------

class NotifiedBackend(RecordingBackend):
    async def event_notify(self, op: int, items: dict[str, bytes], peer: PeerInfo) -> None:
        self._record("event_notify", op, items, peer)

    def reports(self) -> list[dict[str, bytes]]:
        return [c[2] for c in self.calls if c[0] == "event_notify"]


def put_file(brick: Path, name: str, data: bytes) -> None:
    """A file as a brick keeps it: gfid xattr plus its .glusterfs handle (dht cannot
    migrate a file written behind the brick's back without them)."""
    path = brick / name
    path.write_bytes(data)
    gfid = uuid.uuid4()
    os.setxattr(path, "trusted.gfid", gfid.bytes)
    handle = brick / ".glusterfs" / str(gfid)[:2] / str(gfid)[2:4]
    handle.mkdir(parents=True, exist_ok=True)
    os.link(path, handle / str(gfid))


def data_files(brick: Path) -> set[str]:
    return {p.name for p in brick.iterdir() if p.name != ".glusterfs"}


@pytest.fixture
def migration(tmp_path: Path, spawn) -> Iterator[Callable[[int], dict]]:
    """``start(n)``: two bricks, n files on brick 1 (decommissioned), our server serving
    ``rebalance/VOL``, and a rebalance process started as glusterd starts it for
    ``remove-brick start`` (-N added to keep it in the foreground)."""
    if os.geteuid() != 0:
        pytest.skip("stock bricks need root (storage/posix keeps trusted.* xattrs)")
    if not os.path.exists(GLUSTERFSD):
        pytest.skip(f"{GLUSTERFSD} not installed (GlusterFS 10 server package)")
    backend = NotifiedBackend()
    with ServerThread(backend) as server:
        def start(files: int) -> dict:
            bricks = [tmp_path / "b0", tmp_path / "b1"]
            ports = [free_port(), free_port()]
            for brick in bricks:
                brick.mkdir()
            # before the bricks start: posix_init creates .glusterfs/XX and fails on a race
            for k in range(files):
                put_file(bricks[1], f"f{k}", b"x" * 1000)
            for i, (brick, port) in enumerate(zip(bricks, ports, strict=True)):
                volfile = tmp_path / f"brick{i}.vol"
                volfile.write_text(minimal_brick_volfile(brick, port, VOLUME, NODE_UUID))
                spawn(GLUSTERFSD, "-f", str(volfile), "-p", str(tmp_path / f"brick{i}.pid"),
                      "-l", str(tmp_path / f"brick{i}.log"))
            backend.volfiles[f"rebalance/{VOLUME}"] = client_graph(
                VOLUME, ports, [str(b) for b in bricks],
                f"    option decommissioned-bricks {VOLUME}-client-1\n").encode()
            for i, port in enumerate(ports):
                assert wait_for(lambda p=port: accepts("127.0.0.1", p), 15), \
                    f"brick on {port} not up:\n{log_tail(tmp_path / f'brick{i}.log')}"
            # the daemon's own command line (services.rebalance), pointed at this server
            specs = RebalanceSpecs(str(tmp_path), str(tmp_path), server.port, GLUSTERFS)
            spec = specs.spec(VOLUME, NODE_UUID, "127.0.0.1")
            sock, log, argv = Path(specs.socket(VOLUME, NODE_UUID)), Path(spec.logfile), spec.argv
            os.makedirs(os.path.dirname(spec.pidfile))
            proc = spawn(*argv)
            _wait_for_socket(sock, proc, log)
            return {"sock": str(sock), "proc": proc, "log": log, "bricks": bricks,
                    "backend": backend}

        yield start


def _exits(run: dict, timeout: float = 60) -> None:
    proc: subprocess.Popen[bytes] = run["proc"]
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rebalance process still running after {timeout}s:\n"
                    f"{log_tail(run['log'])}")


def poll(sock: str) -> dict | None:
    """Parsed status, None while the process cannot say (graph not active yet: GARBAGE_ARGS;
    or gone: it exits right after its final report)."""
    try:
        return dc.parse_defrag_status(dc.defrag_command(sock, VOLUME, dc.DefragCommand.STATUS))
    except dc.DefragRpcError as exc:
        assert "GARBAGE_ARGS" in str(exc)
    except dc.DefragConnectionError:
        pass
    return None


def test_rebalance_progress_then_final_report(migration) -> None:
    run = migration(100)
    polls = []
    while run["proc"].poll() is None:
        if (status := poll(run["sock"])) is not None:
            polls.append(status)
        time.sleep(0.02)
    assert polls, f"not one status answered:\n{log_tail(run['log'])}"
    assert {p["status"] for p in polls} <= {MigrationStatus.NOT_STARTED,
                                            MigrationStatus.STARTED, MigrationStatus.COMPLETE}
    files = [p["files"] for p in polls]
    assert files == sorted(files) and files[-1] <= 100
    assert any(p["status"] == MigrationStatus.STARTED for p in polls)

    backend: NotifiedBackend = run["backend"]
    assert wait_for(backend.reports, 10), "no EVENT_NOTIFY from the rebalance process"
    (report,) = backend.reports()
    assert report["volname"] == f"rebalance/{VOLUME}\0".encode()
    final = dc.parse_defrag_status(report)
    assert final == {"status": MigrationStatus.COMPLETE, "files": 100, "size": 100_000,
                     "lookups": 100, "failures": 0, "skipped": 0, "run_time": final["run_time"],
                     "time_left": 0}, log_tail(run["log"])
    b0, b1 = run["bricks"]
    assert data_files(b0) == {f"f{k}" for k in range(100)} and data_files(b1) == set()


def test_stop_ends_a_running_rebalance(migration) -> None:
    run = migration(400)
    last: list[dict | None] = [None]

    def migrating() -> bool:
        last[0] = status = poll(run["sock"])
        return status is not None and status["status"] == MigrationStatus.STARTED \
            and status["files"] > 0

    # stop once files move, as an operator would
    assert wait_for(migrating, 30, 0.01), f"never migrating: {last[0]}\n{log_tail(run['log'])}"
    stopped = dc.parse_defrag_status(dc.defrag_command(run["sock"], VOLUME, dc.DefragCommand.STOP))
    assert stopped["status"] == MigrationStatus.STOPPED and 0 < stopped["files"] < 400
    _exits(run)  # a stopped rebalance process reports and exits by itself

    backend: NotifiedBackend = run["backend"]
    assert wait_for(backend.reports, 10), "no EVENT_NOTIFY from the rebalance process"
    final = dc.parse_defrag_status(backend.reports()[-1])
    # stock reports STOPPED, or FAILED when the crawler notices the stop in a spot where
    # its return code is still -1 (gf_defrag_process_dir): both are "not complete"
    assert final["status"] in (MigrationStatus.STOPPED, MigrationStatus.FAILED)
    assert stopped["files"] <= final["files"] < 400  # files in flight at STOP still finish
    b0, b1 = run["bricks"]
    assert data_files(b0) | data_files(b1) == {f"f{k}" for k in range(400)}
    assert len(data_files(b1)) >= 400 - final["files"]
