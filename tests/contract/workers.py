"""Store clients run as separate processes by the contract tests (so they can be SIGKILLed).

python -m tests.contract.workers COMMAND URL ARGS...
"""

from __future__ import annotations

import sys
import time

from gluster_mgmt import open_store
from gluster_mgmt.errors import ConflictError
from gluster_mgmt.store import ABSENT


def increment(url: str, key: str, times: str) -> None:
    """CAS-increment a counter ``times`` times, retrying on conflicts."""
    with open_store(url) as store:
        for _ in range(int(times)):
            while True:
                entry = store.get(key)
                try:
                    if entry is None:
                        store.put(key, b"1", ABSENT)
                    else:
                        store.put(key, str(int(entry.value) + 1).encode(), entry.revision)
                    break
                except ConflictError:
                    continue
    print("DONE", flush=True)


def create(url: str, key: str, me: str) -> None:
    with open_store(url) as store:
        try:
            store.put(key, me.encode(), ABSENT)
            print("WON", flush=True)
        except ConflictError:
            print("LOST", flush=True)


def hold_lease(url: str, key: str, ttl: str) -> None:
    store = open_store(url)
    lease = store.lease(float(ttl)).keep_alive()
    store.put(key, b"held", lease=lease)
    print("READY", flush=True)
    time.sleep(3600)


def hold_lock(url: str, name: str) -> None:
    store = open_store(url)
    lock = store.lock(name, ttl=store.capabilities.min_lease_ttl)
    token = lock.acquire(timeout=60)
    print(f"TOKEN {token}", flush=True)
    time.sleep(3600)


COMMANDS = {"increment": increment, "create": create, "hold-lease": hold_lease, "hold-lock": hold_lock}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
