"""Distributed command execution (glusterd's transactions) through the store, without N².

A cluster operation is a transaction of named steps, each run on a chosen set of peers.
The coordinator takes the operation's locks and records the transaction (one store
transaction for both, with its leased coordinator key), hands each step to its target peers
by writing one message per peer into their inboxes (one store transaction per step), waits
for their results with a deadline, undoes completed steps in reverse order on failure, and
on success commits the caller's configuration writes together with the record's final state
and the locks' release in ONE store transaction. Every node runs an agent that watches its own inbox.
Writes grow with the peers a step touches, never with peers².

Key layout, under the cluster prefix ``P`` given to ``StoreExecutor`` (e.g. ``clusters/<id>/``);
every key is derived by ``gluster_mgmt.store.keys.ClusterKeys`` (``ClusterKeys(P)``):

``P/txns/<txn>`` (``txn``)
    the transaction record (JSON, see ``TransactionRecord``); its revision fences writers:
    the coordinator and a recoverer only ever update it by compare-and-swap.
``P/active/<txn>`` (``active_txn``)
    present while the transaction is running or rolling back (written with the record,
    removed with its final state): the recoverers' cheap index.
``P/coordinators/<txn>`` (``coordinator``)
    ``coordinator:<node>`` or ``recoverer:<node>``, bound to the lease of whoever drives the
    transaction; a record still active without it is an orphan to roll back.
``P/inbox/<node>/<txn>-<n>-<do|undo>`` (``message``, under ``inbox``)
    a step message for one peer; the agent claims it (attempt + 1, by CAS) before running the
    handler, then writes the result and removes the message in one store transaction.
``P/results/<txn>/<n>-<do|undo>/<node>`` (``result``, under ``results`` and ``txn_results``)
    one peer's outcome of one step (kept until the record is pruned: an undo looks its do up).
``P/alive/<node>`` (``alive``)
    written by each daemon, bound to its lease (``gluster_mgmt.membership``); only read here.

A handler is told which delivery it runs (``current_delivery()``): a message redelivered
after a crash carries the same txn id and step index with a higher ``attempt``.

Why undo is safe with unknown outcomes: undo goes to every target of a step that was handed
out, and each agent decides from what it recorded itself — it undoes a do that completed
(or was interrupted by a crash), and skips one that failed or never ran. An agent handles
its messages one at a time in creation order, so an undo always comes after its do; a do
whose transaction is no longer running is dropped, never started late. Locks are
``gluster_mgmt.store.lock`` locks named as given (so ``Cluster.volume_lock`` excludes them too).

Modules: ``record`` (the frozen record, its enums and JSON codec), ``journal`` (records in
the store), ``registry`` (step handlers, ``Delivery``), ``interface`` (``Executor``,
``Step``), ``coordinator``, ``recovery``, ``agent``, and ``store_executor`` (the facade).
"""

from gluster_mgmt.executor.errors import TransactionFailed, UnknownTransaction
from gluster_mgmt.executor.interface import Executor, Step
from gluster_mgmt.executor.record import (
    ACTIVE_STATES,
    FINAL_STATES,
    Action,
    PeerOutcome,
    PeerStatus,
    StepRecord,
    StepState,
    TransactionRecord,
    TxnState,
)
from gluster_mgmt.executor.registry import Delivery, StepRegistry, current_delivery
from gluster_mgmt.executor.store_executor import StoreExecutor

# Today's names of the transaction states.
RUNNING = TxnState.RUNNING
ROLLING_BACK = TxnState.ROLLING_BACK
COMMITTED = TxnState.COMMITTED
ROLLED_BACK = TxnState.ROLLED_BACK
FAILED = TxnState.FAILED

__all__ = [
    "ACTIVE_STATES", "COMMITTED", "FAILED", "FINAL_STATES", "ROLLED_BACK", "ROLLING_BACK",
    "RUNNING", "Action", "Delivery", "Executor", "PeerOutcome", "PeerStatus", "Step",
    "StepRecord", "StepRegistry", "StepState", "StoreExecutor", "TransactionFailed",
    "TransactionRecord", "TxnState", "UnknownTransaction", "current_delivery",
]
