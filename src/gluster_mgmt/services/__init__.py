"""Service management: start, stop, supervise and re-adopt brick and self-heal processes.

The daemon speaks to a ``ServiceManager``; plugins come from the stevedore namespace
``gluster_mgmt.service_managers`` (``process``: a supervisor of its own; systemd later).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence

import attrs

NAMESPACE = "gluster_mgmt.service_managers"


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


class ServiceManager(abc.ABC):
    @abc.abstractmethod
    def start(self, spec: ServiceSpec) -> ServiceState:
        """Run ``spec`` (adopting a process already running from its pidfile) and supervise it."""

    @abc.abstractmethod
    def stop(self, name: str, timeout: float = 10.0) -> None:
        """Stop supervising and terminate it (SIGTERM, then SIGKILL after ``timeout``)."""

    @abc.abstractmethod
    def status(self, names: Sequence[str] | None = None) -> list[ServiceState]: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop supervising; leave the processes running (a daemon restart re-adopts them)."""


def short_hash(text: str) -> str:
    """A stable 16-character name for ``text``: runtime sockets are named by it, since a unix
    socket path must fit in 108 bytes whatever the volume and brick names."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_service_manager(name: str = "process", **kwargs: object) -> ServiceManager:
    from stevedore import DriverManager

    return DriverManager(NAMESPACE, name, invoke_on_load=True, invoke_kwds=kwargs).driver
