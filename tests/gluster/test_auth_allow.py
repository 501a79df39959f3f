"""`auth.allow` against a real FUSE client on another (network-namespaced) address.

The bricks accept a client that logs in with their `auth.login` credentials whatever
`auth.allow` says, so the daemon must hand those credentials (the trusted client volfile) only
to this host and its peers. Here the client sits in its own network namespace behind a veth
pair, so its source address is not one of this host's: it gets the plain volfile, and the
bricks' address check decides. Needs root and `ip netns` (CI runs as root); a missing
capability fails the test with the reason instead of skipping it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from gluster_mgmt.cli.client import Client
from gluster_mgmt.mgmt_rpc import programs as pg
from tests.conftest import API_PORT
from tests.daemon.cluster_fixture import DaemonProcess
from tests.helpers import REPO, child_env, wait_for
from tests.mgmt_rpc.wire import RpcClient

pytestmark = [pytest.mark.gluster, pytest.mark.netns]

VOLUME = "authvol"


@attrs.frozen
class Netns:
    """A network namespace joined to this host by a veth pair on a private /30."""

    name: str
    host_if: str
    host_addr: str  # on this host's side: the daemon listens here
    client_addr: str  # inside the namespace: the client's source address

    def run(self, *argv: str, timeout: float = 90, **kwargs) -> subprocess.CompletedProcess:
        """``argv`` in the namespace's network but this test's mount namespace, so a FUSE
        mount made there is visible (and unmountable) here."""
        return subprocess.run(["nsenter", f"--net=/var/run/netns/{self.name}", *argv],
                              capture_output=True, text=True, timeout=timeout, **kwargs)


def _ip(*argv: str) -> None:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {result.stderr.strip()}")


def _used_addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout


def _remove_netns(ns: Netns) -> None:
    """Kill what still runs in the namespace (the FUSE client this test started), then drop
    the veth pair (both ends go together) and the namespace."""
    pids = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True)
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A fresh namespace with 10.213.X.Y/30 on both veth ends; removed even on failure."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root: it creates a network namespace and a veth pair")
    for tool in ("ip", "nsenter", "mount.glusterfs"):
        if shutil.which(tool) is None:
            pytest.fail(f"this test needs {tool} (iproute2, util-linux, glusterfs-client)")
    tag = uuid.uuid4().hex[:8]
    used = _used_addresses()
    while True:
        base = f"10.213.{random.randrange(256)}.{random.randrange(64) * 4}"
        prefix = base.rsplit(".", 1)[0]
        last = int(base.rsplit(".", 1)[1])
        host_addr, client_addr = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
        if f" {host_addr}/" not in used and f" {client_addr}/" not in used:
            break
    ns = Netns(f"gmtest-{tag}", f"gmh{tag}", host_addr, client_addr)
    ns_if = f"gmn{tag}"
    try:
        _ip("netns", "add", ns.name)
        _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns.name)
        _ip("addr", "add", f"{host_addr}/30", "dev", ns.host_if)
        _ip("link", "set", ns.host_if, "up")
        _ip("-n", ns.name, "addr", "add", f"{client_addr}/30", "dev", ns_if)
        _ip("-n", ns.name, "link", "set", ns_if, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
    except RuntimeError as exc:
        _remove_netns(ns)
        pytest.fail(f"cannot create the network namespace this test needs: {exc}")
    try:
        yield ns
    finally:
        _remove_netns(ns)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A short directory for the daemon and bricks: glusterfsd's unix socket path under
    pytest's long tmp_path would exceed the 108 bytes a sockaddr_un holds."""
    path = Path(tempfile.mkdtemp(prefix="gmauth-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def veth_daemon(netns: Netns, store_server, lease_ttl, workdir) -> Iterator[DaemonProcess]:
    """One gluster-mgmtd listening on the host side of the veth (mgmt 24007, REST 24012),
    so the namespace can reach it; stopped with its bricks afterwards."""
    if shutil.which("glusterfsd") is None:
        pytest.fail("this test needs Debian's glusterfs-server (scripts/install-deps.sh)")
    daemon = DaemonProcess(workdir, netns.host_addr, store_server.url(f"a{uuid.uuid4().hex[:10]}"),
                           API_PORT, lease_ttl)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop_all()


@pytest.fixture
def ns_mounts(netns: Netns, tmp_path) -> Iterator:
    """mount(volume, host) -> CompletedProcess of `mount -t glusterfs` run in the namespace;
    every mount point is unmounted afterwards (the namespace's cleanup kills the client)."""
    points: list[Path] = []

    def mount(volume: str, host: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
        point = tmp_path / f"nsmnt-{len(points)}"
        point.mkdir()
        log = tmp_path / f"nsclient-{len(points)}.log"
        points.append(point)
        result = netns.run("mount", "-t", "glusterfs", "-o", f"log-file={log}",
                           f"{host}:/{volume}", str(point))
        return result, point, log

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def create_volume(daemon: DaemonProcess, allow: str) -> Path:
    brick = daemon.workdir / "brick0"
    daemon.cli("volume", "create", VOLUME, f"{daemon.address}:{brick}", "force", check=True)
    daemon.cli("volume", "set", VOLUME, "auth.allow", allow, check=True)
    daemon.cli("volume", "start", VOLUME, check=True)
    return brick


_GETSPEC_SCRIPT = """
import json, sys
from gluster_mgmt.cli.client import Client
from gluster_mgmt.mgmt_rpc import programs as pg
from tests.mgmt_rpc.wire import RpcClient
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with RpcClient(port, host=host, timeout=10) as client:
    reply = client.call(pg.Program.HANDSHAKE, 2, pg.HandshakeProc.GETSPEC,
                        pg.encode(pg.GetspecRequest(key, 1)))
rsp = pg.decode(pg.GetspecReply, reply.body)
print(json.dumps({"op_ret": rsp.op_ret, "op_errno": rsp.op_errno,
                  "spec": rsp.spec.decode(errors="replace")}))
"""


def brick_volfile_id(daemon: DaemonProcess) -> str:
    return f"{VOLUME}.{daemon.address}.{str(daemon.workdir / 'brick0').strip('/').replace('/', '-')}"


def getspec_from_ns(netns: Netns, host: str, key: str) -> pg.GetspecReply:
    """GETSPEC over TCP from inside the namespace (source address ``netns.client_addr``)."""
    result = netns.run(sys.executable, "-c", _GETSPEC_SCRIPT, host, "24007", key,
                       env=child_env(), cwd=REPO, timeout=30)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    return pg.GetspecReply(reply["op_ret"], reply["op_errno"], reply["spec"].encode())


def getspec_here(host: str, key: str) -> pg.GetspecReply:
    """GETSPEC from this host (the source address is the local one the route picks)."""
    with RpcClient(24007, host=host, timeout=10) as client:
        reply = client.call(pg.Program.HANDSHAKE, 2, pg.HandshakeProc.GETSPEC,
                            pg.encode(pg.GetspecRequest(key, 1)))
    return pg.decode(pg.GetspecReply, reply.body)


def wait_brick_online(daemon: DaemonProcess, brick: Path) -> None:
    def online() -> bool:
        out = daemon.cli("--xml", "volume", "status", VOLUME).stdout
        nodes = ET.fromstring(out).findall(".//volStatus/volumes/volume/node") if out else []
        return any(n.findtext("path") == str(brick) and n.findtext("status") == "1"
                   for n in nodes)
    assert wait_for(online, 60, 0.3), f"brick not online\n{daemon.log_tail()}"


def credentials(daemon: DaemonProcess) -> tuple[str, str]:
    """The bricks' username and password, from the trusted volfile this host may fetch."""
    spec = getspec_here(daemon.address, VOLUME).spec.decode()
    options = dict(line.split()[1:3] for line in spec.splitlines()
                   if line.strip().startswith("option ") and len(line.split()) >= 3)
    return options["username"], options["password"]


def test_getspec_from_a_non_local_address_has_no_credentials(netns, veth_daemon):
    """Protocol level: the same keys give this host the trusted volfile and the namespace
    the plain one; the volfiles holding credentials are not served there at all."""
    daemon = veth_daemon
    create_volume(daemon, netns.client_addr)
    username, password = credentials(daemon)
    for key in (VOLUME, f"/{VOLUME}", f"{VOLUME}.tcp"):
        local = getspec_here(daemon.address, key)
        assert local.op_ret > 0 and password.encode() in local.spec, key
        remote = getspec_from_ns(netns, daemon.address, key)
        assert remote.op_ret == len(remote.spec) > 0, (key, remote)
        text = remote.spec.decode()
        assert "password" not in text and password not in text and username not in text, key
        assert "type protocol/client" in text and f"remote-host {daemon.address}" in text
    brick_id = brick_volfile_id(daemon)
    assert getspec_here(daemon.address, brick_id).op_ret > 0
    for key in (brick_id, f"rebalance/{VOLUME}", f"shd/{VOLUME}"):
        remote = getspec_from_ns(netns, daemon.address, key)
        assert remote.op_ret == -1 and remote.op_errno != 0, (key, remote)
    log = daemon.log_path.read_text(errors="replace")
    assert password not in log
    assert "refused" in log  # the brick volfile asked from the namespace


def test_client_outside_auth_allow_is_refused(netns, veth_daemon, ns_mounts):
    """auth.allow names another address: the client from the namespace gets no access."""
    daemon = veth_daemon
    brick = create_volume(daemon, "10.213.255.254")
    wait_brick_online(daemon, brick)
    _, password = credentials(daemon)
    result, point, log = ns_mounts(VOLUME, daemon.address)
    if result.returncode == 0 and os.path.ismount(point):
        # mount.glusterfs may report success before the client learns the brick refused
        # it (the client then unmounts itself, and a write would land in the bare
        # directory): whatever the write answers, nothing may reach the brick
        subprocess.run(["sh", "-c", f"echo x > {point}/intruder.txt"],
                       capture_output=True, text=True, timeout=60)
    assert not (brick / "intruder.txt").exists(), "a client outside auth.allow wrote to the volume"
    client_log = log.read_text(errors="replace") if log.exists() else ""
    assert "AUTH_FAILED" in client_log or "Authentication failed" in client_log, \
        client_log[-3000:]
    assert password not in client_log


def test_client_inside_auth_allow_mounts_and_writes(netns, veth_daemon, ns_mounts):
    """auth.allow names the namespace's address: the plain volfile is enough to mount."""
    daemon = veth_daemon
    brick = create_volume(daemon, f"10.213.255.254,{netns.client_addr}")
    wait_brick_online(daemon, brick)
    _, password = credentials(daemon)
    result, point, log = ns_mounts(VOLUME, daemon.address)
    client_log = log.read_text(errors="replace") if log.exists() else ""
    assert result.returncode == 0, f"{result.stderr}\n{client_log[-3000:]}"
    (point / "hello.txt").write_text("from the namespace\n")
    assert (brick / "hello.txt").read_text() == "from the namespace\n"
    assert password not in log.read_text(errors="replace")
    assert password not in daemon.log_path.read_text(errors="replace")


@pytest.mark.parametrize("key", ["auth.allow", "user.xlator.evil"])
def test_injected_option_line_never_reaches_a_volfile(netns, veth_daemon, key):
    """Whatever `volume set` accepts (sent as the REST API takes it: the gluster CLI's
    parser would already strip the newline of auth.allow), no volfile gets an extra line;
    once the value is fixed the daemon serves the volume's volfiles again."""
    daemon = veth_daemon
    create_volume(daemon, netns.client_addr)
    brick_id = brick_volfile_id(daemon)
    with Client(str(daemon.socket)) as api:
        answer = api.call("volume/set", {"name": VOLUME, "options": [
            [key, f"{netns.client_addr}\noption evil yes"]]})
    if answer.ok:  # stored: once the daemon's watch has it, volgen refuses to write it
        assert wait_for(lambda: getspec_here(daemon.address, brick_id).op_ret == -1, 10), \
            daemon.log_tail()
    replies = {k: getspec_here(daemon.address, k) for k in (brick_id, VOLUME)}
    replies["from the namespace"] = getspec_from_ns(netns, daemon.address, VOLUME)
    for name, reply in replies.items():
        lines = [line.split() for line in reply.spec.decode(errors="replace").splitlines()]
        assert ["option", "evil", "yes"] not in lines, (name, answer)
        if answer.ok:  # stored: volgen is what refuses it
            assert reply.op_ret == -1 and reply.op_errno != 0, (name, answer)
    if answer.ok:
        assert repr(key) in daemon.log_path.read_text(errors="replace")
        daemon.cli("volume", "set", VOLUME, key, netns.client_addr, check=True)
    assert wait_for(lambda: getspec_here(daemon.address, brick_id).op_ret > 0, 10)
    assert getspec_here(daemon.address, VOLUME).op_ret > 0


def test_trust_rule_local_and_peer_addresses(netns, store):
    """The rule itself, on this host's real addresses and a real store: the veth's host side
    is local, the namespace's address is not, until a peer record names it."""
    import asyncio

    from gluster_mgmt.daemon.mgmt_backend import StoreMgmtBackend
    from gluster_mgmt.membership.peers import Peers
    from gluster_mgmt.store.keys import ClusterKeys

    keys = ClusterKeys.for_cluster(uuid.uuid4().hex)
    backend = StoreMgmtBackend(store, keys, "self", None, None)  # type: ignore[arg-type]
    trusted = lambda host: asyncio.run(backend.is_trusted(host))  # noqa: E731
    assert trusted("") and trusted("127.0.0.1") and trusted("::1")
    assert trusted(netns.host_addr) and trusted(f"::ffff:{netns.host_addr}")
    assert not trusted(netns.client_addr)
    assert not trusted("not-an-address")
    Peers(store, keys, "self").register("other", (netns.client_addr,))
    assert trusted(netns.client_addr)


_SIGNIN_SCRIPT = """
import json, sys
from gluster_mgmt.mgmt_rpc import programs as pg
from tests.mgmt_rpc.wire import RpcClient
host, brick, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
with RpcClient(24007, host=host, timeout=10) as client:
    reply = client.call(pg.Program.PORTMAP, 1, pg.PortmapProc.SIGNIN,
                        pg.encode(pg.SigninRequest(brick, port, 4242)))
rsp = pg.decode(pg.SigninReply, reply.body)
print(json.dumps([rsp.op_ret, rsp.op_errno]))
"""


def port_by_brick_here(host: str, brick: str) -> int:
    with RpcClient(24007, host=host, timeout=10) as client:
        reply = client.call(pg.Program.PORTMAP, 1, pg.PortmapProc.PORTBYBRICK,
                            pg.encode(pg.PortByBrickRequest(brick)))
    rsp = pg.decode(pg.PortByBrickReply, reply.body)
    return rsp.port if rsp.op_ret == 0 else -1


def test_portmap_signin_only_from_this_host(netns, veth_daemon):
    """Bricks run here: a SIGNIN from another address (which would point clients of a
    brick at a port of the sender's choosing) is refused with EPERM and changes nothing."""
    import errno

    daemon = veth_daemon
    brick = str(daemon.workdir / "brick0")
    result = netns.run(sys.executable, "-c", _SIGNIN_SCRIPT, daemon.address, brick, "49999",
                       env=child_env(), cwd=REPO, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [-1, errno.EPERM]
    assert port_by_brick_here(daemon.address, brick) == -1
    assert "SIGNIN from " + netns.client_addr in daemon.log_path.read_text(errors="replace")
    with RpcClient(24007, host=daemon.address, timeout=10) as client:  # from this host: taken
        reply = client.call(pg.Program.PORTMAP, 1, pg.PortmapProc.SIGNIN,
                            pg.encode(pg.SigninRequest(brick, 49999, os.getpid())))
        assert pg.decode(pg.SigninReply, reply.body).op_ret == 0
        assert port_by_brick_here(daemon.address, brick) == 49999
    # the signing connection closed: its entry goes, as a SIGKILLed brick's does
    assert wait_for(lambda: port_by_brick_here(daemon.address, brick) == -1, 10)
