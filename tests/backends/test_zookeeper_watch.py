"""The ZooKeeper watch's wake-up (backends/zookeeper/.../watch.py), on a real ZooKeeper: a
notification must reach the consumer however the watch thread is scheduled (issue 15: with
100 agents, changes waited up to the 30 s safety net)."""

from __future__ import annotations

import threading
import time

import pytest

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


def test_a_notification_during_the_wake_up_is_not_lost(store):
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
