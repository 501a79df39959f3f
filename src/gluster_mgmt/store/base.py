"""The Store contract. The abstract base owns validation and the shared machinery (leases'
keep-alive, watch queues, locks); backends only map primitives onto their server
(patroni's dcs/ style), and translate their client's exceptions at their edge.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar

import attrs

from gluster_mgmt.errors import (
    LeaseExpiredError,
    StoreError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.keys import check_key, check_prefix
from gluster_mgmt.store.lock import LeaseLock, Lock
from gluster_mgmt.store.types import (
    ANY,
    Capabilities,
    Check,
    Delete,
    Entry,
    Expect,
    Expectation,
    Listing,
    Op,
    Put,
    WatchEvent,
)

log = logging.getLogger(__name__)

#: Smallest value size every backend accepts (Consul KV: 512 KiB, base64-grown inside a txn).
MAX_VALUE_SIZE = 256 * 1024
#: Largest number of operations in one transaction (Consul: 64 ops, and a delete costs two
#: because it also records a tombstone for watch resumption).
MAX_TXN_OPS = 32
#: Largest sum of value sizes in one transaction (Consul caps a txn request at 512 KiB).
MAX_TXN_SIZE = 256 * 1024
def check_value(key: str, value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise StoreError(f"value of {key!r} must be bytes, not {type(value).__name__}")
    if len(value) > MAX_VALUE_SIZE:
        raise ValueTooLargeError(
            f"value of {key!r} is {len(value)} bytes; the store limit is {MAX_VALUE_SIZE} bytes"
        )
    return bytes(value)


def check_expectation(key: str, expect: object) -> Expectation:
    if isinstance(expect, Expect):
        return expect
    if isinstance(expect, int) and not isinstance(expect, bool) and expect > 0:
        return expect
    raise StoreError(
        f"expectation for {key!r} must be ANY, ABSENT or a positive revision, not {expect!r}"
    )


def conflict_message(key: str, expect: Expectation, found: int | None) -> str:
    """What a lost compare-and-swap says, the same on every backend (``found``: the key's
    revision, None when absent)."""
    if expect is Expect.ABSENT:
        return f"key {key!r} already exists (revision {found})"
    if found is None:
        return f"key {key!r} does not exist (expected revision {expect})"
    return f"key {key!r} is at revision {found}, expected {expect}"


@attrs.frozen
class StoreURL:
    """A parsed store URL: ``scheme://[user[:secret]@]host:port[,host:port...][/root][?k=v]``."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    #: Key prefix under which the store keeps everything ('' or ending with '/').
    root: str
    params: dict[str, str] = attrs.field(factory=dict, hash=False)
    username: str | None = None
    secret: str | None = attrs.field(default=None, repr=False)
    #: For path-based stores (local://): the filesystem path.
    path: str = ""

    @classmethod
    def parse(cls, url: str, default_port: int | None = None, default_root: str = "") -> "StoreURL":
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        params = dict(urllib.parse.parse_qsl(parts.query))
        netloc = parts.netloc
        username = secret = None
        if "@" in netloc:
            cred, netloc = netloc.rsplit("@", 1)
            username, _, secret = cred.partition(":")
            username = urllib.parse.unquote(username) or None
            secret = urllib.parse.unquote(secret) or None
        hosts = []
        for item in filter(None, netloc.split(",")):
            host, sep, port = item.rpartition(":")
            if not sep or "]" in port:  # no port given (or a bare IPv6 literal)
                host, port = item, ""
            host = host.strip("[]")
            if port:
                if not port.isdigit() or not 0 < int(port) < 65536:
                    raise StoreError(f"invalid port {port!r} in store URL {redact_url(url)}")
                hosts.append((host, int(port)))
            elif default_port is not None:
                hosts.append((host, default_port))
            else:
                raise StoreError(f"store URL {redact_url(url)} needs host:port")
        path = urllib.parse.unquote(parts.path)
        root = path.strip("/")
        if root:
            check_key(root)
            root += "/"
        else:
            root = default_root
        return cls(scheme, tuple(hosts), root, params, username, secret, path)

    def redacted(self) -> str:
        if not self.hosts:
            return f"{self.scheme}://{self.path}"
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        cred = f"{self.username or ''}:***@" if self.secret else ""
        return f"{self.scheme}://{cred}{hosts}/{self.root}"


def redact_url(url: str) -> str:
    """The URL with any password/token replaced, fit for logs and error messages."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        cred, host = netloc.rsplit("@", 1)
        # "user:secret@" keeps the user; a lone "token@" (Consul's ACL token) is all secret
        netloc = f"{cred.split(':', 1)[0]}:***@{host}" if ":" in cred else f"***@{host}"
    query = urllib.parse.urlencode(
        [(k, "***" if k.lower() in ("token", "password", "secret") else v)
         for k, v in urllib.parse.parse_qsl(parts.query)]
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


#: A backend's map from its client library's exceptions to ours (None: not the client's).
Translator = Callable[[BaseException], "StoreError | None"]


@contextlib.contextmanager
def translating(translate: Translator) -> Iterator[None]:
    """The shared half of every backend's ``translate_errors()`` edge: raise what
    ``translate`` makes of a client exception, the original chained as ``__cause__``; our
    own errors, and exceptions ``translate`` does not know, pass unchanged."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


class Watch(abc.ABC):
    """A stream of changes under a prefix; the backend reconnects and resumes by itself.

    Consume with ``get(timeout)`` (a batch, ``[]`` on timeout) or by iterating. Errors the
    watch cannot recover from (``RevisionCompactedError``) are raised from ``get``.
    """

    #: Whether the backend counts ``bytes_read`` itself (it reads more than it delivers).
    counts_reads: ClassVar[bool] = False

    def __init__(self, prefix: str, start_revision: int) -> None:
        self.prefix = prefix
        #: Revision of the last event delivered (or the start revision).
        self.revision = start_revision
        #: Keys and values this watch read from the server so far: what a change costs each
        #: watcher (benchmarks/scale.py); the events themselves unless ``counts_reads``.
        self.bytes_read = 0
        self._queue: queue.SimpleQueue[list[WatchEvent] | BaseException | None] = queue.SimpleQueue()
        self._closed = threading.Event()

    # -- consumer side
    def get(self, timeout: float | None = None) -> list[WatchEvent]:
        if self._closed.is_set() and self._queue.empty():
            return []
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if item is None:
            return []
        if isinstance(item, BaseException):
            self._queue.put(item)  # stay failed for every later call
            raise item
        return item

    def __iter__(self) -> Iterator[WatchEvent]:
        while not self._closed.is_set():
            yield from self.get(timeout=0.5)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(None)
            self._stop()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backend side
    def _deliver(self, events: list[WatchEvent]) -> None:
        """Queue events in revision order; events at or below the resume point are dropped."""
        fresh = [e for e in events if e.revision > self.revision]
        if not self.counts_reads:
            self.bytes_read += sum(len(e.key) + len(e.value or b"") for e in fresh)
        if fresh and not self._closed.is_set():
            self.revision = fresh[-1].revision
            self._queue.put(fresh)

    def _fail(self, error: BaseException) -> None:
        self._queue.put(error)

    @abc.abstractmethod
    def _stop(self) -> None:
        """Stop the backend's watcher (called once)."""


class Lease(abc.ABC):
    """A time-bound claim; keys put with it vanish when it expires or is revoked.

    ``with store.lease(ttl) as lease:`` keeps it alive from a background thread and revokes
    it on exit. A holder that dies stops renewing, and the store removes its keys.
    """

    def __init__(self, lease_id: int, ttl: float) -> None:
        self.id = lease_id
        self.ttl = ttl
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_lost: list[Callable[["Lease"], None]] = []

    @abc.abstractmethod
    def refresh(self) -> None:
        """Renew now; raises LeaseExpiredError if it is already gone."""

    @abc.abstractmethod
    def _revoke(self) -> None:
        """Remove the lease and its keys at once."""

    def revoke(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if not self._lost.is_set():
            self._lost.set()
            self._revoke()

    @property
    def alive(self) -> bool:
        return not self._lost.is_set()

    def on_lost(self, callback: Callable[["Lease"], None]) -> None:
        """Call ``callback(lease)`` from the keep-alive thread if the lease is lost."""
        self._on_lost.append(callback)

    def keep_alive(self) -> "Lease":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._keep_alive_loop, name=f"lease-{self.id:x}", daemon=True
            )
            self._thread.start()
        return self

    def _keep_alive_loop(self) -> None:
        interval = max(self.ttl / 3.0, 0.2)
        last_ok = time.monotonic()
        while not self._stop.wait(interval):
            try:
                self.refresh()
                last_ok = time.monotonic()
            except LeaseExpiredError:
                self._mark_lost()
                return
            except StoreError as exc:
                # The store may come back before the TTL runs out; past it the lease is gone.
                if time.monotonic() - last_ok > self.ttl:
                    log.warning("lease %x lost: store unreachable for its whole TTL (%s)", self.id, exc)
                    self._mark_lost()
                    return
                interval = max(min(interval, 0.5), 0.1)

    def _mark_lost(self) -> None:
        self._lost.set()
        for callback in self._on_lost:
            try:
                callback(self)
            except Exception:  # a faulty callback must not kill the keep-alive thread silently
                log.exception("lease %x on_lost callback failed", self.id)

    def __enter__(self) -> "Lease":
        return self.keep_alive()

    def __exit__(self, *exc: object) -> None:
        try:
            self.revoke()
        except UnavailableError:
            log.warning("could not revoke lease %x: store unavailable; it will expire", self.id)


#: What components that bind keys to a node's life are given: a callable returning the
#: node's current lease (or None), read at each write so that a renewal reaches them all.
LeaseSource = Callable[[], "Lease | None"]


class Store(abc.ABC):
    """A consistent key-value store: the configuration store of a Gluster cluster.

    Keys are ``/``-separated text (see ``check_key``), values are bytes. Every entry carries a
    store-wide increasing revision used for compare-and-swap and to resume watches. Reads are
    linearizable. All errors are subclasses of ``gluster_mgmt.errors.StoreError``.
    """

    #: The plugin name this backend registers under (also its URL scheme).
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    #: Default port when the URL names none; None for path-based stores.
    default_port: ClassVar[int | None] = None

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        if self.default_port is not None and not url.hosts:
            raise StoreError(f"{self.name} store URL {url.redacted()} names no host")
        self.url = url
        self.root = url.root
        self.timeout = float(url.params.get("timeout", timeout))

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> "Store":
        return cls(StoreURL.parse(url, cls.default_port, default_root="gluster_mgmt/"), **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url.redacted()}>"

    # ---------------------------------------------------------------- public API
    def get(self, key: str) -> Entry | None:
        """The entry at ``key`` (a linearizable read), or None."""
        return self._get(check_key(key))

    def list(self, prefix: str = "") -> Listing:
        """Every entry under ``prefix`` in one consistent snapshot, sorted by key."""
        return self._list(check_prefix(prefix))

    def read(self, keys: Sequence[str] = (), prefixes: Sequence[str] = ()) -> Listing:
        """The entries at ``keys`` (those that exist) and every entry under ``prefixes``, in
        one consistent snapshot and one round trip where the server allows it (etcd: a txn
        of ranges; Consul: a read-only txn; SQLite: one read transaction; ZooKeeper: one sync,
        then every read pipelined): a command's checks read together instead of in series,
        each a raft round on a store of several members. Sorted by key, each entry once;
        its revision is no earlier than any entry's, and a watch from it misses nothing
        after the read (Consul, which tells no index for a read-only txn: the entries'
        latest, so such a watch may repeat what the read saw)."""
        keys = tuple(check_key(key) for key in keys)
        prefixes = tuple(check_prefix(prefix) for prefix in prefixes)
        if not keys and not prefixes:
            raise StoreError("a read needs at least one key or prefix")
        if len(keys) + len(prefixes) > MAX_TXN_OPS:
            raise ValueTooLargeError(f"a read of {len(keys) + len(prefixes)} keys and prefixes; "
                                     f"the store limit is {MAX_TXN_OPS}")
        listing = self._read_many(keys, prefixes)
        unique = {entry.key: entry for entry in listing.entries}
        return Listing(tuple(unique[key] for key in sorted(unique)), listing.revision)

    def put(self, key: str, value: bytes, expect: Expectation = ANY, lease: Lease | None = None) -> int:
        """Write ``key`` if ``expect`` holds (else ConflictError); returns the new revision."""
        check_key(key)
        value = check_value(key, value)
        expect = check_expectation(key, expect)
        self._check_lease(lease)
        return self._put(key, value, expect, lease)

    def delete(self, key: str, expect: Expectation = ANY) -> int | None:
        """Remove ``key`` if ``expect`` holds; returns the deletion's revision, None if absent."""
        check_key(key)
        expect = check_expectation(key, expect)
        if expect is Expect.ABSENT:
            raise StoreError(f"deleting {key!r} cannot expect it to be absent")
        return self._delete(key, expect)

    def transaction(self, ops: Sequence[Op]) -> int:
        """Apply every write if every expectation holds, else nothing (ConflictError names the
        keys whose expectation failed, where the backend can tell). Returns the revision of the
        commit (the revision every write in it got)."""
        ops = list(ops)
        if not ops:
            raise StoreError("a transaction needs at least one operation")
        if len(ops) > MAX_TXN_OPS:
            raise ValueTooLargeError(
                f"transaction has {len(ops)} operations; the store limit is {MAX_TXN_OPS}"
            )
        seen: set[str] = set()
        total = 0
        for op in ops:
            if not isinstance(op, (Put, Delete, Check)):
                raise StoreError(f"transaction operation must be Put, Delete or Check, not {op!r}")
            check_key(op.key)
            if op.key in seen:
                raise StoreError(f"transaction names key {op.key!r} twice")
            seen.add(op.key)
            check_expectation(op.key, op.expect)
            if isinstance(op, Put):
                total += len(check_value(op.key, op.value))
                self._check_lease(op.lease)
            elif isinstance(op, Delete) and op.expect is Expect.ABSENT:
                raise StoreError(f"deleting {op.key!r} cannot expect it to be absent")
        if total > MAX_TXN_SIZE:
            raise ValueTooLargeError(
                f"transaction carries {total} bytes of values; the store limit is {MAX_TXN_SIZE}"
            )
        return self._commit(ops)

    def watch(self, prefix: str = "", start_revision: int | None = None) -> Watch:
        """Changes under ``prefix`` with a revision above ``start_revision`` (default: now).

        Resuming from an old revision replays what happened since (RevisionCompactedError if
        the store no longer keeps that far back). A watch survives reconnects on its own.
        """
        check_prefix(prefix)
        if start_revision is not None and (
            not isinstance(start_revision, int) or isinstance(start_revision, bool) or start_revision < 0
        ):
            raise StoreError(f"start_revision must be a revision (int >= 0), not {start_revision!r}")
        return self._watch(prefix, start_revision)

    def lease(self, ttl: float) -> Lease:
        """Grant a lease of ``ttl`` seconds (raised to the backend's minimum)."""
        if not ttl > 0:
            raise StoreError(f"lease TTL must be positive, not {ttl!r}")
        return self._grant_lease(max(float(ttl), self.capabilities.min_lease_ttl))

    def compact(self, revision: int) -> None:
        """Forget history up to ``revision``: a watch resuming from a revision below it raises
        RevisionCompactedError. For operators and tests (etcd's own compaction; the emulated
        and embedded stores raise their horizon)."""
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
            raise StoreError(f"compaction needs a revision (int >= 1), not {revision!r}")
        self._compact(revision)

    def lock(self, name: str, ttl: float | None = None, holder: str = "",
             lease: Lease | None = None) -> LeaseLock:
        """A lease-bound mutex named ``name`` (see gluster_mgmt.store.lock); ``lease``: the
        holder's own live lease to bind it to (else one is granted per acquisition)."""
        return LeaseLock(self, name, ttl=ttl, holder=holder, lease=lease)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_lease(self, lease: Lease | None) -> None:
        if lease is None:
            return
        if not isinstance(lease, Lease):
            raise StoreError(f"lease must be a Lease from this store, not {lease!r}")
        if not lease.alive:
            raise LeaseExpiredError(f"lease {lease.id:x} has expired or was revoked")

    # ---------------------------------------------------------------- backend primitives
    @abc.abstractmethod
    def _get(self, key: str) -> Entry | None: ...

    @abc.abstractmethod
    def _list(self, prefix: str) -> Listing: ...

    @abc.abstractmethod
    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        """Entries of ``keys`` and under ``prefixes`` (in any order, repeats allowed) at one
        revision, with that revision."""

    @abc.abstractmethod
    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int: ...

    @abc.abstractmethod
    def _delete(self, key: str, expect: Expectation) -> int | None: ...

    @abc.abstractmethod
    def _commit(self, ops: list[Op]) -> int: ...

    @abc.abstractmethod
    def _watch(self, prefix: str, start_revision: int | None) -> Watch: ...

    @abc.abstractmethod
    def _grant_lease(self, ttl: float) -> Lease: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    def _compact(self, revision: int) -> None:
        raise StoreError(f"{self.name} store cannot compact its history")
