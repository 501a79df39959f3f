"""Scale: what one management operation costs the store as the cluster grows (issue 15).

Per backend (local, etcd, Consul, ZooKeeper; the servers of ``tests.servers`` on loopback):

- **peers**: N in-process agents, each a real ``daemon.node.Daemon`` (membership, lease,
  executor agent and recoverer, volfile follower, reconciler) with its own node identity, a
  service manager that starts no process, and a store that counts what it costs. For each
  N: store writes, reads and bytes read (all agents together) per ``peer probe`` (the joining
  node's side), ``volume create``, ``volume set``, ``volume start``; the command's wall time;
  the time until every agent's volfile follower took the change in (its volume cache updated,
  FETCHSPEC queued, its reconciler told; p50, p99).
- **volumes**: V volumes of 3 bricks on 3 agents: ``volume set`` and ``volume info`` (all)
  times, bytes read per change, and a real ``gluster-mgmtd`` started on that store: start-up
  time and peak RSS.

``--agent-processes K`` spreads the peers sweep's agents over K worker processes (agent 1,
which drives the operations, and the probed agent N stay in this one): in one interpreter,
100 agents whose store clients run in Python threads (Consul's, ZooKeeper's) starve each
other of the GIL. Each worker counts its agents' store traffic and reports it, with when each
agent saw a change (``time.monotonic``: CLOCK_MONOTONIC, system-wide on Linux), to this
process, which sums it.

Each operation's figures also count what amplifies the traffic under load
(``Amplifier``): failed store calls, prefixes listed, watches (re)opened, watch rounds after
a failed one, and Consul journal rounds that listed because a session ended.

``--quick`` runs small sizes for CI (tests/benchmarks/test_scale.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from benchmarks.report import the_command, write_section
from gluster_mgmt.daemon.config import DaemonConfig
from gluster_mgmt.daemon.node import Daemon
from gluster_mgmt.errors import GlusterMgmtError, StoreError
from gluster_mgmt.membership.identity import Membership
from gluster_mgmt.cluster.peer_operations import create_cluster
from gluster_mgmt.services import RunningProcess, ServiceManager, ServiceSpec, ServiceState
from gluster_mgmt.services.process_specs import brick_port_in
from gluster_mgmt.store import Store, open_store
from gluster_mgmt.store.base import Lease, Watch
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import Entry, Expectation, Listing, Op
from tests.servers import StoreServer, server_class

BACKENDS = ("local", "etcd", "consul", "zookeeper")
OPERATIONS = ("peer probe", "volume create", "volume set", "volume start")
#: How long every agent has to observe a change before the run fails.
OBSERVE_TIMEOUT = 60.0
#: the report's section in docs/benchmarks.md
SECTION_HEADING = "## Scale: peers and volumes"
#: where docs/benchmarks.md's hand-written part of the section starts (kept on rewrite)
NOTES_HEADING = "### Notes on scale"
#: print the keys of every counted write (--trace)
TRACE = False


# ============================================================================ counting store
@attrs.define
class Counts:
    """Store traffic of every agent of one run (a lock: agents count from many threads)."""

    writes: int = 0
    reads: int = 0
    bytes_read: int = 0
    watches: list[Watch] = attrs.field(factory=list)
    #: the keys each write touched, in order (what ``--trace`` prints per operation)
    written: list[str] = attrs.field(factory=list)
    #: (key or prefix, bytes) of each read, with --trace
    read_log: list[tuple[str, int]] = attrs.field(factory=list)
    #: what amplifies the traffic under load: store calls that failed (timed out), whole
    #: prefixes listed (``list`` calls; watches opened, each starting with a listing), watch
    #: rounds after a failed one, Consul journal rounds that saw a session's sentinel go
    amplifiers: dict[str, int] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def saw(self, what: str, count: int = 1) -> None:
        with self.lock:
            self.amplifiers[what] = self.amplifiers.get(what, 0) + count

    def read(self, key: str, nbytes: int) -> None:
        with self.lock:
            self.reads += 1
            self.bytes_read += nbytes
            if TRACE:
                self.read_log.append((key, nbytes))

    def wrote(self, keys: Sequence[str]) -> None:
        with self.lock:
            self.writes += 1
            self.written.append(",".join(keys))

    def snapshot(self) -> tuple[int, int, int]:
        """(writes, reads, bytes read), watches' re-listings included."""
        with self.lock:
            watched = sum(w.bytes_read for w in self.watches)
            return self.writes, self.reads, self.bytes_read + watched


class Amplifier:
    """Names of ``Counts.amplifiers``."""

    STORE_CALL_FAILED = "store calls failed"
    LISTED = "prefixes listed"
    WATCH_OPENED = "watches opened"
    ROUND_AFTER_FAILURE = "watch rounds after a failed one"
    SESSION_ENDED = "journal rounds after a session ended"


def count_rounds(watch: Watch, counts: Counts) -> None:
    """Count, in a backend's own watch thread, the rounds that follow a failed one and (the
    Consul journal) those that list the prefix because a session's sentinel went, with the
    bytes each such round read. Wraps the instance's methods: the benchmark's view, the
    watch's behaviour unchanged."""
    next_snapshot = getattr(watch, "_next_snapshot", None)
    if next_snapshot is None:
        return
    session_ended = threading.local()

    def counted_next(failures: int) -> Any:
        session_ended.seen = False
        before = watch.bytes_read
        try:
            return next_snapshot(failures)
        finally:
            cost = watch.bytes_read - before
            if failures:
                counts.saw(Amplifier.ROUND_AFTER_FAILURE)
                counts.saw(Amplifier.ROUND_AFTER_FAILURE + " (bytes)", cost)
            if session_ended.seen:
                counts.saw(Amplifier.SESSION_ENDED)
                counts.saw(Amplifier.SESSION_ENDED + " (bytes)", cost)

    watch._next_snapshot = counted_next  # type: ignore[attr-defined]
    apply = getattr(watch, "_apply", None)
    if apply is not None and hasattr(watch, "_view"):
        def counted_apply(known: Any, view: Any) -> Any:
            if known.sentinels - view.sentinels:
                session_ended.seen = True
            return apply(known, view)

        watch._apply = counted_apply  # type: ignore[attr-defined]


def _entry_bytes(entry: Entry | None) -> int:
    return len(entry.key) + len(entry.value) if entry is not None else 0


class CountingStore(Store):
    """The real ``Store`` of a backend, counting: each write call (a put, a delete, a
    transaction: one round trip that changes the store), each read call and the key and value
    bytes it returned, and the bytes each watch read from the server (``Watch.bytes_read``)."""

    def __init__(self, inner: Store, counts: Counts) -> None:
        super().__init__(inner.url, inner.timeout)
        self.inner = inner
        self.counts = counts
        self.name = inner.name  # type: ignore[misc]
        self.capabilities = inner.capabilities  # type: ignore[misc]

    @contextlib.contextmanager
    def _failures_counted(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            self.counts.saw(Amplifier.STORE_CALL_FAILED)
            raise

    def _get(self, key: str) -> Entry | None:
        with self._failures_counted():
            entry = self.inner.get(key)
        self.counts.read(key, _entry_bytes(entry))
        return entry

    def _list(self, prefix: str) -> Listing:
        with self._failures_counted():
            listing = self.inner.list(prefix)
        nbytes = sum(_entry_bytes(e) for e in listing.entries)
        self.counts.saw(Amplifier.LISTED)
        self.counts.saw(Amplifier.LISTED + " (bytes)", nbytes)
        self.counts.read(prefix, nbytes)
        return listing

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        with self._failures_counted():
            listing = self.inner.read(keys, prefixes)
        nbytes = sum(_entry_bytes(e) for e in listing.entries)
        if prefixes:
            self.counts.saw(Amplifier.LISTED, len(prefixes))
            self.counts.saw(Amplifier.LISTED + " (bytes)", nbytes)
        self.counts.read(",".join(keys + prefixes), nbytes)
        return listing

    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        self.counts.wrote([key])
        with self._failures_counted():
            return self.inner.put(key, value, expect, lease)

    def _delete(self, key: str, expect: Expectation) -> int | None:
        self.counts.wrote([key])
        with self._failures_counted():
            return self.inner.delete(key, expect)

    def _commit(self, ops: list[Op]) -> int:
        self.counts.wrote([op.key for op in ops])
        with self._failures_counted():
            return self.inner.transaction(ops)

    def _watch(self, prefix: str, start_revision: int | None) -> Watch:
        with self._failures_counted():
            watch = self.inner.watch(prefix, start_revision)
        self.counts.saw(Amplifier.WATCH_OPENED)
        self.counts.saw(Amplifier.WATCH_OPENED + " (bytes)", watch.bytes_read)  # its first listing
        count_rounds(watch, self.counts)
        with self.counts.lock:
            self.counts.watches.append(watch)
        return watch

    def _grant_lease(self, ttl: float) -> Lease:
        return self.inner.lease(ttl)

    def _close(self) -> None:
        self.inner.close()

    def _compact(self, revision: int) -> None:
        self.inner.compact(revision)


# ============================================================================ agents
class NoProcesses(ServiceManager):
    """A service manager that starts nothing: a started brick signs in at once through its
    node's port registry, the store write a real glusterfsd's SIGNIN causes."""

    def __init__(self) -> None:
        self.running: dict[str, ServiceSpec] = {}
        self.agent: Daemon | None = None

    def start(self, spec: ServiceSpec) -> ServiceState:
        self.running[spec.name] = spec
        port = brick_port_in(list(spec.argv))
        if port is not None and self.agent is not None and self.agent.ports is not None:
            brick = spec.argv[spec.argv.index("--brick-name") + 1]
            self.agent.ports.sign_in(brick, port, os.getpid())
        return ServiceState(spec.name, os.getpid(), True)

    def stop(self, name: str, timeout: float = 10.0) -> None:
        self.running.pop(name, None)

    def status(self, names: Sequence[str] | None = None) -> list[ServiceState]:
        wanted = self.running if names is None else [n for n in names if n in self.running]
        return [ServiceState(n, os.getpid(), True) for n in wanted]

    def close(self) -> None:
        self.running.clear()

    def find(self, pidfile: str, program: str) -> RunningProcess | None:
        return None

    def kill(self, pid: int, timeout: float = 10.0) -> None:
        return None


class Observer:
    """When each agent's volfile follower (its ``LastKnownState``) first saw a key at or
    above a revision."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target: tuple[str, int] | None = None
        self._seen: dict[int, float] = {}

    def attach(self, index: int, agent: Daemon) -> None:
        state = agent.mgmt_backend.last_known
        original = state._update

        def update(prefix: str, change: Any) -> None:
            original(prefix, change)
            self._saw(index, change.entries)

        state._update = update  # type: ignore[method-assign]

    def _saw(self, index: int, entries: Any) -> None:
        with self._cond:
            if self._target is None or index in self._seen:
                return
            key, revision = self._target
            entry = entries.get(key)
            if entry is not None and entry.revision >= revision:
                self._seen[index] = time.monotonic()
                self._cond.notify_all()

    def expect(self, key: str, revision: int, agents: dict[int, Daemon]) -> None:
        with self._cond:
            self._target, self._seen = (key, revision), {}
        for index, agent in agents.items():  # those that saw it before the target was set
            entry = agent.mgmt_backend.last_known.get(key)
            if entry is not None and entry.revision >= revision:
                with self._cond:
                    self._seen.setdefault(index, time.monotonic())

    def wait(self, count: int, timeout: float = OBSERVE_TIMEOUT) -> list[float]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._seen) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self._seen)} of {count} agents saw the change")
                self._cond.wait(left)
            self._target = None
            return sorted(self._seen.values())


@attrs.define
class Fleet:
    """Agents of one cluster on one store, all counting into ``counts``."""

    url: str
    workdir: Path
    counts: Counts
    membership: Membership
    observer: Observer = attrs.field(factory=Observer)
    agents: dict[int, Daemon] = attrs.field(factory=dict)
    #: leases lost and granted again, all agents together
    renewals: int = 0
    #: worker processes holding the other agents (``--agent-processes``); none: all here
    workers: list["AgentWorker"] = attrs.field(factory=list)

    @classmethod
    def create(cls, url: str, workdir: Path) -> "Fleet":
        membership = create_cluster(url, str(workdir / "cluster"))
        return cls(url, workdir, Counts(), membership)

    @property
    def keys(self) -> ClusterKeys:
        return ClusterKeys.for_cluster(self.membership.cluster_id)

    def hostname(self, index: int) -> str:
        return f"agent-{index:03d}"

    def join(self, index: int) -> Daemon:
        """What ``peer probe`` makes the probed node do: activate on the cluster's store
        (peer record, lease and alive key, executor inbox) and record its probed name."""
        home = self.workdir / self.hostname(index)
        config = DaemonConfig(state_dir=str(home / "state"), glusterd_dir=str(home / "glusterd"),
                              hostname=self.hostname(index), address="127.0.0.1",
                              run_dir=str(home / "run"), log_dir=str(home / "log"),
                              glusterd_socket="", lease_ttl=30.0)
        services = NoProcesses()
        agent = Daemon(config, services=services,
                       store_opener=lambda url: CountingStore(open_store(url), self.counts))
        services.agent = agent
        renewed = agent._lease_renewed

        def count_renewal() -> None:
            self.renewals += 1
            renewed()

        agent._lease_renewed = count_renewal  # type: ignore[method-assign]
        agent.activate(self.membership)
        try:
            agent.active().peers.add_hostname(agent.uuid, self.hostname(index))
            agent.mgmt_backend.start(None)
            self.observer.attach(index, agent)
        except BaseException:
            agent.deactivate()
            raise
        self.agents[index] = agent
        return agent

    def brick_dir(self, index: int, volume: str, brick: int) -> str:
        return str(self.workdir / self.hostname(index) / "bricks" / volume / f"b{brick}")

    def spread(self, processes: int) -> None:
        """Start ``processes`` workers for the agents ``place`` gives them."""
        self.workers = [AgentWorker.start(self, number) for number in range(processes)]

    def place(self, index: int) -> None:
        """Join agent ``index`` here (agent 1, which drives the operations, and any agent
        while there are no workers) or in a worker (the others, round robin)."""
        if index == 1 or not self.workers:
            self.join(index)
        else:
            self.workers[(index - 2) % len(self.workers)].join(index)

    @property
    def agent_count(self) -> int:
        return len(self.agents) + sum(w.agents for w in self.workers)

    def mark(self) -> list["Mark"]:
        """This process's counts then each worker's (each summed by ``Mark.total``)."""
        for worker in self.workers:
            worker.send("mark")
        return [local_mark(self)] + [Mark(*worker.receive()) for worker in self.workers]

    def written_since(self, marks: Sequence["Mark"]) -> tuple[list[str], list[tuple[str, int]]]:
        """The keys written and reads logged since ``marks``, every process's."""
        written = list(self.counts.written[marks[0].written:])
        read_log = list(self.counts.read_log[marks[0].read_log:])
        for worker, mark in zip(self.workers, marks[1:]):
            more_written, more_read = worker.call("since", mark.written, mark.read_log)
            written += more_written
            read_log += [tuple(r) for r in more_read]
        return written, read_log

    def expect(self, key: str, revision: int) -> None:
        for worker in self.workers:
            worker.send("expect", key, revision)
        self.observer.expect(key, revision, self.agents)
        for worker in self.workers:
            worker.receive()

    def wait(self, timeout: float = OBSERVE_TIMEOUT) -> list[float]:
        """When each agent saw the change: ``time.monotonic()`` values, comparable across
        processes (CLOCK_MONOTONIC is system-wide on Linux)."""
        for worker in self.workers:
            worker.send("wait", timeout)
        seen = self.observer.wait(len(self.agents), timeout)
        for worker in self.workers:
            seen += worker.receive()
        return sorted(seen)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers = []
        for agent in self.agents.values():
            with contextlib.suppress(Exception):
                agent.mgmt_backend.stop()
            with contextlib.suppress(Exception):
                agent.deactivate()
            agent.services.close()
        self.agents.clear()


@attrs.frozen
class Mark:
    """One process's counters at a moment, to subtract."""

    writes: int
    reads: int
    bytes_read: int
    renewals: int
    #: lengths of its ``Counts.written`` and ``Counts.read_log``
    written: int
    read_log: int
    amplifiers: dict[str, int] = attrs.field(factory=dict)

    @staticmethod
    def total(before: Sequence["Mark"], after: Sequence["Mark"]) -> tuple[int, int, int, int]:
        """(writes, reads, bytes read, lease renewals) between two marks, all processes."""
        return tuple(sum(getattr(a, field) - getattr(b, field) for b, a in zip(before, after))
                     for field in ("writes", "reads", "bytes_read", "renewals"))  # type: ignore[return-value]

    @staticmethod
    def amplified(before: Sequence["Mark"], after: Sequence["Mark"]) -> dict[str, int]:
        """``Counts.amplifiers`` between two marks, all processes; zeros left out."""
        total: dict[str, int] = {}
        for b, a in zip(before, after):
            for what, count in a.amplifiers.items():
                total[what] = total.get(what, 0) + count - b.amplifiers.get(what, 0)
        return {what: count for what, count in sorted(total.items()) if count}


def local_mark(fleet: Fleet) -> Mark:
    writes, reads, nbytes = fleet.counts.snapshot()
    with fleet.counts.lock:
        amplifiers = dict(fleet.counts.amplifiers)
    return Mark(writes, reads, nbytes, fleet.renewals, len(fleet.counts.written),
                len(fleet.counts.read_log), amplifiers)


class WorkerFailed(RuntimeError):
    """A worker process's command raised, or the worker is gone."""


@attrs.define
class AgentWorker:
    """The parent's end of one worker process: N / K of the agents, each a real
    ``Daemon`` as in the parent, on the same cluster and store, counting into the worker's
    own ``Counts``. Commands go one at a time over a pipe: ``send`` them to every worker,
    then ``receive`` each reply, so that the workers act together."""

    process: Any
    conn: Any
    agents: int = 0

    @classmethod
    def start(cls, fleet: Fleet, number: int) -> "AgentWorker":
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no threads of this process copied
        parent, child = context.Pipe()
        process = context.Process(
            target=agent_worker, name=f"scale-agents-{number}", daemon=True,
            args=(child, fleet.url, fleet.membership.cluster_id, fleet.membership.secret,
                  str(fleet.workdir), TRACE))
        process.start()
        child.close()
        return cls(process, parent)

    def send(self, command: str, *params: Any) -> None:
        self.conn.send((command, params))

    def receive(self) -> Any:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"{self.process.name} is gone (exit code "
                               f"{self.process.exitcode}): {exc!r}") from exc
        if status != "ok":
            raise WorkerFailed(f"{self.process.name}: {value}")
        return value

    def call(self, command: str, *params: Any) -> Any:
        self.send(command, *params)
        return self.receive()

    def join(self, index: int) -> None:
        self.call("join", index)
        self.agents += 1

    def close(self, timeout: float = 30.0) -> None:
        """Stop its agents (at most ``timeout`` s: 30 agents stopping one by one can take
        minutes), then the process, killed if need be."""
        with contextlib.suppress(OSError, EOFError, BrokenPipeError):
            self.send("close")
            if self.conn.poll(timeout):
                self.conn.recv()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def agent_worker(conn: Any, url: str, cluster_id: str, secret: str, workdir: str,
                 trace: bool) -> None:
    """A worker process: join agents, report counts and observations until ``close``."""
    global TRACE
    TRACE = trace
    fleet = Fleet(url, Path(workdir), Counts(), Membership(cluster_id, url, secret))

    def join(index: int) -> None:
        fleet.join(index)

    handlers = {
        "join": join,
        "mark": lambda: attrs.astuple(local_mark(fleet)),
        "since": lambda written, read_log: (fleet.counts.written[written:],
                                            fleet.counts.read_log[read_log:]),
        "expect": lambda key, revision: fleet.observer.expect(key, revision, fleet.agents),
        "wait": lambda timeout: fleet.observer.wait(len(fleet.agents), timeout),
    }
    try:
        while True:
            try:
                command, params = conn.recv()
            except EOFError:  # the parent is gone
                return
            if command == "close":
                fleet.close()
                conn.send(("ok", None))
                return
            try:
                conn.send(("ok", handlers[command](*params)))
            except Exception as exc:  # noqa: BLE001 (the parent raises it)
                conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        fleet.close()


@attrs.frozen
class OpFigures:
    """One operation at one size: its store traffic (all agents) and times."""

    writes: int
    reads: int
    bytes_read: int
    wall_s: float
    seen_p50_s: float
    seen_p99_s: float
    #: the keys of each write (under the cluster's prefix), to tell what a change cost
    written: tuple[str, ...] = ()
    #: agents running when it was measured (bytes read per agent: bytes_read / agents)
    agents: int = 0
    #: agents whose lease was lost and re-granted meanwhile (their re-announcement is counted
    #: too: such a figure is disturbed, not the operation's cost)
    lease_renewals: int = 0
    #: worker processes the agents were spread over (0: all in one process)
    agent_processes: int = 0
    #: ``Counts.amplifiers`` during the operation (all agents)
    amplifiers: dict[str, int] = attrs.field(factory=dict)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def quiesce(fleet: Fleet, quiet: float, limit: float = 15.0) -> None:
    """Wait until no agent wrote for ``quiet`` seconds (joins and reconciler passes of the
    previous step done), at most ``limit``: each operation is measured from a quiet cluster."""
    deadline = time.monotonic() + limit
    last = sum(m.writes for m in fleet.mark())
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = sum(m.writes for m in fleet.mark())
        if now == last:
            return
        last = now


def measure(fleet: Fleet, action: Any, key_of: Any, settle: float) -> OpFigures:
    """Run ``action()``, wait until every agent saw ``key_of(result)`` at its new revision
    (and ``settle`` seconds more for follow-up writes, e.g. brick sign-ins), count the store
    traffic of the whole time."""
    quiesce(fleet, settle)
    before = fleet.mark()
    start = time.monotonic()
    result = action()
    wall = time.monotonic() - start
    key = key_of(result)
    entry = fleet.agents[min(fleet.agents)].store.get(key)  # type: ignore[union-attr]
    assert entry is not None, key
    fleet.expect(key, entry.revision)
    seen = [t - start for t in fleet.wait()]
    time.sleep(settle)
    after = fleet.mark()
    writes, reads, nbytes, renewed = Mark.total(before, after)
    written_keys, read_log = fleet.written_since(before)
    written = tuple(k.replace(fleet.keys.prefix, "") for k in written_keys)
    if TRACE:
        print("        writes: " + " | ".join(written), file=sys.stderr)
        reads_by: dict[str, list[int]] = {}
        for read_key, size in read_log:
            reads_by.setdefault(read_key.replace(fleet.keys.prefix, ""), []).append(size)
        print("        reads: " + " | ".join(f"{k} x{len(v)} {sum(v)}B" for k, v in reads_by.items()),
              file=sys.stderr)
        print(f"        before {before} after {after}", file=sys.stderr)
    # our own get above is not the operation's
    return OpFigures(writes, reads - 1, nbytes - len(key) - len(entry.value), wall,
                     percentile(seen, 50), percentile(seen, 99), written, fleet.agent_count,
                     renewed, len(fleet.workers), Mark.amplified(before, after))


def peers_sweep(url: str, workdir: Path, sizes: Sequence[int], settle: float,
                processes: int = 0) -> dict[int, dict[str, OpFigures]]:
    """For each N, a fresh cluster of N-1 agents, then one probe (join) and the volume ops.
    With ``processes`` workers, agents 2 to N-1 run in them (agent 1, which drives the
    operations, and agent N, the probed one, run here)."""
    results: dict[int, dict[str, OpFigures]] = {}
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"n{n}-", dir=workdir))
        fleet = Fleet.create(url, root)  # a cluster of its own (keys under its id)
        try:
            fleet.spread(processes)
            for index in range(1, n):
                fleet.place(index)
            print(f"    N={n}: {n - 1} agents up"
                  + (f" ({len(fleet.agents)} here, the others in {processes} processes)"
                     if processes else ""), file=sys.stderr, flush=True)
            figures = {}
            figures["peer probe"] = measure(
                fleet, lambda: fleet.join(n), lambda agent: fleet.keys.peer(agent.uuid), settle)
            cluster = fleet.agents[1].active()
            bricks = [f"{fleet.hostname(i)}:{fleet.brick_dir(i, 'v1', i)}" for i in (1, 2, 3)]
            figures["volume create"] = measure(
                fleet, lambda: cluster.volumes.create("v1", bricks, force=True),
                lambda volume: fleet.keys.volume(volume.name), settle)
            figures["volume set"] = measure(
                fleet, lambda: cluster.volumes.set("v1", [("performance.quick-read", "off")]),
                lambda volume: fleet.keys.volume(volume.name), settle)
            figures["volume start"] = measure(
                fleet, lambda: cluster.volumes.start("v1"),
                lambda volume: fleet.keys.volume(volume.name), settle)
            results[n] = figures
            for op, f in figures.items():
                print(f"      {op}: {f}", file=sys.stderr, flush=True)
        finally:
            fleet.close()
            shutil.rmtree(root, ignore_errors=True)
    return results


# ============================================================================ volumes sweep
@attrs.frozen
class VolumeFigures:
    volumes: int
    populate_s: float
    set_s: float
    info_s: float
    set_bytes_read: int
    set_bytes_read_per_agent: int
    startup_s: float | None
    rss_mib: float | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_startup(url: str, membership: Membership, workdir: Path, volumes: int,
                   timeout: float = 120.0) -> tuple[float, float]:
    """Start a real ``gluster-mgmtd`` as a fourth node of the cluster; seconds until its
    REST socket answers ``volume info`` with all ``volumes``, and its peak RSS (VmHWM) after that."""
    home = workdir / f"daemon-{volumes}"  # a node of its own each time (no stale socket)
    Membership(membership.cluster_id, url, membership.secret).save(str(home / "state"))
    sock = home / "api.sock"
    argv = [sys.executable, "-m", "gluster_mgmt.daemon.main", "--state-dir", str(home / "state"),
            "--glusterd-dir", str(home / "glusterd"), "--socket", str(sock),
            "--glusterd-socket", "", "--address", "127.0.0.1", "--hostname", "daemon-node",
            "--api-port", str(free_port()), "--mgmt-port", str(free_port()),
            "--run-dir", str(home / "run"), "--log-dir", str(home / "log"),
            "--log-level", "WARNING"]
    start = time.monotonic()
    with open(home / "daemon.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        # the CLI's own client: what an operator waits on
        from gluster_mgmt.cli.client import Client, ConnectionFailed, ProtocolError

        deadline = start + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gluster-mgmtd exited: {(home / 'daemon.log').read_text()[-2000:]}")
            if sock.exists():
                with contextlib.suppress(OSError, ValueError, GlusterMgmtError,
                                         ConnectionFailed, ProtocolError):
                    reply = Client(str(sock)).call("volume/info", {})
                    if reply.ok and len(reply.data.get("volumes", ())) == volumes:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError("gluster-mgmtd did not answer volume info")
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        rss = 0.0
        with open(f"/proc/{proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) / 1024
        return elapsed, rss
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def volumes_sweep(url: str, workdir: Path, sizes: Sequence[int], settle: float,
                  with_daemon: bool, create_threads: int = 8,
                  out: list[dict[str, Any]] | None = None) -> list[VolumeFigures]:
    """One cluster of 3 agents; volumes are added up to each size in turn (each row also
    appended to ``out`` as soon as it is measured)."""
    root = Path(tempfile.mkdtemp(prefix="volumes-", dir=workdir))
    cluster_url = url
    fleet = Fleet.create(cluster_url, root)
    rows = []
    try:
        for index in (1, 2, 3):
            fleet.join(index)
        cluster = fleet.agents[1].active()
        made = 0

        def create(number: int) -> None:
            name = f"vol{number:04d}"
            cluster.volumes.create(
                name, [f"{fleet.hostname(i)}:{fleet.brick_dir(i, name, i)}" for i in (1, 2, 3)],
                force=True)

        for size in sizes:
            start = time.monotonic()
            # `volume create`s of different volumes run concurrently (as from several CLIs)
            with concurrent.futures.ThreadPoolExecutor(create_threads) as pool:
                list(pool.map(create, range(made + 1, size + 1)))
            made = size
            populate = time.monotonic() - start
            time.sleep(settle)
            figures = measure(
                fleet, lambda: cluster.volumes.set("vol0001", [("performance.quick-read",
                                                                 "off" if size % 2 else "on")]),
                lambda volume: fleet.keys.volume(volume.name), settle)
            infos = []
            for _ in range(3):
                t = time.monotonic()
                got = cluster.volumes.all()
                infos.append(time.monotonic() - t)
                assert len(got) == size
            startup = rss = None
            if with_daemon:
                startup, rss = daemon_startup(cluster_url, fleet.membership, root, size)
            rows.append(VolumeFigures(size, populate, figures.wall_s, statistics.median(infos),
                                      figures.bytes_read, figures.bytes_read // 3, startup, rss))
            if out is not None:
                out.append(attrs.asdict(rows[-1]))
            print(f"    V={size}: {rows[-1]}", file=sys.stderr, flush=True)
    finally:
        fleet.close()
        shutil.rmtree(root, ignore_errors=True)
    return rows


# ============================================================================ versus glusterd 10.3
VERSUS_SYSTEMS = ("glusterd", "gluster_mgmt")


def versus_inner(args: argparse.Namespace) -> int:
    """Inside the namespaces of volume_ops' runner: one daemon (glusterd 10.3, or
    gluster-mgmtd on its embedded store), volumes of 3 bricks created (never started) up to
    each size, then ``volume set``, ``volume info`` and ``volume status`` timed, as whole
    stock CLI processes (``gluster``, ``gluster-mgmt``)."""
    from benchmarks.volume_ops import HOST, Glusterd, GlusterMgmt, setup_private_mounts

    workdir: Path = args.workdir
    setup_private_mounts(workdir, args.outer_ns)
    system = {"glusterd": Glusterd, "gluster_mgmt": GlusterMgmt}[args.versus_inner](workdir)
    result: dict[str, Any] = {"system": args.versus_inner, "sizes": {}}
    code = 1
    try:
        system.prepare()
        result["ready_s"] = system.start()
        bricks = workdir / "bricks"
        bricks.mkdir()
        made = 0
        for size in args.versus_sizes:
            creates = []
            while made < size:
                made += 1
                name = f"vol{made:04d}"
                creates.append(system.run("volume", "create", name,
                                          *[f"{HOST}:{bricks}/{name}-b{k}" for k in range(3)],
                                          "force")[2])
            row = {"create_s": statistics.median(creates)}
            for label, words, check in (
                    ("set_s", ("volume", "set", "vol0001", "performance.quick-read", "off"), True),
                    ("info_s", ("volume", "info"), True),
                    # no volume is started: both answer that (bricks never run here)
                    ("status_s", ("volume", "status", "vol0001"), False)):
                row[label] = statistics.median(system.run(*words, check=check)[2] for _ in range(3))
            result["sizes"][size] = row
            print(f"  {system.label} {size} volumes: {row}", file=sys.stderr, flush=True)
        code = 0
    except Exception as exc:  # noqa: BLE001 (reported to the outer process)
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        system.stop()
        (workdir / "result.json").write_text(json.dumps(result, indent=1))
    return code


def versus_glusterd(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Both systems one after the other through volume_ops' namespace runner."""
    from benchmarks.volume_ops import bench_system

    results = {}
    for system in VERSUS_SYSTEMS:
        print(f"  versus glusterd: {system}", file=sys.stderr, flush=True)
        results[system] = bench_system(
            system, workdir / "versus", argparse.Namespace(time_limit=args.versus_time_limit),
            inner_argv=[sys.executable, "-m", "benchmarks.scale", "--versus-inner", system,
                        "--versus", ",".join(map(str, args.versus_sizes))])
    return results


@attrs.frozen
class KeptFigures:
    """A backend's figures in the report being rewritten whose run is not among the
    ``--from-json`` files (e.g. another run of it is under way): its run line, tables and
    goal rows are kept as they stand (not its plots: those need the figures)."""

    backends: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()

    @classmethod
    def from_report(cls, path: Path, missing: Sequence[str]) -> "KeptFigures":
        if not missing or not path.exists():
            return cls()
        text = path.read_text()
        start = text.find(SECTION_HEADING)
        if start < 0:
            return cls()
        end = text.find("\n## ", start + len(SECTION_HEADING))
        section = text[start:end if end >= 0 else len(text)]
        runs, tables, goals, kept = [], [], [], []
        for backend in missing:
            backend_runs = [line for line in section.splitlines() if line.startswith("- `")
                            and f"--backends {backend} " in line]
            backend_tables = [block for block in section.split("\n### ")
                              if block.startswith(f"{backend}: ")]
            if not backend_tables:
                continue
            kept.append(backend)
            runs += backend_runs
            tables += ["### " + block.strip("\n") + "\n" for block in backend_tables]
            goals += [line for line in section.splitlines()
                      if line.startswith((f"| {backend}: ", f"| {backend}, "))]
        return cls(tuple(kept), tuple(runs), tuple(tables), tuple(goals))


def render_goals(results: dict[str, dict[str, Any]], versus: dict[str, Any],
                 kept: KeptFigures = KeptFigures()) -> str:
    """Issue 15's goals, each with what this run measured and the gap."""
    lines = ["### Goals and measured gaps", "", "| goal | measured | gap |", "|---|---|---|"]
    for backend, result in results.items():
        peers = {int(n): ops for n, ops in result["peers"].items()}
        ns = sorted(peers)
        grows = {op: w for op, w in writes_constant(result).items() if len(set(w)) > 1}
        lines.append(f"| {backend}: store writes per operation constant in N "
                     f"({ns[0]} to {ns[-1]}) | "
                     + "; ".join(f"{op}: {peers[ns[0]][op]['writes']}" for op in OPERATIONS)
                     + f" | {'none' if not grows else 'varies: ' + str(grows)} |")
        vols = result["volumes"]
        if len(vols) > 1:
            per = [v["set_bytes_read_per_agent"] for v in vols]
            sizes = [v["volumes"] for v in vols]
            growth = per[-1] / max(per[0], 1)
            lines.append(f"| {backend}: bytes read per `volume set` (per agent) independent of "
                         f"the number of volumes | {', '.join(f'{b:,} B at {n}' for b, n in zip(per, sizes))} "
                         f"| {'none' if growth < 1.5 else f'x{growth:.0f} from {sizes[0]} to {sizes[-1]} volumes'} |")
        if backend == "etcd" and ns:
            top = ns[-1]
            p99 = peers[top]["volume set"]["seen_p99_s"]
            lines.append(f"| etcd: `volume set` seen by all {top} agents within 1 s (p99) | "
                         f"{p99 * 1000:.0f} ms | {'none' if p99 <= 1 else f'{p99 - 1:.2f} s over'}"
                         f"{'' if top >= 100 else f' (measured at N = {top}, not 100)'} |")
        big = max(vols, key=lambda v: v["volumes"]) if vols else None
        if big is not None:
            n = big["volumes"]
            cells = [("`volume set` ≤ 0.1 s", big["set_s"], 0.1, "s"),
                     ("daemon RSS ≤ 128 MiB", big["rss_mib"], 128, "MiB"),
                     ("start-up ≤ 3 s", big["startup_s"], 3, "s")]
            for goal, value, limit, unit in cells:
                if value is None:
                    lines.append(f"| {backend}, {n} volumes: {goal} | not run | unknown |")
                    continue
                gap = "none" if value <= limit else f"{value - limit:.2f} {unit} over"
                lines.append(f"| {backend}, {n} volumes{'' if n >= 1000 else ' (not 1,000)'}: {goal} | "
                             f"{value:.2f} {unit} | {gap} |")
    lines += kept.goals
    gd, gm = versus.get("glusterd", {}).get("sizes", {}), versus.get("gluster_mgmt", {}).get("sizes", {})
    common = sorted(set(gd) & set(gm), key=int)
    if common:
        for label, command in (("create_s", "volume create"), ("set_s", "volume set"),
                               ("info_s", "volume info"), ("status_s", "volume status")):
            ratios = [gd[n][label] / gm[n][label] for n in common]
            slower = [n for n, r in zip(common, ratios) if r < 1]
            growing = all(b >= a for a, b in zip(ratios, ratios[1:]))
            lines.append(f"| faster than glusterd at every size, ratio growing: `{command}` | "
                         + ", ".join(f"{r:.1f}x at {n}" for n, r in zip(common, ratios))
                         + f" | {'slower at ' + ', '.join(slower) if slower else 'none'}"
                         f"{'' if growing else '; the ratio does not grow with size'} |")
    lines.append("")
    return "\n".join(lines)


def render_versus(results: dict[str, Any]) -> str:
    gd, gm = results.get("glusterd", {}), results.get("gluster_mgmt", {})
    lines = ["### Versus glusterd 10.3: one node, volumes of 3 bricks (never started)", "",
             "Whole CLI processes (`gluster` / `gluster-mgmt`), median of 3 (create: of every "
             "create up to that size); ratio = glusterd / gluster_mgmt.", ""]
    for name, result in (("glusterd", gd), ("gluster_mgmt", gm)):
        if "error" in result:
            lines += [f"{name} failed: `{result['error']}`", ""]
    lines += ["| volumes | command | glusterd (ms) | gluster_mgmt (ms) | ratio |",
              "|---:|---|---:|---:|---:|"]
    for size in sorted({*gd.get("sizes", {}), *gm.get("sizes", {})}, key=int):
        for label, command in (("create_s", "volume create"), ("set_s", "volume set"),
                               ("info_s", "volume info (all)"), ("status_s", "volume status VOL")):
            a = gd.get("sizes", {}).get(size, {}).get(label)
            b = gm.get("sizes", {}).get(size, {}).get(label)
            cells = [f"{v * 1000:.0f}" if v is not None else "n/a" for v in (a, b)]
            ratio = f"{a / b:.1f}x" if a and b else "n/a"
            lines.append(f"| {size} | {command} | {cells[0]} | {cells[1]} | {ratio} |")
    lines.append("")
    return "\n".join(lines)


# ============================================================================ driver
@contextlib.contextmanager
def backend_url(name: str, workdir: Path) -> Iterator[str]:
    server: StoreServer = server_class(name)(workdir / f"{name}-server")
    server.start()
    try:
        yield server.url("scale")
    finally:
        server.stop()


def run_backend(name: str, workdir: Path, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Fill ``out`` (``peers`` by N, ``volumes``) size by size: a run stopped by its time
    limit still reports the sizes it finished."""
    out.update(peers={}, volumes=[])
    with backend_url(name, workdir) as url:
        print(f"  {name}: peers {args.peer_sizes}", file=sys.stderr, flush=True)
        for n in args.peer_sizes:
            for size, ops in peers_sweep(url, workdir, [n], args.settle,
                                         args.agent_processes).items():
                out["peers"][size] = {op: attrs.asdict(f) for op, f in ops.items()}
        if not args.volume_sizes:  # --volumes '': the peers sweep alone
            return
        print(f"  {name}: volumes {args.volume_sizes}", file=sys.stderr, flush=True)
        volumes_sweep(url, workdir, args.volume_sizes, args.settle, args.daemon,
                      args.create_threads, out["volumes"])


def writes_constant(result: dict[str, Any]) -> dict[str, list[int]]:
    """Per operation, writes at each N; the goal: one value for every N."""
    peers = {int(n): ops for n, ops in result["peers"].items()}
    return {op: [peers[n][op]["writes"] for n in sorted(peers)] for op in OPERATIONS}


def this_run() -> dict[str, str]:
    return {"command": the_command("benchmarks.scale"),
            "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}, "
                       f"Python {platform.python_version()}"}


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace,
           runs: Sequence[dict[str, str]], kept: KeptFigures = KeptFigures()) -> str:
    lines = [SECTION_HEADING, ""]
    for run in runs:
        lines += [f"- `{run['command']}` ({run['date']}; {run['machine']})"]
    lines += [f"{line} (kept from the previous report: {', '.join(kept.backends)} not re-run "
              "here, not in the plots)" for line in kept.runs]
    lines += ["", "Store traffic is counted over every agent, from the command's start until every "
             f"agent's volfile follower saw the change plus {args.settle:g} s (brick sign-ins, "
             "reconciler passes; background lease renewals are not store writes here).", "",
             "\"All saw it\": time from the command's start until the volfile follower of every "
             "agent has taken the change in: its volume cache (what GETSPEC serves) holds the new "
             "record, FETCHSPEC has been queued to every connection that fetched a volfile the "
             "change alters (the agents here have none), and its reconciler has been handed the "
             "change (which starts a pass on the nodes the volume concerns: bricks or quota there; "
             "that pass is not waited for).", ""]
    for backend, result in results.items():
        lines += [f"### {backend}: per operation versus the number of peers N", "",
                  "| N | operation | writes | reads | bytes read | per agent | wall (ms) | all saw it p50 (ms) | p99 (ms) |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for n, ops in sorted(result["peers"].items(), key=lambda item: int(item[0])):
            for op, f in ops.items():
                lines.append(f"| {n} | {op} | {f['writes']} | {f['reads']} | {f['bytes_read']:,} | "
                             f"{f['bytes_read'] // max(f['agents'], 1):,} | {f['wall_s'] * 1000:.0f} | {f['seen_p50_s'] * 1000:.0f} | "
                             f"{f['seen_p99_s'] * 1000:.0f} |")
        lines += ["", f"### {backend}: versus the number of volumes (3 bricks each, 3 peers)", "",
                  "| volumes | `volume set` (ms) | `volume info` all (ms) | bytes read per set (3 agents) | daemon start-up (s) | daemon peak RSS (MiB) |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for v in result["volumes"]:
            startup = f"{v['startup_s']:.2f}" if v["startup_s"] is not None else "not run"
            rss = f"{v['rss_mib']:.0f}" if v["rss_mib"] is not None else "not run"
            lines.append(f"| {v['volumes']} | {v['set_s'] * 1000:.0f} | {v['info_s'] * 1000:.0f} | "
                         f"{v['set_bytes_read']:,} | {startup} | {rss} |")
        lines.append("")
    for table in kept.tables:
        lines += [table]
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], versus: dict[str, Any], directory: Path) -> list[Path]:
    """PNG plots per backend: writes / bytes read / time-to-all-seen versus N, and
    set time / bytes read versus volumes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    made = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for backend, result in results.items():
        peers = {int(n): ops for n, ops in result["peers"].items()}
        ns = sorted(peers)
        for op in OPERATIONS:
            axes[0].plot(ns, [peers[n][op]["writes"] for n in ns], marker="o", label=f"{backend} {op}")
            axes[1].plot(ns, [peers[n][op]["bytes_read"] / max(peers[n][op]["agents"], 1) for n in ns],
                         marker="o", label=f"{backend} {op}")
        axes[2].plot(ns, [peers[n]["volume set"]["seen_p99_s"] * 1000 for n in ns], marker="o",
                     label=f"{backend} volume set p99")
    for ax, title in zip(axes, ("store writes per operation", "bytes read per operation, per agent",
                                "volume set: all agents saw it, p99 (ms)")):
        ax.set_xlabel("peers N")
        ax.set_xscale("log")
        ax.set_title(title)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=6)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    path = directory / "scale-peers.png"
    fig.savefig(path, dpi=90)
    made.append(path)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for backend, result in results.items():
        vols = result["volumes"]
        xs = [v["volumes"] for v in vols]
        axes[0].plot(xs, [v["set_s"] * 1000 for v in vols], marker="o", label=f"{backend} set")
        axes[0].plot(xs, [v["info_s"] * 1000 for v in vols], marker="x", linestyle="--",
                     label=f"{backend} info (all)")
        axes[1].plot(xs, [v["set_bytes_read_per_agent"] for v in vols], marker="o", label=backend)
    axes[0].set_title("volume set / info time (ms)")
    axes[1].set_title("bytes each agent read per volume set")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("volumes")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = directory / "scale-volumes.png"
    fig.savefig(path, dpi=90)
    made.append(path)
    plt.close(fig)
    gd, gm = (versus.get(s, {}).get("sizes", {}) for s in VERSUS_SYSTEMS)
    sizes = sorted(set(gd) & set(gm), key=int)
    if sizes:
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
        for ax, (label, command) in zip(axes, (("create_s", "volume create"), ("set_s", "volume set"),
                                               ("info_s", "volume info"), ("status_s", "volume status"))):
            xs = [int(n) for n in sizes]
            ax.plot(xs, [gd[n][label] * 1000 for n in sizes], marker="o", label="glusterd 10.3")
            ax.plot(xs, [gm[n][label] * 1000 for n in sizes], marker="o", label="gluster_mgmt")
            ax.set_title(f"{command} (ms, whole CLI)")
            ax.set_xscale("log")
            ax.set_xlabel("volumes")
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = directory / "scale-versus-glusterd.png"
        fig.savefig(path, dpi=90)
        made.append(path)
        plt.close(fig)
    return made


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--peers", default="3,10,30,100", help="agent counts N")
    parser.add_argument("--volumes", default="10,100,1000",
                        help="volume counts ('': the peers sweep alone)")
    parser.add_argument("--quick", action="store_true",
                        help="CI size: N = 3, 5, 8; 5 and 10 volumes; no daemon process")
    parser.add_argument("--no-daemon", dest="daemon", action="store_false",
                        help="skip the gluster-mgmtd start-up / RSS measurement")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="seconds counted after every agent saw a change")
    parser.add_argument("--agent-processes", type=int, default=0, metavar="K",
                        help="peers sweep: run the agents but the driving and the probed one "
                             "in K worker processes (0: all in this one)")
    parser.add_argument("--create-threads", type=int, default=8,
                        help="concurrent `volume create`s while filling the volumes sweep")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="run nothing: report the figures of earlier --json files")
    parser.add_argument("--json", type=Path, help="write the raw figures there")
    parser.add_argument("--output", type=Path, help="rewrite the Scale section of this Markdown file")
    parser.add_argument("--plots", type=Path, help="write PNG plots into this directory")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--trace", action="store_true", help="print the keys each operation wrote")
    parser.add_argument("--versus", default="",
                        help="also compare with glusterd 10.3 at these volume counts (e.g. 10,100,300; "
                             "root: network and mount namespaces)")
    parser.add_argument("--versus-time-limit", type=float, default=1800.0,
                        help="seconds per system of the glusterd comparison")
    parser.add_argument("--versus-inner", choices=VERSUS_SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--outer-ns", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.peers, args.volumes, args.daemon = "3,5,8", "5,10", False
    args.backend_list = [b for b in args.backends.split(",") if b]
    try:
        args.versus_sizes = sorted(int(n) for n in args.versus.split(",") if n)
    except ValueError:
        parser.error("--versus takes comma-separated integers")
    unknown = set(args.backend_list) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    try:
        args.peer_sizes = [int(n) for n in args.peers.split(",")]
        args.volume_sizes = sorted(int(n) for n in args.volumes.split(",") if n)
    except ValueError:
        parser.error("--peers and --volumes take comma-separated integers")
    if args.agent_processes < 0:
        parser.error("--agent-processes takes a count >= 0")
    if any(n < 3 for n in args.peer_sizes) or any(v < 1 for v in args.volume_sizes):
        parser.error("--peers needs N >= 3 (a volume has bricks on 3 peers), --volumes >= 1")
    return args


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def load_runs(paths: Sequence[Path]) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[dict[str, str]]]:
    """The figures of earlier ``--json`` files, for one report (e.g. one backend per run).
    A later file's sweep of a backend replaces an earlier one's; a sweep it did not run (a
    peers-only run: ``--volumes ''``) keeps the earlier file's figures. Every run is listed."""
    results: dict[str, dict[str, Any]] = {}
    versus: dict[str, Any] = {}
    runs: list[dict[str, str]] = []
    for path in paths:
        saved = json.loads(path.read_text())
        for backend, result in saved["backends"].items():
            results.setdefault(backend, {}).update(
                {sweep: figures for sweep, figures in result.items() if figures})
        versus = saved.get("versus") or versus
        runs += saved["runs"]
    for result in results.values():
        result.setdefault("peers", {})
        result.setdefault("volumes", [])
    return results, versus, runs


def main(argv: list[str] | None = None) -> int:
    global TRACE
    args = parse_args(argv)
    TRACE = args.trace
    if args.versus_inner:
        return versus_inner(args)
    workdir = Path(tempfile.mkdtemp(prefix="gm-scale-", dir=args.workdir))
    results: dict[str, dict[str, Any]] = {}
    versus: dict[str, Any] = {}
    status = 0
    runs = [this_run()]
    if args.from_json:
        results, versus, runs = load_runs(args.from_json)
    else:
        # a time limit's SIGTERM unwinds like Ctrl-C: servers, agents and daemons stopped
        signal.signal(signal.SIGTERM, _interrupted)
        try:
            for name in args.backend_list:
                results[name] = {}
                run_backend(name, workdir, args, results[name])
            if args.versus_sizes:
                versus = versus_glusterd(workdir, args)
        except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 (reported, then exit 1)
            status = 1
            if not isinstance(exc, KeyboardInterrupt):
                traceback.print_exc()
            print(f"stopped ({type(exc).__name__}: {exc}): reporting the sizes measured so far",
                  file=sys.stderr)
            results = {k: v for k, v in results.items() if v.get("peers") or v.get("volumes")}
            for result in results.values():
                result.setdefault("volumes", [])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"backends": results, "versus": versus, "runs": runs},
                                        indent=1))
    kept = KeptFigures()
    if args.from_json and args.output:  # backends reported before but not given now
        kept = KeptFigures.from_report(args.output, [b for b in BACKENDS if b not in results])
    text = render(results, args, runs, kept)
    if versus:
        text += "\n" + render_versus(versus)
    text += "\n" + render_goals(results, versus, kept)
    if args.plots:
        made = plot(results, versus, args.plots)
        base = args.output.parent if args.output else Path(".")
        text += "\n" + "\n".join(f"![{p.stem}]({os.path.relpath(p, base)})" for p in made) + "\n"
    print(text)
    if args.output:
        write_section(args.output, SECTION_HEADING, text, keep=NOTES_HEADING)
    for name, result in results.items():
        print(f"{name}: writes per operation by N: {writes_constant(result)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
