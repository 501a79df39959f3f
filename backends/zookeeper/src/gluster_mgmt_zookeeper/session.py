"""What leases and watches use of the store that made them.

A Protocol, so that lease.py and watch.py depend on it rather than on store.py, which
imports them to build them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from kazoo.client import KazooClient

from gluster_mgmt.store.base import Lease, Watch
from gluster_mgmt.store.emulated import Tombstone
from gluster_mgmt.store.types import Op
from gluster_mgmt_zookeeper.znodes import Node, ZnodeLayout


class StoreSession(Protocol):
    """The ZooKeeper store as its leases and watches see it (implemented by ZooKeeperStore).

    Calls that take a ``client`` run on that session: a lease's own, or the store's.
    """

    layout: ZnodeLayout
    #: The store's own (lease-less) session.
    client: KazooClient
    #: What messages say about the server: never credentials.
    where: str

    @property
    def closed(self) -> bool: ...

    def ready(self, client: KazooClient) -> None:
        """Fail at once (not after a timeout) if the store is closed or ``client`` is offline."""

    def wait(self, async_result: Any, what: str, missing_ok: bool = False) -> Any:
        """A kazoo async call's result within the store timeout, errors translated."""

    #: Seconds one server call may take.
    timeout: float

    def sync(self, client: KazooClient) -> None:
        """Make ``client``'s later reads see every write committed before now."""

    def read_nodes(self, client: KazooClient, paths: Iterable[str]) -> dict[str, Node]: ...

    def commit_on(self, client: KazooClient, ops: list[Op]) -> int | None:
        """Apply ``ops`` in one multi on ``client``'s session."""

    def tombstones(self, prefix: str) -> list[Tombstone]: ...

    def tombstone_revisions(self, client: KazooClient, keys: Iterable[str]) -> dict[str, int]: ...

    def record_deletions(self, client: KazooClient, keys: list[str], rev_version: int) -> int | None:
        """Tombstones for keys whose lease's session expired; None if anything was written
        since the revision node had ``rev_version``."""

    def arm_recursive_watch(self, path: str, watcher: Any) -> Any:
        """Send addWatch (a persistent recursive watch) on the store's session: its pending
        answer, or None if the server has none (then arm one-shot watches)."""

    def disarm_recursive_watch(self, path: str, watcher: Any) -> None:
        """Remove it (with its last watcher)."""

    def forget_watch(self, watch: Watch) -> None:
        """A closed watch: the store no longer wakes or closes it."""

    def forget_lease(self, lease: Lease) -> None:
        """An ended lease: the store no longer revokes it on close."""
