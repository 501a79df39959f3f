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
#: Records copy the values while they stay within this many bytes, and a commit's records within EMBED_TXN.
EMBED_DIR = 8 * 1024
EMBED_TXN = 48 * 1024


class Marker(enum.Enum):
    """What a record says besides its changes."""

    CHANGES = "c"  # the commit's changes in this directory follow
    RELIST = "r"   # a commit here was not journaled: list the prefix again


class Kind(enum.Enum):
    """How a record names a change."""

    PUT = "p"       # a put, its value base64 (or null: too big to copy)
    PUT_TEXT = "t"  # a put whose value is UTF-8 text, copied as is (JSON records stay small)
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
    """The record value of each journal directory the changes touch: values copied while
    the record stays within EMBED_DIR (and the commit's records within EMBED_TXN) bytes."""
    by_dir: dict[str, list[Change]] = {}
    for change in changes:
        by_dir.setdefault(journal_dir(change.key), []).append(change)
    budget = EMBED_TXN
    out = {}
    for directory, items in by_dir.items():
        copied = _encode([_named(c, directory, True) for c in items])
        if len(copied) <= min(EMBED_DIR, budget):
            budget -= len(copied)
            out[directory] = copied
        else:
            out[directory] = _encode([_named(c, directory, False) for c in items])
    return out


def _encode(named: list[list]) -> bytes:
    return json.dumps({Marker.CHANGES.value: named}, separators=(",", ":"), ensure_ascii=False).encode()


def _named(change: Change, directory: str, copy: bool) -> list:
    """A change as its record names it: the key relative to the record's directory."""
    name = change.key[len(directory) + 1:] if directory else change.key
    if change.value is None:
        return [name, Kind.DELETE.value]
    if copy:
        try:
            return [name, Kind.PUT_TEXT.value, change.value.decode("utf-8")]
        except UnicodeDecodeError:
            return [name, Kind.PUT.value, base64.b64encode(change.value).decode("ascii")]
    return [name, Kind.PUT.value, None]


RELIST_RECORD = json.dumps({Marker.RELIST.value: 1}).encode()


def parse_record(directory: str, value: bytes) -> list[Named] | None:
    """The changes the record of ``directory`` names; None when the watch must list again (a
    relist marker, or a record it cannot read)."""
    base = f"{directory}/" if directory else ""
    try:
        body = json.loads(value)
        named = body[Marker.CHANGES.value]
        out = []
        for item in named:
            item = [base + item[0], *item[1:]]
            kind = Kind(item[1])
            if kind is Kind.DELETE:
                out.append(Named(item[0], kind, None, True))
            elif kind is Kind.PUT_TEXT:
                out.append(Named(item[0], Kind.PUT, item[2].encode("utf-8"), True))
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
