"""Value types the Store speaks in. Frozen attrs classes: safe to share between threads."""

from __future__ import annotations

import enum
from typing import Union

import attrs


class Expect(enum.Enum):
    """What a write expects of its key besides an exact revision (an ``int``)."""

    ANY = "any"  # unconditional
    ABSENT = "absent"  # the key must not exist (create)


ANY = Expect.ANY
ABSENT = Expect.ABSENT

#: ``ANY``, ``ABSENT`` or the exact revision the key must have (compare-and-swap).
Expectation = Union[Expect, int]


@attrs.frozen
class Entry:
    """One key as read from the store."""

    key: str
    value: bytes
    #: Revision of the last write of this key; strictly increasing across the whole store, so
    #: it is both the CAS token and a position to watch from.
    revision: int
    #: Revision at which the key was created (unchanged by later writes).
    created: int
    #: Id of the lease the key is bound to, if any (an opaque int: etcd lease id, Consul
    #: session UUID as int, ZooKeeper session id).
    lease: int | None = None


@attrs.frozen
class Listing:
    """A consistent snapshot of a prefix."""

    entries: tuple[Entry, ...]
    #: Watching from this revision sees every change made after the snapshot.
    revision: int

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def as_dict(self) -> dict[str, Entry]:
        return {e.key: e for e in self.entries}


class EventKind(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@attrs.frozen
class WatchEvent:
    kind: EventKind
    key: str
    #: New value for PUT, ``None`` for DELETE.
    value: bytes | None
    #: Revision of the change; resume a watch from here to see only later changes.
    revision: int


@attrs.frozen
class Put:
    """Transaction write: set ``key`` if ``expect`` holds."""

    key: str
    value: bytes
    expect: Expectation = ANY
    lease: "int | None" = None


@attrs.frozen
class Delete:
    """Transaction write: remove ``key`` if ``expect`` holds (ANY tolerates an absent key)."""

    key: str
    expect: Expectation = ANY


@attrs.frozen
class Check:
    """Transaction compare with no write."""

    key: str
    expect: Expectation


Op = Union[Put, Delete, Check]


@attrs.frozen
class Capabilities:
    """What a backend can do, so callers (and tests) adapt without knowing its name."""

    #: Shortest lease TTL (seconds) the backend honours.
    min_lease_ttl: float
    #: How much later than its TTL a lease may really vanish (Consul: up to 2x TTL).
    lease_expiry_slack: float
    #: True when every intermediate value is delivered by watches; False when successive writes
    #: of one key may be coalesced into the latest one (the final state is always delivered).
    watch_every_revision: bool
    #: True for a single-node store that never loses quorum (the embedded default).
    embedded: bool = False
