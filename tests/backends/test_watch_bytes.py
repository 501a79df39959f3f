"""What a watch reads per change must follow the change, not the size of its prefix (issue 15:
a `volume set` must not cost each agent every volume record). Per backend, on a real server."""

from __future__ import annotations

import time

from gluster_mgmt.store import Put

KEYS = 100
VALUE = b"v" * 200


def _next_event(watch, key: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in watch.get(timeout=0.5):
            if event.key == key:
                return event
    raise AssertionError(f"no event for {key} within {timeout}s")


def test_a_change_costs_the_watch_the_change_not_the_prefix(store):
    for start in range(0, KEYS, 20):
        store.transaction([Put(f"vols/k{i:03d}", VALUE) for i in range(start, start + 20)])
    watch = store.watch("vols/")
    try:
        for value in (b"a" * 200, b"b" * 200):  # a data change twice: the second on re-armed watches
            before = watch.bytes_read
            store.put("vols/k042", value)
            assert _next_event(watch, "vols/k042").value == value
            cost = watch.bytes_read - before
            assert cost <= 4 * len(VALUE), f"{cost} bytes read for one {len(VALUE)}-byte change"
        before = watch.bytes_read  # a new key: its parent's children names are read, once
        store.put("vols/k999", VALUE)
        _next_event(watch, "vols/k999")
        assert watch.bytes_read - before <= KEYS * len("k000") + 4 * len(VALUE)
    finally:
        watch.close()
