"""A small cluster of executor agents in this process, on the parametrized ``store``."""

from __future__ import annotations

import collections
import contextlib
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from gluster_mgmt.errors import StoreError
from gluster_mgmt.executor import StoreExecutor
from gluster_mgmt.membership.peers import Peers
from gluster_mgmt.store.keys import ClusterKeys
from tests.executor.workers import registry
from tests.helpers import spawn

PREFIX = "clusters/c1/"


def worker(*args: str) -> subprocess.Popen:
    return spawn("tests.executor.workers", *args)


@contextlib.contextmanager
def agent_process(store_url: str, node: str, logfile: str) -> Iterator[subprocess.Popen]:
    """An executor agent of ``node`` in a process of its own (so a test can SIGKILL it),
    ready to take steps; it logs each step it runs to ``logfile``."""
    proc = worker("agent", store_url, PREFIX, node, logfile)
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        yield proc
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


class Nodes:
    """Agents with distinct node UUIDs sharing one store; every handler call is logged."""

    def __init__(self, store) -> None:
        self.store = store
        self.ttl = store.capabilities.min_lease_ttl
        self.log: list[dict[str, Any]] = []
        self._guard = threading.Lock()
        self.gates: dict[str, threading.Event] = collections.defaultdict(threading.Event)
        self.started: dict[str, threading.Event] = collections.defaultdict(threading.Event)
        #: Alive keys of in-process nodes are bound to this lease (the "daemons").
        self.lease = store.lease(self.ttl).keep_alive()
        self.executors: list[StoreExecutor] = []
        self.leases = [self.lease]

    def record(self, entry: dict[str, Any]) -> None:
        with self._guard:
            self.log.append(entry)

    def entries(self, action: str | None = None, node: str | None = None) -> list[tuple]:
        with self._guard:
            return [(e["action"], e["node"], e["tag"]) for e in self.log
                    if (action is None or e["action"] == action) and (node is None or e["node"] == node)]

    def executor(self, node: str, **options: Any) -> StoreExecutor:
        options = {"lease_ttl": self.ttl, "recover_interval": 0.3, "lock_timeout": 5.0,
                   "undo_timeout": 15.0, **options}
        executor = StoreExecutor(self.store, PREFIX, node,
                                 registry(node, self.record, self.gates, self.started), **options)
        self.executors.append(executor)
        return executor

    def alive(self, node: str, lease=None) -> None:
        Peers(self.store, ClusterKeys(PREFIX), node).announce(node, "", lease or self.lease)

    def own_lease(self):
        lease = self.store.lease(self.ttl).keep_alive()
        self.leases.append(lease)
        return lease

    def agent(self, node: str, **options: Any) -> StoreExecutor:
        """A running agent for ``node``, announced alive."""
        self.alive(node)
        return self.executor(node, **options).start()

    def close(self) -> None:
        for gate in list(self.gates.values()):
            gate.set()
        for executor in self.executors:
            executor.stop()
        for lease in self.leases:
            try:
                lease.revoke()
            except StoreError:
                pass


@pytest.fixture
def nodes(store):
    cluster = Nodes(store)
    yield cluster
    cluster.close()
