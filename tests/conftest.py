"""Fixtures shared by every test: real store servers, one per backend, started on loopback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from gluster_mgmt import open_store
from tests.daemon.cluster_fixture import DaemonProcess
from tests.servers import server_class

#: The daemons' REST port; each test daemon binds its own loopback address.
API_PORT = 24012

ALL_BACKENDS = ("local", "etcd", "consul", "zookeeper")


def selected_backends() -> tuple[str, ...]:
    """GLUSTER_MGMT_BACKENDS=local,etcd narrows a run; the default (and CI) is all four."""
    names = os.environ.get("GLUSTER_MGMT_BACKENDS")
    if not names:
        return ALL_BACKENDS
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backends in GLUSTER_MGMT_BACKENDS: {sorted(unknown)}")
    return chosen


@pytest.fixture(scope="session", params=selected_backends())
def store_server(request, tmp_path_factory):
    """A running server for one backend (the whole session shares it)."""
    server = server_class(request.param)(tmp_path_factory.mktemp(request.param))
    try:
        server.start()
    except Exception as exc:
        server.stop()
        pytest.fail(f"could not start {request.param} server: {exc}\n{server.log_tail()}")
    yield server
    server.stop()


@pytest.fixture
def store_url(store_server) -> str:
    """A URL whose keys are private to this test."""
    return store_server.url(f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


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

    def make(count: int, glusterd_dirs: Sequence[Path] = (),
             wrappers: Sequence[tuple[str, ...]] = ()) -> list[DaemonProcess]:
        """``glusterd_dirs``: the first daemons' glusterd working directories (their
        glusterd.info is their identity); the others get a fresh one each. ``wrappers``:
        the first daemons' command prefixes (e.g. a private mount namespace)."""
        for index in range(count):
            daemon = DaemonProcess(tmp_path, f"127.0.0.{len(started) + 2}", store_server.url(root),
                                   API_PORT, lease_ttl,
                                   glusterd_dir=glusterd_dirs[index] if index < len(glusterd_dirs)
                                   else None,
                                   wrapper=wrappers[index] if index < len(wrappers) else ())
            started.append(daemon)
            daemon.start()
        return started[-count:]

    yield make
    for daemon in started:
        daemon.stop_all()
