"""The portmap registry on every store backend."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.portmap import (
    BASE_PORT,
    MAX_PORT,
    PortRegistry,
    port_by_brick,
    port_free,
)


def _free_range(count: int) -> int:
    """A start port with ``count`` free ports after it inside glusterd's range."""
    for start in range(55000, MAX_PORT - count, count):
        if all(port_free(p) for p in range(start, start + count)):
            return start
    pytest.skip("no free port range")


def registry(store, keys, host=None, lease=None, **kwargs) -> PortRegistry:
    return PortRegistry(store, keys, host or str(uuid.uuid4()), lambda: lease, **kwargs)


def test_allocate_records_a_free_port_in_glusterds_range(store, keys):
    ports = registry(store, keys)
    port = ports.allocate("v1", "/bricks/b1")
    assert BASE_PORT <= port <= MAX_PORT
    entry = store.get(keys.port(ports.host_uuid, "/bricks/b1"))
    assert json.loads(entry.value) == {"port": port, "brick": "/bricks/b1", "pid": 0, "volume": "v1"}
    assert ports.port_of("/bricks/b1") == port
    assert ports.allocate("v1", "/bricks/b1") == port  # idempotent
    other = ports.allocate("v1", "/bricks/b2")
    assert other != port
    assert set(ports.records()) == {"/bricks/b1", "/bricks/b2"}


def test_a_port_in_use_on_the_machine_is_skipped(store, keys):
    start = _free_range(2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", start))
        listener.listen()
        ports = registry(store, keys, base_port=start, max_port=start + 1)
        assert ports.allocate("v1", "/b1") == start + 1
        with pytest.raises(OperationFailed):
            ports.allocate("v1", "/b2")


def test_hosts_sharing_a_machine_never_share_a_port(store, keys):
    """Two daemons (loopback addresses) reserve ports before their bricks listen: the store
    records keep them apart, also when they race."""
    start = _free_range(8)
    hosts = [registry(store, keys, address=f"127.0.0.{i + 2}", base_port=start,
                      max_port=start + 7) for i in range(2)]
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def allocate(reg: PortRegistry, index: int) -> None:
        try:
            for brick in range(4):
                results[f"{index}/{brick}"] = reg.allocate("v", f"/bricks/{brick}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=allocate, args=(h, i)) for i, h in enumerate(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results.values()) == list(range(start, start + 8))


def test_sign_in_out_and_lookups(store, keys):
    ports = registry(store, keys)
    port = ports.allocate("v1", "/bricks/b1")
    # reserved but not signed in: PORTBYBRICK misses, as glusterd's does before SIGNIN
    assert port_by_brick(store, keys, ports.host_uuid, "/bricks/b1") is None
    ports.sign_in("/bricks/b1", port, 4242)
    assert port_by_brick(store, keys, ports.host_uuid, "/bricks/b1") == port
    assert ports.record("/bricks/b1") == {"port": port, "brick": "/bricks/b1", "pid": 4242,
                                          "volume": "v1"}
    ports.sign_out("/bricks/b1", port)
    assert port_by_brick(store, keys, ports.host_uuid, "/bricks/b1") is None
    assert ports.port_of("/bricks/b1") == port  # the reservation stays for a restart
    ports.release("/bricks/b1")
    assert ports.port_of("/bricks/b1") is None
    ports.sign_out("/bricks/b1", port)  # unknown brick: nothing happens
    assert ports.port_of("/bricks/b1") is None
    # other hosts' lookups
    assert port_by_brick(store, keys, str(uuid.uuid4()), "/bricks/b1") is None


def test_sign_in_follows_the_brick(store, keys):
    """A brick signing in with another port than reserved (or unknown) is recorded as is."""
    ports = registry(store, keys)
    ports.sign_in("/bricks/x", 50001, 7)
    assert ports.record("/bricks/x") == {"port": 50001, "brick": "/bricks/x", "pid": 7, "volume": ""}
    ports.allocate("v", "/bricks/y")
    ports.sign_in("/bricks/y", 50002, 8)
    assert ports.record("/bricks/y")["port"] == 50002
    assert ports.record("/bricks/y")["volume"] == "v"


def test_claim_keeps_a_running_bricks_port(store, keys):
    ports = registry(store, keys)
    ports.claim("v", "/bricks/b1", 50123, pid=99)
    assert ports.record("/bricks/b1") == {"port": 50123, "brick": "/bricks/b1", "pid": 99, "volume": "v"}
    ports.claim("v", "/bricks/b1", 50123)  # pid unknown: the signed-in pid stays
    assert ports.record("/bricks/b1")["pid"] == 99
    assert ports.allocate("v", "/bricks/b1") == 50123


def test_records_vanish_with_the_hosts_lease(store, keys):
    current = [store.lease(max(2.0, store.capabilities.min_lease_ttl))]
    ports = PortRegistry(store, keys, str(uuid.uuid4()), lambda: current[0])
    port = ports.allocate("v", "/bricks/b1")
    ports.sign_in("/bricks/b1", port, 1)
    assert store.get(keys.port(ports.host_uuid, "/bricks/b1")).lease is not None
    current[0].revoke()
    assert ports.port_of("/bricks/b1") is None
    # a renewed lease: the registry binds new records to it
    current[0] = store.lease(max(2.0, store.capabilities.min_lease_ttl))
    try:
        ports.claim("v", "/bricks/b1", port)
        assert ports.port_of("/bricks/b1") == port
    finally:
        current[0].revoke()
