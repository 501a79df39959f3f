"""This node's presence in its cluster: one lease, the alive key bound to it, and renewal.

Everything that must vanish with the node — its alive key, the coordinator claims of the
transactions it drives, its bricks' port records — is bound to one lease. When the store
forgets that lease (a partition, a long pause), the session grants a new one and announces
the node again; components read ``session.current()`` at each write, so the renewal reaches
all of them at once and nobody swaps leases into them by hand.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from gluster_mgmt.errors import StoreError

if TYPE_CHECKING:
    from gluster_mgmt.membership.peers import Peers
    from gluster_mgmt.store.base import Lease, Store

log = logging.getLogger(__name__)

class NodeSession:
    """Open with ``open()``, end with ``close()`` (revokes the lease: the alive key goes)."""

    def __init__(self, store: "Store", peers: "Peers", node_uuid: str, api_address: str,
                 ttl: float, on_renewed: Callable[[], None] = lambda: None,
                 retry_interval: float = 1.0) -> None:
        self.store = store
        self.peers = peers
        self.node_uuid = node_uuid
        #: host:port of this daemon's REST API, published in the alive key for peers.
        self.api_address = api_address
        self.ttl = ttl
        self.on_renewed = on_renewed
        self.retry_interval = retry_interval
        self._lease: Lease | None = None
        self._guard = threading.Lock()
        self._closed = threading.Event()

    def open(self) -> "NodeSession":
        """Grant the lease and announce the node (raises StoreError if the store is away)."""
        self._lease = self._grant_and_announce()
        return self

    def current(self) -> "Lease | None":
        """The lease now in force (a LeaseSource)."""
        return self._lease

    def close(self) -> None:
        """Revoke the lease (the alive key and everything bound to it go at once)."""
        with self._guard:
            self._closed.set()
            lease, self._lease = self._lease, None
        if lease is not None:
            try:
                lease.revoke()
            except StoreError as exc:
                log.warning("could not revoke lease: %s", exc)

    def _grant_and_announce(self) -> "Lease":
        lease = self.store.lease(self.ttl).keep_alive()
        try:
            self.peers.announce(self.node_uuid, self.api_address, lease)
        except BaseException:
            with contextlib.suppress(StoreError):
                lease.revoke()
            raise
        lease.on_lost(self._lost)
        return lease

    def _lost(self, lease: "Lease") -> None:
        """The store forgot us: come back with a new lease, from a thread of our own (this
        runs on the old lease's keep-alive thread)."""
        log.warning("lease lost; re-announcing this node")
        threading.Thread(target=self._renew, args=(lease,), name="lease-renew", daemon=True).start()

    def _renew(self, lost: "Lease") -> None:
        while not self._closed.is_set():
            try:
                with self._guard:
                    if self._closed.is_set() or self._lease is not lost:
                        return
                    self._lease = self._grant_and_announce()
                self.on_renewed()
                return
            except StoreError as exc:
                log.warning("cannot renew lease yet: %s", exc)
                self._closed.wait(self.retry_interval)
