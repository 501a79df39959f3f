"""Revision history emulated once, for servers that keep none (Consul, ZooKeeper).

Such a server stamps every write with a store-wide increasing index (Consul's Raft index,
ZooKeeper's zxid) but forgets deletions at once. The emulation: every deletion writes a
*tombstone* for its key in the same atomic write, stamped with the deletion's revision. Old
tombstones are swept, and each sweep raises the *horizon* (the highest revision whose
tombstones may be gone) in the same atomic write that removes them, so a watch resuming from a
revision at or above the horizon replays every change, and one below it gets
RevisionCompactedError. Watches diff successive consistent snapshots of their prefix.

The abstract classes own that algorithm; a backend maps a few primitives onto its server
(patroni's dcs/ style): ``EmulatedHistoryStore`` reads and sweeps tombstones and the horizon,
``EmulatedWatch`` reads snapshots and dates deletions.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Mapping
from typing import ClassVar

import attrs

from gluster_mgmt.errors import AuthError, RevisionCompactedError, StoreError
from gluster_mgmt.store.base import Store, StoreURL, Watch
from gluster_mgmt.store.types import Entry, EventKind, WatchEvent

log = logging.getLogger(__name__)


@attrs.frozen
class Tombstone:
    """``key`` was deleted at ``revision``."""

    key: str
    revision: int
    #: What the backend compares to remove exactly this record (Consul index, znode version).
    version: int


@attrs.frozen
class Horizon:
    """The highest revision whose tombstones may have been swept (0: none ever were), and the
    compare-and-swap token of the record holding it (0: no record yet)."""

    revision: int
    token: int


@attrs.frozen
class Snapshot:
    """A consistent view of a watched prefix: its entries by key, as of ``revision``."""

    entries: Mapping[str, Entry]
    revision: int


def _in_order(event: WatchEvent) -> tuple[int, str]:
    return event.revision, event.key


def compacted_error(start: int, horizon: int) -> RevisionCompactedError:
    return RevisionCompactedError(
        f"revision {start} is compacted (deletions are kept from revision {horizon + 1}); "
        "list the prefix again and watch from the listing's revision"
    )


class EmulatedHistoryStore(Store):
    """A Store whose deletions stay replayable through tombstones (see the module doc).

    The backend writes a tombstone with every deletion (inside its own transaction), calls
    ``_deleted(n)`` after committing n of them, and maps the primitives below.
    """

    #: Sweep when more than this many tombstones exist ...
    tombstones_max: ClassVar[int] = 2000
    #: ... down to this many (the newest).
    tombstones_kept: ClassVar[int] = 2000
    #: Deletions (through this object) between two sweeps.
    sweep_every: ClassVar[int] = 200
    #: Tombstones removed per atomic write (each also moves the horizon record).
    sweep_chunk: ClassVar[int] = 200

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        self._deletions = 0
        self._deletions_guard = threading.Lock()
        self._sweep_guard = threading.Lock()

    # ------------------------------------------------------------------ primitives
    @abc.abstractmethod
    def _tombstones(self, prefix: str) -> list[Tombstone]:
        """Every tombstone of a key under ``prefix``, in any order."""

    @abc.abstractmethod
    def _horizon(self) -> Horizon: ...

    @abc.abstractmethod
    def _write_horizon(self, doomed: list[Tombstone], revision: int, expected: Horizon) -> Horizon | None:
        """In one atomic write: set the horizon to ``revision`` if its record still holds
        ``expected``, and remove ``doomed`` (each only if unchanged). Returns the new horizon,
        None if anything changed meanwhile (another sweeper, a re-deletion)."""

    def _count_tombstones(self) -> int | None:
        """How many tombstones exist, when the server tells cheaply (None: list them)."""
        return None

    # ------------------------------------------------------------------ the algorithm
    def _deleted(self, count: int) -> None:
        """``count`` deletions were committed: sweep every ``sweep_every`` of them (one sweep
        at a time per object; a failed sweep waits for the next round)."""
        with self._deletions_guard:
            self._deletions += count
            if self._deletions < self.sweep_every:
                return
            self._deletions = 0
        if not self._sweep_guard.acquire(blocking=False):
            return
        try:
            self.sweep()
        except StoreError as exc:
            log.warning("%r: tombstone sweep failed: %s", self, exc)
        finally:
            self._sweep_guard.release()

    def sweep(self, keep: int | None = None) -> int:
        """Remove the oldest tombstones beyond ``keep`` (default: once more than
        ``tombstones_max`` exist, down to ``tombstones_kept``); returns the horizon."""
        threshold = self.tombstones_max if keep is None else keep
        keep = self.tombstones_kept if keep is None else keep
        count = self._count_tombstones()
        if count is not None and count <= threshold:
            return self._horizon().revision
        tombs = sorted(self._tombstones(""), key=lambda t: t.revision)
        horizon = self._horizon()
        if len(tombs) <= threshold:
            return horizon.revision
        return self._raise_horizon(horizon, tombs[:len(tombs) - keep], 0)

    def _compact(self, revision: int) -> None:
        horizon = self._horizon()
        doomed = sorted((t for t in self._tombstones("") if t.revision <= revision), key=lambda t: t.revision)
        self._raise_horizon(horizon, doomed, revision)

    def _raise_horizon(self, horizon: Horizon, doomed: list[Tombstone], floor: int) -> int:
        """Remove ``doomed`` (oldest first) chunk by chunk, the horizon raised past each chunk
        (and to ``floor``) in the same write: no reader sees a tombstone gone below it."""
        step = self.sweep_chunk
        for start in range(0, max(len(doomed), 1), step):
            chunk = doomed[start:start + step]
            revision = max(horizon.revision, floor, chunk[-1].revision if chunk else 0)
            moved = self._write_horizon(chunk, revision, horizon)
            if moved is None:
                return self._horizon().revision  # another sweeper (or a re-deletion) got there first
            horizon = moved
        return horizon.revision


class EmulatedWatch(Watch):
    """Snapshots of the prefix diffed into events by a thread of its own. Resuming from a
    revision replays the entries written since and the tombstones of keys deleted since.

    Construct, register with the store if it tracks watches, then ``start()``.
    """

    counts_reads = True

    def __init__(self, store: EmulatedHistoryStore, prefix: str, start_revision: int | None) -> None:
        super().__init__(prefix, start_revision or 0)
        self.store = store
        try:
            snapshot = self._counted(self._first_snapshot())
            if start_revision is None:
                self.revision = snapshot.revision
            elif start_revision < snapshot.revision:
                self._deliver(self._replay(snapshot, start_revision))
        except BaseException:
            self._finish()
            raise
        self._snapshot = snapshot
        self._thread = threading.Thread(target=self._run, name=f"{store.name}-watch-{prefix or '/'}",
                                        daemon=True)

    def start(self) -> "EmulatedWatch":
        self._thread.start()
        return self

    # ------------------------------------------------------------------ primitives
    @abc.abstractmethod
    def _first_snapshot(self) -> Snapshot:
        """A consistent snapshot of the prefix, now."""

    @abc.abstractmethod
    def _next_snapshot(self, failures: int) -> Snapshot | None:
        """Wait until the prefix may have changed, then a fresh snapshot (None: nothing
        changed, or closed). ``failures``: how many attempts in a row failed just before."""

    @abc.abstractmethod
    def _deletions(self, vanished: list[str], snapshot: Snapshot) -> list[WatchEvent] | None:
        """DELETE events for keys of the previous snapshot missing from ``snapshot`` (and any
        others the backend knows of between the two); None: take another snapshot first."""

    def _finish(self) -> None:
        """Free the watch's own resources (the thread has ended, or construction failed)."""

    def _retry_delay(self, failures: int) -> float:
        """Wait before trying again after ``failures`` failed attempts in a row."""
        return min(0.05 * 2 ** (failures - 1), 2.0)

    # ------------------------------------------------------------------ the algorithm
    def _counted(self, snapshot: Snapshot | None) -> Snapshot | None:
        if snapshot is not None:
            self.bytes_read += self._read_cost(snapshot)
        return snapshot

    def _read_cost(self, snapshot: Snapshot) -> int:
        """Bytes read from the server for ``snapshot``: all of it, unless the backend reads
        only what changed (and says so here)."""
        return sum(len(key) + len(entry.value) for key, entry in snapshot.entries.items())

    def _replay(self, snapshot: Snapshot, start: int) -> list[WatchEvent]:
        events = [WatchEvent(EventKind.PUT, key, entry.value, entry.revision)
                  for key, entry in snapshot.entries.items() if entry.revision > start]
        for tomb in self.store._tombstones(self.prefix):
            if start < tomb.revision <= snapshot.revision:
                current = snapshot.entries.get(tomb.key)
                if current is None or current.revision > tomb.revision:
                    events.append(WatchEvent(EventKind.DELETE, tomb.key, None, tomb.revision))
        # Read after the tombstones: a sweep raises the horizon before any is gone.
        horizon = self.store._horizon().revision
        if start < horizon:
            raise compacted_error(start, horizon)
        return sorted(events, key=_in_order)

    def _advance(self, snapshot: Snapshot) -> None:
        old = self._snapshot.entries
        events = [WatchEvent(EventKind.PUT, key, entry.value, entry.revision)
                  for key, entry in snapshot.entries.items()
                  if (before := old.get(key)) is None or before.revision != entry.revision]
        deleted = self._deletions([key for key in old if key not in snapshot.entries], snapshot)
        if deleted is None:
            return
        events += deleted
        self._deliver(sorted(events, key=_in_order))
        self._snapshot = snapshot

    def _run(self) -> None:
        failures = 0
        try:
            while not self.closed:
                try:
                    snapshot = self._counted(self._next_snapshot(failures))
                    failures = 0
                    if snapshot is not None and not self.closed:
                        self._advance(snapshot)
                    continue
                except (AuthError, RevisionCompactedError) as exc:
                    self._fail(exc)
                    return
                except StoreError as exc:
                    failures += 1
                    log.debug("%s watch %r: %s; retrying", self.store.name, self.prefix, exc)
                except Exception:  # never let the thread die silently: the consumer would wait forever
                    failures += 1
                    log.exception("%s watch %r failed; retrying", self.store.name, self.prefix)
                if self._closed.wait(self._retry_delay(failures)):
                    return
        finally:
            self._finish()
