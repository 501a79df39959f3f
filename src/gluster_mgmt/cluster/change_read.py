"""What a change reads before its transaction, in one store read: its own keys, and what
every change checks (the takeover keys: imported nodes still on glusterd; the alive keys:
its steps' targets). On a store of several members each read is a raft round, and a
command's checks read one after the other were a third of `volume create`'s round trips
(docs/benchmarks.md, "Reading the three-node table")."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from gluster_mgmt.store.base import Store
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.lock import LeaseLock
from gluster_mgmt.store.types import Entry, Listing


@attrs.frozen
class ChangeRead:
    """One consistent read of a change's keys and prefixes and of the shared checks'."""

    keys: ClusterKeys
    listing: Listing
    #: Whether the alive keys were read (a change with steps needs them).
    with_alive: bool = True
    _by_key: dict[str, Entry] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_key", self.listing.as_dict())

    @classmethod
    def of(cls, store: Store, keys: ClusterKeys, own_keys: Sequence[str] = (),
           own_prefixes: Sequence[str] = (), with_alive: bool = True) -> "ChangeRead":
        shared = (keys.glusterd_nodes, keys.alive_prefix) if with_alive else (keys.glusterd_nodes,)
        return cls(keys, store.read(own_keys, (*own_prefixes, *shared)), with_alive)

    def get(self, key: str) -> Entry | None:
        return self._by_key.get(key)

    def under(self, prefix: str) -> list[Entry]:
        return [entry for entry in self.listing if entry.key.startswith(prefix)]

    @property
    def takeover(self) -> list[Entry]:
        """The imported nodes still on glusterd (Cluster.check_not_taking_over)."""
        return self.under(self.keys.glusterd_nodes)

    @property
    def alive(self) -> frozenset[str] | None:
        """The nodes whose alive key was there (None: not read)."""
        if not self.with_alive:
            return None
        prefix = self.keys.alive_prefix
        return frozenset(entry.key[len(prefix):] for entry in self.under(prefix))


@attrs.frozen
class HeldVolume:
    """A volume's lock as ``Cluster.volume_lock`` holds it (on the node's lease), with what
    was read under it: the change saves with ``lock.release_op()`` in its own transaction."""

    lock: LeaseLock
    checked: ChangeRead
