"""A single-node Consul server (``consul agent -server -bootstrap-expect=1``) for the tests."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

from tests.helpers import free_port, wait_for
from tests.servers import StoreServer

CONSUL = shutil.which("consul") or "/usr/local/bin/consul"


class ConsulServer(StoreServer):
    backend = "consul"

    def __init__(self, workdir, host: str = "127.0.0.1") -> None:
        super().__init__(workdir, host)
        # Chosen once: a restart keeps every port (and the data dir), like a real node.
        self.http_port = free_port(host)
        self.server_port = free_port(host)
        self.serf_lan_port = free_port(host)
        self.serf_wan_port = free_port(host)
        self.data_dir = self.workdir / "data"
        self.node_name = f"gm-test-{self.http_port}"

    @property
    def client_port(self) -> int:
        return self.http_port

    def argv(self) -> list[str]:
        return [
            CONSUL, "agent", "-server", "-bootstrap-expect=1",
            f"-node={self.node_name}",
            f"-bind={self.host}", f"-advertise={self.host}", f"-client={self.host}",
            f"-data-dir={self.data_dir}",
            f"-http-port={self.http_port}", f"-server-port={self.server_port}",
            f"-serf-lan-port={self.serf_lan_port}", f"-serf-wan-port={self.serf_wan_port}",
            "-dns-port=-1", "-grpc-port=-1",
            "-log-level=warn",
            "-hcl", "disable_update_check = true",
            "-hcl", "performance { raft_multiplier = 1 }",
            # every client here is 127.0.0.1: benchmarks/scale.py's agents hold ~8 blocking
            # queries each, past Consul's 200 connections per client address at N = 25
            "-hcl", "limits { http_max_conns_per_client = 4096 }",
        ]

    def url(self, root: str) -> str:
        return f"consul://{self.host}:{self.http_port}/{root}"

    def _http(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.http_port}{path}", timeout=2) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self) -> None:
        """Until a leader is elected, a consistent KV read succeeds and this node is in the
        catalog (sessions are created on it)."""
        super().wait_ready()
        last = ""

        def ready() -> bool:
            nonlocal last
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"consul exited with status {self.proc.returncode}")
            try:
                status, body = self._http("/v1/status/leader")
                if status == 200 and json.loads(body or b'""'):
                    status, body = self._http("/v1/kv/__gm_ready_probe?consistent")
                    if status in (200, 404):
                        status, body = self._http(f"/v1/catalog/node/{self.node_name}")
                        if status == 200 and json.loads(body or b"null"):
                            return True
                last = f"{status} {body[:200]!r}"
            except (OSError, ValueError) as exc:
                last = str(exc)
            return False

        if not wait_for(ready, self.startup_timeout):
            raise RuntimeError(f"consul has no leader after {self.startup_timeout}s ({last})")


class ConsulMember(ConsulServer):
    """One of three Consul servers, alone in network namespace ``netns`` (standard ports).
    A daemon on this host talks to it, as to a local Consul agent."""

    def __init__(self, workdir, host: str, netns: str, members: tuple[str, ...]) -> None:
        StoreServer.__init__(self, workdir, host, netns)
        self.http_port, self.server_port, self.serf_lan_port, self.serf_wan_port = 8500, 8300, 8301, 8302
        self.data_dir = self.workdir / "data"
        self.node_name = f"gm-member-{members.index(host)}"
        self.members = members

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("-bootstrap-expect=1")] = f"-bootstrap-expect={len(self.members)}"
        return argv + [f"-retry-join={a}" for a in self.members if a != self.host] + [
            "-retry-interval=1s"]

    def url(self, root: str) -> str:
        """Its own server first, then the others: the daemon fails over when it is gone."""
        hosts = [self.host, *(a for a in self.members if a != self.host)]
        return "consul://" + ",".join(f"{h}:{self.http_port}" for h in hosts) + f"/{root}"
