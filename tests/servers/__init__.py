"""Real store servers for the tests, started on loopback ports of their own.

Each server class knows how to start, stop, SIGKILL and restart its process (same port, same
data) and how to spell a store URL for it. What a test starts, the fixture stops.

A server may run inside a network namespace (``netns``): then it is one member of a cluster
(``MEMBERS``), alone in its namespace, so it listens on its kind's standard ports.
"""

from __future__ import annotations

import abc
import importlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.helpers import accepts, log_tail, wait_for


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Until ``host:port`` accepts connections; fails at once if ``proc`` exits first."""
    def up() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        return accepts(host, port, 0.5)

    if not wait_for(up, timeout, 0.05):
        raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s")


def in_netns(netns: str | None, argv: list[str]) -> list[str]:
    """``argv`` run in network namespace ``netns``: only the network moves (``nsenter``
    keeps the caller's mount namespace, so bricks and FUSE mounts stay visible)."""
    return ["nsenter", f"--net=/var/run/netns/{netns}", *argv] if netns else argv


class StoreServer(abc.ABC):
    """A store server process for tests (or no process at all, for the embedded store)."""

    backend: str
    #: False for the embedded store: there is no server to restart or kill.
    has_process = True
    startup_timeout = 60.0

    def __init__(self, workdir: Path, host: str = "127.0.0.1", netns: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        #: The network namespace the process runs in (None: the caller's).
        self.netns = netns
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{self.backend}.log"

    @abc.abstractmethod
    def argv(self) -> list[str]:
        """The server's command line (ports are chosen once and kept across restarts)."""

    @abc.abstractmethod
    def url(self, root: str) -> str:
        """A store URL whose keys live under ``root`` (isolates one test from another)."""

    @property
    @abc.abstractmethod
    def client_port(self) -> int: ...

    def prepare(self) -> None:
        """Write configuration files before the first start."""

    def wait_ready(self) -> None:
        wait_for_port(self.host, self.client_port, self.startup_timeout, self.proc)

    def start(self) -> None:
        if self.launch():
            self.wait_ready()

    def launch(self) -> bool:
        """Start the process without waiting for it to serve (a cluster member serves only
        once a quorum of members runs); False when it already runs."""
        if self.proc is not None and self.proc.poll() is None:
            return False
        if self.proc is None:
            self.prepare()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            in_netns(self.netns, self.argv()), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.workdir, env=self.env(), start_new_session=True,
        )
        log.close()
        return True

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def _signal(self, sig: int, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


class LocalServer(StoreServer):
    """The embedded store: a file, no process."""

    backend = "local"
    has_process = False

    def argv(self) -> list[str]:
        return []

    @property
    def client_port(self) -> int:
        return 0

    def url(self, root: str) -> str:
        return f"local://{self.workdir}/{root}.db"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def kill(self) -> None:
        pass


SERVERS = {
    "local": "tests.servers:LocalServer",
    "etcd": "tests.servers.etcd:EtcdServer",
    "consul": "tests.servers.consul:ConsulServer",
    "zookeeper": "tests.servers.zookeeper:ZooKeeperServer",
}


#: One member of a 3-member cluster per kind, each in a network namespace of its own.
MEMBERS = {
    "etcd": "tests.servers.etcd:EtcdMember",
    "consul": "tests.servers.consul:ConsulMember",
    "zookeeper": "tests.servers.zookeeper:ZooKeeperMember",
}


def _load(spec: str) -> type:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def server_class(backend: str) -> type[StoreServer]:
    return _load(SERVERS[backend])


def start_cluster(backend: str, workdir: Path, members: Sequence[tuple[str, str]]) -> list[StoreServer]:
    """A running cluster of ``backend``: one member per ``(address, netns)``; stopped again
    if it does not come up."""
    cls = _load(MEMBERS[backend])
    addresses = tuple(address for address, _ in members)
    servers = [cls(Path(workdir) / f"{backend}-{index}", address, netns, addresses)
               for index, (address, netns) in enumerate(members)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.kill()
        raise
    return servers
