"""A single-member etcd 3.4 (Debian's /usr/bin/etcd) on loopback, for the tests."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import free_port, wait_for
from tests.servers import StoreServer

ETCD = os.environ.get("ETCD_BIN", "/usr/bin/etcd")


class EtcdServer(StoreServer):
    backend = "etcd"

    def __init__(self, workdir: Path, host: str = "127.0.0.1") -> None:
        super().__init__(workdir, host)
        # Chosen once: a restart comes back on the same ports with the same data.
        self._client_port = free_port(host)
        self.peer_port = free_port(host)
        while self.peer_port == self._client_port:
            self.peer_port = free_port(host)
        self.data_dir = self.workdir / "etcd.data"

    @property
    def client_port(self) -> int:
        return self._client_port

    def argv(self) -> list[str]:
        client = f"http://{self.host}:{self.client_port}"
        peer = f"http://{self.host}:{self.peer_port}"
        return [
            ETCD,
            "--name", "gmtest",
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"gmtest={peer}",
            "--initial-cluster-state", "new",
            "--initial-cluster-token", f"gmtest-{self.client_port}",
            "--logger", "zap",
            "--log-level", "warn",
        ]

    def env(self) -> dict[str, str]:
        # ETCD_* variables would override the command line: keep only the arch escape hatch.
        return {k: v for k, v in os.environ.items()
                if not k.startswith("ETCD_") or k == "ETCD_UNSUPPORTED_ARCH"}

    def url(self, root: str) -> str:
        return f"etcd://{self.host}:{self.client_port}/{root}"

    def wait_ready(self) -> None:
        """Listening is not enough: wait until the member serves requests (/health)."""
        health = f"http://{self.host}:{self.client_port}/health"
        last: object = None

        def healthy() -> bool:
            nonlocal last
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with status {self.proc.returncode}")
            try:
                with urllib.request.urlopen(health, timeout=1) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return True
                    last = "unhealthy"
            except (OSError, ValueError, urllib.error.URLError) as exc:
                last = exc
            return False

        if not wait_for(healthy, self.startup_timeout, 0.05):
            raise RuntimeError(f"etcd on port {self.client_port} not healthy after "
                               f"{self.startup_timeout}s ({last})")


class EtcdMember(EtcdServer):
    """One member of an etcd cluster, alone in network namespace ``netns`` (standard ports).
    Its URL lists its own member first, then the others (a daemon on this host)."""

    CLIENT_PORT = 2379
    PEER_PORT = 2380

    def __init__(self, workdir: Path, host: str, netns: str, members: tuple[str, ...]) -> None:
        StoreServer.__init__(self, workdir, host, netns)
        self._client_port = self.CLIENT_PORT
        self.peer_port = self.PEER_PORT
        self.data_dir = self.workdir / "etcd.data"
        self.members = members
        self.name = f"m{members.index(host)}"

    def argv(self) -> list[str]:
        client = f"http://{self.host}:{self.client_port}"
        peer = f"http://{self.host}:{self.peer_port}"
        cluster = ",".join(f"m{i}=http://{a}:{self.PEER_PORT}" for i, a in enumerate(self.members))
        return [
            ETCD, "--name", self.name, "--data-dir", str(self.data_dir),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", f"gmtest-{'-'.join(self.members)}",
            "--logger", "zap", "--log-level", "warn",
        ]

    def url(self, root: str) -> str:
        hosts = [self.host, *(a for a in self.members if a != self.host)]
        return "etcd://" + ",".join(f"{h}:{self.CLIENT_PORT}" for h in hosts) + f"/{root}"
