"""The change journal: what lets a Consul watch read the size of a change, not of its prefix.

A blocking query answers with everything under the watched prefix, and Consul's KV has no
"modified since" filter, so a watch that blocks on its data prefix reads every volume record
for one ``volume set``. Instead, every commit also writes, in the same ``/v1/txn``, one
journal record per *journal directory* it changes (the changed key's parent, cut to
``DEPTH`` segments)::

    <root>.journal/<dir>/.last          the keys the last commit in <dir> changed (with their
                                        new values when small); its LockIndex counts commits
    <root>.journal/<dir>/.s/<session>   a sentinel bound to every session that put a key in <dir>

A watch of prefix P blocks on the journal of P (``watched_dir``), a handful of small keys,
and reads the changed values from the record (or, when they were too big to copy, with one
GET each).

Why a watch misses nothing (the consistency argument):

* ``.last`` is written with ``lock`` then ``unlock`` by the writer's own session in the same
  txn, so Consul raises its LockIndex by exactly one per commit, atomically with the commit,
  without a compare-and-swap (writers of one directory never contend). A watch that saw
  LockIndex L and now reads L + 1 has missed no commit of that directory; anything else (a
  jump, a recreated record, a record gone, a directory it did not know created before its
  last read) makes it list the prefix again, which is always correct.
* Keys Consul deletes itself (a session invalidated: its holder died, or the lease was
  revoked) are not journaled by any txn; their session's sentinel in the same directory goes
  in the same Raft index, which moves the journal prefix's X-Consul-Index (Consul keeps a
  tombstone of it) and wakes the watch: a sentinel gone means "list again".
* A commit too large for Consul's 64 operations together with its journal ops is applied
  first, then every directory it touched gets a ``relist`` record (``Marker.RELIST``): a
  writer that dies between the two leaves watchers unaware until the next commit there.
* Values the record names but does not carry are read with a consistent GET; one found
  newer than the journal read (written since) makes the watch read the journal again first,
  so no event is delivered ahead of an earlier one it has not seen yet.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable

import attrs

#: Where journal records live under the store's root ('.' segments are reserved).
JOURNAL = ".journal/"
#: A directory's record of its last commit.
LAST = ".last"
#: Where a directory's session sentinels live.
SENTINELS = ".s/"
#: Journal directories are key parents cut to this many segments: ``clusters/<id>/volumes``,
#: one node's ``inbox/<node>``, one host's ``ports/<host>``, one transaction's
#: ``results/<txn>`` (its steps' directories share it). A watch of a deeper prefix reads its
#: cut directory's record; one of a shallower prefix, every record below it.
DEPTH = 4
#: Values are copied into a record up to this many bytes per directory, and per commit.
EMBED_DIR = 8 * 1024
EMBED_TXN = 48 * 1024


class Marker(enum.Enum):
    """What a record says besides its changes."""

    CHANGES = "c"  # the commit's changes in this directory follow
    RELIST = "r"   # a commit here was not journaled: list the prefix again


class Kind(enum.Enum):
    PUT = "p"
    DELETE = "d"


@attrs.frozen
class Change:
    """One key a commit changed: ``value`` None for a deletion."""

    key: str
    value: bytes | None


@attrs.frozen
class Named:
    """A change as a record names it: ``value`` None for a deletion, or a put whose value
    was too big to copy (``copied`` False: read the key)."""

    key: str
    kind: Kind
    value: bytes | None
    copied: bool


def journal_dir(key: str) -> str:
    """The journal directory of a key ('' for a key at the top)."""
    parts = key.split("/")[:-1]
    return "/".join(parts[:DEPTH])


def watched_dir(prefix: str) -> str:
    """The journal prefix a watch of ``prefix`` blocks on: the prefix itself, cut to DEPTH."""
    parts = prefix.split("/")[:-1]
    return "".join(f"{p}/" for p in parts[:DEPTH])


def record_key(directory: str) -> str:
    return f"{JOURNAL}{directory}/{LAST}" if directory else f"{JOURNAL}{LAST}"


def sentinel_key(directory: str, session: str) -> str:
    return f"{JOURNAL}{directory}/{SENTINELS}{session}" if directory else f"{JOURNAL}{SENTINELS}{session}"


def records(changes: Iterable[Change]) -> dict[str, bytes]:
    """The record value of each journal directory the changes touch."""
    by_dir: dict[str, list[Change]] = {}
    for change in changes:
        by_dir.setdefault(journal_dir(change.key), []).append(change)
    budget = EMBED_TXN
    out = {}
    for directory, items in by_dir.items():
        size = sum(len(c.value) for c in items if c.value is not None)
        copy = size <= EMBED_DIR and size <= budget
        if copy:
            budget -= size
        named = [[c.key, Kind.DELETE.value] if c.value is None else
                 [c.key, Kind.PUT.value, base64.b64encode(c.value).decode("ascii") if copy else None]
                 for c in items]
        out[directory] = json.dumps({Marker.CHANGES.value: named}, separators=(",", ":")).encode()
    return out


RELIST_RECORD = json.dumps({Marker.RELIST.value: 1}).encode()


def parse_record(value: bytes) -> list[Named] | None:
    """The changes a record names; None when the watch must list again (a relist marker, or
    a record it cannot read)."""
    try:
        body = json.loads(value)
        named = body[Marker.CHANGES.value]
        out = []
        for item in named:
            kind = Kind(item[1])
            if kind is Kind.DELETE:
                out.append(Named(item[0], kind, None, True))
            elif item[2] is None:
                out.append(Named(item[0], kind, None, False))
            else:
                out.append(Named(item[0], kind, base64.b64decode(item[2]), True))
        return out
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


@attrs.frozen
class Record:
    """A directory's ``.last`` as read: what identifies it, counts its commits, and says."""

    created: int
    commits: int  # LockIndex
    modified: int
    value: bytes


@attrs.frozen
class View:
    """The journal under a watched prefix, as one read returned it."""

    records: dict[str, Record]
    sentinels: frozenset[str]
    index: int


def parse_view(items: Iterable[dict], cut: int, index: int) -> tuple[View, int]:
    """A journal listing (``cut``: length of ``<root>.journal/``) and the bytes it read."""
    recs = {}
    sentinels = set()
    cost = 0
    for item in items:
        rel = item["Key"][cut:]
        raw = base64.b64decode(item["Value"]) if item.get("Value") else b""
        cost += len(rel) + len(raw)
        if rel == LAST or rel.endswith("/" + LAST):
            directory = rel[:-len(LAST)].rstrip("/")
            recs[directory] = Record(item["CreateIndex"], item["LockIndex"], item["ModifyIndex"], raw)
        elif rel.startswith(SENTINELS) or f"/{SENTINELS}" in rel:
            sentinels.add(rel)
    return View(recs, frozenset(sentinels), index), cost
