from __future__ import annotations

import uuid

import pytest

from gluster_mgmt import open_store
from tests.daemon.cluster_fixture import DaemonProcess

API_PORT = 24012


@pytest.fixture
def lease_ttl(store_url) -> float:
    with open_store(store_url) as store:
        return max(2.0, store.capabilities.min_lease_ttl)


@pytest.fixture
def make_daemons(store_server, tmp_path, lease_ttl):
    """make_daemons(n) -> n running daemons on 127.0.0.2, .3, ... (gluster's CLI refuses bricks
    on 127.0.0.1 and localhost), all stopped with their bricks after the test."""
    started: list[DaemonProcess] = []
    root = f"c{uuid.uuid4().hex[:10]}"

    def make(count: int) -> list[DaemonProcess]:
        for index in range(count):
            daemon = DaemonProcess(tmp_path, f"127.0.0.{len(started) + 2}", store_server.url(root),
                                   API_PORT, lease_ttl)
            started.append(daemon)
            daemon.start()
        return started[-count:]

    yield make
    for daemon in started:
        daemon.stop_all()


@pytest.fixture
def cluster3(make_daemons):
    """Three daemons formed into one cluster by `peer probe`, as an administrator would."""
    d1, d2, d3 = make_daemons(3)
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("peer", "probe", d3.address, check=True)
    return d1, d2, d3
