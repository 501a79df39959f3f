from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.daemon.cluster_fixture import DaemonProcess

API_PORT = 24012

StartDaemon = Callable[..., DaemonProcess]


@pytest.fixture
def cluster3(make_daemons):
    """Three daemons formed into one cluster by `peer probe`, as an administrator would."""
    d1, d2, d3 = make_daemons(3)
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("peer", "probe", d3.address, check=True)
    return d1, d2, d3


@pytest.fixture
def start_daemon(store_server, tmp_path, lease_ttl) -> Iterator[StartDaemon]:
    """start_daemon(store="a", *extra_args, store_url=None, address=None) -> a running daemon
    on ``address`` or the next loopback address (127.0.0.2, .3 ...); daemons given different
    ``store`` names use different stores (different roots of the backend, different files for
    ``local``)."""
    started: list[DaemonProcess] = []
    prefix = f"s{uuid.uuid4().hex[:10]}"

    def start(store: str = "a", *extra_args: str, store_url: str | None = None,
              address: str | None = None) -> DaemonProcess:
        daemon = DaemonProcess(tmp_path, address or f"127.0.0.{len(started) + 2}",
                               store_url or store_server.url(f"{prefix}{store}"), API_PORT,
                               lease_ttl, extra_args=extra_args)
        started.append(daemon)
        daemon.start()
        return daemon

    yield start
    for daemon in started:
        daemon.stop_all()
