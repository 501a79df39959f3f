"""The ``process`` service manager: a small supervisor of our own.

Liveness comes from pidfiles (plus /proc cmdline checks), not from being the parent, so a
restarted daemon re-adopts the bricks it left running. A dead service is restarted with
exponential back-off.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence

import attrs

from gluster_mgmt.errors import GlusterMgmtError
from gluster_mgmt.services import (
    RunningProcess,
    ServiceManager,
    ServiceSpec,
    ServiceState,
)

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
#: How long a launcher of a self-daemonizing program may take to report.
LAUNCH_TIMEOUT = 60.0


class ServiceError(GlusterMgmtError):
    """A service could not be started or stopped."""


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Self-daemonizing services (glusterfsd) are orphaned by their launcher; as a subreaper
    they become our children, so we reap them instead of leaving zombies to a PID 1 that may
    not (containers). Best effort: without it liveness checks still work."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def reap(pid: int | None) -> bool:
    """Collect ``pid``'s exit status if it is our (adopted) child; True once it is collected
    (or is not ours to collect), False while it has not exited yet."""
    if not pid:
        return True
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except (ChildProcessError, OSError):
        return True


def read_pid(pidfile: str) -> int | None:
    try:
        with open(pidfile) as f:
            text = f.read().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def pid_runs(pid: int | None, argv0: str | None = None) -> bool:
    """True if ``pid`` is a live (non-zombie) process, running ``argv0`` if given."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            # A zombie leader whose other threads still run is a process that is still exiting
            # (glusterfsd leaves from a signal-handling thread): not gone yet.
            if f.read().rsplit(")", 1)[1].split()[0] == "Z" and len(os.listdir(f"/proc/{pid}/task")) <= 1:
                return False
        if argv0 is not None:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                first = f.read().split(b"\0", 1)[0].decode(errors="replace")
            return os.path.basename(first) == os.path.basename(argv0)
        return True
    except (OSError, IndexError):
        return False


@attrs.define
class _Supervised:
    spec: ServiceSpec
    pid: int | None = None
    restarts: int = 0
    next_try: float = 0.0
    backoff: float = BACKOFF_FIRST
    started: float = 0.0
    child: subprocess.Popen | None = None
    #: being launched by ``start`` (outside the lock): the watcher leaves it alone
    launching: bool = False


class ProcessSupervisor(ServiceManager):
    def __init__(self, poll_interval: float = 0.5) -> None:
        self._services: dict[str, _Supervised] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poll = poll_interval
        #: Processes we stopped or lost that may still have to be collected (no zombies).
        self._unreaped: set[int] = set()
        become_subreaper()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API
    def start(self, spec: ServiceSpec) -> ServiceState:
        with self._lock:
            current = self._services.get(spec.name)
            if current is not None and current.spec == spec and (
                    current.launching or pid_runs(current.pid, spec.argv[0])):
                return self._state(current)
            if current is not None and current.pid:
                self._unreaped.add(current.pid)  # replaced: collect its exit, if it was ours
            entry = _Supervised(spec)
            adopted = read_pid(spec.pidfile)
            if pid_runs(adopted, spec.argv[0]):
                entry.pid = adopted
                log.info("adopted %s (pid %d)", spec.name, adopted)
                self._services[spec.name] = entry
                return self._state(entry)
            entry.launching = True
            self._services[spec.name] = entry
        # launched outside the lock: other services start meanwhile (a daemonizing launch
        # waits for glusterfsd to report)
        try:
            self._launch(entry)
        except BaseException:
            with self._lock:
                if self._services.get(spec.name) is entry:
                    del self._services[spec.name]
            raise
        finally:
            entry.launching = False
        with self._lock:
            if self._services.get(spec.name) is not entry:  # stopped while launching
                if entry.pid and pid_runs(entry.pid, spec.argv[0]):
                    terminate(entry.pid, 10.0)
                raise ServiceError(f"{spec.name} was stopped while it started")
            return self._state(entry)

    def stop(self, name: str, timeout: float = 10.0) -> None:
        with self._lock:
            entry = self._services.pop(name, None)
        if entry is None:
            return
        pid = entry.pid if pid_runs(entry.pid) else read_pid(entry.spec.pidfile)
        if pid_runs(pid, entry.spec.argv[0]):
            terminate(pid, timeout)
            with self._lock:
                self._unreaped.add(pid)
        if entry.child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                entry.child.wait(1)
        with contextlib.suppress(OSError):
            os.unlink(entry.spec.pidfile)

    def status(self, names: Sequence[str] | None = None) -> list[ServiceState]:
        with self._lock:
            chosen = [self._services[n] for n in (names or self._services) if n in self._services]
            return [self._state(entry) for entry in chosen]

    def supervised(self) -> list[str]:
        with self._lock:
            return list(self._services)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    # ------------------------------------------------------------------ internals
    def find(self, pidfile: str, program: str) -> RunningProcess | None:
        pid = read_pid(pidfile)
        if pid is None or not pid_runs(pid, program):
            return None
        return RunningProcess(pid, tuple(cmdline(pid)))

    def kill(self, pid: int, timeout: float = 10.0) -> None:
        terminate(pid, timeout)

    @staticmethod
    def _state(entry: _Supervised) -> ServiceState:
        running = pid_runs(entry.pid, entry.spec.argv[0])
        return ServiceState(entry.spec.name, entry.pid if running else None, running, entry.restarts)

    def _launch(self, entry: _Supervised) -> None:
        spec = entry.spec
        os.makedirs(os.path.dirname(spec.pidfile) or ".", exist_ok=True)
        os.makedirs(os.path.dirname(spec.logfile) or ".", exist_ok=True)
        with contextlib.suppress(OSError):
            os.unlink(spec.pidfile)
        # stderr goes to a file, not a pipe: a daemonized child may keep it open for its life.
        with tempfile.TemporaryFile() as err:
            try:
                child = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, start_new_session=True, close_fds=True)
            except OSError as exc:
                raise ServiceError(f"cannot run {spec.name}: {exc}") from exc
            if spec.daemonizes:
                try:
                    child.wait(timeout=LAUNCH_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.kill()
                    raise ServiceError(f"{spec.name} did not report within {LAUNCH_TIMEOUT}s") from None
                err.seek(0)
                detail = err.read()[-300:].decode(errors="replace").strip()
        if spec.daemonizes:
            entry.pid = read_pid(spec.pidfile)
            if child.returncode != 0 or not pid_runs(entry.pid):
                raise ServiceError(f"{spec.name} failed to start (status {child.returncode})"
                                   + (f": {detail}" if detail else f"; see {spec.logfile}"))
        else:
            entry.child = child
            entry.pid = child.pid
            with open(spec.pidfile, "w") as f:
                f.write(f"{child.pid}\n")
        entry.started = time.monotonic()
        log.info("started %s (pid %s)", spec.name, entry.pid)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            with self._lock:
                pending = set(self._unreaped)
            collected = {pid for pid in pending if reap(pid)}
            with self._lock:
                self._unreaped -= collected
            with self._lock:
                entries = list(self._services.values())
            for entry in entries:
                if entry.launching:
                    continue
                if entry.child is not None:
                    entry.child.poll()  # reap our own children: no zombies
                now = time.monotonic()
                if pid_runs(entry.pid, entry.spec.argv[0]):
                    if now - entry.started > BACKOFF_MAX * 2:
                        entry.backoff = BACKOFF_FIRST  # it has stayed up: forgive earlier crashes
                    continue
                if now < entry.next_try or (not entry.spec.restart and entry.pid is None):
                    continue
                with self._lock:
                    if self._services.get(entry.spec.name) is not entry:
                        continue  # stopped meanwhile
                    if entry.child is None and entry.pid:
                        self._unreaped.add(entry.pid)  # (under self._lock here)
                    if not entry.spec.restart:
                        log.info("%s (pid %s) ended", entry.spec.name, entry.pid)
                        entry.pid = None
                        continue
                    log.warning("%s (pid %s) died; restarting", entry.spec.name, entry.pid)
                    entry.restarts += 1
                    entry.next_try = now + entry.backoff
                    entry.backoff = min(entry.backoff * 2, BACKOFF_MAX)
                    try:
                        self._launch(entry)
                    except ServiceError as exc:
                        log.error("restart of %s failed: %s", entry.spec.name, exc)


def cmdline(pid: int | None) -> list[str]:
    """The argv of process ``pid`` (empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, SIGKILL after ``timeout``, and collect it (we may be its subreaper)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_runs(pid):
            reap(pid)  # it may have just become a zombie: collect it now or never
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not pid_runs(pid):
            break
        time.sleep(0.01)
    reap(pid)
