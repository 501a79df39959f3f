"""Store operations through the gluster_mgmt API and through each backend's raw client.

For every backend (local, etcd, consul, zookeeper) this starts a real server on loopback with
the test-server classes (tests/servers), runs get / put / CAS / txn / watch both through
``gluster_mgmt.store`` and through the client library the plugin is built on, doing the same
server-side work, and reports latency (p50, p99), single-thread throughput and the API's
overhead over the raw client. The two columns run interleaved in small batches (order
alternating) so that drift of the server or the machine hits both alike.

    python -m benchmarks.store_ops [--backends local,etcd] [--ops N] [--output docs/benchmarks.md]

(from the repository root: the servers are the test suite's, ``tests.servers``).

Every loop is bounded by a count and a time limit; only loopback addresses are used; every
server started here is stopped before exit.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import math
import os
import platform
import queue
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.report import the_command, write_section
from gluster_mgmt.store import Put, Store, open_store
from gluster_mgmt.store.local import lease_clock
from tests.servers import StoreServer, server_class

BACKENDS = ("local", "etcd", "consul", "zookeeper")
OPS = ("get", "put", "cas", "txn", "watch")
SECTION = "## Store operations"
#: Goal for the API's overhead over the raw client, percent.
GOAL = 5.0

now = time.perf_counter_ns


# ============================================================================ measurement
class Samples:
    """Per-op latencies (ns) and the wall time of the loops that made them."""

    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.wall_ns = 0
        #: CPU time of the whole client process (every thread: the caller, the client
        #: library's I/O threads, watch threads) spent in the batches.
        self.cpu_ns = 0

    def add_batch(self, fn: Callable[[], int | None], count: int) -> None:
        lat = self.latencies
        cpu = time.process_time_ns()
        start = now()
        for _ in range(count):
            t0 = now()
            measured = fn()
            lat.append(measured if measured is not None else now() - t0)
        self.wall_ns += now() - start
        self.cpu_ns += time.process_time_ns() - cpu

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return math.nan
        k = (len(data) - 1) * p / 100.0
        lo, hi = math.floor(k), math.ceil(k)
        return (data[lo] + (data[hi] - data[lo]) * (k - lo)) / 1000.0  # µs

    @property
    def cpu_us(self) -> float:
        return self.cpu_ns / len(self.latencies) / 1000.0 if self.latencies else math.nan

    @property
    def ops_per_s(self) -> float:
        return len(self.latencies) / (self.wall_ns / 1e9) if self.wall_ns else math.nan


def run_pair(api: Callable[[], int | None], raw: Callable[[], int | None] | None, count: int,
             batch: int, time_limit: float, warmup: int,
             api_session: Callable[[], contextlib.AbstractContextManager] | None = None,
             raw_session: Callable[[], contextlib.AbstractContextManager] | None = None,
             session_warmup: bool = False) -> tuple[Samples, Samples | None]:
    """Run ``count`` calls of each side in alternating batches (at most ``time_limit`` s)."""
    api_session = api_session or contextlib.nullcontext
    raw_session = raw_session or contextlib.nullcontext
    sides = [(api, api_session, Samples())]
    if raw is not None:
        sides.append((raw, raw_session, Samples()))
    for fn, session, _ in sides:
        with session():
            for _ in range(warmup):
                fn()
    deadline = time.monotonic() + time_limit
    done = 0
    rounds = 0
    while done < count and time.monotonic() < deadline:
        n = min(batch, count - done)
        order = sides if rounds % 2 == 0 else sides[::-1]
        for fn, session, samples in order:
            with session():
                if session_warmup:
                    fn()  # untimed: a watch's first event may wait for its stream to be set up
                samples.add_batch(fn, n)
        done += n
        rounds += 1
    return sides[0][2], (sides[1][2] if raw is not None else None)


def wait_event(get: Callable[[float], list], key: str, revision: int, what: str,
               timeout: float = 10.0) -> None:
    """Consume events until the one for ``key`` at ``revision`` or later arrives."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{what}: no event for {key} at revision {revision} within {timeout}s")
        for k, rev in get(left):
            if k == key and rev >= revision:
                return


# ============================================================================ backends
class Bench:
    """One backend: the API store, the raw client, and the operations of both sides.

    The API side works under the root ``bench_api``, the raw side under ``bench_raw`` (for
    local: two database files), so a watch of one never sees the other's writes.
    """

    name: str
    #: Why the raw column of an operation is 'n/a' (op -> reason).
    no_raw: dict[str, str] = {}

    def __init__(self, server: StoreServer, value: bytes) -> None:
        self.server = server
        self.value = value
        self.store: Store = open_store(server.url("bench_api"))
        # The raw side's namespace is laid out by the API (bootstrap nodes, first values)
        # before the raw client touches it; that setup is not measured.
        setup = open_store(server.url("bench_raw"))
        try:
            for key in ("k", "c", "t0", "t1", "w/k"):
                setup.put(key, value)
                self.store.put(key, value)
        finally:
            setup.close()
        self.api_rev = self.store.get("c").revision
        self.api_txn_revs = [self.store.get("t0").revision, self.store.get("t1").revision]
        self.open_raw()

    # -- API side (identical for every backend)
    def api_get(self) -> None:
        self.store.get("k")

    def api_put(self) -> None:
        self.store.put("k", self.value)

    def api_cas(self) -> None:
        self.api_rev = self.store.put("c", self.value, expect=self.api_rev)

    def api_txn(self) -> None:
        r0, r1 = self.api_txn_revs
        rev = self.store.transaction([Put("t0", self.value, r0), Put("t1", self.value, r1)])
        self.api_txn_revs = [rev, rev]

    @contextlib.contextmanager
    def api_watch_session(self) -> Iterator[None]:
        with self.store.watch("w/") as watch:
            self._api_watch = watch
            yield

    def api_watch(self) -> int:
        t0 = now()
        rev = self.store.put("w/k", self.value)
        wait_event(lambda t: [(e.key, e.revision) for e in self._api_watch.get(t)], "w/k", rev, "API watch")
        return now() - t0

    # -- raw side (per backend)
    @contextlib.contextmanager
    def _raw_watch_thread(self, loop: Callable[[threading.Event, queue.SimpleQueue], None],
                          wake: Callable[[], None], join: float) -> Iterator[None]:
        """Run a raw watch ``loop(closed, events)`` in a thread for one session; at the end
        set ``closed``, ``wake`` the loop from whatever it waits on and join it."""
        events: queue.SimpleQueue = queue.SimpleQueue()
        closed = threading.Event()
        thread = threading.Thread(target=loop, args=(closed, events), daemon=True)
        thread.start()
        self._raw_events = events
        try:
            yield
        finally:
            closed.set()
            wake()
            thread.join(join)

    def _raw_event_latency(self, key: str | bytes, write: Callable[[], int]) -> int:
        """ns from just before ``write`` (which returns its revision) until the raw watch
        delivers the event of ``key`` at that revision."""
        t0 = now()
        rev = write()
        wait_event(lambda t: _queue_get(self._raw_events, t), key, rev, "raw watch")
        return now() - t0

    def open_raw(self) -> None: ...
    def raw_get(self) -> None: ...
    def raw_put(self) -> None: ...
    def raw_cas(self) -> None: ...
    def raw_txn(self) -> None: ...
    def raw_watch_session(self) -> contextlib.AbstractContextManager: ...
    def raw_watch(self) -> int: ...
    def close_raw(self) -> None: ...

    def close(self) -> None:
        try:
            self.close_raw()
        finally:
            self.store.close()

    def server_version(self) -> str:
        return ""


# ---------------------------------------------------------------------------- local (SQLite)
#: The clock LocalStore's lease expiry times are on: the raw side compares with it as the
#: statements it copies do.
boot_clock = lease_clock


class LocalBench(Bench):
    """Raw: ``sqlite3`` running the statements LocalStore runs, in the same transactions,
    with the same connection settings, against a second database file."""

    name = "local"

    def open_raw(self) -> None:
        self.path = self.server.url("bench_raw")[len("local://"):]
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        self.db = db
        self.cond = threading.Condition()
        self.raw_rev = self._row("SELECT revision FROM kv WHERE key='c'")[0]
        self.raw_txn_revs = [self._row("SELECT revision FROM kv WHERE key=?", (k,))[0] for k in ("t0", "t1")]

    def _row(self, sql: str, args: tuple = ()) -> tuple:
        return self.db.execute(sql, args).fetchone()

    def raw_get(self) -> None:
        self.db.execute(
            "SELECT value, revision, created, lease FROM kv WHERE key=? AND "
            "(lease IS NULL OR lease IN (SELECT id FROM leases WHERE expires >= ?))",
            ("k", boot_clock())).fetchone()

    def _write(self, items: list[tuple[str, int | None]]) -> int:
        """What LocalStore._put / _commit run: BEGIN IMMEDIATE, lease expiry check, current
        rows, revision bump, kv + history rows, COMMIT, wake in-process watchers."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("SELECT id FROM leases WHERE expires < ?", (boot_clock(),)).fetchall()
            currents = {k: db.execute("SELECT revision, created FROM kv WHERE key=?", (k,)).fetchone()
                        for k, _ in items}
            for k, expect in items:
                if expect is not None and (currents[k] is None or currents[k][0] != expect):
                    raise RuntimeError(f"raw local CAS of {k} failed")
            revision = db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0] + 1
            db.execute("UPDATE meta SET value=? WHERE name='revision'", (revision,))
            if revision % 1000 == 0 and revision > 20_000:
                db.execute("DELETE FROM history WHERE revision <= ?", (revision - 20_000,))
                db.execute("UPDATE meta SET value=? WHERE name='compacted'", (revision - 20_000,))
            for k, _ in items:
                created = revision if currents[k] is None else currents[k][1]
                db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)",
                           (k, self.value, created, revision, None))
                db.execute("INSERT INTO history VALUES (?, ?, ?)", (revision, k, self.value))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        with self.cond:
            self.cond.notify_all()
        return revision

    def raw_put(self) -> None:
        self._write([("k", None)])

    def raw_cas(self) -> None:
        self.raw_rev = self._write([("c", self.raw_rev)])

    def raw_txn(self) -> None:
        r0, r1 = self.raw_txn_revs
        rev = self._write([("t0", r0), ("t1", r1)])
        self.raw_txn_revs = [rev, rev]

    @contextlib.contextmanager
    def raw_watch_session(self) -> Iterator[None]:
        """A thread doing what LocalStore's watch thread does: wait for the in-process
        commit notification (10 ms poll), read new history rows in a read transaction."""
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        seen = db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0]

        def run(closed: threading.Event, events: queue.SimpleQueue) -> None:
            nonlocal seen
            next_reap = 0.0
            while not closed.is_set():
                t = boot_clock()
                if t >= next_reap:
                    db.execute("SELECT 1 FROM leases WHERE expires < ? LIMIT 1", (t,)).fetchone()
                    next_reap = t + 0.1
                db.execute("BEGIN")
                try:
                    revision = db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0]
                    if revision > seen:
                        db.execute("SELECT value FROM meta WHERE name='compacted'").fetchone()
                        rows = db.execute(
                            "SELECT revision, key, value FROM history WHERE revision > ? "
                            "AND revision <= ? AND key >= ? AND key < ? ORDER BY revision, key",
                            (seen, revision, "w/", "w0")).fetchall()
                        seen = revision
                        if rows:
                            events.put([(k, r) for r, k, v in rows])
                finally:
                    db.execute("COMMIT")
                with self.cond:
                    if not closed.is_set():
                        self.cond.wait(0.01)

        def wake() -> None:
            with self.cond:
                self.cond.notify_all()

        try:
            with self._raw_watch_thread(run, wake, 5):
                yield
        finally:
            db.close()

    def raw_watch(self) -> int:
        return self._raw_event_latency("w/k", lambda: self._write([("w/k", None)]))

    def close_raw(self) -> None:
        self.db.close()

    def server_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (no server)"


def _queue_get(q: queue.SimpleQueue, timeout: float) -> list:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return []


# ---------------------------------------------------------------------------- etcd
class EtcdBench(Bench):
    """Raw: the ``etcd3`` client (cslab-etcd3): Range, Put, and Txn requests with the same
    compares and branches as the plugin's; a prefix watch with a callback."""

    name = "etcd"

    def open_raw(self) -> None:
        import etcd3

        self.client = etcd3.client(self.server.host, self.server.client_port, timeout=5)
        self.tx = self.client.transactions
        self.prefix = b"bench_raw/"
        self.key = self.prefix + b"k"
        self.ckey = self.prefix + b"c"
        self.tkeys = [self.prefix + b"t0", self.prefix + b"t1"]
        self.raw_rev = self.client.get(self.ckey)[1].mod_revision
        self.raw_txn_revs = [self.client.get(k)[1].mod_revision for k in self.tkeys]

    def raw_get(self) -> None:
        self.client.get(self.key)

    def raw_put(self) -> None:
        self.client.put(self.key, self.value)

    def _cas(self, pairs: list[tuple[bytes, int]]) -> int:
        tx = self.tx
        ok, responses = self.client.transaction(
            compare=[tx.mod(k) == rev for k, rev in pairs],
            success=[tx.put(k, self.value) for k, _ in pairs],
            failure=[tx.get(k) for k, _ in pairs],
        )
        if not ok:
            raise RuntimeError("raw etcd CAS failed")
        return responses[0].response_put.header.revision

    def raw_cas(self) -> None:
        self.raw_rev = self._cas([(self.ckey, self.raw_rev)])

    def raw_txn(self) -> None:
        rev = self._cas(list(zip(self.tkeys, self.raw_txn_revs)))
        self.raw_txn_revs = [rev, rev]

    @contextlib.contextmanager
    def raw_watch_session(self) -> Iterator[None]:
        events: queue.SimpleQueue = queue.SimpleQueue()

        def callback(response) -> None:
            if isinstance(response, Exception):
                return
            events.put([(e.key, e.mod_revision) for e in response.events])

        watch_id = self.client.add_watch_prefix_callback(self.prefix + b"w/", callback)
        self._raw_events = events
        try:
            yield
        finally:
            self.client.cancel_watch(watch_id)

    def raw_watch(self) -> int:
        key = self.prefix + b"w/k"
        return self._raw_event_latency(key, lambda: self.client.put(key, self.value).header.revision)

    def close_raw(self) -> None:
        self.client.close()

    def server_version(self) -> str:
        url = f"http://{self.server.host}:{self.server.client_port}/version"
        with urllib.request.urlopen(url, timeout=5) as r:
            return "etcd " + json.loads(r.read())["etcdserver"]


# ---------------------------------------------------------------------------- Consul
class ConsulBench(Bench):
    """Raw: ``py-consul``: a consistent GET /v1/kv/<key> for get, and for every write the
    /v1/txn request the plugin sends (``set``; ``cas`` with the index; two ``cas`` for the
    2-op transaction; fresh Flags each write, as the plugin does); a watch is a recursive
    blocking query diffed against the last snapshot, in a thread with its own client."""

    name = "consul"

    def open_raw(self) -> None:
        import consul

        self._consul = consul
        self.client = self._new_client()
        self.prefix = "bench_raw/"
        self.key = self.prefix + "k"
        self.ckey = self.prefix + "c"
        self.tkeys = [self.prefix + "t0", self.prefix + "t1"]
        self.raw_rev = self.client.kv.get(self.ckey, consistency="consistent")[1]["ModifyIndex"]
        self.raw_txn_revs = [self.client.kv.get(k, consistency="consistent")[1]["ModifyIndex"]
                             for k in self.tkeys]
        self.b64 = base64.b64encode(self.value).decode()
        self.bits = random.Random().getrandbits

    def _new_client(self):
        client = self._consul.Consul(host=self.server.host, port=self.server.client_port)
        # As the plugin configures its session: no proxy/.netrc lookups from the environment.
        client.http.session.trust_env = False
        return client

    def raw_get(self) -> None:
        self.client.kv.get(self.key, consistency="consistent")

    def _txn(self, ops: list[dict]) -> int:
        results = self.client.txn.put(ops)["Results"]
        return max(r["KV"]["ModifyIndex"] for r in results)

    def raw_put(self) -> None:
        self._txn([{"KV": {"Verb": "set", "Key": self.key, "Value": self.b64, "Flags": self.bits(63)}}])

    def _cas_ops(self, key: str, index: int) -> dict:
        return {"KV": {"Verb": "cas", "Key": key, "Value": self.b64, "Flags": self.bits(63), "Index": index}}

    def raw_cas(self) -> None:
        self.raw_rev = self._txn([self._cas_ops(self.ckey, self.raw_rev)])

    def raw_txn(self) -> None:
        rev = self._txn([self._cas_ops(k, r) for k, r in zip(self.tkeys, self.raw_txn_revs)])
        self.raw_txn_revs = [rev, rev]

    @contextlib.contextmanager
    def raw_watch_session(self) -> Iterator[None]:
        client = self._new_client()
        prefix = self.prefix + "w/"
        index, items = client.kv.get(prefix, recurse=True, consistency="consistent")
        snapshot = {i["Key"]: i["ModifyIndex"] for i in items or ()}

        def run(closed: threading.Event, events: queue.SimpleQueue) -> None:
            nonlocal index, snapshot
            while not closed.is_set():
                new_index, items = client.kv.get(prefix, index=index, recurse=True, wait="30s")
                if new_index == index or closed.is_set():
                    continue
                index = new_index
                current = {i["Key"]: i["ModifyIndex"] for i in items or ()}
                changed = [(k, m) for k, m in current.items() if snapshot.get(k) != m]
                changed += [(k, index) for k in snapshot if k not in current]
                snapshot = current
                if changed:
                    events.put(sorted(changed, key=lambda e: e[1]))

        def wake() -> None:
            """End the blocking query with one more write under the prefix."""
            self._txn([{"KV": {"Verb": "set", "Key": prefix + "wake", "Value": None, "Flags": self.bits(63)}}])

        try:
            with self._raw_watch_thread(run, wake, 10):
                yield
        finally:
            client.http.session.close()

    def raw_watch(self) -> int:
        key = self.prefix + "w/k"
        return self._raw_event_latency(key, lambda: self._txn(
            [{"KV": {"Verb": "set", "Key": key, "Value": self.b64, "Flags": self.bits(63)}}]))

    def close_raw(self) -> None:
        self.client.http.session.close()

    def server_version(self) -> str:
        return "Consul " + self.client.agent.self()["Config"]["Version"]


# ---------------------------------------------------------------------------- ZooKeeper
class ZooKeeperBench(Bench):
    """Raw: ``kazoo`` doing the plugin's znode operations: get = sync + getData; a write =
    getData of the key (and of its parent directories) in parallel, then one multi of
    setData(key, version) + setData(<root>/.rev); a watch = an exists watch on the revision
    node, each notification re-arming it and re-reading the prefix between two reads of the
    revision node, as the plugin's watch does."""

    name = "zookeeper"

    def open_raw(self) -> None:
        from gluster_mgmt_zookeeper.znodes import CREATED_REVISION, MARK_CREATED, MARK_NEW
        from kazoo.client import KazooClient

        self.mark_new, self.mark_created = MARK_NEW, MARK_CREATED
        self.created_revision = CREATED_REVISION

        self.zk = KazooClient(hosts=f"{self.server.host}:{self.server.client_port}", timeout=10.0)
        self.zk.start(timeout=10)
        self.base = "/bench_raw"
        self.rev_path = self.base + "/.rev"
        self.deleted_path = self.base + "/.deleted"
        self.key = self.base + "/k"
        self.ckey = self.base + "/c"
        self.tkeys = [self.base + "/t0", self.base + "/t1"]
        self.raw_rev = self.zk.get(self.ckey)[1].mzxid
        self.raw_txn_revs = [self.zk.get(k)[1].mzxid for k in self.tkeys]

    def raw_get(self) -> None:
        self.zk.sync(self.base)
        self.zk.get(self.key)

    def _write(self, items: list[tuple[str, int | None]], ancestors: tuple[str, ...] = ()) -> int:
        zk = self.zk
        pending = [zk.get_async(p) for p in [p for p, _ in items] + list(ancestors)]
        got = [r.get(timeout=5) for r in pending]
        txn = zk.transaction()
        for (path, expect), (data, stat) in zip(items, got):
            if expect is not None and stat.mzxid != expect:
                raise RuntimeError(f"raw zookeeper CAS of {path} failed")
            created = stat.mzxid if data[:1] == self.mark_new else self.created_revision.unpack_from(data, 1)[0]
            txn.set_data(path, self.mark_created + self.created_revision.pack(created) + self.value,
                         version=stat.version)
        txn.set_data(self.rev_path, b"")
        results = txn.commit()
        return results[-1].mzxid

    def raw_put(self) -> None:
        self._write([(self.key, None)])

    def raw_cas(self) -> None:
        self.raw_rev = self._write([(self.ckey, self.raw_rev)])

    def raw_txn(self) -> None:
        rev = self._write(list(zip(self.tkeys, self.raw_txn_revs)))
        self.raw_txn_revs = [rev, rev]

    @contextlib.contextmanager
    def raw_watch_session(self) -> Iterator[None]:
        zk = self.zk
        trigger = threading.Event()
        directory = self.base + "/w"

        def wake(*_: object) -> None:
            trigger.set()

        def read_tree() -> tuple[dict[str, int], int]:
            while True:
                before = zk.exists_async(self.rev_path).get(timeout=5)
                names = zk.get_children_async(directory).get(timeout=5)
                paths = [f"{directory}/{n}" for n in names if not n.startswith(".")]
                reads = {p: zk.get_async(p) for p in paths}
                for p in paths:
                    zk.get_children_async(p)  # the plugin lists every node it reads
                found = {}
                for p, r in reads.items():
                    data, stat = r.get(timeout=5)
                    if data[:1] in (self.mark_new, self.mark_created):
                        found[p] = stat.mzxid
                after = zk.exists_async(self.rev_path).get(timeout=5)
                if after.mzxid == before.mzxid:
                    return found, before.mzxid

        zk.sync(self.base)
        zk.exists_async(self.deleted_path).get(timeout=5)
        snapshot, listed = read_tree()
        zk.exists_async(self.rev_path, watch=wake)

        def run(closed: threading.Event, events: queue.SimpleQueue) -> None:
            nonlocal snapshot, listed
            while not closed.is_set():
                triggered = trigger.wait(1.0)
                trigger.clear()
                if closed.is_set():
                    return
                if not triggered:
                    stat = zk.exists_async(self.rev_path, watch=wake).get(timeout=5)
                    if stat.mzxid == listed:
                        continue
                zk.exists_async(self.rev_path, watch=wake)
                zk.exists_async(self.deleted_path).get(timeout=5)
                current, listed = read_tree()
                changed = [(k, m) for k, m in current.items() if snapshot.get(k) != m]
                snapshot = current
                zk.exists_async(self.rev_path, watch=wake)
                if changed:
                    events.put(sorted(changed, key=lambda e: e[1]))

        with self._raw_watch_thread(run, trigger.set, 5):
            yield

    def raw_watch(self) -> int:
        key = self.base + "/w/k"
        return self._raw_event_latency(key, lambda: self._write([(key, None)], ancestors=(self.base + "/w",)))

    def close_raw(self) -> None:
        self.zk.stop()
        self.zk.close()

    def server_version(self) -> str:
        text = self.server.four_letter_word("srvr")
        first = text.splitlines()[0] if text else ""
        return "ZooKeeper " + first.split(":", 1)[-1].strip().split(",")[0].split("-")[0]


BENCHES: dict[str, type[Bench]] = {
    "local": LocalBench, "etcd": EtcdBench, "consul": ConsulBench, "zookeeper": ZooKeeperBench,
}


# ============================================================================ driver
def bench_backend(name: str, workdir: Path, args: argparse.Namespace) -> tuple[list[dict], str]:
    server = server_class(name)(workdir / name)
    server.start()
    bench: Bench | None = None
    try:
        bench = BENCHES[name](server, os.urandom(args.value_size))
        version = bench.server_version()
        rows = []
        for op in args.op_list:
            count = args.ops if op != "watch" else max(20, args.ops // args.watch_divisor)
            batch = args.batch if op != "watch" else max(10, args.batch // 2)
            api_fn = getattr(bench, f"api_{op}")
            raw_fn = None if op in bench.no_raw else getattr(bench, f"raw_{op}")
            sessions = {}
            if op == "watch":
                sessions = {"api_session": bench.api_watch_session, "raw_session": bench.raw_watch_session,
                            "session_warmup": True}
            print(f"  {name} {op}: {count} ops per side...", file=sys.stderr, flush=True)
            api, raw = run_pair(api_fn, raw_fn, count, batch, args.time_limit, args.warmup, **sessions)
            rows.append({"backend": name, "op": op, "api": api, "raw": raw,
                         "why": bench.no_raw.get(op, "")})
        return rows, version
    finally:
        if bench is not None:
            bench.close()
        server.stop()


def fmt_us(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def fmt_pct(v: float | None) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    mark = "" if v <= GOAL else " ⚠"
    return f"{v:+.1f}%{mark}"


def render(rows: list[dict], versions: dict[str, str], command: str, args: argparse.Namespace,
           load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    lines = [
        SECTION,
        "",
        f"Produced by `{command}` on {datetime.date.today().isoformat()}.",
        "",
        f"Machine: 2 cores ({os.cpu_count()} CPUs seen), {platform.machine()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}. "
        "Servers: " + "; ".join(f"{b}: {v}" for b, v in versions.items()) + ". "
        f"Load average (1/5/15 min) at start {'/'.join(f'{x:.1f}' for x in load[0])}, at end "
        f"{'/'.join(f'{x:.1f}' for x in load[1])}: the machine, servers included, was shared "
        "with whatever else ran then.",
        "",
        f"Each cell: {args.ops} operations per side ({max(20, args.ops // args.watch_divisor)} for watch), "
        f"single thread, {args.value_size}-byte values, after {args.warmup} warm-up operations; "
        f"API and raw run interleaved in batches of {args.batch} (order alternating), each "
        f"pair bounded to {args.time_limit:g} s (watch: each side's watch is reopened per batch, "
        "with one untimed event first). Latencies in µs. Overhead = API over raw "
        f"(p50 latency, and ops/s); the goal is ≤ {GOAL:g}% (⚠ marks cells above it; a "
        "negative value means the API was faster than the raw client). Client CPU = CPU time "
        "of the benchmark process (all its threads) per operation: the library cost, less "
        "sensitive to server noise than latency.",
        "",
        "| backend | op | API p50 | API p99 | API ops/s | raw p50 | raw p99 | raw ops/s "
        "| overhead p50 | overhead ops/s | client CPU µs/op API / raw |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        api: Samples = row["api"]
        raw: Samples | None = row["raw"]
        if raw is not None:
            over_p50 = (api.pct(50) / raw.pct(50) - 1) * 100
            over_ops = (raw.ops_per_s / api.ops_per_s - 1) * 100
            raw_cells = [fmt_us(raw.pct(50)), fmt_us(raw.pct(99)), f"{raw.ops_per_s:,.0f}"]
            cpu = f"{fmt_us(api.cpu_us)} / {fmt_us(raw.cpu_us)}"
        else:
            over_p50 = over_ops = None
            raw_cells = ["n/a"] * 3
            cpu = f"{fmt_us(api.cpu_us)} / n/a"
        lines.append(
            f"| {row['backend']} | {row['op']} | {fmt_us(api.pct(50))} | {fmt_us(api.pct(99))} | "
            f"{api.ops_per_s:,.0f} | " + " | ".join(raw_cells)
            + f" | {fmt_pct(over_p50)} | {fmt_pct(over_ops)} | {cpu} |"
        )
    lines += ["", *NOTES, ""]
    return "\n".join(lines)


NOTES = [
    "What each operation is, on both sides (the raw side does the server-side work the plugin "
    "does, with the library the plugin is built on):",
    "",
    "- **get**: one linearizable read of an existing key.",
    "- **put**: an unconditional overwrite of that key.",
    "- **cas**: an overwrite expecting the key's exact current revision.",
    "- **txn**: one transaction of two puts, each expecting its key's exact revision.",
    "- **watch**: from just before a put of a key under a watched prefix until its event "
    "reaches the consuming thread (the put's own latency included); API: `Store.put` + "
    "`Watch.get`, raw: the raw put + the raw client's watch mechanism below.",
    "",
    "Raw clients: **local**: `sqlite3` running LocalStore's statements in the same "
    "transactions (BEGIN IMMEDIATE, lease-expiry check, current row, revision bump, kv and "
    "history rows, COMMIT, in-process watcher wake-up; the watch thread polls history like "
    "LocalStore's). **etcd**: `etcd3` (cslab-etcd3) `get`, `put`, `transaction` with "
    "`mod(key) == rev` compares, `add_watch_prefix_callback`. **consul**: `py-consul` "
    "`kv.get(consistency='consistent')` and `txn.put` with the plugin's /v1/txn payloads "
    "(`set`, `cas`), a recursive blocking `kv.get` for the watch (requests session with "
    "`trust_env=False`, as the plugin's). **zookeeper**: `kazoo`: sync + get; getData of the "
    "key(s) then one multi of setData(version) + setData(.rev); an exists watch on the revision "
    "node re-reading the prefix, as the plugin's watch does.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated, from: " + ", ".join(BACKENDS) + " (default: all)")
    p.add_argument("--ops", type=int, default=2000, help="operations per side and op (default 2000)")
    p.add_argument("--only", default=",".join(OPS), help="operations to run (default: all)")
    p.add_argument("--output", type=Path, default=None,
                   help="Markdown file whose 'Store operations' section is (re)written")
    p.add_argument("--value-size", type=int, default=256)
    p.add_argument("--batch", type=int, default=50, help="operations per side between switches")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--watch-divisor", type=int, default=5, help="watch runs ops/DIV events per side")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per operation pair")
    p.add_argument("--workdir", type=Path, default=None, help="servers' data (default: a temp dir)")
    args = p.parse_args(argv)
    args.backend_list = [b for b in args.backends.split(",") if b]
    args.op_list = [o for o in args.only.split(",") if o]
    for b in args.backend_list:
        if b not in BACKENDS:
            p.error(f"unknown backend {b!r}")
    for o in args.op_list:
        if o not in OPS:
            p.error(f"unknown operation {o!r}")
    if args.ops < 1:
        p.error("--ops must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gm-bench-"))
    rows: list[dict] = []
    versions: dict[str, str] = {}
    load_start = os.getloadavg()
    try:
        for name in args.backend_list:
            print(f"{name}: starting the server", file=sys.stderr, flush=True)
            got, versions[name] = bench_backend(name, workdir, args)
            rows += got
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    section = render(rows, versions, the_command("benchmarks.store_ops"), args,
                     (load_start, os.getloadavg()))
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
