"""What this daemon last saw of its cluster, for when it cannot reach the store.

glusterd answers reads and portmap from memory; we answer from the store, which a partition
or a lost quorum takes away. So each daemon keeps, from watches, the last state it saw of the
keys reads need (volumes, peers, alive keys, port records) and knows since when the store has
been failing (``StoreHealth``). Reads then answer from that copy with a stale notice, changes
are refused within seconds with a clear error, and PORTBYBRICK and `volume status` never wait for the
store. The copy serves ``get`` and ``list`` like a store, so the cluster's own read code runs on
it unchanged.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from gluster_mgmt.errors import (
    AuthError,
    ConflictError,
    InvalidKeyError,
    OperationFailed,
    RevisionCompactedError,
    StoreError,
    ValueTooLargeError,
)
from gluster_mgmt.portmap import brick_record, decode_record
from gluster_mgmt.store.follow import Follow, Update
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import Entry

log = logging.getLogger(__name__)

#: Store errors that are the store's answer; every other store error (unavailable, timed out,
#: a client's own deadline such as etcd's "context deadline exceeded") means it was not reached.
ANSWERS = (ConflictError, InvalidKeyError, ValueTooLargeError, AuthError, RevisionCompactedError)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, StoreError) and not isinstance(exc, ANSWERS)
#: The words every refusal during an outage carries (tests and scripts look for them).
UNAVAILABLE = "configuration store unavailable"
#: How long a change waits for the store to show it answers before it is refused: long
#: enough to ride out a leader election after a store member died (3-4 s on a loaded
#: 2-core machine, Consul's the slowest), within the 10 s a change may take to fail,
#: however slowly the store's client gives up.
CONFIRM_TIMEOUT = 5.0
#: While a change runs, how often the store must show it still answers; also how long a
#: change waits for a store already known unreachable to answer again (a store member's
#: death fails calls only until the client has moved to another member).
RECHECK_INTERVAL = 2.0


def _clock(wall: float) -> str:
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


@attrs.define
class StoreHealth:
    """Since when this daemon's store calls fail (None: they succeed). Fed by every store
    call the daemon's watches and requests make, so an outage is known without a probe."""

    unreachable_since: float | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def failed(self, why: object) -> None:
        with self._lock:
            if self.unreachable_since is None:
                self.unreachable_since = time.time()
                log.warning("%s: %s", UNAVAILABLE, why)

    def answered(self) -> None:
        with self._lock:
            if self.unreachable_since is not None:
                log.warning("configuration store reachable again after %.1f s",
                            time.time() - self.unreachable_since)
            self.unreachable_since = None

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    def stale_notice(self) -> str | None:
        since = self.unreachable_since
        if since is None:
            return None
        return (f"{UNAVAILABLE} since {_clock(since)}: showing the last state this node saw, "
                f"which may be stale")

    def refusal(self, detail: str = "") -> OperationFailed:
        since = self.unreachable_since
        when = f" since {_clock(since)}" if since is not None else ""
        return OperationFailed(f"{UNAVAILABLE}{when}: changes are refused until this node "
                               f"reaches it again{f' ({detail})' if detail else ''}",
                               errno.EHOSTUNREACH)


class LastKnownState:
    """A read-only copy of the cluster's volumes, peers, alive keys and port records, kept
    current by watches. Port records are also kept after their deletion (``last_port``): a
    record leaves with its host's lease, its brick may well still run."""

    def __init__(self, store: Any, keys: ClusterKeys, health: StoreHealth,
                 on_volumes: Callable[[Update], None] | None = None) -> None:
        self.keys = keys
        self.health = health
        self._on_volumes = on_volumes
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Entry]] = {}
        self._last_ports: dict[str, dict[str, Any]] = {}
        self._follows = [
            Follow(store, prefix, lambda update, prefix=prefix: self._update(prefix, update),
                   name=f"last-known-{name}")
            for name, prefix in (("volumes", keys.volumes), ("peers", keys.peers),
                                 ("alive", keys.alive_prefix), ("ports", keys.all_ports))]

    def start(self, timeout: float = 30) -> "LastKnownState":
        for follow in self._follows:
            follow.start()
        for follow in self._follows:
            follow.wait_ready(timeout)
        return self

    def stop(self) -> None:
        for follow in self._follows:
            follow.stop()

    def _update(self, prefix: str, update: Update) -> None:
        self.health.answered()
        with self._lock:
            self._entries[prefix] = dict(update.entries)
            if prefix == self.keys.all_ports:
                for key in update.changed:
                    with contextlib.suppress(ValueError):
                        self._last_ports[key] = decode_record(update.entries[key].value)
        if prefix == self.keys.volumes and self._on_volumes is not None:
            self._on_volumes(update)

    # ------------------------------------------------------------------ the Store's reads
    def get(self, key: str) -> Entry | None:
        with self._lock:
            for prefix, entries in self._entries.items():
                if key.startswith(prefix):
                    return entries.get(key)
        return None

    def list(self, prefix: str = "") -> list[Entry]:
        with self._lock:
            found = [entry for entries in self._entries.values()
                     for key, entry in entries.items() if key.startswith(prefix)]
        return sorted(found, key=lambda e: e.key)

    # ------------------------------------------------------------------ port records
    def port_record(self, host_uuid: str, brick: str) -> dict[str, Any] | None:
        """The brick's port record as the store holds it now (as far as we know)."""
        return brick_record(self, self.keys, host_uuid, brick)

    def last_port(self, host_uuid: str, brick: str) -> dict[str, Any] | None:
        """The last port record seen for the brick, even one its host's lease took away."""
        with self._lock:
            return self._last_ports.get(self.keys.port(host_uuid, brick))


def guarded(health: StoreHealth, action: Callable[[], Any],
            confirm: Callable[[], bool] = lambda: True) -> Any:
    """Run a store-backed change: refused when the store does not ``confirm`` it answers
    (within seconds, however it fails); an outage it runs into becomes the same refusal as
    soon as the store stops confirming (a long change on a healthy store goes on; a store
    client retrying a silent partition would take far longer to give up, so the caller is
    told the change may still complete once the store is back)."""
    if not confirm() or not health.reachable:
        raise health.refusal()
    done = threading.Event()
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, action()))
        except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread)
            outcome.append((False, exc))
        done.set()

    threading.Thread(target=run, name="guarded-change", daemon=True).start()
    while not done.wait(RECHECK_INTERVAL):
        if not confirm():
            raise health.refusal("it stopped answering during the change, which may still "
                                 "be applied once it answers again")
    ok, value = outcome[0]
    if ok:
        health.answered()
        return value
    if is_outage(value):
        health.failed(value)
        raise health.refusal(str(value)) from value
    raise value


def with_fallback(health: StoreHealth, live: Callable[[], Any],
                  last_known: Callable[[], Any]) -> tuple[Any, str | None]:
    """A read: from the store when it answers, else from the last known state with the stale
    notice to show."""
    if health.reachable:
        try:
            result = live()
            health.answered()
            return result, None
        except StoreError as exc:
            if not is_outage(exc):
                raise
            health.failed(exc)
    return last_known(), health.stale_notice()



class StoreProbe:
    """A cheap read every ``interval`` seconds, so the daemon learns of an outage (and of
    its end) without waiting for a request to run into it."""

    def __init__(self, store: Any, keys: ClusterKeys, health: StoreHealth,
                 interval: float = 2.0) -> None:
        self.store, self.keys, self.health, self.interval = store, keys, health, interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-probe", daemon=True)

    def start(self) -> "StoreProbe":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _read(self) -> bool:
        """One read: False when the store cannot be reached (any answer counts as reached)."""
        try:
            self.store.get(self.keys.info)
        except Exception as exc:  # noqa: BLE001 (an error answer still means it answered)
            if is_outage(exc):
                self.health.failed(exc)
                return False
        self.health.answered()
        return True

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self._read()

    def confirm(self, timeout: float = CONFIRM_TIMEOUT) -> bool:
        """Whether the store answers a read within ``timeout`` (before a change: the store's
        client may take far longer to give up on a silent partition). A store already known
        unreachable gets a shorter wait: its client may have reached another member since."""
        if not self.health.reachable:
            timeout = min(timeout, RECHECK_INTERVAL)
        done = threading.Event()
        answered: list[bool] = []

        def read() -> None:
            answered.append(self._read())
            done.set()

        threading.Thread(target=read, name="store-confirm", daemon=True).start()
        if done.wait(timeout) and answered[0]:
            return True
        self.health.failed(f"no answer to a read within {timeout:g} s")
        return False
