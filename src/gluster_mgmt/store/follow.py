"""The follow recipe: keep a prefix's entries current and react to every change.

Every component that mirrors part of the store (the volfile cache, the brick reconciler,
an executor's inbox and its wait for results, a lock's waiter) needs the same loop: list the
prefix, watch from the listing's revision, apply events to a cache, list again when the
store no longer keeps that revision, back off while the store is unreachable. ``Follow``
is that loop, once.

Lifecycle, in the spirit of kazoo's recipes::

    follow = Follow(store, keys.volumes, on_change=apply).start()   # a thread of its own
    follow.wait_ready(30)
    ...
    follow.stop()

or driven from the caller's thread, with no thread of its own::

    with Follow(store, prefix) as follow:
        follow.wait_for(lambda entries: key not in entries, timeout)

Driven by its own thread, store errors are logged and retried with backoff; driven by the
caller (``poll``/``wait_for`` without ``start``), they are raised to the caller, who decides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from gluster_mgmt.errors import RevisionCompactedError, StoreError
from gluster_mgmt.store.keys import check_prefix
from gluster_mgmt.store.types import Entry, EventKind, Listing, WatchEvent

log = logging.getLogger(__name__)


class FollowableStore(Protocol):
    """What the recipe needs of a store (``Store`` has it; the recipes sit below it)."""

    def list(self, prefix: str = "") -> Listing: ...
    def watch(self, prefix: str = "", start_revision: int | None = None) -> Any: ...


@attrs.frozen
class Update:
    """One change of the followed prefix, as the callback sees it."""

    #: Every entry under the prefix now, by full key.
    entries: Mapping[str, Entry]
    #: Keys written since the previous update (every key, after a listing).
    changed: tuple[str, ...]
    #: Keys deleted since the previous update.
    removed: tuple[str, ...]
    #: True when this update comes from a listing (the first one, after the store forgot the
    #: watched revision, or a periodic resync): consumers that act on messages re-check all.
    relisted: bool
    #: Store revision the entries are current at.
    revision: int


@attrs.frozen
class Backoff:
    """Waits between retries while the store is unreachable: ``first``, doubling to ``most``."""

    first: float = 0.5
    most: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.most)


class Follow:
    """Mirrors the entries under ``prefix`` and calls ``on_change(update)`` after each change.

    ``resync_interval``: list again every so many seconds even when the watch is healthy (for
    consumers that must not depend on every event arriving). ``poll_interval``: how long one
    watch read waits, which bounds how late ``stop`` takes effect.
    """

    def __init__(self, store: FollowableStore, prefix: str,
                 on_change: Callable[[Update], None] | None = None, *, name: str = "",
                 resync_interval: float | None = None, poll_interval: float = 0.5,
                 backoff: Backoff = Backoff()) -> None:
        self.store = store
        self.prefix = check_prefix(prefix)
        self.on_change = on_change
        self.name = name or f"follow-{prefix}"
        self.resync_interval = resync_interval
        self.poll_interval = poll_interval
        self.backoff = backoff
        self._entries: dict[str, Entry] = {}
        self._revision: int | None = None
        self._watch: Any = None  # the store's Watch while one is open
        self._resync_at = float("inf")
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Follow":
        """Follow from a background thread until ``stop``."""
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def run(self) -> None:
        """Follow in this thread until ``stop``: store errors are logged and retried."""
        delays = self.backoff.delays()
        try:
            while not self._stopped.is_set():
                try:
                    self.poll(self.poll_interval)
                    delays = self.backoff.delays()
                except StoreError as exc:
                    log.warning("%s: %s; retrying", self.name, exc)
                    self._stopped.wait(next(delays))
                except Exception:
                    log.exception("%s failed; listing again", self.name)
                    self._forget_revision()
                    self._stopped.wait(next(delays))
        finally:
            self._close_watch()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._close_watch()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> "Follow":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # ------------------------------------------------------------------ reading
    @property
    def ready(self) -> bool:
        """True once the first listing has been applied (and called back)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def entries(self) -> Mapping[str, Entry]:
        """A snapshot of the cache, by full key."""
        with self._changed:
            return dict(self._entries)

    @property
    def revision(self) -> int | None:
        return self._revision

    def wait_for(self, predicate: Callable[[Mapping[str, Entry]], object],
                 timeout: float | None) -> bool:
        """Block until ``predicate(entries)`` holds (True) or ``timeout`` passes (False).
        Without a thread of its own, this drives the follow from the calling thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._ready.is_set() and self._thread is None:
                self.poll(0)  # the first listing, whatever the timeout
            if self._ready.is_set() and predicate(self.entries):
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0 or self._stopped.is_set():
                return False
            step = self.poll_interval if remaining is None else min(remaining, self.poll_interval)
            if self._thread is None:
                self.poll(step)
            else:
                with self._changed:
                    self._changed.wait(step)

    def assume_empty_at(self, revision: int) -> None:
        """Start from an empty prefix at ``revision`` instead of a listing: for a caller that
        knows nothing can be under the prefix at that revision (it just wrote what others
        answer under it), so the watch from there sees every entry (a round trip saved).
        Only before the first poll."""
        if self._revision is not None:
            raise RuntimeError(f"{self.name}: already following at revision {self._revision}")
        self._commit({}, revision)
        self._ready.set()

    # ------------------------------------------------------------------ one step
    def poll(self, timeout: float) -> bool:
        """List if needed, then read the watch for up to ``timeout`` s and apply what came.
        Returns True if the cache changed. Raises StoreError (but for a forgotten revision,
        which it handles by listing again)."""
        try:
            if self._revision is None or time.monotonic() >= self._resync_at:
                return self._relist()
            watch = self._watch
            if watch is None:
                watch = self._watch = self.store.watch(self.prefix, self._revision)
            # ``stop`` from another thread closes this watch: ``get`` then returns at once
            events = watch.get(timeout=timeout)
            if not events and watch.closed:
                # closed under us (its store was closed): open another, which fails on a
                # closed store and backs off, instead of spinning on an empty closed watch
                self._close_watch()
                return False
            return self._apply_events(events) if events else False
        except RevisionCompactedError:
            log.info("%s: revision %s is no longer kept; listing again", self.name, self._revision)
            self._forget_revision()
            return self._relist()
        except BaseException:
            self._close_watch()
            raise

    def _relist(self) -> bool:
        self._close_watch()
        listing = self.store.list(self.prefix)
        fresh = listing.as_dict()
        old = self._entries
        changed = tuple(k for k, e in fresh.items() if old.get(k) != e)
        removed = tuple(k for k in old if k not in fresh)
        self._commit(fresh, listing.revision)
        if self.resync_interval is not None:
            self._resync_at = time.monotonic() + self.resync_interval
        self._call_back(Update(fresh, tuple(fresh), removed, True, listing.revision))
        self._ready.set()
        return bool(changed or removed)

    def _apply_events(self, events: list[WatchEvent]) -> bool:
        entries = dict(self._entries)
        changed: dict[str, None] = {}
        removed: dict[str, None] = {}
        for event in events:
            if event.kind is EventKind.DELETE:
                entries.pop(event.key, None)
                removed[event.key] = None
                changed.pop(event.key, None)
            else:
                old = entries.get(event.key)
                entries[event.key] = Entry(event.key, event.value or b"", event.revision,
                                           old.created if old is not None else event.revision)
                changed[event.key] = None
                removed.pop(event.key, None)
        revision = events[-1].revision
        self._commit(entries, revision)
        self._call_back(Update(entries, tuple(changed), tuple(removed), False, revision))
        return True

    def _commit(self, entries: dict[str, Entry], revision: int) -> None:
        with self._changed:
            self._entries = entries
            self._revision = revision
            self._changed.notify_all()

    def _call_back(self, update: Update) -> None:
        if self.on_change is not None:
            self.on_change(update)

    def _forget_revision(self) -> None:
        self._close_watch()
        self._revision = None

    def _close_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
