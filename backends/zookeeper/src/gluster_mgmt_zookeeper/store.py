"""The ZooKeeper backend: the Store contract on znodes (through kazoo).

Layout under ``/<root>`` (the store URL's path):

* a key ``a/b`` is the znode ``/<root>/a/b``; its data is a one-byte marker (plus, once the
  key was rewritten, its creation revision) followed by the value. Znodes whose data does not
  start with a marker are intermediate directories, so ``a`` and ``a/b`` may both be keys.
* ``/<root>/.rev``: the store-wide revision node. Every write is one ``multi`` that also sets
  it, so its ``mzxid`` after the commit is the revision of that commit, and watchers watch it.
* ``/<root>/.deleted/<key with '/' as '|'>``: a tombstone per deleted key (its ``mzxid`` is the
  deletion's revision) so a watch resumed from an old revision reports deletions. Old ones are
  swept; the ``.deleted`` node's data records the compaction horizon.

Revisions are zxids: global, increasing, the same for every znode a ``multi`` touches.
"""

from __future__ import annotations

import struct
import threading
import time
import weakref
from collections.abc import Iterable

import attrs
from kazoo.exceptions import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import KazooState
from kazoo.security import make_digest_acl

from gluster_mgmt.errors import (
    ConflictError,
    LeaseExpiredError,
    RevisionCompactedError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import Lease, Store, StoreURL, Watch, conflict_message
from gluster_mgmt.store.types import (
    Capabilities,
    Check,
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
from gluster_mgmt_zookeeper._kazoo import (
    log,
    new_client,
    stop_client,
    translate_exception,
    translated,
)

#: Data marker of a key created by the write that last set it (created == mzxid).
MARK_NEW = b"\x02"
#: Data marker of a rewritten key: followed by its creation revision (8 bytes, big endian).
MARK_CREATED = b"\x03"
_CREATED = struct.Struct(">q")

REV_NODE = ".rev"
DELETED_NODE = ".deleted"
#: Sweep tombstones when there are more than this many, down to TOMBSTONES_KEPT.
TOMBSTONES_MAX = 2000
TOMBSTONES_KEPT = 1000
#: Look at the tombstone count after this many deletions (per Store object).
SWEEP_CHECK_EVERY = 100
#: ZooKeeper's default jute.maxbuffer (1 MiB): the largest request a server accepts.
ZK_MAX_REQUEST = 1024 * 1024 - 4096
#: How often a watch checks the revision node even without a notification.
WATCH_POLL_INTERVAL = 1.0
#: Default session timeout of the store's own (lease-less) session.
DEFAULT_SESSION_TIMEOUT = 10.0


def _is_key(data: bytes) -> bool:
    return data[:1] in (MARK_NEW, MARK_CREATED)


def _decode(data: bytes, stat) -> tuple[bytes, int]:
    """(value, created revision) of a key znode."""
    if data[:1] == MARK_NEW:
        return data[1:], stat.mzxid
    return data[1 + _CREATED.size:], _CREATED.unpack_from(data, 1)[0]


def _encode(value: bytes, created: int | None) -> bytes:
    if created is None:
        return MARK_NEW + value
    return MARK_CREATED + _CREATED.pack(created) + value


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


@attrs.define
class _Node:
    """What a transaction plan read of one znode."""

    path: str
    data: bytes | None = None
    stat: object | None = None

    @property
    def exists(self) -> bool:
        return self.stat is not None

    @property
    def is_key(self) -> bool:
        return self.stat is not None and _is_key(self.data or b"")

    @property
    def revision(self) -> int | None:
        return self.stat.mzxid if self.is_key else None

    @property
    def created(self) -> int:
        return _decode(self.data, self.stat)[1]

    @property
    def owner(self) -> int:
        return self.stat.ephemeralOwner if self.stat is not None else 0


class _Retry(Exception):
    """The multi lost a race with another writer: read again and retry."""


class ZooKeeperStore(Store):
    """``zookeeper://[user:password@]host:port[,host:port...]/root[?timeout=5&session_timeout=10]``"""

    name = "zookeeper"
    default_port = 2181
    # min_lease_ttl: a lease is a ZooKeeper session, and a server grants sessions of at least
    # 2 * tickTime: 1 s with tickTime=500 (the test server), 4 s with the default 2000. A shorter
    # lease is raised by the server; the store then raises its own min_lease_ttl (per instance)
    # to what it saw negotiated. lease_expiry_slack: the server checks expiry once per tick.
    capabilities = Capabilities(min_lease_ttl=1.0, lease_expiry_slack=2.0, watch_every_revision=False)

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        if not self.root:
            self.root = "gluster_mgmt/"
        self.base = "/" + self.root.rstrip("/")
        self.rev_path = f"{self.base}/{REV_NODE}"
        self.deleted_path = f"{self.base}/{DELETED_NODE}"
        self.hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in url.hosts)
        self._where = self.hosts  # what messages say about the server: never credentials
        self._secret = url.secret
        if url.username:
            credential = f"{url.username}:{url.secret or ''}"
            self._auth_data = [("digest", credential)]
            self._acl = [make_digest_acl(url.username, url.secret or "", all=True)]
        else:
            self._auth_data = None
            self._acl = None
        self.session_timeout = float(url.params.get("session_timeout", DEFAULT_SESSION_TIMEOUT))
        self._guard = threading.Lock()
        self._watches: weakref.WeakSet[_ZooKeeperWatch] = weakref.WeakSet()
        self._leases: weakref.WeakSet[_ZooKeeperLease] = weakref.WeakSet()
        self._deletes_since_check = 0
        self._closed = False
        self.client = self._connect(self.session_timeout)
        self.client.add_listener(self._on_state)
        try:
            self._bootstrap()
        except BaseException:
            stop_client(self.client)
            raise

    # ------------------------------------------------------------------ connection
    def _connect(self, session_timeout: float, on_session=None):
        client = new_client(self.hosts, session_timeout, self._auth_data, self._acl, self._secret,
                            on_session)
        try:
            client.start(timeout=self.timeout)
        except Exception as exc:
            stop_client(client)
            error = translate_exception(exc, self._where, "connect")
            if isinstance(error, StoreTimeoutError):
                error = UnavailableError(
                    f"zookeeper {self._where} unavailable: no session within {self.timeout:g}s")
            if error is None:
                raise
            raise error from exc
        return client

    def _on_state(self, state: str) -> None:
        """kazoo's connection thread: never block here."""
        if state == KazooState.LOST:
            log.warning("zookeeper %s: session expired; reconnecting with a new one", self._where)
        elif state == KazooState.SUSPENDED:
            log.info("zookeeper %s: connection lost; reconnecting", self._where)
        for watch in list(self._watches):
            watch._wake()

    def _ready(self, client) -> None:
        """Fail at once (not after a timeout) when the client has no live connection."""
        if self._closed:
            raise StoreError(f"zookeeper store {self.url.redacted()} is closed")
        if not client.connected:
            raise UnavailableError(f"zookeeper {self._where} unavailable: not connected")

    def _wait(self, async_result, what: str, missing_ok: bool = False):
        """The result of a kazoo async call within the store timeout (None for NoNode if
        ``missing_ok``), with kazoo's exceptions translated."""
        with translated(self._where, what):
            try:
                return async_result.get(timeout=self.timeout)
            except NoNodeError:
                if missing_ok:
                    return None
                raise

    def _sync(self, client) -> None:
        self._ready(client)
        self._wait(client.sync_async(self.base), "sync")

    def _bootstrap(self) -> None:
        """Create the root, the revision node and the tombstone directory if missing."""
        self._ready(self.client)
        parts = self.base.strip("/").split("/")
        paths = ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]
        for path in [*paths, self.rev_path, self.deleted_path]:
            if self._wait(self.client.exists_async(path), f"read {path}") is not None:
                continue
            with translated(self._where, f"create {path}"):
                try:
                    self.client.create_async(path, b"", acl=self._acl).get(timeout=self.timeout)
                except NodeExistsError:
                    pass

    # ------------------------------------------------------------------ paths
    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def _key(self, path: str) -> str:
        return path[len(self.base) + 1:]

    def _tomb(self, key: str) -> str:
        return f"{self.deleted_path}/{key.replace('/', '|')}"

    def _ancestors(self, key: str) -> list[str]:
        """Paths of the directories between the root and ``key``, outermost first."""
        parts = key.split("/")[:-1]
        return [self._path("/".join(parts[:i + 1])) for i in range(len(parts))]

    def _entry(self, path: str, data: bytes, stat) -> Entry:
        value, created = _decode(data, stat)
        return Entry(self._key(path), value, stat.mzxid, created, stat.ephemeralOwner or None)

    # ------------------------------------------------------------------ reads
    def _get(self, key: str) -> Entry | None:
        self._sync(self.client)
        path = self._path(key)
        found = self._wait(self.client.get_async(path), f"read {key!r}", missing_ok=True)
        if found is None or not _is_key(found[0]):
            return None
        return self._entry(path, *found)

    def _list(self, prefix: str) -> Listing:
        nodes, rev_stat = self._read_tree(self.client, prefix)
        entries = tuple(sorted((self._entry(p, d, s) for p, (d, s) in nodes.items()),
                               key=lambda e: e.key))
        return Listing(entries, rev_stat.mzxid)

    def _read_tree(self, client, prefix: str, sync: bool = True):
        """Every key znode under ``prefix`` ({path: (data, stat)}) and the revision node's stat,
        read between two reads of the revision node that agree (a consistent snapshot)."""
        deadline = time.monotonic() + max(self.timeout * 2, 10.0)
        while True:
            if sync:
                self._sync(client)
            self._ready(client)
            before = self._wait(client.exists_async(self.rev_path), "read the revision node")
            if before is None:
                raise StoreError(f"zookeeper store root {self.base} lost its revision node")
            nodes = self._walk(client, prefix)
            after = self._wait(client.exists_async(self.rev_path), "read the revision node")
            if after is not None and after.mzxid == before.mzxid:
                return nodes, before
            if time.monotonic() > deadline:
                raise StoreTimeoutError(
                    f"zookeeper {self._where}: listing {prefix or '/'} kept changing under writes")

    def _walk(self, client, prefix: str) -> dict[str, tuple[bytes, object]]:
        start = self._path(prefix.rstrip("/")) if prefix else self.base
        found: dict[str, tuple[bytes, object]] = {}
        children = {start: client.get_children_async(start)}
        while children:
            frontier = []
            for parent, pending in children.items():
                names = self._wait(pending, f"list {self._key(parent) or '/'}", missing_ok=True)
                for name in names or ():
                    if not name.startswith("."):  # .rev, .deleted: bookkeeping, never keys
                        frontier.append(f"{parent}/{name}")
            reads = {p: client.get_async(p) for p in frontier}
            children = {p: client.get_children_async(p) for p in frontier}
            for path, pending in reads.items():
                got = self._wait(pending, f"read {self._key(path)!r}", missing_ok=True)
                if got is not None and _is_key(got[0]):
                    found[path] = got
                if got is not None and got[1].numChildren == 0:
                    children.pop(path, None)  # a leaf (its listing is already on its way)
        return found

    # ------------------------------------------------------------------ writes
    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        return self._apply([Put(key, value, expect, lease)])

    def _delete(self, key: str, expect: Expectation) -> int | None:
        return self._apply([Delete(key, expect)], noop_is_none=True)

    def _commit(self, ops: list[Op]) -> int:
        return self._apply(ops)

    def _lease_of(self, ops: Iterable[Op]) -> "_ZooKeeperLease | None":
        leases = {id(op.lease): op.lease for op in ops if isinstance(op, Put) and op.lease is not None}
        if len(leases) > 1:
            raise StoreError("zookeeper: a transaction may bind keys to one lease only "
                             "(a lease is a session, and a multi runs in one session)")
        if not leases:
            return None
        (lease,) = leases.values()
        if not isinstance(lease, _ZooKeeperLease) or lease.store is not self:
            raise StoreError(f"lease {lease!r} does not belong to this zookeeper store")
        lease._check_session()
        return lease

    def _apply(self, ops: list[Op], noop_is_none: bool = False, client=None) -> int | None:
        lease = self._lease_of(ops)
        if client is None:
            client = lease.client if lease is not None else self.client
        deadline = time.monotonic() + max(self.timeout * 6, 30.0)
        synced = False
        while True:
            self._ready(client)
            try:
                txn, rev_index, deletes = self._plan(client, ops, lease, synced)
            except ConflictError:
                if synced:
                    raise
                self._sync(client)  # another session's newer write may not be visible yet
                synced = True
                continue
            if txn is None:
                return None if noop_is_none else self._current_revision(client)
            if lease is not None:
                lease._check_session()
            try:
                revision = self._run(txn, rev_index)
            except _Retry:
                if time.monotonic() > deadline:
                    raise StoreTimeoutError(
                        f"zookeeper {self._where}: transaction kept losing races with other writers")
                self._sync(client)
                synced = True
                continue
            if lease is not None:
                lease._keys.update(op.key for op in ops if isinstance(op, Put))
            if deletes:
                self._maybe_sweep(deletes)
            return revision

    def _current_revision(self, client) -> int:
        stat = self._wait(client.exists_async(self.rev_path), "read the revision node")
        return stat.mzxid

    def _run(self, txn, rev_index: int) -> int:
        size = sum(len(getattr(op, "data", b"") or b"") + len(op.path) + 64 for op in txn.operations)
        if size > ZK_MAX_REQUEST:
            raise ValueTooLargeError(
                f"zookeeper transaction of {size} bytes exceeds the server's request limit")
        with translated(self._where, "commit"):
            results = txn.commit_async().get(timeout=self.timeout)
        errors = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, (RolledBackError, RuntimeInconsistency))]
        if not errors:
            return results[rev_index].mzxid
        error = errors[0]
        if isinstance(error, (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError)):
            raise _Retry() from error
        if isinstance(error, NoChildrenForEphemeralsError):
            raise StoreError(
                "zookeeper: a key bound to a lease (an ephemeral znode) cannot have keys below it"
            ) from error
        translated_error = translate_exception(error, self._where, "commit")
        raise (translated_error or StoreError(f"zookeeper commit failed: {error!r}")) from error

    def _read_nodes(self, client, paths: Iterable[str]) -> dict[str, _Node]:
        pending = {p: client.get_async(p) for p in dict.fromkeys(paths)}
        nodes = {}
        for path, result in pending.items():
            got = self._wait(result, f"read {self._key(path)!r}", missing_ok=True)
            nodes[path] = _Node(path) if got is None else _Node(path, got[0], got[1])
        return nodes

    def _plan(self, client, ops: list[Op], lease: "_ZooKeeperLease | None", synced: bool):
        """Read what ``ops`` touch, check the expectations, and build the multi.

        Returns (transaction, index of the revision-node op, number of deletions), or
        (None, -1, 0) when nothing needs writing. Every znode the multi relies on is pinned by
        its version, so a concurrent writer makes the multi fail (and we read again)."""
        paths = []
        for op in ops:
            paths.append(self._path(op.key))
            paths.extend(self._ancestors(op.key))
            if isinstance(op, Delete):
                paths.append(self._tomb(op.key))
        nodes = self._read_nodes(client, paths)

        failed = tuple(op.key for op in ops if not _holds(nodes[self._path(op.key)], op.expect))
        if failed:
            raise ConflictError(_conflict_message(ops, nodes, failed, self._path), failed)

        txn = client.transaction()
        dirs_made: set[str] = set()      # missing directories this multi creates
        removed: dict[str, int] = {}     # znodes this multi deletes (path -> depth)
        put_paths: set[str] = set()
        temporary: list[str] = []        # directories made only for an absence check
        body: list = []                  # (kind, args) applied after the directories
        deletions: list[str] = []        # keys whose deletion needs a tombstone

        def make_dirs(key: str, temp: bool) -> None:
            for path in self._ancestors(key):
                node = nodes[path]
                if node.exists:
                    if node.owner:
                        raise StoreError(
                            f"zookeeper: {self._key(path)!r} is bound to a lease (an ephemeral "
                            f"znode) and cannot have keys below it such as {key!r}")
                    continue
                if path not in dirs_made:
                    dirs_made.add(path)
                    if temp:
                        temporary.append(path)
                elif not temp and path in temporary:
                    temporary.remove(path)

        for op in ops:
            path = self._path(op.key)
            node = nodes[path]
            if isinstance(op, Check):
                if node.exists:
                    body.append(("check", path, node.stat.version))
                elif op.expect is Expect.ABSENT:
                    # No "check absent" op in a multi: create it and delete it again.
                    make_dirs(op.key, temp=True)
                    body.append(("create", path, b"", False))
                    body.append(("delete", path, -1))
            elif isinstance(op, Put):
                # Each put is bound to its own lease, or to none: the txn's lease only picks
                # the session the multi runs on.
                ephemeral = op.lease is not None
                want_owner = op.lease.id if op.lease is not None else 0
                put_paths.add(path)
                if not node.exists:
                    make_dirs(op.key, temp=False)
                    body.append(("create", path, _encode(op.value, None), ephemeral))
                    continue
                created = node.created if node.is_key else None
                data = _encode(op.value, created)
                if node.is_key and node.owner == want_owner:
                    body.append(("set", path, data, node.stat.version))
                elif not node.is_key and not ephemeral:
                    body.append(("set", path, data, node.stat.version))  # a directory becomes a key
                else:
                    # Ownership changes (persistent <-> ephemeral, or another session's): replace.
                    if ephemeral and node.stat.numChildren:
                        raise StoreError(
                            f"zookeeper: {op.key!r} has keys below it, so it cannot be bound to "
                            f"a lease (an ephemeral znode has no children)")
                    body.append(("delete", path, node.stat.version))
                    body.append(("create", path, data, ephemeral))
            elif isinstance(op, Delete):
                if not node.is_key:
                    continue  # absent: ANY tolerates it (an exact revision already failed)
                deletions.append(op.key)
                if node.stat.numChildren:
                    body.append(("set", path, b"", node.stat.version))  # stays as a directory
                else:
                    body.append(("delete", path, node.stat.version))
                    removed[path] = path.count("/")

        if not body:
            return None, -1, 0

        # Directories left empty by the deletions go too (pinned: data version and, through
        # NotEmpty, no new child), unless this multi writes below them.
        candidates = sorted({p for path in removed for p in self._ancestors(self._key(path))},
                            key=lambda p: -p.count("/"))
        cleanup = []
        for path in candidates:
            node = nodes.get(path)
            if node is None or not node.exists or node.is_key or node.owner:
                continue
            if any(p == path or p.startswith(path + "/") for p in put_paths | dirs_made):
                continue
            gone = sum(1 for p in removed if _parent(p) == path)
            if node.stat.numChildren == gone:
                removed[path] = path.count("/")
                cleanup.append((path, node.stat.version))

        for path in sorted(dirs_made, key=lambda p: p.count("/")):
            txn.create(path, b"", acl=self._acl)
        for kind, *args in body:
            if kind == "check":
                txn.check(args[0], args[1])
            elif kind == "create":
                txn.create(args[0], args[1], acl=self._acl, ephemeral=args[2])
            elif kind == "set":
                txn.set_data(args[0], args[1], version=args[2])
            elif kind == "delete":
                txn.delete(args[0], version=args[1])
        for path in sorted(temporary, key=lambda p: -p.count("/")):
            txn.delete(path)
        for path, version in cleanup:
            txn.delete(path, version=version)
        for key in deletions:
            tomb = nodes[self._tomb(key)]
            if tomb.exists:  # re-created, not rewritten: the tombstone directory's pzxid moves
                txn.delete(tomb.path)
            txn.create(tomb.path, b"", acl=self._acl)
        txn.set_data(self.rev_path, b"")
        return txn, len(txn.operations) - 1, len(deletions)

    # ------------------------------------------------------------------ tombstones
    def _tombstones(self, client, keys: Iterable[str]) -> dict[str, int]:
        """Deletion revisions recorded for ``keys`` (keys without a tombstone are left out)."""
        pending = {k: client.exists_async(self._tomb(k)) for k in keys}
        found = {}
        for key, result in pending.items():
            stat = self._wait(result, "read a tombstone")
            if stat is not None:
                found[key] = stat.mzxid
        return found

    def _tombstones_under(self, client, prefix: str) -> dict[str, int]:
        names = self._wait(client.get_children_async(self.deleted_path), "list tombstones")
        keys = [n.replace("|", "/") for n in names]
        return self._tombstones(client, [k for k in keys if k.startswith(prefix)])

    def _horizon(self, client) -> int:
        got = self._wait(client.get_async(self.deleted_path), "read the compaction horizon")
        try:
            return int(got[0] or b"0")
        except ValueError:
            return 0

    def _record_deletions(self, client, keys: list[str], rev_version: int) -> int | None:
        """Tombstones for keys that vanished without one (their lease's session expired), in
        one multi pinned to the revision node's version: None if anything was written since."""
        existing = self._tombstones(client, keys)
        txn = client.transaction()
        txn.check(self.rev_path, rev_version)
        for key in keys:
            if key in existing:
                txn.delete(self._tomb(key))
            txn.create(self._tomb(key), b"", acl=self._acl)
        txn.set_data(self.rev_path, b"")
        try:
            return self._run(txn, len(txn.operations) - 1)
        except _Retry:
            return None

    def _maybe_sweep(self, deletions: int) -> None:
        with self._guard:
            self._deletes_since_check += deletions
            if self._deletes_since_check < SWEEP_CHECK_EVERY:
                return
            self._deletes_since_check = 0
        try:
            self._sweep(self.client)
        except StoreError as exc:
            log.info("zookeeper %s: tombstone sweep skipped: %s", self._where, exc)

    def _sweep(self, client) -> None:
        """Delete the oldest tombstones beyond TOMBSTONES_KEPT, raising the horizon with them."""
        stat = self._wait(client.exists_async(self.deleted_path), "read tombstones")
        if stat is None or stat.numChildren <= TOMBSTONES_MAX:
            return
        names = self._wait(client.get_children_async(self.deleted_path), "list tombstones")
        pending = {n: client.exists_async(f"{self.deleted_path}/{n}") for n in names}
        stats = [(s.mzxid, n, s.version) for n, r in pending.items()
                 if (s := self._wait(r, "read a tombstone")) is not None]
        stats.sort()
        doomed = stats[:max(len(stats) - TOMBSTONES_KEPT, 0)]
        for start in range(0, len(doomed), 200):
            chunk = doomed[start:start + 200]
            data, dstat = self._wait(client.get_async(self.deleted_path), "read the horizon")
            horizon = max(int(data or b"0"), chunk[-1][0])
            txn = client.transaction()
            for _, name, version in chunk:
                txn.delete(f"{self.deleted_path}/{name}", version=version)
            txn.set_data(self.deleted_path, str(horizon).encode(), version=dstat.version)
            try:
                self._run(txn, len(txn.operations) - 1)
            except _Retry:
                return  # someone else is sweeping
            log.debug("zookeeper %s: swept %d tombstones up to revision %d",
                      self._where, len(chunk), horizon)

    # ------------------------------------------------------------------ watches and leases
    def _watch(self, prefix: str, start_revision: int | None) -> Watch:
        watch = _ZooKeeperWatch(self, prefix, start_revision)
        with self._guard:
            self._watches.add(watch)
        watch._start()
        return watch

    def _grant_lease(self, ttl: float) -> Lease:
        if self._closed:
            raise StoreError(f"zookeeper store {self.url.redacted()} is closed")
        negotiated: list[int] = []
        client = self._connect(ttl, on_session=negotiated.append)
        granted = negotiated[-1] / 1000.0 if negotiated else ttl
        if granted > ttl + 1e-3:
            # The server's minimum session timeout: say so for the next leases.
            log.info("zookeeper %s: lease TTL %.3gs raised by the server to %.3gs",
                     self._where, ttl, granted)
            if granted > self.capabilities.min_lease_ttl:
                self.capabilities = attrs.evolve(self.capabilities, min_lease_ttl=granted)
        lease = _ZooKeeperLease(self, client, max(ttl, granted))
        with self._guard:
            self._leases.add(lease)
        return lease

    def _close(self) -> None:
        if self._closed:
            return
        with self._guard:
            watches, leases = list(self._watches), list(self._leases)
        for watch in watches:
            watch.close()
        for lease in leases:
            if lease.alive:
                try:
                    lease.revoke()
                except StoreError:
                    pass
        self._closed = True
        self.client.remove_listener(self._on_state)
        stop_client(self.client)


def _holds(node: _Node, expect: Expectation) -> bool:
    if expect is Expect.ANY:
        return True
    if expect is Expect.ABSENT:
        return not node.is_key
    return node.is_key and node.revision == expect


def _conflict_message(ops, nodes, failed, to_path) -> str:
    parts = []
    for op in ops:
        if op.key not in failed:
            continue
        node = nodes[to_path(op.key)]
        parts.append(conflict_message(op.key, op.expect, node.revision if node.is_key else None))
    if len(ops) == 1:
        return parts[0]
    return "transaction expectation failed: " + "; ".join(parts)


class _ZooKeeperLease(Lease):
    """A lease is a ZooKeeper session of its own; its keys are ephemeral znodes of it.

    kazoo heartbeats the session by itself, so to keep the contract (a lease nobody refreshes
    expires after its TTL) the lease also ends itself when ``refresh`` is not called for a TTL.
    A holder that dies stops heartbeating and the server expires the session.
    """

    def __init__(self, store: ZooKeeperStore, client, ttl: float) -> None:
        session = client.client_id
        if session is None:
            stop_client(client)
            raise UnavailableError(f"zookeeper {store._where} unavailable: lease session lost")
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
            raise UnavailableError(f"zookeeper {self.store._where} unavailable: lease {self.id:x} "
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
            with self.store._guard:
                self.store._leases.discard(self)

    def _drop_keys(self) -> None:
        store = self.store
        client = self.client if self.client.connected else store.client
        for _ in range(5):
            nodes = store._read_nodes(client, [store._path(k) for k in sorted(self._keys)])
            owned = [Delete(store._key(n.path), n.revision) for n in nodes.values()
                     if n.is_key and n.owner == self.id]
            if not owned:
                return
            try:
                store._apply(owned, client=client)
                return
            except ConflictError:
                continue


class _ZooKeeperWatch(Watch):
    """Watches the revision node (and each leased key); on every change re-lists the prefix
    and turns the difference with the last snapshot into events, in revision order."""

    def __init__(self, store: ZooKeeperStore, prefix: str, start_revision: int | None) -> None:
        super().__init__(prefix, start_revision or 0)
        self.store = store
        self._trigger = threading.Event()
        self._snapshot: dict[str, Entry] = {}
        self._listed = -1
        client = store.client
        store._ready(client)
        self._tombs_seen = self._tomb_marker(client)
        if start_revision is not None:
            horizon = store._horizon(client)
            if start_revision < horizon:
                raise RevisionCompactedError(
                    f"revision {start_revision} is compacted (tombstones kept from {horizon + 1})")
        nodes, rev_stat = store._read_tree(client, prefix)
        snapshot = {store._key(p): store._entry(p, d, s) for p, (d, s) in nodes.items()}
        if start_revision is None:
            self.revision = rev_stat.mzxid
        else:
            events = [WatchEvent(EventKind.PUT, k, e.value, e.revision)
                      for k, e in snapshot.items() if e.revision > start_revision]
            for key, revision in store._tombstones_under(client, prefix).items():
                if revision > start_revision and key not in snapshot:
                    events.append(WatchEvent(EventKind.DELETE, key, None, revision))
            events.sort(key=lambda e: (e.revision, e.key))
            self._deliver(events)
        self._snapshot = snapshot
        self._listed = rev_stat.mzxid
        self._arm(client, snapshot)
        self._thread = threading.Thread(target=self._run, name=f"zk-watch-{prefix or '/'}", daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _tomb_marker(self, client) -> int:
        """pzxid of the tombstone directory: moves with every deletion (and sweep)."""
        stat = self.store._wait(client.exists_async(self.store.deleted_path), "read tombstones")
        return stat.pzxid if stat is not None else 0

    def _wake(self, *_event: object) -> None:
        self._trigger.set()

    def _stop(self) -> None:
        self._trigger.set()
        with self.store._guard:
            self.store._watches.discard(self)

    def _arm(self, client, snapshot: dict[str, Entry]) -> None:
        """One-shot kazoo watches: the revision node, and every leased key (a session expiry
        deletes those without touching the revision node)."""
        client.exists_async(self.store.rev_path, watch=self._wake)
        for key, entry in snapshot.items():
            if entry.lease:
                client.exists_async(self.store._path(key), watch=self._wake)

    def _run(self) -> None:
        store = self.store
        failures = 0
        while not self.closed and not store._closed:
            triggered = self._trigger.wait(WATCH_POLL_INTERVAL if not failures else min(0.2 * failures, 1.0))
            self._trigger.clear()
            if self.closed or store._closed:
                return
            try:
                if not triggered and not failures:
                    stat = store._wait(store.client.exists_async(store.rev_path, watch=self._wake),
                                       "read the revision node")
                    if stat is not None and stat.mzxid == self._listed:
                        continue
                self._refresh()
                failures = 0
            except RevisionCompactedError as exc:
                self._fail(exc)
                return
            except StoreError as exc:
                failures += 1
                if failures == 1:
                    log.debug("watch %s: %s; retrying", self.prefix or "/", exc)
            except Exception:  # never let the watch thread die silently
                failures += 1
                log.exception("watch %s failed; retrying", self.prefix or "/")

    def _refresh(self) -> None:
        store = self.store
        client = store.client
        store._ready(client)
        client.exists_async(store.rev_path, watch=self._wake)
        marker_before = self._tomb_marker(client)
        nodes, rev_stat = store._read_tree(client, self.prefix, sync=False)
        marker_after = self._tomb_marker(client)
        current = {store._key(p): store._entry(p, d, s) for p, (d, s) in nodes.items()}
        events = [WatchEvent(EventKind.PUT, k, e.value, e.revision) for k, e in current.items()
                  if k not in self._snapshot or self._snapshot[k].revision != e.revision]
        if marker_after != self._tombs_seen:  # deletions since the last listing began
            # Keys created and deleted between two listings: only their tombstone tells. Only
            # deletions up to this listing's revision (later ones come with the next listing).
            for key, revision in store._tombstones_under(client, self.prefix).items():
                if (self._listed < revision <= rev_stat.mzxid and key not in current
                        and key not in self._snapshot):
                    events.append(WatchEvent(EventKind.DELETE, key, None, revision))
        vanished = [k for k in self._snapshot if k not in current]
        if vanished:
            recorded = store._tombstones(client, vanished)
            unrecorded = []
            for key in vanished:
                revision = recorded.get(key, 0)
                if revision > self._snapshot[key].revision:
                    # Deleted before this listing; a newer tombstone (deleted again since)
                    # must not reorder it after changes the next listing will report.
                    events.append(WatchEvent(EventKind.DELETE, key, None,
                                             min(revision, rev_stat.mzxid)))
                else:
                    unrecorded.append(key)
            if unrecorded:
                revision = store._record_deletions(client, unrecorded, rev_stat.version)
                if revision is None:
                    self._trigger.set()  # something was written meanwhile: list again
                    return
                events.extend(WatchEvent(EventKind.DELETE, k, None, revision) for k in unrecorded)
                self._trigger.set()  # our own tombstone write moved the revision node
        events.sort(key=lambda e: (e.revision, e.key))
        self._deliver(events)
        self._snapshot = current
        self._tombs_seen = marker_before
        self._listed = rev_stat.mzxid
        self._arm(client, current)
