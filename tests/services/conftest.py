"""Fixtures for brick service tests: stand-in gluster programs, a supervisor, and a mgmt RPC
server backed by the store (for live glusterfsd bricks)."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.services import load_service_manager
from gluster_mgmt.services.supervisor import pid_runs, read_pid

# A stand-in for glusterfsd/glusterfs with their process behaviour: the launcher forks, the
# child writes the -p pidfile and the launcher exits 0 once it exists. The child re-execs
# python with the original argv after "-c CODE", so /proc/PID/cmdline shows the program's
# path as argv[0] and glusterd's arguments (what adoption and the orphan sweep read). It
# listens on its --brick-port, as a brick does.
FAKE_PROGRAM = textwrap.dedent('''\
    #!/usr/bin/python3
    import os, sys, time
    args = sys.argv[1:]
    pidfile = args[args.index("-p") + 1]
    if os.fork():
        for _ in range(1000):
            if os.path.exists(pidfile):
                sys.exit(0)
            time.sleep(0.01)
        sys.exit(1)
    os.setsid()
    CODE = """
    import os, socket, sys, time
    a = sys.argv[1:]
    if "--brick-port" in a:
        s = socket.socket()
        s.bind(("", int(a[a.index("--brick-port") + 1])))
        s.listen()
    p = a[a.index("-p") + 1]
    with open(p + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(p + ".tmp", p)
    time.sleep(3600)
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.execv("/usr/bin/python3", [sys.argv[0], "-c", CODE, *args])
''')


@pytest.fixture
def fake_programs(tmp_path) -> tuple[str, str]:
    """(glusterfsd, glusterfs) stand-ins in a private bin directory."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    paths = []
    for name in ("glusterfsd", "glusterfs"):
        path = bindir / name
        path.write_text(FAKE_PROGRAM)
        path.chmod(0o755)
        paths.append(str(path))
    return paths[0], paths[1]


@pytest.fixture
def keys() -> ClusterKeys:
    return ClusterKeys.for_cluster(f"c{uuid.uuid4().hex[:8]}")


@pytest.fixture
def node_uuid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def run_dirs(tmp_path) -> tuple[str, str]:
    run_dir, log_dir = tmp_path / "run", tmp_path / "log"
    run_dir.mkdir()
    log_dir.mkdir()
    yield str(run_dir), str(log_dir)
    kill_pidfiles(run_dir)


def kill_pidfiles(run_dir: Path) -> None:
    """Kill whatever the pidfiles under ``run_dir`` name (tests leave nothing running)."""
    from gluster_mgmt.services.supervisor import terminate

    for pidfile in Path(run_dir).rglob("*.pid"):
        pid = read_pid(str(pidfile))
        if pid_runs(pid):
            terminate(pid, 5)
        with contextlib.suppress(OSError):
            pidfile.unlink()


@pytest.fixture
def supervisor():
    managers = []

    def make():
        manager = load_service_manager("process", poll_interval=0.1)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        for name in manager.supervised():
            manager.stop(name, timeout=5)
        manager.close()


class ServerThread:
    """An MgmtRpcServer on its own event loop thread, on a free port (never 24007)."""

    def __init__(self, backend, host: str) -> None:
        from gluster_mgmt.mgmt_rpc import MgmtRpcServer

        self.loop = asyncio.new_event_loop()
        self.server = MgmtRpcServer(backend, host, 0)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.port = self.server.port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def mgmt_server():
    """mgmt_server(backend, host) -> ServerThread, closed after the test."""
    servers = []

    def make(backend, host="127.0.0.1"):
        server = ServerThread(backend, host)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
