"""A standalone ZooKeeper server (Debian 12's 3.8.0) for the tests.

The JVM is started directly (no zkServer.sh) with a zoo.cfg written in the workdir:
loopback only, a client port chosen once and kept across restarts, data in the workdir,
``tickTime=500`` so sessions (leases) as short as 1 s are allowed, no admin server.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from tests.helpers import free_port, wait_for
from tests.servers import StoreServer

ZK_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar")
#: A logging binding for slf4j (zookeeper.jar's manifest brings slf4j-api and the rest).
LOG_JAR = "/usr/share/java/slf4j-simple.jar"
TICK_MS = 500


class ZooKeeperServer(StoreServer):
    backend = "zookeeper"

    main_class = "org.apache.zookeeper.server.ZooKeeperServerMain"

    def __init__(self, workdir: Path, host: str = "127.0.0.1") -> None:
        super().__init__(workdir, host)
        self.port = free_port(host)
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "zoo.cfg"

    @property
    def client_port(self) -> int:
        return self.port

    def url(self, root: str) -> str:
        return f"zookeeper://{self.host}:{self.port}/{root}"

    def ensemble_lines(self) -> list[str]:
        """zoo.cfg lines of an ensemble (none for a standalone server)."""
        return []

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "\n".join([*self.ensemble_lines(),
                f"tickTime={TICK_MS}",
                "initLimit=10",
                "syncLimit=5",
                f"dataDir={self.data_dir}",
                f"clientPortAddress={self.host}",
                f"clientPort={self.port}",
                # Sessions from 2 to 120 ticks: leases from 1 s to 60 s.
                f"minSessionTimeout={2 * TICK_MS}",
                f"maxSessionTimeout={120 * TICK_MS}",
                "maxClientCnxns=0",
                "admin.enableServer=false",
                "4lw.commands.whitelist=srvr,ruok,mntr,stat,cons",
                "autopurge.snapRetainCount=3",
                "autopurge.purgeInterval=1",
                "",
            ])
        )

    def argv(self) -> list[str]:
        java = shutil.which("java") or "/usr/bin/java"
        classpath = ":".join([*ZK_JARS, LOG_JAR])
        return [
            java, "-Xmx256m", "-XX:+UseSerialGC", "-Xshare:auto",
            "-Dzookeeper.admin.enableServer=false",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp", classpath,
            self.main_class, str(self.config_path),
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("JAVA_TOOL_OPTIONS", None)
        return env

    def wait_ready(self) -> None:
        """Listening is not enough: the server answers ``srvr`` once its database is loaded."""
        last = ""

        def serving() -> bool:
            nonlocal last
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"zookeeper exited with status {self.proc.returncode}")
            try:
                last = self.four_letter_word("srvr")
                return "Mode:" in last
            except OSError as exc:
                last = str(exc)
                return False

        if not wait_for(serving, self.startup_timeout):
            raise RuntimeError(f"zookeeper on port {self.port} is not serving: {last!r}")

    def four_letter_word(self, word: str, timeout: float = 2.0) -> str:
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")


class ZooKeeperMember(ZooKeeperServer):
    """One server of a ZooKeeper ensemble, alone in network namespace ``netns`` (standard
    ports: client 2181, quorum 2888, election 3888). Its URL lists its own server first."""

    main_class = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
    CLIENT_PORT = 2181

    def __init__(self, workdir: Path, host: str, netns: str, members: tuple[str, ...]) -> None:
        StoreServer.__init__(self, workdir, host, netns)
        self.port = self.CLIENT_PORT
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "zoo.cfg"
        self.members = members

    def ensemble_lines(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{self.members.index(self.host) + 1}\n")
        return [f"server.{i + 1}={a}:2888:3888" for i, a in enumerate(self.members)]

    def url(self, root: str) -> str:
        hosts = [self.host, *(a for a in self.members if a != self.host)]
        return "zookeeper://" + ",".join(f"{h}:{self.port}" for h in hosts) + f"/{root}"
