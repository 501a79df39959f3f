"""The embedded default store: one SQLite file, single node, no server to run.

Several processes on one host may share the file (WAL mode, ``BEGIN IMMEDIATE`` for writes).
It keeps a bounded history of changes so watches resume from a revision like etcd's do, and
leases whose keys disappear when the holder stops renewing (expiry is checked by every reader
and applied by the next writer or watcher). URL: ``local:///path/to/state.db``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
from contextlib import AbstractContextManager

from gluster_mgmt.errors import (
    ConflictError,
    LeaseExpiredError,
    RevisionCompactedError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
)
from gluster_mgmt.store.base import (
    Lease,
    Store,
    StoreURL,
    Watch,
    conflict_message,
    translating,
)
from gluster_mgmt.store.types import (
    Capabilities,
    Delete,
    Entry,
    EventKind,
    Expect,
    Expectation,
    Listing,
    Op,
    Put,
    WatchEvent,
)

#: Revisions of history kept for watches to resume from.
HISTORY_KEPT = 20_000
#: How often a watcher looks for new revisions written by other processes.
POLL_INTERVAL = 0.01

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, created INTEGER NOT NULL,
    revision INTEGER NOT NULL, lease INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease IS NOT NULL;
CREATE TABLE IF NOT EXISTS history (
    revision INTEGER NOT NULL, key TEXT NOT NULL, value BLOB, PRIMARY KEY (revision, key))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl REAL NOT NULL,
    expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS leases_by_expiry ON leases (expires);
INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0), ('boot', '');
"""

_LIVE_KV = "(lease IS NULL OR lease IN (SELECT id FROM leases WHERE expires >= ?))"


def lease_clock() -> float:
    """Seconds since boot: comparable between processes, immune to wall-clock jumps."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _create_private(path: str) -> None:
    """Create the database file root-only whatever the directory or umask (it holds the
    cluster secret; SQLite gives its -wal and -shm files the database file's mode). Never
    opens a file that exists: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's included. Another process then takes itself for the last
    user of the database when it closes, checkpoints and deletes the -wal and -shm files
    under this process's open connections: "disk I/O error", lost writes, leases gone (a
    gluster-mgmtd stopped on the file that benchmarks/scale.py's agents shared)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def translate_exception(exc: BaseException, where: str, what: str) -> StoreError | None:
    """The gluster_mgmt error for an SQLite failure (None if it is not one)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
        return StoreTimeoutError(f"{where} busy ({what}): {exc}")
    return UnavailableError(f"{where} ({what}): {exc}")


def translate_errors(where: str, what: str) -> AbstractContextManager[None]:
    """The SQLite edge (the hot paths call ``translate_exception`` themselves)."""
    return translating(lambda exc: translate_exception(exc, where, what))


#: The kv columns an ``Entry`` is made of, in its fields' order.
_ENTRY_COLUMNS = "key, value, revision, created, lease"


def _prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) of the keys starting with ``prefix`` ('' or ending with '/')."""
    if not prefix:
        return "", "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord("/") + 1)


class _Commit:
    """In-process wake-up for watchers after a local commit (other processes are polled).

    A counter, not a bare notify: a commit landing between a watcher's read and its wait
    must not be slept through."""

    _all: dict[str, "_Commit"] = {}
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.count = 0

    @classmethod
    def of(cls, path: str) -> "_Commit":
        with cls._guard:
            return cls._all.setdefault(path, cls())

    def notify(self) -> None:
        with self.condition:
            self.count += 1
            self.condition.notify_all()

    def wait_after(self, seen: int, timeout: float) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.count != seen, timeout)


class LocalStore(Store):
    name = "local"
    capabilities = Capabilities(
        min_lease_ttl=0.5, lease_expiry_slack=0.5, watch_every_revision=True, embedded=True
    )

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        if not url.path or url.hosts:
            raise StoreError("local store URL must be local:///absolute/path/to/state.db")
        self.path = url.path
        self.root = ""  # the file is the namespace
        self._local = threading.local()
        self._closed = False
        self._committed = _Commit.of(os.path.realpath(self.path))
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            _create_private(self.path)
            self._init_schema()
        except (OSError, sqlite3.Error) as exc:
            raise UnavailableError(f"cannot open local store {self.path}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> "LocalStore":
        if urllib.parse.urlsplit(url).netloc:
            raise StoreError(f"local store URL must be local:///absolute/path/to/state.db, not {url!r}")
        return cls(StoreURL.parse(url), **kwargs)

    # ------------------------------------------------------------------ connection handling
    def _db(self) -> sqlite3.Connection:
        if self._closed:
            raise UnavailableError(f"local store {self.path} is closed")
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            self._local.db = db
        return db

    def _translated(self, exc: sqlite3.Error, what: str = "a transaction") -> StoreError:
        return translate_exception(exc, f"local store {self.path}", what)

    def _read(self) -> "_Transaction":
        """A read transaction: every SELECT inside sees one snapshot."""
        return _Transaction(self, write=False)

    def _write(self) -> "_Transaction":
        return _Transaction(self, write=True)

    def _init_schema(self) -> None:
        self._db().executescript(_SCHEMA)
        with self._write() as db:
            boot = _boot_id()
            (stored,) = db.execute("SELECT value FROM meta WHERE name='boot'").fetchone()
            if stored != boot:
                # Leases are measured in time since boot: after a reboot, every holder is gone.
                self._expire(db, lease_clock() + 1e12)
                db.execute("UPDATE meta SET value=? WHERE name='boot'", (boot,))

    # ------------------------------------------------------------------ shared write steps
    @staticmethod
    def _revision(db: sqlite3.Connection) -> int:
        return db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0]

    def _next_revision(self, db: sqlite3.Connection) -> int:
        revision = self._revision(db) + 1
        db.execute("UPDATE meta SET value=? WHERE name='revision'", (revision,))
        if revision % 1000 == 0:
            horizon = revision - HISTORY_KEPT
            if horizon > 0:
                db.execute("DELETE FROM history WHERE revision <= ?", (horizon,))
                db.execute("UPDATE meta SET value=? WHERE name='compacted'", (horizon,))
        return revision

    def _expire(self, db: sqlite3.Connection, now: float) -> None:
        """Delete the keys of leases past their expiry (in this write transaction)."""
        expired = [r[0] for r in db.execute("SELECT id FROM leases WHERE expires < ?", (now,))]
        if not expired:
            return
        marks = ",".join("?" * len(expired))
        keys = [r[0] for r in db.execute(f"SELECT key FROM kv WHERE lease IN ({marks})", expired)]
        if keys:
            revision = self._next_revision(db)
            db.executemany("INSERT INTO history VALUES (?, ?, NULL)", [(revision, k) for k in keys])
            db.execute(f"DELETE FROM kv WHERE lease IN ({marks})", expired)
        db.execute(f"DELETE FROM leases WHERE id IN ({marks})", expired)

    def _current(self, db: sqlite3.Connection, key: str) -> tuple[int, int] | None:
        row = db.execute("SELECT revision, created FROM kv WHERE key=?", (key,)).fetchone()
        return row

    @staticmethod
    def _holds(current: tuple[int, int] | None, expect: Expectation) -> bool:
        if expect is Expect.ANY:
            return True
        if expect is Expect.ABSENT:
            return current is None
        return current is not None and current[0] == expect

    def _apply_put(self, db, revision: int, key: str, value: bytes, current, lease: Lease | None) -> None:
        lease_id = None
        if lease is not None:
            lease_id = lease.id
            row = db.execute("SELECT 1 FROM leases WHERE id=?", (lease_id,)).fetchone()
            if row is None:
                raise LeaseExpiredError(f"lease {lease_id:x} has expired or was revoked")
        created = revision if current is None else current[1]
        db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)",
                   (key, value, created, revision, lease_id))
        db.execute("INSERT INTO history VALUES (?, ?, ?)", (revision, key, value))

    # ------------------------------------------------------------------ primitives
    def _get(self, key: str) -> Entry | None:
        try:
            row = self._db().execute(
                f"SELECT value, revision, created, lease FROM kv WHERE key=? AND {_LIVE_KV}",
                (key, lease_clock()),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._translated(exc, "a read") from exc
        return None if row is None else Entry(key, row[0], row[1], row[2], row[3])

    def _list(self, prefix: str) -> Listing:
        return self._read_many((), (prefix,))

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        """One read transaction: the keys, then each prefix's range in key order."""
        now = lease_clock()
        rows: list[tuple] = []
        with self._read() as db:
            for key in keys:
                rows += db.execute(f"SELECT {_ENTRY_COLUMNS} FROM kv WHERE key=? AND {_LIVE_KV}",
                                   (key, now)).fetchall()
            for prefix in prefixes:
                low, high = _prefix_range(prefix)
                rows += db.execute(f"SELECT {_ENTRY_COLUMNS} FROM kv "
                                   f"WHERE key >= ? AND key < ? AND {_LIVE_KV} ORDER BY key",
                                   (low, high, now)).fetchall()
            revision = self._revision(db)
        return Listing(tuple(Entry(*row) for row in rows), revision)

    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        with self._write() as db:
            self._expire(db, lease_clock())
            current = self._current(db, key)
            if not self._holds(current, expect):
                raise ConflictError(conflict_message(key, expect, current and current[0]), (key,))
            revision = self._next_revision(db)
            self._apply_put(db, revision, key, value, current, lease)
            return revision

    def _delete(self, key: str, expect: Expectation) -> int | None:
        with self._write() as db:
            self._expire(db, lease_clock())
            current = self._current(db, key)
            if not self._holds(current, expect):
                raise ConflictError(conflict_message(key, expect, current and current[0]), (key,))
            if current is None:
                return None
            revision = self._next_revision(db)
            db.execute("DELETE FROM kv WHERE key=?", (key,))
            db.execute("INSERT INTO history VALUES (?, ?, NULL)", (revision, key))
            return revision

    def _commit(self, ops: list[Op]) -> int:
        with self._write() as db:
            self._expire(db, lease_clock())
            currents = {op.key: self._current(db, op.key) for op in ops}
            failed = tuple(op.key for op in ops if not self._holds(currents[op.key], op.expect))
            if failed:
                raise ConflictError(f"transaction expectation failed for {', '.join(failed)}", failed)
            revision = self._next_revision(db)
            for op in ops:
                if isinstance(op, Put):
                    self._apply_put(db, revision, op.key, op.value, currents[op.key], op.lease)
                elif isinstance(op, Delete) and currents[op.key] is not None:
                    db.execute("DELETE FROM kv WHERE key=?", (op.key,))
                    db.execute("INSERT INTO history VALUES (?, ?, NULL)", (revision, op.key))
            return revision

    def _watch(self, prefix: str, start_revision: int | None) -> Watch:
        with self._read() as db:
            current = self._revision(db)
            compacted = db.execute("SELECT value FROM meta WHERE name='compacted'").fetchone()[0]
        if start_revision is None:
            start_revision = current
        elif start_revision < compacted:
            raise RevisionCompactedError(
                f"revision {start_revision} is compacted (history kept from {compacted + 1})"
            )
        return _LocalWatch(self, prefix, start_revision)

    def _compact(self, revision: int) -> None:
        with self._write() as db:
            if revision > self._revision(db):
                raise StoreError(f"cannot compact local store {self.path} past its revision")
            db.execute("DELETE FROM history WHERE revision <= ?", (revision,))
            db.execute("UPDATE meta SET value=max(value, ?) WHERE name='compacted'", (revision,))

    def _grant_lease(self, ttl: float) -> Lease:
        with self._write() as db:
            now = lease_clock()
            self._expire(db, now)
            cursor = db.execute("INSERT INTO leases (ttl, expires) VALUES (?, ?)", (ttl, now + ttl))
            return _LocalLease(self, cursor.lastrowid, ttl)

    def _close(self) -> None:
        """Close this thread's connection; other threads' connections close when their
        threads end (closing a connection another thread may be using can crash SQLite)."""
        self._closed = True
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            with contextlib.suppress(sqlite3.Error):
                db.close()


class _Transaction:
    """One SQLite transaction with its errors translated; a class rather than a generator
    context manager because it is on the path of every operation."""

    __slots__ = ("store", "write", "db")

    def __init__(self, store: LocalStore, write: bool) -> None:
        self.store = store
        self.write = write

    def __enter__(self) -> sqlite3.Connection:
        self.db = db = self.store._db()
        try:
            db.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        except sqlite3.Error as exc:
            raise self.store._translated(exc) from exc
        return db

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        try:
            self.db.execute("ROLLBACK" if kind is not None and self.write else "COMMIT")
        except sqlite3.Error as error:
            if kind is None:
                raise self.store._translated(error) from error
        if isinstance(exc, sqlite3.Error):
            raise self.store._translated(exc) from exc
        if kind is None and self.write:
            self.store._committed.notify()
        return False


class _LocalLease(Lease):
    def __init__(self, store: LocalStore, lease_id: int, ttl: float) -> None:
        super().__init__(lease_id, ttl)
        self.store = store

    def refresh(self) -> None:
        with self.store._write() as db:
            now = lease_clock()
            self.store._expire(db, now)
            cursor = db.execute("UPDATE leases SET expires=? WHERE id=?", (now + self.ttl, self.id))
            if cursor.rowcount == 0:
                raise LeaseExpiredError(f"lease {self.id:x} has expired")

    def _revoke(self) -> None:
        with self.store._write() as db:
            db.execute("UPDATE leases SET expires=-1 WHERE id=?", (self.id,))
            self.store._expire(db, lease_clock())


class _LocalWatch(Watch):
    def __init__(self, store: LocalStore, prefix: str, start_revision: int) -> None:
        super().__init__(prefix, start_revision)
        self.store = store
        self._thread = threading.Thread(target=self._run, name=f"watch-{prefix or '/'}", daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        self.store._committed.notify()

    def _run(self) -> None:
        low, high = _prefix_range(self.prefix)
        seen = self.revision
        next_expiry_check = 0.0
        while not self.closed and not self.store._closed:
            commits_seen = self.store._committed.count
            try:
                now = lease_clock()
                if now >= next_expiry_check:
                    self._reap_expired(now)
                    next_expiry_check = now + 0.1
                with self.store._read() as db:
                    revision = self.store._revision(db)
                    if revision > seen:
                        compacted = db.execute(
                            "SELECT value FROM meta WHERE name='compacted'").fetchone()[0]
                        if seen < compacted:
                            self._fail(RevisionCompactedError(
                                f"watch fell behind: revision {seen} is compacted"))
                            return
                        rows = db.execute(
                            "SELECT revision, key, value FROM history WHERE revision > ? "
                            "AND revision <= ? AND key >= ? AND key < ? ORDER BY revision, key",
                            (seen, revision, low, high),
                        ).fetchall()
                        seen = revision
                        if rows:
                            self._deliver([
                                WatchEvent(EventKind.DELETE if v is None else EventKind.PUT, k, v, r)
                                for r, k, v in rows
                            ])
            except StoreError:
                pass  # the file may be busy for a moment; keep polling
            if not self.closed:
                self.store._committed.wait_after(commits_seen, POLL_INTERVAL)

    def _reap_expired(self, now: float) -> None:
        with translate_errors(f"local store {self.store.path}", "look for expired leases"):
            due = self.store._db().execute(
                "SELECT 1 FROM leases WHERE expires < ? LIMIT 1", (now,)).fetchone()
        if due:
            with self.store._write() as db:
                self.store._expire(db, now)
