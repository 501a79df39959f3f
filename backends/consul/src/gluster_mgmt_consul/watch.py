"""Watches of the Consul backend: blocking queries on the prefix's change journal
(journal.py), so a change costs a watch the change; a listing of the prefix when the journal
cannot vouch that no commit was missed."""

from __future__ import annotations

import enum
import logging

from gluster_mgmt.store.emulated import EmulatedHistoryStore, EmulatedWatch, Snapshot
from gluster_mgmt.store.types import Entry, EventKind, WatchEvent
from gluster_mgmt_consul import journal, kv
from gluster_mgmt_consul.http import ConsulHTTP

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    """Why a watch round yields no snapshot from the journal."""

    RELIST = "relist"  # the journal cannot vouch for every commit: list the prefix
    AHEAD = "ahead"    # a value read is newer than the journal read: read the journal again


class ConsulWatch(EmulatedWatch):
    """Blocking queries on the prefix's journal (journal.py): a round reads the records of
    the directories that changed, and the values they name; when the journal cannot vouch
    that nothing was missed, one listing of the prefix (always correct).

    The store hands it its own connection (``http``: a blocking query holds one), the query
    parameters of a read (``read``: consistency and datacenter) and of a blocking query
    (``dc``), and how long one blocks (``wait``, seconds)."""

    def __init__(self, store: EmulatedHistoryStore, prefix: str, start_revision: int | None, *,
                 http: ConsulHTTP, read: list[tuple[str, str]], dc: list[tuple[str, str]],
                 wait: float) -> None:
        self._http = http
        self._query_read = read
        self._query_dc = dc
        self._wait = wait
        self._path = kv.path(store.root + prefix)
        self._journal_path = kv.path(store.root + journal.JOURNAL + journal.watched_dir(prefix))
        self._journal_cut = len(store.root + journal.JOURNAL)
        self._cut = len(store.root)
        #: The journal as of the last round, and when each deletion it named happened.
        self._view = journal.View({}, frozenset(), 0)
        self._deleted_at: dict[str, int] = {}
        super().__init__(store, prefix, start_revision)

    # ------------------------------------------------------------------ reads
    def _read_journal(self, index: int | None = None) -> journal.View:
        """The journal under the prefix: now (consistent), or once its index passes ``index``."""
        store = self.store
        if index is None:
            r = self._http.call("GET", self._journal_path, [("recurse", ""), *self._query_read],
                                allow=(200, 404))
        else:
            wait = self._wait
            r = self._http.call("GET", self._journal_path,
                                [("recurse", ""), *self._query_dc, ("wait", f"{wait:g}s"), ("index", index)],
                                timeout=self.store.timeout + wait * 1.1, allow=(200, 404))
        view, cost = journal.parse_view(r.json() if r.status == 200 else (), self._journal_cut, max(r.index, 1))
        self.bytes_read += cost
        return view

    def _listing(self) -> Snapshot:
        """The whole prefix, with the journal read just before it: every commit after the
        journal read shows in the next rounds' records."""
        self._view = self._read_journal()
        self._deleted_at = {}
        r = self._http.call("GET", self._path, [("recurse", ""), *self._query_read], allow=(200, 404))
        cut = self._cut
        items = r.json() if r.status == 200 else ()
        entries = {rel: kv.entry(rel, item) for item in items if not kv.reserved(rel := item["Key"][cut:])}
        self.bytes_read += sum(len(key) + len(e.value) for key, e in entries.items())
        return Snapshot(entries, max(r.index, 1))

    def _read_cost(self, snapshot: Snapshot) -> int:
        return 0  # counted as read (_read_journal, _listing, _fetch)

    # ------------------------------------------------------------------ rounds
    def _first_snapshot(self) -> Snapshot:
        return self._listing()

    def _next_snapshot(self, failures: int) -> Snapshot | None:
        if failures:
            return self._listing()  # a round may have failed half-way: start from a listing
        known = self._view
        view = self._read_journal(known.index)
        if self.closed or view.index == known.index:
            return None  # the wait ran out with no change
        if view.index < known.index:
            # Consul's index went back (a snapshot restore, tombstones reaped): list again.
            log.info("consul watch %r: journal index went back from %d to %d", self.prefix, known.index, view.index)
            return self._listing()
        for _ in range(5):
            outcome = self._apply(known, view)
            if outcome is Verdict.RELIST:
                return self._listing()
            if outcome is not Verdict.AHEAD:
                return outcome
            view = self._read_journal()  # a value newer than the journal read: catch up first
        return self._listing()

    def _apply(self, known: journal.View, view: journal.View) -> "Snapshot | Verdict":
        """The snapshot after the commits ``view`` shows since ``known``, or why not."""
        if known.sentinels - view.sentinels or known.records.keys() - view.records.keys():
            return Verdict.RELIST  # a session ended (its keys went unjournaled), or a record was swept
        entries = dict(self._snapshot.entries)
        deleted: dict[str, int] = {}
        fetch: list[tuple[str, int]] = []
        for directory, record in view.records.items():
            old = known.records.get(directory)
            if old is None:
                if record.commits != 1 or record.created <= known.index:
                    return Verdict.RELIST  # a directory's first commit(s) we did not see
            elif old.created != record.created or record.commits != old.commits + (record.modified != old.modified):
                return Verdict.RELIST  # recreated, or more than one commit since the last round
            elif record.modified == old.modified:
                continue
            named = journal.parse_record(directory, record.value)
            if named is None:
                return Verdict.RELIST
            for change in named:
                if not change.key.startswith(self.prefix):
                    continue
                if change.kind is journal.Kind.DELETE:
                    entries.pop(change.key, None)
                    deleted[change.key] = record.modified
                elif change.copied:
                    before = entries.get(change.key)
                    entries[change.key] = Entry(change.key, change.value or b"", record.modified,
                                                before.created if before is not None else record.modified)
                    deleted.pop(change.key, None)
                else:
                    fetch.append((change.key, record.modified))
        for key, revision in fetch:
            entry = self._fetch(key)
            if entry is None or entry.revision > revision:
                return Verdict.AHEAD  # changed again since the journal read
            if entry.revision < revision:
                return Verdict.RELIST
            entries[key] = entry
            deleted.pop(key, None)
        self._view = view
        self._deleted_at = deleted
        return Snapshot(entries, view.index)

    def _fetch(self, key: str) -> Entry | None:
        r = self._http.call("GET", kv.path(self.store.root + key), self._query_read, allow=(200, 404))
        if r.status == 404:
            return None
        entry = kv.entry(key, r.json()[0])
        self.bytes_read += len(key) + len(entry.value)
        return entry

    def _deletions(self, vanished: list[str], snapshot: Snapshot) -> list[WatchEvent]:
        # A journaled deletion has its commit's index; one seen in a listing only is dated
        # by the listing (its own index is not known, the listing's is at or after it).
        latest = max(snapshot.revision, self.revision + 1)
        return [WatchEvent(EventKind.DELETE, key, None, self._deleted_at.get(key, latest)) for key in vanished]

    def _stop(self) -> None:
        self._http.interrupt()  # ends the blocking query now; the thread then sees ``closed``

    def _finish(self) -> None:
        self._http.close()

