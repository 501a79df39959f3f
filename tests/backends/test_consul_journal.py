"""The Consul change journal's own paths (backends/consul/.../journal.py), on a real Consul:
what makes a watch fall back to a listing must still deliver every change, and what it reads
per change stays the change's size."""

from __future__ import annotations

import time

import pytest

from gluster_mgmt.store import Delete, Put
from gluster_mgmt.store.types import EventKind


#: On the session's Consul server (conftest's fixtures), whichever backends the run selects.
pytestmark = pytest.mark.parametrize("store_server", ["consul"], indirect=True)


def _events(watch, want: int, timeout: float = 20.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += watch.get(timeout=0.5)
    return got


def test_a_commit_too_big_to_journal_is_still_seen(store):
    """32 deletions in 16 directories: 64 ops before the journal's 32, so the commit goes
    alone and its directories get a relist record."""
    keys = [f"big/d{i % 16:02d}/k{i:02d}" for i in range(32)]
    for start in range(0, 32, 8):
        store.transaction([Put(k, b"x") for k in keys[start:start + 8]])
    with store.watch("big/") as watch:
        store.transaction([Delete(k) for k in keys])
        events = _events(watch, 32)
    assert sorted(e.key for e in events) == sorted(keys)
    assert {e.kind for e in events} == {EventKind.DELETE}
    assert not store.list("big/").entries


def test_a_swept_record_makes_a_watch_list_again(store):
    store.put("sw/a/b/c/k", b"1")
    store.put("sw/keep", b"1")
    with store.watch("sw/") as watch:
        store.delete("sw/a/b/c/k")
        assert store.sweep_journal() == 1  # the emptied directory's record
        store.put("sw/keep", b"2")
        events = _events(watch, 2)
    assert [(e.kind, e.key) for e in events] == [(EventKind.DELETE, "sw/a/b/c/k"), (EventKind.PUT, "sw/keep")]
    assert events[-1].value == b"2"


def test_keys_consul_deletes_with_their_session_are_seen(store):
    """A revoked lease's session takes its sentinel with it (and any key bound to it that the
    revoking process did not delete itself): the watch lists again."""
    store.put("ls/plain", b"p")
    lease = store.lease(10)
    store.put("ls/held", b"h", lease=lease)
    lease._keys.clear()  # as if another process had bound it: only Consul deletes it
    with store.watch("ls/") as watch:
        lease.revoke()
        events = _events(watch, 1)
    assert [(e.kind, e.key) for e in events] == [(EventKind.DELETE, "ls/held")]


def test_a_value_too_big_to_copy_is_read_once(store):
    big = b"b" * (64 * 1024)
    store.put("bv/k", b"small")
    with store.watch("bv/") as watch:
        before = watch.bytes_read
        store.put("bv/k", big)
        events = _events(watch, 1)
        cost = watch.bytes_read - before
    assert events[0].value == big
    assert len(big) < cost < len(big) + 400  # the record names it, one GET reads it


def test_a_journal_session_consul_ended_is_made_anew(store):
    store.put("js/a", b"1")
    lost = store._journal_session_id
    store._http.call("PUT", f"/v1/session/destroy/{lost}")
    with store.watch("js/") as watch:
        store.put("js/a", b"2")
        events = _events(watch, 1)
    assert [(e.key, e.value) for e in events] == [("js/a", b"2")]
    assert store._journal_session_id not in (None, lost)
