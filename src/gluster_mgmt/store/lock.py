"""Distributed locks: lease-bound mutexes with fencing tokens.

A lock is a key created with ``expect=ABSENT`` and bound to its holder's lease, so it is
released when the holder releases it, and also when the holder dies (its lease expires).
The revision at which the key was created is the fencing token: it grows with every
acquisition, so a resource can refuse a stale holder that still believes it holds the lock.
"""

from __future__ import annotations

import abc
import os
import socket
import time
from typing import Any, Protocol

from gluster_mgmt.errors import ConflictError, LockTimeoutError, StoreError
from gluster_mgmt.store.follow import Follow, FollowableStore
from gluster_mgmt.store.keys import LOCKS, lock_key, lock_prefix
from gluster_mgmt.store.types import ABSENT, Delete, Put


class LeasingStore(FollowableStore, Protocol):
    """What the lock recipe needs of a store (``Store`` has it; the recipe sits below it)."""

    capabilities: Any

    def lease(self, ttl: float) -> Any: ...
    def put(self, key: str, value: bytes, expect: Any = ..., lease: Any = None) -> int: ...
    def get(self, key: str) -> Any: ...
    def delete(self, key: str, expect: Any = ...) -> Any: ...


class Lock(abc.ABC):
    """A mutex shared by every process that uses the same store."""

    name: str

    @abc.abstractmethod
    def acquire(self, timeout: float | None = None) -> int:
        """Block until held (LockTimeoutError after ``timeout`` s); returns the fencing token."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock up (a no-op if not held)."""

    @property
    @abc.abstractmethod
    def fencing_token(self) -> int | None:
        """Token of the current holding, None when not held."""

    @property
    def held(self) -> bool:
        return self.fencing_token is not None

    def __enter__(self) -> "Lock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LeaseLock(Lock):
    """The lock recipe every backend gets for free from the Store primitives."""

    DEFAULT_TTL = 15.0

    def __init__(self, store: LeasingStore, name: str, ttl: float | None = None,
                 holder: str = "", lease: Any = None) -> None:
        """``lease``: bind the lock to this live lease of the holder's (its session's)
        instead of granting one per acquisition: a store round trip less to take it; it is
        then released by deleting its key, and still goes with the holder's lease."""
        self.store = store
        self.name = name
        self.key = lock_key(name)
        self.ttl = ttl or max(self.DEFAULT_TTL, store.capabilities.min_lease_ttl)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self._shared_lease = lease
        self._lease: Any = None
        self._token: int | None = None

    @property
    def fencing_token(self) -> int | None:
        if self._lease is not None and not self._lease.alive:
            self._token = None  # lost with the lease: do not pretend to hold it
        return self._token

    def acquire(self, timeout: float | None = None) -> int:
        if self._token is not None:
            raise StoreError(f"lock {self.name!r} is already held by this object")
        deadline = None if timeout is None else time.monotonic() + timeout
        lease = self._shared_lease or self.store.lease(self.ttl).keep_alive()
        try:
            while True:
                try:
                    self._token = self.store.put(self.key, self.holder.encode(), ABSENT, lease=lease)
                    self._lease = lease
                    return self._token
                except ConflictError:
                    pass
                self._wait_for_release(deadline)
        except BaseException:
            if lease is not self._shared_lease:
                lease.revoke()
            raise

    def taking_op(self) -> Put:
        """The write that takes the lock inside the holder's own store transaction (with the
        other writes that start its work: one round trip for all); bound to the holder's
        lease, so only a lock given one has it. ``taken`` then records the holding."""
        if self._shared_lease is None:
            raise StoreError(f"lock {self.name!r} is taken in a transaction only on its holder's lease")
        return Put(self.key, self.holder.encode(), ABSENT, lease=self._shared_lease)

    def taken(self, token: int) -> None:
        """The transaction carrying ``taking_op`` committed at revision ``token``."""
        self._token, self._lease = token, self._shared_lease

    def release_op(self) -> Delete:
        """The write that gives the lock up inside the holder's last store transaction: it
        expects the key at our token, so that transaction applies only while we still hold
        the lock (fencing). ``released`` then forgets the holding."""
        if self._token is None or self._lease is not self._shared_lease:
            raise StoreError(f"lock {self.name!r} is not held on its holder's lease")
        return Delete(self.key, self._token)

    def released(self) -> None:
        """The transaction carrying ``release_op`` committed."""
        self._token = self._lease = None

    def _wait_for_release(self, deadline: float | None) -> None:
        # Following (not a bare watch) also sees a deletion missed while reconnecting.
        with Follow(self.store, lock_prefix(self.name), poll_interval=1.0) as follow:
            remaining = None if deadline is None else deadline - time.monotonic()
            if not follow.wait_for(lambda entries: self.key not in entries, remaining):
                raise LockTimeoutError(f"lock {self.name!r} not acquired within the timeout")

    def release(self) -> None:
        lease, self._lease, token, self._token = self._lease, None, self._token, None
        if lease is None:
            return
        if lease is not self._shared_lease:
            lease.revoke()  # removes the key with it
        elif token is not None:
            try:
                self.store.delete(self.key, token)
            except ConflictError:
                pass  # gone with the lease already (and maybe taken again since)

    def holder_of(self) -> str | None:
        """Who holds the lock now (for diagnostics), or None."""
        entry = self.store.get(self.key)
        return entry.value.decode() if entry else None


def release_stale_locks(store: LeasingStore, holder: str, live_leases: frozenset[int]) -> list[str]:
    """Release the locks ``holder`` took in an earlier life: held under its name but bound to
    none of ``live_leases``. A daemon restarted after a crash calls this, so its volumes are
    not blocked until its dead process's leases expire. Returns the names released."""
    released = []
    for entry in store.list(LOCKS):
        if not entry.key.endswith("/owner") or entry.value != holder.encode():
            continue
        if entry.lease is not None and entry.lease in live_leases:
            continue
        try:
            store.delete(entry.key, entry.revision)
        except ConflictError:
            continue  # released or taken again meanwhile
        released.append(entry.key[len(LOCKS):-len("/owner")])
    return released
