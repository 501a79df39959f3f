"""Service management: start, stop, supervise and re-adopt brick and self-heal processes.

The daemon speaks to a ``ServiceManager``; plugins come from the stevedore namespace
``gluster_mgmt.service_managers`` (``process``: a supervisor of its own; systemd later).
"""

from __future__ import annotations

import abc
import contextlib
import glob
import hashlib
import logging
import os
from collections.abc import Sequence

import attrs

from gluster_mgmt.rules import MGMT_PORT

NAMESPACE = "gluster_mgmt.service_managers"

log = logging.getLogger(__name__)


@attrs.frozen
class ServiceSpec:
    """What to run: a named process with its argv, pidfile and log file."""

    name: str
    argv: tuple[str, ...] = attrs.field(converter=tuple)
    pidfile: str
    logfile: str
    #: True when the program forks into the background itself and writes ``pidfile`` (as
    #: glusterfsd does): the launcher's exit status then says whether it started.
    daemonizes: bool = True
    #: False for a task that ends by itself (a rebalance process exits when its migration is
    #: done): its exit is the result, not a crash to restart.
    restart: bool = True


@attrs.frozen
class ServiceState:
    name: str
    pid: int | None
    running: bool
    restarts: int = 0


@attrs.frozen
class RunningProcess:
    """A live process found through its pidfile (supervised or not)."""

    pid: int
    argv: tuple[str, ...]


class ServiceManager(abc.ABC):
    """Runs and supervises services; also finds and ends processes it does not supervise
    (left running by an earlier daemon), which the reconcilers adopt or sweep."""

    @abc.abstractmethod
    def start(self, spec: ServiceSpec) -> ServiceState:
        """Run ``spec`` (adopting a process already running from its pidfile) and supervise it.
        Called from several threads at once (a reconcile pass starts its bricks together)."""

    @abc.abstractmethod
    def stop(self, name: str, timeout: float = 10.0) -> None:
        """Stop supervising and terminate it (SIGTERM, then SIGKILL after ``timeout``)."""

    @abc.abstractmethod
    def status(self, names: Sequence[str] | None = None) -> list[ServiceState]: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop supervising; leave the processes running (a daemon restart re-adopts them)."""

    @abc.abstractmethod
    def find(self, pidfile: str, program: str) -> RunningProcess | None:
        """The process ``pidfile`` names, if it is alive and runs ``program``."""

    @abc.abstractmethod
    def kill(self, pid: int, timeout: float = 10.0) -> None:
        """End a process nobody supervises (SIGTERM, then SIGKILL after ``timeout``)."""

    def stop_orphans(self, pidfile_pattern: str, program: str, marker: str,
                     keep: frozenset[str] = frozenset()) -> None:
        """End the processes of ``program`` that pidfiles matching ``pidfile_pattern`` (a
        glob) name and whose command line carries ``marker`` (which says they are this
        node's), but for the pidfiles in ``keep``; their pidfiles go with them."""
        for pidfile in glob.glob(pidfile_pattern):
            if pidfile in keep:
                continue
            process = self.find(pidfile, program)
            if process is not None and marker in process.argv:
                log.info("stopping orphan process %d (%s)", process.pid, pidfile)
                self.kill(process.pid)
                with contextlib.suppress(OSError):
                    os.unlink(pidfile)


def volfile_server_port_args(mgmt_port: int) -> list[str]:
    """glusterd names the mgmt port on a process's command line only when it is not 24007."""
    return [] if mgmt_port == MGMT_PORT else ["--volfile-server-port", str(mgmt_port)]


def short_hash(text: str) -> str:
    """A stable 16-character name for ``text``: runtime sockets are named by it, since a unix
    socket path must fit in 108 bytes whatever the volume and brick names."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_service_manager(name: str = "process", **kwargs: object) -> ServiceManager:
    from stevedore import DriverManager

    return DriverManager(NAMESPACE, name, invoke_on_load=True, invoke_kwds=kwargs).driver
