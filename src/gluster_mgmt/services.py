"""Service management: start, stop, supervise and re-adopt brick and self-heal processes."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import attrs


@attrs.frozen
class ServiceSpec:
    """What to run: a named process with its argv, pidfile and log file."""

    name: str
    argv: tuple[str, ...]
    pidfile: str
    logfile: str


@attrs.frozen
class ServiceState:
    name: str
    pid: int | None
    running: bool


class ServiceManager(abc.ABC):
    """Plugins are loaded by stevedore from ``gluster_mgmt.service_managers``."""

    @abc.abstractmethod
    def start(self, spec: ServiceSpec) -> ServiceState: ...

    @abc.abstractmethod
    def stop(self, name: str, timeout: float = 10.0) -> None: ...

    @abc.abstractmethod
    def status(self, names: Sequence[str] | None = None) -> list[ServiceState]: ...
