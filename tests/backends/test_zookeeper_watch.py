"""The ZooKeeper watch (backends/zookeeper/.../watch.py, mirror.py), on a real ZooKeeper: a
notification must reach the consumer however the watch thread is scheduled (issue 15: with
100 agents, changes waited up to the 30 s safety net), and a new key must cost a watch its own
bytes, not its siblings' names (issue 15: a joining peer cost every agent O(peers)). Both ways
of being told are tested: the persistent recursive watch (ZooKeeper 3.6+) and the one-shot
watches of older servers (forced by ``recursive_watches=0``)."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.exceptions import NoWatcherError

from gluster_mgmt import open_store
from gluster_mgmt.store import Put
from tests.backends.test_watch_bytes import _next_event

#: On the session's ZooKeeper server (conftest's fixtures), whichever backends the run selects.
pytestmark = pytest.mark.parametrize("store_server", ["zookeeper"], indirect=True)


class LateWake(threading.Event):
    """The watch's trigger, made to lose the race a busy interpreter loses now and then: on
    its first timeout, ``land()`` runs (a write) and the notification sets the trigger before
    ``wait`` returns its timeout, so the watch thread's ``clear()`` comes after that ``set()``."""

    def __init__(self, land) -> None:
        super().__init__()
        self._land = land
        self.landed = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        got = super().wait(timeout)
        if not got and not self.landed.is_set():
            self._land()
            assert super().wait(10), "the write's notification never set the trigger"
            self.landed.set()
        return got


@pytest.fixture(params=[True, False], ids=["recursive", "one-shot"])
def zk_store(request, store_url):
    """The store, its watches on a persistent recursive watch, or (forced) on one-shot ones."""
    s = open_store(store_url if request.param else f"{store_url}?recursive_watches=0")
    yield s
    s.close()


def test_a_notification_during_the_wake_up_is_not_lost(zk_store):
    store = zk_store
    store.put("wake/k", b"1")
    with store.watch("wake/") as watch:
        trigger = LateWake(lambda: store.put("wake/k", b"2"))
        watch._trigger = trigger  # the watch thread reads it on its next wait
        assert trigger.landed.wait(10), "the watch thread never waited again"
        landed = time.monotonic()
        events = []
        while time.monotonic() - landed < 5 and not events:
            events = watch.get(timeout=0.2)
    assert [(e.key, e.value) for e in events] == [("wake/k", b"2")], \
        "the change was left to the safety net (RELIST_CHECK_INTERVAL)"
    assert time.monotonic() - landed < 5


def _new_key_cost(store, prefix: str, siblings: int) -> tuple[int, bool]:
    """(bytes the watch of ``prefix`` read for one new key among ``siblings``, whether its
    mirror is on a recursive watch)."""
    for start in range(0, siblings, 25):
        store.transaction([Put(f"{prefix}k{i:04d}", b"v" * 100)
                           for i in range(start, min(start + 25, siblings))])
    with store.watch(prefix) as watch:
        before = watch.bytes_read
        store.put(f"{prefix}new/x", b"n" * 100)  # a new directory and a new key in it
        assert _next_event(watch, f"{prefix}new/x").value == b"n" * 100
        store.delete(f"{prefix}k0000")
        assert _next_event(watch, f"{prefix}k0000").kind.name == "DELETE"
        return watch.bytes_read - before, watch._mirror.recursive


def test_a_new_key_costs_the_watch_its_own_bytes_not_its_siblings(zk_store):
    few, recursive = _new_key_cost(zk_store, "p002/", 2)
    many, _ = _new_key_cost(zk_store, "p200/", 200)
    if recursive:  # each change read alone: the same bytes whatever the siblings
        assert few == many <= 2 * (len("p200/new/x") + 101) + len("p200/k0000"), (few, many)
    else:  # one-shot watches re-read the parent's children names: what issue 15 measured
        assert many > few + 150 * len("k0000"), (few, many)


def test_closing_a_watch_removes_its_recursive_watch_from_the_server(store):
    path = store.layout.directory("gone/")
    first, second = store.watch("gone/"), store.watch("gone/")
    assert first._mirror.recursive and second._mirror.recursive
    first.close()
    first._thread.join(10)
    store.put("gone/k", b"1")  # the server still watches for the second one
    assert _next_event(second, "gone/k").value == b"1"
    second.close()
    second._thread.join(10)
    assert not store.client._recursive
    with pytest.raises(NoWatcherError):  # the server had none left to remove
        store.client.remove_recursive_watch_async(path).get(timeout=5)
