"""The ZooKeeper backend: the Store contract on znodes (through kazoo).

Layout under ``/<root>`` (the store URL's path):

* keys are znodes (see znodes.py for their data and how writes become one ``multi``).
* ``/<root>/.rev``: the store-wide revision node. Every write is one ``multi`` that also sets
  it, so its ``mzxid`` after the commit is the revision of that commit, and watchers watch it.
* History is emulated (gluster_mgmt.store.emulated): ``/<root>/.deleted/<key with '/' as '|'>``
  is a tombstone per deleted key (its ``mzxid`` is the deletion's revision); the ``.deleted``
  node's data is the horizon.

Revisions are zxids: global, increasing, the same for every znode a ``multi`` touches.
"""

from __future__ import annotations

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
    UnimplementedError,
)
from kazoo.protocol.states import KazooState
from kazoo.security import make_digest_acl

from gluster_mgmt.errors import ConflictError, StoreError, StoreTimeoutError, UnavailableError, ValueTooLargeError
from gluster_mgmt.store.base import Lease, StoreURL
from gluster_mgmt.store.emulated import EmulatedHistoryStore, Horizon, Tombstone
from gluster_mgmt.store.types import Capabilities, Delete, Entry, Expectation, Listing, Op, Put
from gluster_mgmt_zookeeper._kazoo import log, new_client, stop_client, translate_errors, translate_exception
from gluster_mgmt_zookeeper.lease import ZooKeeperLease
from gluster_mgmt_zookeeper.watch import ZooKeeperWatch
from gluster_mgmt_zookeeper.znodes import Node, ZnodeLayout, is_key, plan_multi

#: ZooKeeper's default jute.maxbuffer (1 MiB): the largest request a server accepts.
ZK_MAX_REQUEST = 1024 * 1024 - 4096
#: Default session timeout of the store's own (lease-less) session.
DEFAULT_SESSION_TIMEOUT = 10.0


#: How long a call waits for a dropped connection to come back (kazoo retries every member
#: with CONNECTION_RETRY's delays, 0.1 s rising to 1 s), and how often it looks.
RECONNECT_GRACE = 2.0
RECONNECT_POLL = 0.05


class _Retry(Exception):
    """The multi lost a race with another writer: read again and retry."""


class ZooKeeperStore(EmulatedHistoryStore):
    """``zookeeper://[user:password@]host:port[,host:port...]/root[?timeout=5&session_timeout=10]``

    ``recursive_watches=0`` makes watches arm one-shot watches on every znode they read even on
    a server that has persistent recursive watches (ZooKeeper 3.6+); tests use it to keep that
    path (the one for older servers) tested."""

    name = "zookeeper"
    default_port = 2181
    # min_lease_ttl: a lease is a ZooKeeper session, and a server grants sessions of at least
    # 2 * tickTime: 1 s with tickTime=500 (the test server), 4 s with the default 2000. A shorter
    # lease is raised by the server; the store then raises its own min_lease_ttl (per instance)
    # to what it saw negotiated. lease_expiry_slack: the server checks expiry once per tick.
    capabilities = Capabilities(min_lease_ttl=1.0, lease_expiry_slack=2.0, watch_every_revision=False)
    tombstones_max = 2000
    tombstones_kept = 1000
    sweep_every = 100
    sweep_chunk = 200

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        if not self.root:
            self.root = "gluster_mgmt/"
        self.base = "/" + self.root.rstrip("/")
        self.layout = ZnodeLayout(self.base)
        self.hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in url.hosts)
        self.where = self.hosts  # what messages say about the server: never credentials
        self._secret = url.secret
        if url.username:
            credential = f"{url.username}:{url.secret or ''}"
            self._auth_data = [("digest", credential)]
            self._acl = [make_digest_acl(url.username, url.secret or "", all=True)]
        else:
            self._auth_data = None
            self._acl = None
        self.session_timeout = float(url.params.get("session_timeout", DEFAULT_SESSION_TIMEOUT))
        allowed = url.params.get("recursive_watches", "1").lower()
        if allowed not in ("0", "1", "false", "true", "no", "yes"):
            raise StoreError(f"zookeeper store URL: recursive_watches={allowed!r} is not 0 or 1")
        #: Whether the server (of the current connection) takes addWatch: None until a watch
        #: asks it, once per connection (a reconnect may land on another member).
        self._recursive_watches: bool | None = None if allowed in ("1", "true", "yes") else False
        self._recursive_allowed = self._recursive_watches is None
        self._guard = threading.Lock()
        self._watches: weakref.WeakSet[ZooKeeperWatch] = weakref.WeakSet()
        self._leases: weakref.WeakSet[ZooKeeperLease] = weakref.WeakSet()
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
            error = translate_exception(exc, self.where, "connect")
            if isinstance(error, StoreTimeoutError):
                error = UnavailableError(
                    f"zookeeper {self.where} unavailable: no session within {self.timeout:g}s")
            if error is None:
                raise
            raise error from exc
        return client

    def _on_state(self, state: str) -> None:
        """kazoo's connection thread: never block here."""
        if state == KazooState.LOST:
            log.warning("zookeeper %s: session expired; reconnecting with a new one", self.where)
        elif state == KazooState.SUSPENDED:
            log.info("zookeeper %s: connection lost; reconnecting", self.where)
        if state != KazooState.CONNECTED and self._recursive_allowed:
            self._recursive_watches = None  # the next connection's server decides again
        for watch in list(self._watches):
            watch._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def ready(self, client) -> None:
        """Fail within ``RECONNECT_GRACE`` (not after the store timeout) when the client has
        no live connection: long enough for kazoo to move to another member after one died,
        short enough that a lost quorum is reported at once."""
        if self._closed:
            raise StoreError(f"zookeeper store {self.url.redacted()} is closed")
        deadline = time.monotonic() + min(RECONNECT_GRACE, self.timeout)
        while not client.connected:
            if self._closed or time.monotonic() >= deadline:
                raise UnavailableError(f"zookeeper {self.where} unavailable: not connected")
            time.sleep(RECONNECT_POLL)

    def wait(self, async_result, what: str, missing_ok: bool = False):
        """The result of a kazoo async call within the store timeout (None for NoNode if
        ``missing_ok``), with kazoo's exceptions translated."""
        with translate_errors(self.where, what):
            try:
                return async_result.get(timeout=self.timeout)
            except NoNodeError:
                if missing_ok:
                    return None
                raise

    def sync(self, client) -> None:
        self.ready(client)
        self.wait(client.sync_async(self.base), "sync")

    def _bootstrap(self) -> None:
        """Create the root, the revision node and the tombstone directory if missing."""
        self.ready(self.client)
        parts = self.base.strip("/").split("/")
        paths = ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]
        for path in [*paths, self.layout.rev_path, self.layout.deleted_path]:
            if self.wait(self.client.exists_async(path), f"read {path}") is not None:
                continue
            with translate_errors(self.where, f"create {path}"):
                try:
                    self.client.create_async(path, b"", acl=self._acl).get(timeout=self.timeout)
                except NodeExistsError:
                    pass

    # ------------------------------------------------------------------ reads
    def _get(self, key: str) -> Entry | None:
        self.sync(self.client)
        path = self.layout.path(key)
        found = self.wait(self.client.get_async(path), f"read {key!r}", missing_ok=True)
        if found is None or not is_key(found[0]):
            return None
        return self.layout.entry(path, *found)

    def _list(self, prefix: str) -> Listing:
        return self._read_many((), (prefix,))

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        nodes, rev_stat = self.read_tree(self.client, prefixes, keys)
        entries = tuple(sorted((self.layout.entry(p, d, s) for p, (d, s) in nodes.items()),
                               key=lambda e: e.key))
        return Listing(entries, rev_stat.mzxid)

    def read_tree(self, client, prefixes: tuple[str, ...], keys: tuple[str, ...] = ()):
        """Every key znode under ``prefixes`` and at ``keys`` ({path: (data, stat)}) and the
        revision node's stat, read between two reads of the revision node that agree (a
        consistent snapshot); the reads of the keys and of each level of the trees are
        pipelined."""
        deadline = time.monotonic() + max(self.timeout * 2, 10.0)
        while True:
            self.sync(client)
            before = self.wait(client.exists_async(self.layout.rev_path), "read the revision node")
            if before is None:
                raise StoreError(f"zookeeper store root {self.base} lost its revision node")
            reads = {self.layout.path(key): client.get_async(self.layout.path(key)) for key in keys}
            nodes = self._walk(client, prefixes)
            for path, pending in reads.items():
                got = self.wait(pending, f"read {self.layout.key(path)!r}", missing_ok=True)
                if got is not None and is_key(got[0]):
                    nodes[path] = got
            after = self.wait(client.exists_async(self.layout.rev_path), "read the revision node")
            if after is not None and after.mzxid == before.mzxid:
                return nodes, before
            if time.monotonic() > deadline:
                raise StoreTimeoutError(
                    f"zookeeper {self.where}: reading {', '.join(prefixes + keys) or '/'} kept "
                    "changing under writes")

    def _walk(self, client, prefixes: tuple[str, ...]) -> dict[str, tuple[bytes, object]]:
        """Read the subtrees, level by level, each level's reads of every subtree at once
        (watches keep theirs current with a SubtreeMirror instead)."""
        found: dict[str, tuple[bytes, object]] = {}
        children = {}
        for start in dict.fromkeys(self.layout.directory(prefix) for prefix in prefixes):
            children[start] = client.get_children_async(start)
        while children:
            frontier = []
            for parent, pending in children.items():
                names = self.wait(pending, f"list {self.layout.key(parent) or '/'}", missing_ok=True)
                for name in names or ():
                    if not name.startswith("."):  # .rev, .deleted: bookkeeping, never keys
                        frontier.append(f"{parent}/{name}")
            reads = {p: client.get_async(p) for p in frontier}
            children = {p: client.get_children_async(p) for p in frontier}
            for path, pending in reads.items():
                got = self.wait(pending, f"read {self.layout.key(path)!r}", missing_ok=True)
                if got is not None and is_key(got[0]):
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

    def _lease_of(self, ops: Iterable[Op]) -> ZooKeeperLease | None:
        leases = {id(op.lease): op.lease for op in ops if isinstance(op, Put) and op.lease is not None}
        if len(leases) > 1:
            raise StoreError("zookeeper: a transaction may bind keys to one lease only "
                             "(a lease is a session, and a multi runs in one session)")
        if not leases:
            return None
        (lease,) = leases.values()
        if not isinstance(lease, ZooKeeperLease) or lease.store is not self:
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
            self.ready(client)
            try:
                txn, deletes = plan_multi(self.layout, self._acl, self.read_nodes, client, ops)
            except ConflictError:
                if synced:
                    raise
                self.sync(client)  # another session's newer write may not be visible yet
                synced = True
                continue
            if txn is None:
                return None if noop_is_none else self._current_revision(client)
            if lease is not None:
                lease._check_session()
            try:
                revision = self._run(txn)[-1].mzxid
            except _Retry:
                if time.monotonic() > deadline:
                    raise StoreTimeoutError(
                        f"zookeeper {self.where}: transaction kept losing races with other writers")
                self.sync(client)
                synced = True
                continue
            if lease is not None:
                lease._keys.update(op.key for op in ops if isinstance(op, Put))
            if deletes:
                self._deleted(deletes)
            return revision

    def commit_on(self, client, ops: list[Op]) -> int | None:
        return self._apply(ops, client=client)

    def _current_revision(self, client) -> int:
        stat = self.wait(client.exists_async(self.layout.rev_path), "read the revision node")
        return stat.mzxid

    def _run(self, txn) -> list:
        """Commit a multi; its results (a lost race raises _Retry)."""
        size = sum(len(getattr(op, "data", b"") or b"") + len(op.path) + 64 for op in txn.operations)
        if size > ZK_MAX_REQUEST:
            raise ValueTooLargeError(
                f"zookeeper transaction of {size} bytes exceeds the server's request limit")
        with translate_errors(self.where, "commit"):
            results = txn.commit_async().get(timeout=self.timeout)
        errors = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, (RolledBackError, RuntimeInconsistency))]
        if not errors:
            return results
        error = errors[0]
        if isinstance(error, (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError)):
            raise _Retry() from error
        if isinstance(error, NoChildrenForEphemeralsError):
            raise StoreError(
                "zookeeper: a key bound to a lease (an ephemeral znode) cannot have keys below it"
            ) from error
        translated_error = translate_exception(error, self.where, "commit")
        raise (translated_error or StoreError(f"zookeeper commit failed: {error!r}")) from error

    def read_nodes(self, client, paths: Iterable[str]) -> dict[str, Node]:
        pending = {p: client.get_async(p) for p in dict.fromkeys(paths)}
        nodes = {}
        for path, result in pending.items():
            got = self.wait(result, f"read {self.layout.key(path)!r}", missing_ok=True)
            nodes[path] = Node(path) if got is None else Node(path, got[0], got[1])
        return nodes

    # ------------------------------------------------------------------ emulated history
    def tombstone_revisions(self, client, keys: Iterable[str]) -> dict[str, int]:
        """Deletion revisions recorded for ``keys`` (keys without a tombstone are left out)."""
        pending = {k: client.exists_async(self.layout.tombstone(k)) for k in keys}
        return {key: stat.mzxid for key, result in pending.items()
                if (stat := self.wait(result, "read a tombstone")) is not None}

    def _tombstones(self, prefix: str) -> list[Tombstone]:  # EmulatedHistoryStore's hook
        return self.tombstones(prefix)

    def tombstones(self, prefix: str) -> list[Tombstone]:
        client, layout = self.client, self.layout
        names = self.wait(client.get_children_async(layout.deleted_path), "list tombstones")
        pending = {key: client.exists_async(f"{layout.deleted_path}/{n}") for n in names
                   if (key := layout.tombstone_key(n)).startswith(prefix)}
        return [Tombstone(key, stat.mzxid, stat.version) for key, result in pending.items()
                if (stat := self.wait(result, "read a tombstone")) is not None]

    def _count_tombstones(self) -> int | None:
        stat = self.wait(self.client.exists_async(self.layout.deleted_path), "read tombstones")
        return stat.numChildren if stat is not None else 0

    def _horizon(self) -> Horizon:
        data, stat = self.wait(self.client.get_async(self.layout.deleted_path), "read the compaction horizon")
        try:
            return Horizon(int(data or b"0"), stat.version)
        except ValueError:
            return Horizon(0, stat.version)

    def _write_horizon(self, doomed: list[Tombstone], revision: int, expected: Horizon) -> Horizon | None:
        txn = self.client.transaction()
        for tomb in doomed:
            txn.delete(self.layout.tombstone(tomb.key), version=tomb.version)
        txn.set_data(self.layout.deleted_path, str(revision).encode(), version=expected.token)
        try:
            results = self._run(txn)
        except _Retry:
            return None
        log.debug("zookeeper %s: swept %d tombstones up to revision %d", self.where, len(doomed), revision)
        return Horizon(revision, results[-1].version)

    def record_deletions(self, client, keys: list[str], rev_version: int) -> int | None:
        """Tombstones for keys that vanished without one (their lease's session expired), in
        one multi pinned to the revision node's version: None if anything was written since."""
        existing = self.tombstone_revisions(client, keys)
        txn = client.transaction()
        txn.check(self.layout.rev_path, rev_version)
        for key in keys:
            if key in existing:
                txn.delete(self.layout.tombstone(key))
            txn.create(self.layout.tombstone(key), b"", acl=self._acl)
        txn.set_data(self.layout.rev_path, b"")
        try:
            return self._run(txn)[-1].mzxid
        except _Retry:
            return None

    # ------------------------------------------------------------------ watches and leases
    def arm_recursive_watch(self, path: str, watcher):
        """Send addWatch for a persistent recursive watch on ``path`` on the store's session:
        its pending answer (reads sent after it are served after the server armed it, so the
        caller need not wait before reading), or None if the server has none (older than
        ZooKeeper 3.6, or turned off by the URL): then the caller arms one-shot watches. The
        first call per connection waits for the answer, to decide."""
        if self._recursive_watches is False:
            return None
        self.ready(self.client)
        pending = self.client.add_recursive_watch_async(path, watcher)
        if self._recursive_watches is None:
            with translate_errors(self.where, f"watch {self.layout.key(path) or '/'}"):
                try:
                    pending.get(timeout=self.timeout)
                except UnimplementedError:
                    self.client.discard_recursive_watch(path, watcher)
                    log.info("zookeeper %s: the server has no persistent recursive watches "
                             "(addWatch, ZooKeeper 3.6+): watches arm a watch per znode", self.where)
                    self._recursive_watches = False
                    return None
            self._recursive_watches = True
        return pending

    def disarm_recursive_watch(self, path: str, watcher) -> None:
        """The watcher is done with ``path``: the server forgets the watch with its last watcher
        (sent, not waited for: a closed store or lost session has no watch left to remove)."""
        if self.client.discard_recursive_watch(path, watcher) and self.client.connected:
            self.client.remove_recursive_watch_async(path)

    def _watch(self, prefix: str, start_revision: int | None) -> ZooKeeperWatch:
        watch = ZooKeeperWatch(self, prefix, start_revision)
        with self._guard:
            self._watches.add(watch)
        return watch.start()

    def forget_watch(self, watch: ZooKeeperWatch) -> None:
        with self._guard:
            self._watches.discard(watch)

    def forget_lease(self, lease: ZooKeeperLease) -> None:
        with self._guard:
            self._leases.discard(lease)

    def _grant_lease(self, ttl: float) -> Lease:
        if self._closed:
            raise StoreError(f"zookeeper store {self.url.redacted()} is closed")
        negotiated: list[int] = []
        client = self._connect(ttl, on_session=negotiated.append)
        granted = negotiated[-1] / 1000.0 if negotiated else ttl
        if granted > ttl + 1e-3:
            # The server's minimum session timeout: say so for the next leases.
            log.info("zookeeper %s: lease TTL %.3gs raised by the server to %.3gs",
                     self.where, ttl, granted)
            if granted > self.capabilities.min_lease_ttl:
                self.capabilities = attrs.evolve(self.capabilities, min_lease_ttl=granted)
        lease = ZooKeeperLease(self, client, max(ttl, granted))
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

