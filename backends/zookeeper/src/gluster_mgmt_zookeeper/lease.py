"""A lease is a ZooKeeper session of its own; its keys are ephemeral znodes of it."""

from __future__ import annotations

import threading
import time

from kazoo.protocol.states import KazooState

from gluster_mgmt.errors import ConflictError, LeaseExpiredError, StoreError, UnavailableError
from gluster_mgmt.store.base import Lease
from gluster_mgmt.store.types import Delete
from gluster_mgmt_zookeeper._kazoo import log, stop_client
from gluster_mgmt_zookeeper.session import StoreSession


class ZooKeeperLease(Lease):
    """A lease is a ZooKeeper session of its own; its keys are ephemeral znodes of it.

    kazoo heartbeats the session by itself, so to keep the contract (a lease nobody refreshes
    expires after its TTL) the lease also ends itself when ``refresh`` is not called for a TTL.
    A holder that dies stops heartbeating and the server expires the session.
    """

    def __init__(self, store: StoreSession, client, ttl: float) -> None:
        session = client.client_id
        if session is None:
            stop_client(client)
            raise UnavailableError(f"zookeeper {store.where} unavailable: lease session lost")
        super().__init__(session[0], ttl)
        self.store = store
        self.client = client
        self._keys: set[str] = set()
        self._deadline = time.monotonic() + ttl
        self._ended = threading.Event()
        self._session_lost = threading.Event()
        self._once = threading.Lock()
        self._lost_reported = False
        client.add_listener(self._on_state)
        self._monitor = threading.Thread(target=self._watch_deadline, name=f"zk-lease-{self.id:x}",
                                         daemon=True)
        self._monitor.start()

    def __repr__(self) -> str:
        return f"<ZooKeeper lease {self.id:x} ttl={self.ttl:g}s>"

    # -- state
    def _on_state(self, state: str) -> None:
        if state == KazooState.LOST and not self._ended.is_set():
            self._session_lost.set()
            threading.Thread(target=self._expire, args=(False,), daemon=True).start()

    def _check_session(self) -> None:
        if self._ended.is_set() or self._session_lost.is_set() or self._lost.is_set():
            raise LeaseExpiredError(f"lease {self.id:x} has expired or was revoked")
        session = self.client.client_id
        if session is not None and session[0] != self.id:
            self._session_lost.set()
            raise LeaseExpiredError(f"lease {self.id:x} has expired (its session was replaced)")
        if not self.client.connected:
            raise UnavailableError(f"zookeeper {self.store.where} unavailable: lease {self.id:x} "
                                   "is disconnected")

    def refresh(self) -> None:
        self._check_session()
        self._deadline = time.monotonic() + self.ttl

    def _watch_deadline(self) -> None:
        while not self._ended.is_set():
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                log.info("lease %x not refreshed within its %gs TTL: ending it", self.id, self.ttl)
                self._expire(True)
                return
            self._ended.wait(remaining)

    def _expire(self, drop_keys: bool) -> None:
        if self._stop.is_set():
            return  # revoked: nothing was lost
        self._end(drop_keys)
        self._mark_lost()

    def _mark_lost(self) -> None:
        with self._once:
            if self._lost_reported:
                return
            self._lost_reported = True
        super()._mark_lost()

    def _revoke(self) -> None:
        self._end(drop_keys=True)

    def _end(self, drop_keys: bool) -> None:
        """Delete our keys visibly (tombstones, a revision), then close the session."""
        with self._once:
            if self._ended.is_set():
                return
            self._ended.set()
        try:
            if drop_keys and self._keys and not self._session_lost.is_set():
                self._drop_keys()
        except StoreError as exc:
            log.warning("lease %x: could not delete its keys (%s); closing its session removes "
                        "them", self.id, exc)
        finally:
            self.client.remove_listener(self._on_state)
            stop_client(self.client)
            self.store.forget_lease(self)

    def _drop_keys(self) -> None:
        store = self.store
        client = self.client if self.client.connected else store.client
        for _ in range(5):
            nodes = store.read_nodes(client, [store.layout.path(k) for k in sorted(self._keys)])
            owned = [Delete(store.layout.key(n.path), n.revision) for n in nodes.values()
                     if n.is_key and n.owner == self.id]
            if not owned:
                return
            try:
                store.commit_on(client, owned)
                return
            except ConflictError:
                continue

