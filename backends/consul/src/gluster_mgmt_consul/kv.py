"""Consul KV items as the store's entries: how values travel (base64 in JSON), what an item
decodes to, and which keys are the backend's own bookkeeping. Shared by the store (reads,
writes) and its watches (listings, fetches)."""

from __future__ import annotations

import base64
import uuid

from gluster_mgmt.store.types import Entry


def path(full: str) -> str:
    """The HTTP path of a key (its full name: the store's root included)."""
    return "/v1/kv/" + full


def encode(value: bytes) -> str:
    """A value as a txn op carries it."""
    return base64.b64encode(value).decode("ascii")


def decode(item: dict) -> bytes:
    """The value of a KV item read back (Consul gives null for an empty value)."""
    v = item.get("Value")
    return base64.b64decode(v) if v else b""


def entry(key: str, item: dict) -> Entry:
    """The entry a KV item is: ModifyIndex is its revision, a session its lease."""
    session = item.get("Session")
    return Entry(key, decode(item), item["ModifyIndex"], item["CreateIndex"],
                 uuid.UUID(session).int if session else None)


def reserved(rel: str) -> bool:
    """Backend bookkeeping (a segment starting with '.'), never shown to callers."""
    return rel.startswith(".") or "/." in rel
