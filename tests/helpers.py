"""Small things every test package (and the benchmarks) need: a free port, polling with a
deadline, the tail of a log for an assertion message, running a module of this repository in
a child process (so a test can SIGKILL it), and stopping a child."""

from __future__ import annotations

import contextlib
import shutil
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gluster_mgmt.errors import StoreTimeoutError, UnavailableError

REPO = Path(__file__).resolve().parents[1]
#: What stock glusterd 10.3 produced (recorded once, read-only: tests/data/README.md).
REFERENCE = REPO / "tests" / "data" / "glusterd-10.3"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody has bound on ``host`` right now (the kernel's pick), for a server the
    test starts; another process could still take it first, which the tests accept."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (a server is up)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: str | os.PathLike[str], lines: int = 40) -> str:
    """The last ``lines`` lines of a log, for an assertion message: enough to see why a
    process failed without drowning the report."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` passes
    (its last value is returned). A store that is briefly unavailable counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (UnavailableError, StoreTimeoutError):
            pass
        time.sleep(interval)
    return predicate()


def glusterd_pids_here() -> list[int]:
    """The glusterd processes of this network namespace: the ones that could hold 24007 on
    the addresses the tests use. A glusterd of another namespace (the multi-host stage's
    hosts, a recording's private network) is none of this test's business."""
    here = os.readlink("/proc/self/ns/net")
    found = subprocess.run(["pgrep", "-x", "glusterd"], capture_output=True, text=True)
    pids = []
    for pid in found.stdout.split():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/ns/net") == here:
                pids.append(int(pid))
    return pids


def stop_glusterd_here(sig: int = signal.SIGKILL, timeout: float = 10) -> None:
    """Stop this namespace's glusterd (it owns 24007), waiting until it is gone."""
    pids = glusterd_pids_here()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if pids:
        wait_for(lambda: not glusterd_pids_here(), timeout)


def child_env() -> dict[str, str]:
    """The environment a child process needs to import gluster_mgmt and tests from this tree."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]))


def spawn(module: str, *args: str) -> subprocess.Popen:
    """``python -m module args...`` from the repository, with text pipes."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, SIGKILL after 10 s, and collect it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def running_process(args: list[str]) -> Iterator[subprocess.Popen]:
    """A stock GlusterFS process (output discarded: it logs to its own file), stopped however
    the test ends."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop_process(process)


@contextlib.contextmanager
def capture_loopback(path: Path, port: int) -> Iterator[None]:
    """Record what crosses ``lo`` on TCP ``port`` into ``path`` (pcapng, tshark) while the
    block runs; the capture is complete when the block has left."""
    tshark = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert any("Capturing on" in tshark.stderr.readline() for _ in range(5))
        yield
    finally:
        os.killpg(tshark.pid, signal.SIGTERM)
        tshark.wait(30)


def glusterd_state(tmp_path: Path, source: Path, name: str,
                   addresses: dict[str, str] | None = None) -> Path:
    """A copy of a recorded /var/lib/glusterd (the daemon may write into its own), with
    glusterd's addresses replaced in file contents and names."""
    target = tmp_path / name
    shutil.copytree(source, target)
    for old, new in (addresses or {}).items():
        for path in sorted(target.rglob("*"), key=lambda p: -len(p.parts)):
            if path.is_file():
                path.write_text(path.read_text().replace(old, new))
            if old in path.name:
                path.rename(path.with_name(path.name.replace(old, new)))
    return target
