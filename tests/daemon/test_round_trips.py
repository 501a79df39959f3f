"""How many store round trips a volume operation makes in series, counted, not timed: on a
store of several members each is a raft round, and they add up to most of a change's time
(docs/benchmarks.md, "Reading the three-node table"). Three in-process daemons on the
parametrized store; every store call is recorded with the thread that made it, so the calls
of the thread running the operation are those it waits for one after the other."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from benchmarks.scale import NoProcesses
from gluster_mgmt.cluster.peer_operations import create_cluster
from gluster_mgmt.daemon.config import DaemonConfig
from gluster_mgmt.daemon.node import Daemon
from gluster_mgmt.store import Store, open_store
from gluster_mgmt.store.base import Lease, Watch
from gluster_mgmt.store.keys import lock_prefix
from gluster_mgmt.store.types import Entry, Expectation, Listing, Op

#: The serial store calls of `volume create` on the node running it, through the Cluster
#: API (a daemon's route adds its store check, one read): the volume name, the peers, the
#: takeover and alive keys in one read; the lock, the coordinator key and the record in one
#: transaction; the messages; the results' watch (opened from the sending's revision: no
#: read, and on etcd not awaited); the commit, which releases the lock. 11 before issue 15's
#: third pass.
CREATE_ROUND_TRIPS = 5
#: `volume set`, `volume delete`: 6 and 7 (a lease granted and revoked per lock) before.
VOLUME_LOCK_ROUND_TRIPS = 3


@attrs.define
class Call:
    thread: str
    kind: str
    keys: tuple[str, ...]


class RecordingStore(Store):
    """A backend's real store, recording each call that reaches the server and its thread."""

    def __init__(self, inner: Store, calls: list[Call], guard: threading.Lock) -> None:
        super().__init__(inner.url, inner.timeout)
        self.inner = inner
        self.calls = calls
        self.guard = guard
        self.name = inner.name  # type: ignore[misc]
        self.capabilities = inner.capabilities  # type: ignore[misc]

    def _saw(self, kind: str, *keys: str) -> None:
        with self.guard:
            self.calls.append(Call(threading.current_thread().name, kind, keys))

    def _get(self, key: str) -> Entry | None:
        self._saw("get", key)
        return self.inner.get(key)

    def _list(self, prefix: str) -> Listing:
        self._saw("list", prefix)
        return self.inner.list(prefix)

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        self._saw("read", *keys, *prefixes)
        return self.inner.read(keys, prefixes)

    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        self._saw("put", key)
        return self.inner.put(key, value, expect, lease)

    def _delete(self, key: str, expect: Expectation) -> int | None:
        self._saw("delete", key)
        return self.inner.delete(key, expect)

    def _commit(self, ops: list[Op]) -> int:
        self._saw("txn", *(op.key for op in ops))
        return self.inner.transaction(ops)

    def _watch(self, prefix: str, start_revision: int | None) -> Watch:
        self._saw("watch", prefix)
        return self.inner.watch(prefix, start_revision)

    def _grant_lease(self, ttl: float) -> Lease:
        self._saw("lease")
        return self.inner.lease(ttl)

    def _close(self) -> None:
        self.inner.close()


@attrs.define
class Nodes:
    """Three daemons of one cluster in this process, each on a recording store."""

    daemons: list[Daemon]
    calls: list[Call]
    guard: threading.Lock
    workdir: Path

    def brick(self, index: int, name: str) -> str:
        return f"node{index}:{self.workdir / f'node{index}' / 'bricks' / name}"

    def serial(self, operation: Callable[[], Any]) -> tuple[list[Call], list[Call]]:
        """Run ``operation`` here: (the calls of this thread, every other call meanwhile)."""
        with self.guard:
            start = len(self.calls)
        operation()
        me = threading.current_thread().name
        with self.guard:
            made = self.calls[start:]
        return [c for c in made if c.thread == me], [c for c in made if c.thread != me]


@pytest.fixture
def nodes(store_url: str, tmp_path: Path) -> Iterator[Nodes]:
    calls: list[Call] = []
    guard = threading.Lock()
    membership = create_cluster(store_url, str(tmp_path / "cluster"))
    daemons: list[Daemon] = []
    try:
        for index in (1, 2, 3):
            home = tmp_path / f"node{index}"
            config = DaemonConfig(state_dir=str(home / "state"), glusterd_dir=str(home / "glusterd"),
                                  hostname=f"node{index}", address="127.0.0.1",
                                  run_dir=str(home / "run"), log_dir=str(home / "log"),
                                  glusterd_socket="", lease_ttl=30.0)
            services = NoProcesses()
            daemon = Daemon(config, services=services,
                            store_opener=lambda url: RecordingStore(open_store(url), calls, guard))
            services.agent = daemon
            daemon.activate(membership)
            daemons.append(daemon)
            daemon.active().peers.add_hostname(daemon.uuid, f"node{index}")
        yield Nodes(daemons, calls, guard, tmp_path)
    finally:
        for daemon in daemons:
            daemon.deactivate()
            daemon.services.close()


def _trace(calls: list[Call]) -> str:
    return "\n".join(f"  {c.thread}: {c.kind} {', '.join(c.keys)}" for c in calls)


def test_volume_create_round_trips_on_the_coordinator(nodes: Nodes) -> None:
    cluster = nodes.daemons[0].active()
    # a first one: whatever is done once per node (the inbox, the peers' names) is done
    cluster.volumes.create("warm", [nodes.brick(i, "warm") for i in (1, 2, 3)], force=True)
    serial, others = nodes.serial(lambda: cluster.volumes.create(
        "v1", [nodes.brick(i, "v1") for i in (1, 2, 3)], force=True))
    assert len(serial) == CREATE_ROUND_TRIPS, _trace(serial)
    # each target: its claim of the message, then its result (both with the message's key)
    for daemon in nodes.daemons:
        inbox = daemon.active().keys.inbox(daemon.uuid)
        assert sum(1 for c in others if c.kind not in ("list", "watch")
                   and any(k.startswith(inbox) for k in c.keys)) == 2, _trace(others)


@pytest.mark.parametrize("operation", ["set", "delete"])
def test_volume_changes_under_the_volume_lock(nodes: Nodes, operation: str) -> None:
    """`volume set` and `volume delete`: the lock (on the node's lease: no lease granted nor
    revoked), the record with the takeover keys in one read, the change releasing the lock."""
    cluster = nodes.daemons[0].active()
    cluster.volumes.create("v1", [nodes.brick(i, "v1") for i in (1, 2, 3)], force=True)
    run = {"set": lambda: cluster.volumes.set("v1", [("performance.quick-read", "off")]),
           "delete": lambda: cluster.volumes.delete("v1")}[operation]
    serial, _ = nodes.serial(run)
    assert len(serial) == VOLUME_LOCK_ROUND_TRIPS, _trace(serial)
    assert len(cluster.store.list(lock_prefix("volume-v1"))) == 0  # released


def test_volume_info_reads_every_record_and_decodes_what_changed(nodes: Nodes) -> None:
    """`volume info` (all) reads the store on every command (one listing: the answer is
    current on any node) and decodes only the records changed since: the same objects come
    back for the others, shared with the node's volfile follower and reconciler."""
    cluster = nodes.daemons[0].active()
    for name in ("v1", "v2"):
        cluster.volumes.create(name, [nodes.brick(i, name) for i in (1, 2, 3)], force=True)
    first = {v.name: v for v in cluster.volumes.info()}
    serial, _ = nodes.serial(cluster.volumes.info)
    assert [c.kind for c in serial] == ["list"], _trace(serial)
    nodes.daemons[1].active().volumes.set("v2", [("performance.quick-read", "off")])
    again = {v.name: v for v in cluster.volumes.info()}
    assert again["v1"] is first["v1"]
    assert again["v2"] is not first["v2"] and again["v2"].options["performance.quick-read"] == "off"
    nodes.daemons[2].active().volumes.delete("v1")
    assert [v.name for v in cluster.volumes.info()] == ["v2"]
