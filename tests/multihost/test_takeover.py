"""Takeover of a running three-host glusterd 10.3 cluster node by node, and hand-back node by
node (issue 14), with FUSE clients writing and reading a file a second throughout.

Three hosts of the harness (network namespaces on a bridge), each with a mount namespace of
its own (tests/multihost/glusterd_hosts.py) where stock glusterd runs on the host's
/var/lib/glusterd and /run; a replica-3 and a distribute volume over the three, started,
mounted from the root namespace. Then, host by host: glusterd stopped, gluster-mgmtd started
in its place on a 3-member etcd cluster (one member per host; the first host imports, the
others join by probe). Then back, host by host: ``gluster-mgmt export /var/lib/glusterd``,
gluster-mgmtd stopped, glusterd started. At each step: no client error, the same brick and
self-heal pids (glusterd restarts self-heal daemons: checked apart); at the end of each
direction: ``volume info --xml`` through the stock CLI as before, a ``volume set`` reaches the
client (a new graph in its log), a new mount works. Half-way each way, a change is refused on
both sides (glusterd: "Locking failed on HOST"). A volume created under gluster-mgmtd keeps
its bricks through the hand-back, online to glusterd; ``volume heal`` under gluster-mgmtd
reaches the self-heal daemons glusterd started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.daemon.cluster_fixture import DaemonProcess
from tests.gluster.test_handback import _options_flipped
from tests.helpers import child_env, wait_for
from tests.multihost.conftest import API_PORT, LEASE_TTL, _quietly
from tests.multihost.glusterd_hosts import GLUSTERD_DIR, GlusterHost
from tests.multihost.harness import Network
from tests.servers import StoreServer, start_cluster

pytestmark = pytest.mark.multihost

BACKEND = "etcd"
REPLICA = "rep3"
DISTRIBUTE = "dist3"
VOLUMES = (REPLICA, DISTRIBUTE)
#: Created and started under gluster-mgmtd: glusterd handed the node back adopts its bricks.
LATE = "late3"
RUN_DIR = "/var/run/gluster"  # glusterd's: its socket names are hashes of paths under it
NEW_GRAPH = "switched to graph"


def _etcd_selected() -> bool:
    chosen = os.environ.get("GLUSTER_MGMT_BACKENDS")
    return not chosen or BACKEND in [n.strip() for n in chosen.split(",")]


@attrs.define
class Writer:
    """A thread that writes a file a second in each mount and reads it back, noting every
    failure (an exception or other content)."""

    mounts: list[Path]
    done: int = 0
    errors: list[str] = attrs.field(factory=list)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while not self._stop.wait(1.0):
            index += 1
            for mount in self.mounts:
                path, text = mount / f"f{index % 20}", f"write {index}\n"
                try:
                    path.write_text(text)
                    if path.read_text() != text:
                        self.errors.append(f"{path}: read back other content")
                except OSError as exc:
                    self.errors.append(f"{path}: {exc}")
            self.done = index

    def progressed(self, since: int) -> bool:
        return self.done >= since + 2

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


@attrs.define
class Cluster:
    """The three glusterd hosts, the store, the daemons that take over, the client."""

    workdir: Path
    network: Network
    hosts: list[GlusterHost] = attrs.field(factory=list)
    servers: list[StoreServer] = attrs.field(factory=list)
    daemons: dict[int, DaemonProcess] = attrs.field(factory=dict)
    mounts: list[Path] = attrs.field(factory=list)
    client_logs: list[Path] = attrs.field(factory=list)

    def mgmt_cli(self, index: int, *args: str) -> subprocess.CompletedProcess:
        """`gluster-mgmt` run on host ``index`` (paths it names are that host's)."""
        host, daemon = self.hosts[index], self.daemons[index]
        result = subprocess.run([*host.enter, sys.executable, "-m", "gluster_mgmt.cli.main",
                                 "--socket", str(daemon.socket), *args],
                                capture_output=True, text=True, env=child_env(), timeout=120)
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}\n{daemon.log_tail()}"
        return result

    def stock(self, index: int, *args: str) -> str:
        """The stock CLI on host ``index``, against whichever daemon runs there."""
        daemon = self.daemons.get(index)
        result = self.hosts[index].gluster(*args, socket=daemon.glusterd_socket if daemon else None)
        assert result.returncode == 0, f"gluster {args} on host {index}: {result.stdout}{result.stderr}"
        return result.stdout

    def info_xml(self) -> str:
        return self.stock(0, "volume", "info", "--xml")

    def pids(self) -> dict[str, dict[str, str]]:
        return {h.host.address: h.service_pids() for h in self.hosts}

    def graphs(self) -> int:
        return sum(log.read_text(errors="replace").count(NEW_GRAPH) for log in self.client_logs)

    def teardown(self) -> None:
        for point in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
        for daemon in self.daemons.values():
            _quietly(daemon.stop)
        for host in self.hosts:
            _quietly(host.stop_glusterd)
            _quietly(host.kill_services)
        for server in self.servers:
            _quietly(server.kill)


def _bricks_online(cluster: Cluster, index: int, volume: str) -> bool:
    out = cluster.hosts[index].gluster("volume", "status", volume, "--xml",
                                       socket=cluster.daemons[index].glusterd_socket
                                       if index in cluster.daemons else None).stdout
    try:
        nodes = ET.fromstring(out).findall(".//volStatus/volumes/volume/node")
    except ET.ParseError:
        return False
    bricks = [n for n in nodes if (n.findtext("path") or "").startswith("/")]
    return len(bricks) == 3 and all(n.findtext("status") == "1" for n in bricks)


def _peers_connected(cluster: Cluster, index: int) -> bool:
    result = cluster.hosts[index].gluster("peer", "status")
    return result.stdout.count("Peer in Cluster (Connected)") == 2


@pytest.fixture
def glusterd_cluster(network: Network, tmp_path: Path) -> Iterator[Cluster]:
    """Three hosts running glusterd 10.3, peers of one pool, both volumes started and
    mounted; the etcd members are up, no gluster-mgmtd yet."""
    for tool in ("glusterd", "glusterfsd", "mount.glusterfs", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (scripts/install-deps.sh)")
    if not _etcd_selected():
        pytest.skip("takeover across hosts runs on etcd")
    cluster = Cluster(tmp_path, network)
    try:
        for host in network.hosts:
            cluster.hosts.append(GlusterHost(host, tmp_path / f"host{host.index}").create())
        cluster.servers = start_cluster(BACKEND, tmp_path / "store",
                                        [(h.address, h.netns) for h in network.hosts])
        for host in cluster.hosts:
            host.start_glusterd()
        for host in network.hosts[1:]:
            cluster.stock(0, "peer", "probe", host.address)
        for index in range(3):
            assert wait_for(lambda: _peers_connected(cluster, index), 60, 0.5)
        for volume, layout in ((REPLICA, ["replica", "3"]), (DISTRIBUTE, [])):
            for h in network.hosts:
                (tmp_path / f"bricks-{h.index}").mkdir(exist_ok=True)
            cluster.stock(0, "volume", "create", volume, *layout, *_brick_names(cluster, volume), "force")
            cluster.stock(0, "volume", "start", volume)
            assert wait_for(lambda: _bricks_online(cluster, 0, volume), 90, 0.5)
        for volume in VOLUMES:
            point, log = tmp_path / f"mnt-{volume}", tmp_path / f"client-{volume}.log"
            point.mkdir()
            result = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}",
                                     f"{network.hosts[0].address}:/{volume}", str(point)],
                                    capture_output=True, text=True, timeout=90)
            assert result.returncode == 0, f"mount: {result.stderr}"
            cluster.mounts.append(point)
            cluster.client_logs.append(log)
        yield cluster
    finally:
        cluster.teardown()


def _brick_names(cluster: Cluster, volume: str) -> list[str]:
    return [f"{h.address}:{cluster.workdir / f'bricks-{h.index}' / volume}" for h in cluster.network.hosts]


def _a_new_mount_sees_the_files(cluster: Cluster, volume: str, index: int) -> None:
    """Mounting through host ``index`` works (its daemon serves the volfile, the portmap has
    every brick's port) and lists what the writer wrote."""
    point = cluster.workdir / f"mnt-new-{volume}-{index}"
    point.mkdir()
    log = cluster.workdir / f"client-new-{volume}-{index}.log"
    cluster.mounts.append(point)
    result = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}",
                             f"{cluster.hosts[index].host.address}:/{volume}", str(point)],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, f"mount: {result.stderr}{log.read_text(errors='replace')[-2000:]}"
    assert any(point.iterdir())
    subprocess.run(["umount", str(point)], capture_output=True, timeout=60)
    cluster.mounts.remove(point)


def _glusterd_refuses_changes(cluster: Cluster, on_glusterd: int, on_mgmtd: list[int]) -> None:
    """While the cluster is half taken over, glusterd fails a change at its first step (the
    nodes on gluster-mgmtd, connected peers to it, refuse glusterd's lock) and gluster-mgmtd
    refuses it too, naming the nodes still on glusterd."""
    connected = wait_for(lambda: _peers_connected(cluster, on_glusterd), 30, 0.5)
    assert connected, cluster.hosts[on_glusterd].gluster("peer", "status").stdout
    change = ("volume", "set", REPLICA, "performance.quick-read", "off")
    result = cluster.hosts[on_glusterd].gluster(*change)
    assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
    lines = result.stderr.removeprefix("volume set: failed: ").splitlines()
    assert sorted(lines) == sorted(f"Locking failed on {cluster.hosts[i].host.address}. Please check "
                                   "log file for details." for i in on_mgmtd), result.stderr
    if on_mgmtd == [0]:  # the store knows nodes still to be taken over (not after hand-back)
        ours = cluster.hosts[0].gluster(*change, socket=cluster.daemons[0].glusterd_socket)
        assert ours.returncode == 1 and "taking over from glusterd" in ours.stderr, ours.stderr
    assert "quick-read" not in cluster.stock(on_glusterd, "volume", "info", REPLICA)


def _volume_set_reaches_the_client(cluster: Cluster, set_option) -> None:
    graphs = cluster.graphs()
    set_option()
    assert wait_for(lambda: cluster.graphs() > graphs, 60, 0.5), \
        "\n".join(log.read_text(errors="replace")[-2000:] for log in cluster.client_logs)


def _same_but_option_order(xml: str, before: str) -> None:
    """glusterd lists a volume's options in reverse order after any glusterd restart (it
    reads vols/VOL/info into a dictionary that puts each new key first)."""
    now, then = _options_flipped(xml), _options_flipped(before)
    assert now[0] == then[0]
    assert [sorted(options) for options in now[1]] == [sorted(options) for options in then[1]]


def test_takeover_and_hand_back_host_by_host_with_clients_writing(glusterd_cluster: Cluster) -> None:
    cluster = glusterd_cluster
    writer = Writer(cluster.mounts)
    writer.start()
    try:
        _takeover_and_hand_back(cluster, writer)
    finally:
        writer.stop()
    assert writer.errors == [] and writer.done > 10


def _steady(cluster: Cluster, writer: Writer, pids: dict, step: str, *, bricks_only: bool = False) -> None:
    """After a step: the client went on writing without an error, no process restarted (no
    brick, with ``bricks_only``: glusterd restarts the self-heal daemon whenever it starts)."""
    done = writer.done
    assert wait_for(lambda: writer.progressed(done), 30, 0.2), f"{step}: the writer is stuck"
    assert writer.errors == [], f"{step}: {writer.errors}"
    now = cluster.pids()
    if bricks_only:
        now, pids = (_brick_pids(p) for p in (now, pids))
    assert now == pids, f"{step}: brick or self-heal processes restarted"


def _brick_pids(pids: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {host: {f: pid for f, pid in files.items() if f.startswith("vols/")}
            for host, files in pids.items()}


def _self_heal_daemons_restarted_by_glusterd(cluster: Cluster, pids: dict[str, dict[str, str]]) -> None:
    """glusterd 10.3 stops a running self-heal daemon it did not start itself (it finds the
    pid in the pidfile but no process record of its own: a stale pidfile to it) and starts
    its own, one process for every volume (multiplexed); so it does after any glusterd
    restart. Each host then runs that one, no old one is left, and it answers `volume heal`."""
    for host in cluster.hosts:
        old = {pid for f, pid in pids[host.host.address].items() if f.startswith("shd/")}

        def settled() -> bool:
            running = host.processes("glustershd")
            return len(running) == 1 and not running & old
        assert wait_for(settled, 60, 0.5), (host.host.address, host.processes("glustershd"), old)
    # (each glusterd counts its daemon running once it has connected to it)
    healed = wait_for(lambda: cluster.hosts[0].gluster("volume", "heal", REPLICA).returncode == 0, 60, 1)
    assert healed, cluster.hosts[0].gluster("volume", "heal", REPLICA).stdout


def _takeover_and_hand_back(cluster: Cluster, writer: Writer) -> None:
    before = cluster.info_xml()
    assert wait_for(lambda: writer.done >= 3, 30, 0.2)
    pids = cluster.pids()
    assert all(len(p) == 3 for p in pids.values()), pids  # two bricks and a self-heal daemon
    root = f"take{uuid.uuid4().hex[:8]}"

    # ---------------------------------------------------------------- takeover, host by host
    for index, host in enumerate(cluster.hosts):
        host.stop_glusterd()
        daemon = DaemonProcess(cluster.workdir, host.host.address,
                               cluster.servers[index].url(root), API_PORT, LEASE_TTL,
                               glusterd_dir=GLUSTERD_DIR, wrapper=tuple(host.enter),
                               extra_args=("--run-dir", RUN_DIR))
        cluster.daemons[index] = daemon
        daemon.start()
        if index == 0:
            cluster.mgmt_cli(0, "import", str(GLUSTERD_DIR))
            _glusterd_refuses_changes(cluster, 1, [0])
        else:
            cluster.mgmt_cli(0, "peer", "probe", host.host.address)
        _steady(cluster, writer, pids, f"takeover of host {index}")
    for volume in VOLUMES:
        for index in range(3):
            assert wait_for(lambda: _bricks_online(cluster, index, volume), 60, 0.5), \
                cluster.daemons[index].log_tail()
    for index in range(3):
        assert cluster.stock(index, "volume", "info", "--xml") == before
    _volume_set_reaches_the_client(
        cluster, lambda: cluster.mgmt_cli(0, "volume", "set", REPLICA, "performance.write-behind", "off"))
    _steady(cluster, writer, pids, "volume set under gluster-mgmtd")
    _a_new_mount_sees_the_files(cluster, REPLICA, 1)
    # the self-heal daemons glusterd started answer `volume heal` (their sockets' names)
    assert "has been successful" in cluster.stock(0, "volume", "heal", REPLICA)
    cluster.stock(0, "volume", "create", LATE, "replica", "3", *_brick_names(cluster, LATE), "force")
    cluster.stock(0, "volume", "start", LATE)
    for index in range(3):
        assert wait_for(lambda: _bricks_online(cluster, index, LATE), 60, 0.5)
    taken_over = cluster.info_xml()
    pids = cluster.pids()
    assert all(len(p) == 5 for p in pids.values()), pids  # three bricks, two self-heal daemons

    # ---------------------------------------------------------------- hand-back, host by host
    for index, host in enumerate(cluster.hosts):
        # the glusterd state gluster-mgmtd started from is stale: it goes aside
        aside = host.workdir / "glusterd-taken-over"
        aside.mkdir()
        for part in ("vols", "peers"):
            (host.workdir / "glusterd" / part).rename(aside / part)
        cluster.mgmt_cli(index, "export", str(GLUSTERD_DIR))
        cluster.daemons.pop(index).stop()
        host.start_glusterd()
        _steady(cluster, writer, pids, f"hand-back of host {index}", bricks_only=True)
        if index == 0:
            _glusterd_refuses_changes(cluster, 0, [1, 2])
    for index in range(3):
        assert wait_for(lambda: _peers_connected(cluster, index), 60, 0.5)
        for volume in (*VOLUMES, LATE):
            assert wait_for(lambda: _bricks_online(cluster, index, volume), 60, 0.5), \
                cluster.stock(index, "volume", "status", volume)
        _same_but_option_order(cluster.stock(index, "volume", "info", "--xml"), taken_over)
    _self_heal_daemons_restarted_by_glusterd(cluster, pids)
    _volume_set_reaches_the_client(
        cluster, lambda: cluster.stock(0, "volume", "set", REPLICA, "performance.write-behind", "on"))
    _steady(cluster, writer, pids, "volume set under glusterd", bricks_only=True)
    _a_new_mount_sees_the_files(cluster, REPLICA, 2)
