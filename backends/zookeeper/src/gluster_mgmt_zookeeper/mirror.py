"""A watched prefix's znodes, kept current by re-reading only what ZooKeeper's watches name.

Re-listing the whole prefix on every notification costs each watcher O(keys under the prefix)
bytes per change (every volume, on every ``volume set``). ZooKeeper's watches say which znode
changed, so the mirror keeps the prefix's keys and, per round, re-reads only the znodes named
by notifications since the last round. Two ways to be told:

* A persistent recursive watch on the prefix's znode (ZooKeeper 3.6+, ``addWatch``): one
  notification per creation, deletion or data change of any znode below, naming it; the round
  reads that znode (data and stat) and nothing else: a new peer costs its own record, not its
  siblings' names. Armed once per connection (a reconnect or session expiry drops it: the next
  round arms it again and reads everything).
* Otherwise (an older server, or ``recursive_watches=0``) one-shot watches, on the data and the
  children of every znode the mirror reads, re-armed by the read that follows a notification:
  a creation or deletion costs the names of the parent's children, and subtrees that appeared
  are walked.

How the view stays consistent (a snapshot as of one revision):

* Every znode the mirror knows is covered by a watch armed before (recursive) or by (one-shot)
  the read that last brought it in; a write to it (or its creation or deletion, or a child's)
  fires it.
* The server sends a watch notification before the reply to any later read on the session
  that reflects the change, and kazoo's reader thread queues the watch callbacks in wire
  order before it hands out that reply. A round ends by reading the revision node, then
  running a marker through kazoo's callback queue (``flush``): every notification for a
  change at or below the revision just read has then reached ``notify``.
* So if no notification arrived by then, no known znode changed between its last read and the
  revision node's read: the mirror is the subtree as of that revision (``Round.revision``).
  Otherwise the round goes on with the newly named znodes.
* A session event (lost connection, expired session) may lose watches: the next round reads
  the whole subtree again (``invalidate``), arming the recursive watch first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import attrs
from kazoo.protocol.states import Callback, EventType

from gluster_mgmt.errors import StoreError, StoreTimeoutError
from gluster_mgmt.store.types import Entry
from gluster_mgmt_zookeeper.znodes import is_key, parent


@attrs.frozen
class Round:
    """What one round of the mirror yields: the prefix's entries as of the revision node's
    ``stat`` (its ``mzxid`` is the revision), and the bytes it read from the server."""

    entries: dict[str, Entry]
    rev_stat: Any
    bytes_read: int
    #: Whether znodes may have been created or deleted under the prefix since the last round
    #: (a notification other than a data change, or a whole read): only then can a key have
    #: come and gone between two rounds, unseen but for its tombstone.
    membership: bool


class SubtreeMirror:
    """The keys under the znode ``start`` (the watched prefix's directory)."""

    def __init__(self, store: Any, start: str) -> None:
        self.store = store
        self.start = start
        self._guard = threading.Lock()
        self._named: set[str] = set()  # znodes notifications named since the last round
        self._whole = True             # read the whole subtree next round
        self._membership = True        # a notification other than a data change came
        #: Whether the last whole read armed a persistent recursive watch on ``start`` (else
        #: one-shot watches are armed on every znode read).
        self.recursive = False
        #: Children names of every known znode (``start`` included, while it exists); kept by
        #: the one-shot watches only (a recursive watch names creations and deletions).
        self._children: dict[str, frozenset[str]] = {}
        self._entries: dict[str, Entry] = {}  # by key

    # ------------------------------------------------------------------ notifications
    def notify(self, event: Any) -> bool:
        """A kazoo watch callback (kazoo's callback thread): remember what it names; whether
        it asks for a round (a recursive watch on the root also names the bookkeeping znodes,
        ``.rev`` and ``.deleted``, which are no keys)."""
        if event.path != self.start and any(
                part.startswith(".") for part in event.path[len(self.start) + 1:].split("/")):
            return False
        with self._guard:
            self._named.add(event.path)
            if event.type != EventType.CHANGED:
                self._membership = True
        return True

    def invalidate(self) -> None:
        """Watches may be lost (a session event): read everything next round."""
        with self._guard:
            self._whole = True

    def _take(self) -> tuple[set[str], bool]:
        """The znodes to read this round, and whether that is the whole subtree."""
        with self._guard:
            named, self._named = self._named, set()
            whole, self._whole = self._whole, False
            self._membership |= whole
        if whole:
            self._children.clear()
            self._entries.clear()
            return {self.start}, True
        return named, False

    def pending(self) -> bool:
        """Whether a notification (or ``invalidate``) asks for a round."""
        with self._guard:
            return bool(self._named) or self._whole

    # ------------------------------------------------------------------ rounds
    def read(self, client: Any, watch: Any) -> Round:
        """Bring the mirror to a consistent revision; ``watch`` is armed on what is read (it
        must hand its event to ``notify``)."""
        store = self.store
        deadline = time.monotonic() + max(store.timeout * 2, 10.0)
        cost = 0
        while True:
            try:
                store.ready(client)
                named, whole = self._take()
                armed = store.arm_recursive_watch(self.start, watch) if whole else None
                if whole:
                    self.recursive = armed is not None
                if not self.recursive:
                    cost += self._refresh(client, named, watch)
                elif whole:
                    cost += self._refresh(client, named, None)  # the watch covers it all
                    self._children.clear()
                    store.wait(armed, f"watch {store.layout.key(self.start) or '/'}")  # pipelined
                else:
                    cost += self._reread(client, named)
                rev_stat = store.wait(client.exists_async(store.layout.rev_path), "read the revision node")
                if rev_stat is None:
                    raise StoreError(f"zookeeper store root {store.layout.base} lost its revision node")
                self.flush(client)
            except BaseException:
                self.invalidate()  # half a round: what it took is neither applied nor kept
                raise
            if not self.pending():
                with self._guard:
                    membership, self._membership = self._membership, False
                return Round(dict(self._entries), rev_stat, cost, membership)
            if time.monotonic() > deadline:
                raise StoreTimeoutError(
                    f"zookeeper {store.where}: {store.layout.key(self.start) or '/'} kept changing under writes")

    def flush(self, client: Any) -> None:
        """Wait until kazoo has run every watch callback queued before now."""
        done = threading.Event()
        client.handler.dispatch_callback(Callback("flush", done.set, ()))
        if not done.wait(self.store.timeout):
            raise StoreTimeoutError(f"zookeeper {self.store.where}: watch callbacks are stuck")

    def disarm(self, watch: Any) -> None:
        """The watch is closed: its recursive watch goes (one-shot ones fire once, unheeded)."""
        if self.recursive:
            self.store.disarm_recursive_watch(self.start, watch)
            self.recursive = False

    def _reread(self, client: Any, named: Iterable[str]) -> int:
        """Under a recursive watch: read each named znode below ``start`` (data and stat,
        pipelined), never a listing; returns the bytes read. A created znode is named itself
        (each of a new key's new directories too), and a deleted one was a leaf when it went
        (the store deletes bottom-up: each znode below had its own notification)."""
        wait, layout = self.store.wait, self.store.layout
        reads = {path: client.get_async(path) for path in sorted(named) if path != self.start}
        cost = 0
        for path, pending in reads.items():
            key = layout.key(path)
            got = wait(pending, f"read {key!r}", missing_ok=True)
            cost += len(key)
            if got is None or not is_key(got[0]):
                self._entries.pop(key, None)  # gone, or a directory (no key) now
                continue
            data, stat = got
            cost += len(data)
            self._entries[key] = layout.entry(path, data, stat)
        return cost

    def _refresh(self, client: Any, named: Iterable[str], watch: Any) -> int:
        """Re-read the named znodes we know (data and children names), walk the subtrees that
        appeared, forget those that went; returns the bytes read. ``watch`` None: arm no
        one-shot watch (a recursive one covers the subtree)."""
        wait, layout = self.store.wait, self.store.layout
        frontier = sorted((p for p in named if p == self.start or p in self._children),
                          key=lambda p: p.count("/"))
        cost = 0
        while frontier:
            reads = {}
            for path in frontier:
                if path == self.start:
                    stat = client.exists_async(path, watch=watch)  # also its creation
                    reads[path] = (stat, client.get_children_async(path, watch=watch))
                else:
                    reads[path] = (client.get_async(path, watch=watch),
                                   client.get_children_async(path, watch=watch))
            frontier = []
            for path, (node, kids) in reads.items():
                got = wait(node, f"read {layout.key(path) or '/'!r}", missing_ok=True)
                names = wait(kids, f"list {layout.key(path) or '/'}", missing_ok=True)
                if got is None or names is None:
                    self._forget(path)
                    continue
                if path != self.start:
                    data, stat = got
                    key = layout.key(path)
                    cost += len(key) + len(data)
                    if is_key(data):
                        self._entries[key] = layout.entry(path, data, stat)
                    else:
                        self._entries.pop(key, None)
                fresh = frozenset(n for n in names if not n.startswith("."))  # .rev, .deleted
                cost += sum(len(n) for n in names)
                old = self._children.get(path, frozenset())
                self._children[path] = fresh
                for name in old - fresh:
                    self._forget(f"{path}/{name}")
                frontier += [f"{path}/{n}" for n in fresh if f"{path}/{n}" not in self._children]
        return cost

    def _forget(self, path: str) -> None:
        """``path`` and everything below it are gone."""
        if path == self.start:
            self._children.clear()
            self._entries.clear()
            return
        below = path + "/"
        for known in [p for p in self._children if p == path or p.startswith(below)]:
            del self._children[known]
        key = self.store.layout.key(path)
        for gone in [k for k in self._entries if k == key or k.startswith(key + "/")]:
            del self._entries[gone]
        up = parent(path)
        if up in self._children:
            self._children[up] = self._children[up] - {path.rsplit("/", 1)[1]}
