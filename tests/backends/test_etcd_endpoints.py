"""etcd specifics of the store URL's endpoints, against a real etcd server: a client starts on
an endpoint of its own host (or one picked by the host's name), and fails over on a deadline as
on an unreachable endpoint, so a silently partitioned member costs one timeout, not every
request until gRPC's keep-alive gives up."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from gluster_mgmt import open_store
from gluster_mgmt.errors import StoreTimeoutError, UnavailableError
from gluster_mgmt_etcd.client import first_endpoint
from tests.servers import server_class


def _start_etcd(workdir):
    server = server_class("etcd")(workdir)
    try:
        server.start()
    except Exception as exc:
        server.stop()
        pytest.fail(f"could not start etcd: {exc}\n{server.log_tail()}")
    return server


@pytest.fixture(scope="module")
def etcd(tmp_path_factory) -> Iterator[object]:
    server = _start_etcd(tmp_path_factory.mktemp("etcd"))
    yield server
    server.stop()


@pytest.fixture
def frozen_etcd(tmp_path) -> Iterator[object]:
    """Another etcd server, to be frozen (SIGSTOP) once a client talks to it: what a member
    behind a silent partition looks like (connections stay open, nothing answers)."""
    server = _start_etcd(tmp_path / "frozen")
    yield server
    os.killpg(server.proc.pid, signal.SIGCONT)
    server.stop()


def endpoint(server) -> str:
    return server.url("x").removeprefix("etcd://").split("/", 1)[0]


def freeze(server) -> None:
    os.killpg(server.proc.pid, signal.SIGSTOP)


def test_a_client_starts_on_its_own_hosts_member() -> None:
    assert first_endpoint(("198.51.100.1:2379", "127.0.0.1:2379", "198.51.100.3:2379")) == 1


def test_clients_of_other_hosts_spread_over_the_members(monkeypatch) -> None:
    members = ("198.51.100.1:2379", "198.51.100.2:2379", "198.51.100.3:2379")
    chosen = set()
    for name in ("node-a", "node-b", "node-c", "node-d", "node-e", "node-f"):
        monkeypatch.setattr(socket, "gethostname", lambda name=name: name)
        chosen.add(first_endpoint(members))
    assert chosen == {0, 1, 2}


def test_a_silent_member_costs_one_deadline_then_the_next_one_answers(etcd, frozen_etcd) -> None:
    store = open_store(f"etcd://{endpoint(frozen_etcd)},{endpoint(etcd)}/read?timeout=1")
    try:
        store.put("k", b"frozen")  # the client talks to the first member...
        freeze(frozen_etcd)  # ...which goes silent
        started = time.monotonic()
        assert store.get("k") is None  # the read went on to the next member (another cluster here)
        assert time.monotonic() - started < 4
        store.put("k", b"v")  # and so do the requests after it, at once
        assert store.get("k").value == b"v"
        assert time.monotonic() - started < 5
    finally:
        store.close()


def test_a_write_that_ran_into_the_deadline_is_not_sent_again(etcd, frozen_etcd) -> None:
    """It may have been applied: the caller is told; the next request fails over."""
    store = open_store(f"etcd://{endpoint(frozen_etcd)},{endpoint(etcd)}/write?timeout=1")
    try:
        store.put("w", b"0")
        freeze(frozen_etcd)
        with pytest.raises((StoreTimeoutError, UnavailableError)):
            store.put("w", b"1")
        assert store.get("w") is None  # not sent again to the next member
        store.put("w", b"2")
        assert store.get("w").value == b"2"
    finally:
        store.close()
