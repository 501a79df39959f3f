"""The lease a transaction's driver key (coordinator or recoverer) is bound to."""

from __future__ import annotations

import contextlib
import threading

from gluster_mgmt.errors import StoreError
from gluster_mgmt.store.base import Lease, LeaseSource, Store


class DriverLease:
    """The node's current lease (``daemon``: the node session's, read at each use, so a
    renewal reaches the executor by itself), else one of our own granted for ``ttl``
    seconds: driver keys vanish with their driver."""

    def __init__(self, store: Store, ttl: float,
                 daemon: LeaseSource | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self.daemon = daemon
        self._own: Lease | None = None
        self._guard = threading.Lock()

    def get(self) -> Lease:
        lease = self.daemon() if self.daemon is not None else None
        if lease is not None and lease.alive:
            return lease
        with self._guard:
            if self._own is None or not self._own.alive:
                self._own = self.store.lease(self.ttl).keep_alive()
            return self._own

    def revoke_own(self) -> None:
        with self._guard:
            lease, self._own = self._own, None
        if lease is not None:
            with contextlib.suppress(StoreError):
                lease.revoke()
