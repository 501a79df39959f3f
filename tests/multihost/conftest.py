"""Three hosts in network namespaces, each with a member of a clustered store and its own
gluster-mgmtd; stock bricks on each host and FUSE mounts from the root namespace.

Everything a test makes is removed afterwards, also when it fails: mounts, daemons and their
bricks, store members, then the namespaces (with anything still running in them) and the
bridge. Runs as root only; the bridge address and the FUSE mounts are shared state of the
machine, so run under ``flock /tmp/gluster-mgmt-fixed-ports.lock`` like the other fixed-port
suites.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.daemon.cluster_fixture import DaemonProcess
from tests.helpers import wait_for
from tests.multihost.harness import Host, Network, run
from tests.servers import StoreServer, start_cluster

HOSTS = 3
API_PORT = 24012
#: Long enough that a brief scheduling stall on 2 cores drops no lease.
LEASE_TTL = 6.0
CLUSTERED = ("etcd", "consul", "zookeeper")


def _backends() -> list:
    chosen = os.environ.get("GLUSTER_MGMT_BACKENDS")
    names = [n.strip() for n in chosen.split(",")] if chosen else ["local", *CLUSTERED]
    return [pytest.param(n, marks=pytest.mark.skip(
                reason="local: the embedded store is one SQLite file on one host, it has no "
                       "cluster to partition")) if n == "local" else n
            for n in names if n in ("local", *CLUSTERED)]


@attrs.define
class MultiHost:
    """The hosts, their store members and daemons, and what the test mounted."""

    backend: str
    network: Network
    servers: list[StoreServer]
    daemons: list[DaemonProcess]
    workdir: Path
    mounted: list[Path] = attrs.field(factory=list)

    @property
    def hosts(self) -> list[Host]:
        return self.network.hosts

    def brick(self, host: Host, name: str) -> str:
        path = self.workdir / f"bricks-{host.index}" / name
        return f"{host.address}:{path}"

    def create_replica3(self, volume: str) -> None:
        bricks = [self.brick(h, volume) for h in self.hosts]
        self.daemons[0].cli("volume", "create", volume, "replica", "3", *bricks, "force", check=True)
        self.daemons[0].cli("volume", "start", volume, check=True)

    def mount(self, volume: str, host: Host) -> tuple[Path, Path]:
        """A stock FUSE mount in the root namespace through ``host``'s daemon."""
        index = len(self.mounted)
        point = self.workdir / f"mnt-{volume}-{index}"
        point.mkdir()
        log = self.workdir / f"client-{volume}-{index}.log"
        result = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}",
                                 f"{host.address}:/{volume}", str(point)],
                                capture_output=True, text=True, timeout=90)
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"mount failed: {result.stderr}\n{tail}")
        self.mounted.append(point)
        return point, log

    def status(self, daemon: DaemonProcess, volume: str) -> list[dict[str, str]]:
        out = daemon.cli("--xml", "volume", "status", volume, check=True).stdout
        return [{c.tag: c.text or "" for c in node}
                for node in ET.fromstring(out).findall(".//volStatus/volumes/volume/node")]

    def wait_online(self, volume: str, count: int, daemon: DaemonProcess | None = None,
                    timeout: float = 90) -> list[dict[str, str]]:
        daemon = daemon or self.daemons[0]

        def online():
            bricks = [n for n in self.status(daemon, volume) if n.get("path", "").startswith("/")]
            return bricks if len(bricks) == count and all(n["status"] == "1" for n in bricks) else None
        found = wait_for(online, timeout, 0.5)
        assert found, f"bricks not online: {self.status(daemon, volume)}\n{daemon.log_tail()}"
        return found

    def partition(self, host: Host) -> None:
        self.network.partition(host)

    def heal(self, host: Host) -> None:
        self.network.heal(host)

    def teardown(self) -> None:
        for point in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
        for daemon in self.daemons:
            _quietly(daemon.stop_all)
        for server in self.servers:
            _quietly(server.kill)


def _quietly(action) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 (teardown goes on: report, remove the rest)
        print(f"teardown: {action}: {exc}")


def _kill_namespace_processes(network: Network) -> None:
    """Whatever still runs in the namespaces is ours (bricks a dead daemon left)."""
    for host in network.hosts:
        pids = run("ip", "netns", "pids", host.netns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create network namespaces")
    net = Network(HOSTS)
    try:
        net.create()
        yield net
    finally:
        _kill_namespace_processes(net)
        time.sleep(0.2)
        net.teardown()


@pytest.fixture(params=_backends())
def multihost(request, network: Network, tmp_path: Path) -> Iterator[MultiHost]:
    """Three hosts, a store cluster across them, a daemon on each, all peers of one cluster."""
    if shutil.which("glusterfsd") is None:
        pytest.skip("needs Debian's glusterfs-server (scripts/install-deps.sh)")
    backend = request.param
    cluster = MultiHost(backend, network, [], [], tmp_path)
    try:
        cluster.servers = start_cluster(backend, tmp_path / "store",
                                        [(h.address, h.netns) for h in network.hosts])
        root = f"mh{uuid.uuid4().hex[:10]}"
        for host, server in zip(network.hosts, cluster.servers):
            daemon = DaemonProcess(tmp_path, host.address, server.url(root), API_PORT, LEASE_TTL,
                                   netns=host.netns)
            cluster.daemons.append(daemon)
            daemon.start()
        first = cluster.daemons[0]
        for host in network.hosts[1:]:
            first.cli("peer", "probe", host.address, check=True)
        yield cluster
    finally:
        cluster.teardown()

