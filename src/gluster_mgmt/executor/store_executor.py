"""``StoreExecutor``: one node's coordinator, recoverer and agent behind today's API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from typing import Any

from gluster_mgmt.executor.agent import Agent
from gluster_mgmt.executor.coordinator import Coordinator
from gluster_mgmt.executor.interface import Executor, Step
from gluster_mgmt.executor.journal import Journal
from gluster_mgmt.executor.lease import DriverLease
from gluster_mgmt.executor.record import TransactionRecord
from gluster_mgmt.executor.recovery import Recoverer
from gluster_mgmt.executor.registry import StepRegistry
from gluster_mgmt.store.base import Lease, LeaseSource, Store
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import Op

log = logging.getLogger(__name__)


class StoreExecutor(Executor):
    """The store-backed Executor: coordinator (``run``) and this node's agent (``start``).

    ``lease``: gives the node's current lease (the node session's ``current``); a
    transaction's coordinator key and the recoverer's claim are bound to it, so they vanish
    with the daemon. Without one, the executor grants its own (``lease_ttl`` seconds) and
    revokes it on ``stop``.
    """

    def __init__(self, store: Store, prefix: str, node_uuid: str,
                 registry: StepRegistry | None = None,
                 lease: LeaseSource | None = None, *,
                 lease_ttl: float | None = None, lock_timeout: float = 10.0,
                 undo_timeout: float = 30.0, recover_interval: float = 5.0,
                 resync_interval: float = 10.0, keep_transactions: int = 100,
                 prune_every: int = 10) -> None:
        self.store = store
        self.keys = ClusterKeys(prefix)
        self.prefix = self.keys.prefix
        self.node_uuid = node_uuid
        self.registry = registry if registry is not None else StepRegistry()
        self.lease_ttl = max(lease_ttl or 10.0, store.capabilities.min_lease_ttl)
        self.keep_transactions = keep_transactions
        self.journal = Journal(store, self.keys)
        self._driver = DriverLease(store, self.lease_ttl, lease)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.coordinator = Coordinator(
            store, self.keys, node_uuid, self.journal, self._driver, lock_timeout=lock_timeout,
            undo_timeout=undo_timeout, keep_transactions=keep_transactions,
            prune_every=prune_every)
        self.recoverer = Recoverer(self.coordinator, self._stop, interval=recover_interval)
        self.agent = Agent(store, self.keys, node_uuid, self.registry, self._stop,
                           resync_interval=resync_interval)

    # ------------------------------------------------------------------ coordinator
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (),
            deadline: float = 60.0, commit: Sequence[Op] = (),
            alive: Collection[str] | None = None) -> TransactionRecord:
        return self.coordinator.run(name, steps, locks, deadline, commit, alive)

    def lease(self) -> Lease:
        return self._driver.get()

    def is_alive(self, node: str) -> bool:
        return self.coordinator.is_alive(node)

    def release_earlier_life(self, live_lease: int | None) -> list[str]:
        """See Recoverer.release_earlier_life (a restarted daemon calls it before ``start``)."""
        return self.recoverer.release_earlier_life(live_lease)

    def recover(self) -> list[TransactionRecord]:
        """Roll back every active transaction whose driver is gone; returns those we did."""
        return self.recoverer.recover()

    # ------------------------------------------------------------------ records
    def list_transactions(self) -> list[TransactionRecord]:
        return self.journal.records()

    def get_transaction(self, txn_id: str) -> TransactionRecord:
        return self.journal.get(txn_id)

    def prune(self) -> None:
        """Keep the newest ``keep_transactions`` finished records (and their results)."""
        self.journal.prune(self.keep_transactions)

    # ------------------------------------------------------------------ agent
    def start(self, wait: float | None = None) -> StoreExecutor:
        """Run the agent (inbox) and the recoverer in background threads; returns once the
        agent watches its inbox (or after ``wait`` seconds, default the store's timeout)."""
        if self._threads:
            return self
        self._stop.clear()
        self.agent.reset()
        for target, label in ((self.agent.serve, "inbox"), (self.recoverer.serve, "recover")):
            self._spawn(target, label)
        if not self.agent.wait_ready(self.store.timeout if wait is None else wait):
            log.warning("agent of %s is not watching its inbox yet (store slow or away)", self.node_uuid)
        return self

    @property
    def ready(self) -> bool:
        """True once the agent has gone through its inbox and watches it."""
        return self.agent.ready

    def serve(self) -> None:
        """Run the agent in this thread (the recoverer in a helper thread) until ``stop``."""
        self._stop.clear()
        self._spawn(self.recoverer.serve, "recover")
        self.agent.serve()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.agent.interrupt()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads = []
        self._driver.revoke_own()

    def _spawn(self, target: Any, label: str) -> None:
        thread = threading.Thread(target=target, name=f"executor-{label}-{self.node_uuid[:8]}",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)
