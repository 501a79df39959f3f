"""How keys live in znodes, and how a batch of writes becomes one ``multi``.

A key ``a/b`` is the znode ``/<root>/a/b``; its data is a one-byte marker (plus, once the key
was rewritten, its creation revision) followed by the value. Znodes whose data does not start
with a marker are intermediate directories, so ``a`` and ``a/b`` may both be keys.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from gluster_mgmt.errors import ConflictError, StoreError
from gluster_mgmt.store.base import conflict_message
from gluster_mgmt.store.types import Check, Delete, Entry, Expect, Expectation, Op, Put

#: The store-wide revision node, a child of the root.
REV_NODE = ".rev"
#: The tombstone directory, a child of the root.
DELETED_NODE = ".deleted"

#: Data marker of a key created by the write that last set it (created == mzxid).
MARK_NEW = b"\x02"
#: Data marker of a rewritten key: followed by its creation revision (8 bytes, big endian).
MARK_CREATED = b"\x03"
#: The creation revision after MARK_CREATED.
CREATED_REVISION = struct.Struct(">q")


def is_key(data: bytes) -> bool:
    return data[:1] in (MARK_NEW, MARK_CREATED)


def decode(data: bytes, stat) -> tuple[bytes, int]:
    """(value, created revision) of a key znode."""
    if data[:1] == MARK_NEW:
        return data[1:], stat.mzxid
    return data[1 + CREATED_REVISION.size:], CREATED_REVISION.unpack_from(data, 1)[0]


def encode(value: bytes, created: int | None) -> bytes:
    if created is None:
        return MARK_NEW + value
    return MARK_CREATED + CREATED_REVISION.pack(created) + value


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


@attrs.frozen
class ZnodeLayout:
    """Where keys and the bookkeeping nodes live under the store root: the one mapping the
    store, its watches and its leases must agree on."""

    #: The root znode (``/<root>``, no trailing slash).
    base: str
    #: The store-wide revision node: every write sets it, so watchers watch it.
    rev_path: str = attrs.field(
        init=False, default=attrs.Factory(lambda s: s.path(REV_NODE), takes_self=True))
    #: The tombstone directory; its data is the compaction horizon.
    deleted_path: str = attrs.field(
        init=False, default=attrs.Factory(lambda s: s.path(DELETED_NODE), takes_self=True))

    def path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def directory(self, prefix: str) -> str:
        """The znode whose descendants are the keys under ``prefix`` (``''`` or ends in ``/``)."""
        return self.path(prefix.rstrip("/")) if prefix else self.base

    def key(self, path: str) -> str:
        return path[len(self.base) + 1:]

    def tombstone(self, key: str) -> str:
        """A tombstone is one flat child of the tombstone directory: ``/`` is spelt ``|``."""
        return f"{self.deleted_path}/{key.replace('/', '|')}"

    def tombstone_key(self, name: str) -> str:
        """The key whose tombstone is the child ``name`` of the tombstone directory."""
        return name.replace("|", "/")

    def ancestors(self, key: str) -> list[str]:
        """Paths of the directories between the root and ``key``, outermost first."""
        parts = key.split("/")[:-1]
        return [self.path("/".join(parts[:i + 1])) for i in range(len(parts))]

    def entry(self, path: str, data: bytes, stat: Any) -> Entry:
        value, created = decode(data, stat)
        return Entry(self.key(path), value, stat.mzxid, created, stat.ephemeralOwner or None)


@attrs.define
class Node:
    """What a transaction plan read of one znode."""

    path: str
    data: bytes | None = None
    stat: object | None = None

    @property
    def exists(self) -> bool:
        return self.stat is not None

    @property
    def is_key(self) -> bool:
        return self.stat is not None and is_key(self.data or b"")

    @property
    def revision(self) -> int | None:
        return self.stat.mzxid if self.is_key else None

    @property
    def created(self) -> int:
        return decode(self.data, self.stat)[1]

    @property
    def owner(self) -> int:
        return self.stat.ephemeralOwner if self.stat is not None else 0


def holds(node: Node, expect: Expectation) -> bool:
    if expect is Expect.ANY:
        return True
    if expect is Expect.ABSENT:
        return not node.is_key
    return node.is_key and node.revision == expect


def conflict_text(ops, nodes, failed, to_path) -> str:
    parts = []
    for op in ops:
        if op.key not in failed:
            continue
        node = nodes[to_path(op.key)]
        parts.append(conflict_message(op.key, op.expect, node.revision if node.is_key else None))
    if len(ops) == 1:
        return parts[0]
    return "transaction expectation failed: " + "; ".join(parts)


#: Reads znodes through a client: {path: Node} for every path asked, missing ones included.
NodeReader = Callable[[Any, Iterable[str]], dict[str, Node]]


def plan_multi(layout: ZnodeLayout, acl: list | None, read_nodes: NodeReader, client, ops: list[Op]):
    """Read what ``ops`` touch, check the expectations, and build the multi.

    Returns (transaction, number of deletions), or (None, 0) when nothing needs writing; the
    multi's last op writes the revision node. Every znode the multi relies on is pinned by
    its version, so a concurrent writer makes the multi fail (and we read again)."""
    paths = []
    for op in ops:
        paths.append(layout.path(op.key))
        paths.extend(layout.ancestors(op.key))
        if isinstance(op, Delete):
            paths.append(layout.tombstone(op.key))
    nodes = read_nodes(client, paths)

    failed = tuple(op.key for op in ops if not holds(nodes[layout.path(op.key)], op.expect))
    if failed:
        raise ConflictError(conflict_text(ops, nodes, failed, layout.path), failed)

    txn = client.transaction()
    dirs_made: set[str] = set()      # missing directories this multi creates
    removed: dict[str, int] = {}     # znodes this multi deletes (path -> depth)
    put_paths: set[str] = set()
    temporary: list[str] = []        # directories made only for an absence check
    body: list = []                  # (kind, args) applied after the directories
    deletions: list[str] = []        # keys whose deletion needs a tombstone

    def make_dirs(key: str, temp: bool) -> None:
        for path in layout.ancestors(key):
            node = nodes[path]
            if node.exists:
                if node.owner:
                    raise StoreError(
                        f"zookeeper: {layout.key(path)!r} is bound to a lease (an ephemeral "
                        f"znode) and cannot have keys below it such as {key!r}")
                continue
            if path not in dirs_made:
                dirs_made.add(path)
                if temp:
                    temporary.append(path)
            elif not temp and path in temporary:
                temporary.remove(path)

    for op in ops:
        path = layout.path(op.key)
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
                body.append(("create", path, encode(op.value, None), ephemeral))
                continue
            created = node.created if node.is_key else None
            data = encode(op.value, created)
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
        return None, 0

    # Directories left empty by the deletions go too (pinned: data version and, through
    # NotEmpty, no new child), unless this multi writes below them.
    candidates = sorted({p for path in removed for p in layout.ancestors(layout.key(path))},
                        key=lambda p: -p.count("/"))
    cleanup = []
    for path in candidates:
        node = nodes.get(path)
        if node is None or not node.exists or node.is_key or node.owner:
            continue
        if any(p == path or p.startswith(path + "/") for p in put_paths | dirs_made):
            continue
        gone = sum(1 for p in removed if parent(p) == path)
        if node.stat.numChildren == gone:
            removed[path] = path.count("/")
            cleanup.append((path, node.stat.version))

    for path in sorted(dirs_made, key=lambda p: p.count("/")):
        txn.create(path, b"", acl=acl)
    for kind, *args in body:
        if kind == "check":
            txn.check(args[0], args[1])
        elif kind == "create":
            txn.create(args[0], args[1], acl=acl, ephemeral=args[2])
        elif kind == "set":
            txn.set_data(args[0], args[1], version=args[2])
        elif kind == "delete":
            txn.delete(args[0], version=args[1])
    for path in sorted(temporary, key=lambda p: -p.count("/")):
        txn.delete(path)
    for path, version in cleanup:
        txn.delete(path, version=version)
    for key in deletions:
        tomb = nodes[layout.tombstone(key)]
        if tomb.exists:  # re-created, not rewritten: the tombstone directory's pzxid moves
            txn.delete(tomb.path)
        txn.create(tomb.path, b"", acl=acl)
    txn.set_data(layout.rev_path, b"")
    return txn, len(deletions)

