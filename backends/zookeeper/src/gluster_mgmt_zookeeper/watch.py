"""Watches: a SubtreeMirror (mirror.py) keeps the prefix's znodes current from ZooKeeper's own
watches (a persistent recursive watch on the prefix's znode; on servers older than 3.6, one-shot
watches armed on every znode it reads), re-reading only the znodes they name, so a write wakes only the watchers of its prefix and costs them the size of the
change; the core (gluster_mgmt.store.emulated) diffs the snapshots. Tombstones date the
deletions. The store-wide revision node is checked every ``RELIST_CHECK_INTERVAL`` as a safety
net (a whole re-read if the store moved without a notification)."""

from __future__ import annotations

import threading
import time

from gluster_mgmt.store.emulated import EmulatedWatch, Snapshot
from gluster_mgmt.store.types import EventKind, WatchEvent
from gluster_mgmt_zookeeper._kazoo import log
from gluster_mgmt_zookeeper.mirror import SubtreeMirror
from gluster_mgmt_zookeeper.session import StoreSession

#: How often a watch wakes without a notification (to notice that it was closed).
WATCH_POLL_INTERVAL = 1.0
#: How often, without a notification, it compares the revision node with its listing and
#: lists again if the store moved (a safety net: notifications are what drive it).
RELIST_CHECK_INTERVAL = 30.0


class ZooKeeperWatch(EmulatedWatch):
    store: StoreSession

    def __init__(self, store: StoreSession, prefix: str, start_revision: int | None) -> None:
        self._trigger = threading.Event()
        #: Tombstone directory's marker when the last listing began; the revision it listed.
        self._tombs_seen = 0
        self._listed = -1
        #: Of the listing being diffed: tombstone markers before and after it, and the
        #: revision node's version (to pin deletions recorded by the watch).
        self._markers = (0, 0)
        self._rev_version = 0
        #: when the listing was last known current (monotonic)
        self._checked = 0.0
        self._mirror = SubtreeMirror(store, store.layout.directory(prefix))
        #: bytes the last round read from the server
        self._round_cost = 0
        #: whether keys may have come and gone under the prefix since the last round
        self._membership = True
        super().__init__(store, prefix, start_revision)

    def _tomb_marker(self, client) -> int:
        """pzxid of the tombstone directory: moves with every deletion (and sweep)."""
        stat = self.store.wait(client.exists_async(self.store.layout.deleted_path), "read tombstones")
        return stat.pzxid if stat is not None else 0

    def _wake(self, *_state: object) -> None:
        """A session event (store._on_state): watches may be lost, read everything again."""
        self._mirror.invalidate()
        self._trigger.set()

    def _on_event(self, event: object) -> None:
        """A kazoo watch fired (kazoo's callback thread)."""
        if self._mirror.notify(event):
            self._trigger.set()

    def _stop(self) -> None:
        self._trigger.set()
        self.store.forget_watch(self)

    def _finish(self) -> None:
        """The watch thread ended (or construction failed): no round arms the recursive watch
        again, so the server may forget it."""
        self._mirror.disarm(self._on_event)

    def _retry_delay(self, failures: int) -> float:
        return 0.0  # _next_snapshot backs off on its trigger (a reconnect wakes it early)

    def _read(self, client, sync: bool) -> Snapshot:
        if sync:
            self.store.sync(client)
        round_ = self._mirror.read(client, self._on_event)
        self._checked = time.monotonic()
        self._rev_version = round_.rev_stat.version
        self._round_cost = round_.bytes_read
        self._membership |= round_.membership  # kept until a diff has looked (_deletions)
        return Snapshot(round_.entries, round_.rev_stat.mzxid)

    def _read_cost(self, snapshot: Snapshot) -> int:
        return self._round_cost

    def _first_snapshot(self) -> Snapshot:
        client = self.store.client
        self.store.ready(client)
        self._tombs_seen = self._tomb_marker(client)
        snapshot = self._read(client, sync=True)
        self._listed = snapshot.revision
        return snapshot

    def _next_snapshot(self, failures: int) -> Snapshot | None:
        store = self.store
        triggered = self._trigger.wait(WATCH_POLL_INTERVAL if not failures else min(0.2 * failures, 1.0))
        self._trigger.clear()
        # A notification that lands between the wait timing out and the clear is cleared
        # with it, but what it named is still in the mirror: ask the mirror, after the clear
        # (any later notification sets the trigger again). Without this, that change waited
        # for the next safety-net check, up to RELIST_CHECK_INTERVAL (issue 15: ~30 s tails
        # at 100 agents, where a busy interpreter makes that window wide).
        triggered = triggered or self._mirror.pending()
        if store.closed:
            self.close()
        if self.closed:
            return None
        client = store.client
        checked = None  # the revision a safety-net check vouches for
        if not triggered and not failures:
            if time.monotonic() - self._checked < RELIST_CHECK_INTERVAL:
                return None
            self._checked = time.monotonic()
            stat = store.wait(client.exists_async(store.layout.rev_path), "read the revision node")
            if stat is not None and stat.mzxid == self._listed:
                return None
            self._mirror.flush(client)  # every notification up to stat.mzxid is now in
            if not self._mirror.pending():
                self._mirror.invalidate()
                checked = stat.mzxid if stat is not None else None
        store.ready(client)
        before = self._tomb_marker(client)
        snapshot = self._read(client, sync=False)
        self._markers = (before, self._tomb_marker(client))
        if checked is not None:
            self._report_unannounced(snapshot, checked)
        return snapshot

    def _report_unannounced(self, snapshot: Snapshot, checked: int) -> None:
        """After a safety-net re-read: changes up to ``checked`` that no notification named
        (there should be none; a warning says the safety net was needed)."""
        old = self._snapshot.entries
        missed = [key for key, entry in snapshot.entries.items()
                  if entry.revision <= checked and (key not in old or old[key].revision != entry.revision)]
        if missed:
            log.warning("zookeeper %s: watch of %r: %d changes came without a notification "
                        "(found by the safety net): %s", self.store.where, self.prefix, len(missed),
                        ", ".join(sorted(missed)[:5]))

    def _deletions(self, vanished: list[str], snapshot: Snapshot) -> list[WatchEvent] | None:
        store = self.store
        client = store.client
        old, current = self._snapshot.entries, snapshot.entries
        before, after = self._markers
        events = []
        if after != self._tombs_seen and self._membership:  # deletions since the last listing began
            # Keys created and deleted between two listings: only their tombstone tells. Only
            # deletions up to this listing's revision (later ones come with the next listing).
            # A round that saw data changes only had no key come and go: no need to look.
            events += [WatchEvent(EventKind.DELETE, t.key, None, t.revision)
                       for t in store.tombstones(self.prefix)
                       if self._listed < t.revision <= snapshot.revision
                       and t.key not in current and t.key not in old]
        if vanished:
            recorded = store.tombstone_revisions(client, vanished)
            unrecorded = []
            for key in vanished:
                revision = recorded.get(key, 0)
                if revision > old[key].revision:
                    # Deleted before this listing; a newer tombstone (deleted again since)
                    # must not reorder it after changes the next listing will report.
                    events.append(WatchEvent(EventKind.DELETE, key, None, min(revision, snapshot.revision)))
                else:
                    unrecorded.append(key)
            if unrecorded:  # their lease's session expired: the server left no tombstone
                revision = store.record_deletions(client, unrecorded, self._rev_version)
                self._trigger.set()  # our tombstones moved the revision node (or another write did)
                if revision is None:
                    return None
                events += [WatchEvent(EventKind.DELETE, k, None, revision) for k in unrecorded]
        self._tombs_seen = before
        self._listed = snapshot.revision
        self._membership = False
        return events
