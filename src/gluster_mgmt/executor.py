"""Distributed command execution (glusterd's transactions) through the store, without N².

A cluster operation is a transaction of named steps, each run on a chosen set of peers.
The coordinator takes the operation's locks, records the transaction, hands each step to its
target peers by writing one message per peer into their inboxes (one store transaction per
step), waits for their results with a deadline, undoes completed steps in reverse order on
failure, and on success commits the caller's configuration writes together with the record's
final state in ONE store transaction. Every node runs an agent that watches its own inbox.
Writes grow with the peers a step touches, never with peers².

Key layout, under the cluster prefix ``P`` given to ``StoreExecutor`` (e.g. ``clusters/<id>/``):

``P/txns/<txn>``
    the transaction record (JSON, see ``TransactionRecord``); its revision fences writers:
    the coordinator and a recoverer only ever update it by compare-and-swap.
``P/active/<txn>``
    present while the transaction is running or rolling back (written with the record,
    removed with its final state): the recoverers' cheap index.
``P/coordinators/<txn>``
    ``coordinator:<node>`` or ``recoverer:<node>``, bound to the lease of whoever drives the
    transaction; a record still active without it is an orphan to roll back.
``P/inbox/<node>/<txn>-<n>-<do|undo>``
    a step message for one peer; the agent claims it (attempt + 1, by CAS) before running the
    handler, then writes the result and removes the message in one store transaction.
``P/results/<txn>/<n>-<do|undo>/<node>``
    one peer's outcome of one step (kept until the record is pruned: an undo looks its do up).
``P/alive/<node>``
    written by each daemon, bound to its lease (see ``announce``); only read here.

A handler is told which delivery it runs (``current_delivery()``): a message redelivered
after a crash carries the same txn id and step index with a higher ``attempt``.

Why undo is safe with unknown outcomes: undo goes to every target of a step that was handed
out, and each agent decides from what it recorded itself — it undoes a do that completed
(or was interrupted by a crash), and skips one that failed or never ran. An agent handles
its messages one at a time in creation order, so an undo always comes after its do; a do
whose transaction is no longer running is dropped, never started late. Locks are
``gluster_mgmt.lock`` locks named as given (so ``Cluster.volume_lock`` excludes them too).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import errno as errno_module
import inspect
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from gluster_mgmt.errors import (
    ConflictError,
    InvalidKeyError,
    LockTimeoutError,
    OperationFailed,
    RevisionCompactedError,
    StoreError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import (
    MAX_TXN_OPS,
    MAX_TXN_SIZE,
    Lease,
    Store,
    check_prefix,
)
from gluster_mgmt.store.types import ABSENT, Check, Delete, EventKind, Op, Put

log = logging.getLogger(__name__)

# Transaction states.
RUNNING = "running"
ROLLING_BACK = "rolling-back"
COMMITTED = "committed"
ROLLED_BACK = "rolled-back"
#: Rollback could not be completed (an undo failed or timed out): needs an operator's look.
FAILED = "failed"
ACTIVE_STATES = frozenset({RUNNING, ROLLING_BACK})
FINAL_STATES = frozenset({COMMITTED, ROLLED_BACK, FAILED})

DO = "do"
UNDO = "undo"

# Per-peer outcome statuses (results and record).
OK = "ok"  # the handler returned
ERROR = "error"  # the handler raised (its do needs no undo)
LOST = "lost"  # no answer: peer dead or deadline passed (its undo is sent anyway)
SKIPPED = "skipped"  # undo: the do never completed on that peer, nothing to undo
QUEUED = "queued"  # undo: the peer is down; its agent runs the undo when it comes back
INTERRUPTED = "interrupted"  # do: the agent died mid-handler and the transaction ended since

#: Extra operations the final commit adds to the caller's: record, coordinator and active keys.
COMMIT_OVERHEAD = 3


class TransactionFailed(OperationFailed):
    """A transaction did not commit: a step failed on a peer, or the final commit conflicted.

    ``step``/``peer``/``error`` name the first failure (``step`` is None for a commit
    conflict, where ``conflict`` is True); ``record`` is the final transaction record.
    """

    def __init__(self, message: str, *, record: TransactionRecord | None = None,
                 step: str | None = None, peer: str | None = None, error: str = "",
                 errno: int = 0, conflict: bool = False) -> None:
        super().__init__(message, errno)
        self.record = record
        self.step = step
        self.peer = peer
        self.error = error
        self.conflict = conflict


class UnknownTransaction(OperationFailed):
    """``get_transaction`` was asked for an id the store does not (or no longer) hold."""

    def __init__(self, txn_id: str) -> None:
        super().__init__(f"no transaction {txn_id}", errno_module.ENOENT)
        self.txn_id = txn_id


# ---------------------------------------------------------------------------------- values
def _peers(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(dict.fromkeys(value))  # de-duplicated, order kept


@attrs.frozen
class Step:
    """One named step run on each of ``peers`` (node UUIDs): the handler registered under
    ``name`` in each peer's StepRegistry gets ``args`` (JSON-serialisable)."""

    name: str
    peers: tuple[str, ...] = attrs.field(converter=_peers)
    args: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @peers.validator
    def _check_peers(self, _attribute: Any, value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError(f"step {self.name!r} names no peer")


@attrs.frozen
class Delivery:
    """Which message a handler is running: lets an idempotent handler recognise a
    redelivery (same ``txn_id`` and ``index``, ``attempt`` > 1)."""

    txn_id: str
    index: int
    action: str
    attempt: int
    node: str
    coordinator: str


_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar("delivery", default=None)


def current_delivery() -> Delivery | None:
    """The delivery the calling step handler runs for (None outside a handler)."""
    return _delivery.get()


@attrs.frozen
class PeerOutcome:
    """What one peer reported for one step (or what the coordinator concluded for it)."""

    status: str
    error: str | None = None
    errno: int = 0
    result: Any = attrs.field(default=None, hash=False)
    attempt: int = 0

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeerOutcome:
        return cls(data.get("status", ERROR), data.get("error"), int(data.get("errno") or 0),
                   data.get("result"), int(data.get("attempt") or 0))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class StepRecord:
    """A step as recorded in the transaction record: targets, args and per-peer outcomes."""

    name: str
    targets: tuple[str, ...]
    args: Mapping[str, Any] = attrs.field(hash=False)
    #: pending | running | done | failed | undoing | undone | undo-failed
    status: str
    outcomes: Mapping[str, PeerOutcome] = attrs.field(hash=False)
    undo: Mapping[str, PeerOutcome] = attrs.field(hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(data["name"], tuple(data["targets"]), data.get("args") or {}, data["status"],
                   {k: PeerOutcome.from_dict(v) for k, v in (data.get("outcomes") or {}).items()},
                   {k: PeerOutcome.from_dict(v) for k, v in (data.get("undo") or {}).items()})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "targets": list(self.targets), "args": dict(self.args),
                "status": self.status,
                "outcomes": {k: v.to_dict() for k, v in self.outcomes.items()},
                "undo": {k: v.to_dict() for k, v in self.undo.items()}}


@attrs.frozen
class TransactionRecord:
    """The stored account of one transaction (``txn list`` / ``txn show``)."""

    id: str
    name: str
    coordinator: str
    state: str
    steps: tuple[StepRecord, ...]
    locks: tuple[str, ...]
    #: Wall-clock time (epoch seconds) by which every step must have answered.
    deadline: float
    error: str | None
    created: float
    updated: float
    #: Node that rolled the transaction back after its coordinator died, if any.
    recovered_by: str | None = None
    #: Store revision of the record when read (0 when not read from the store).
    revision: int = attrs.field(default=0, eq=False)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], revision: int = 0) -> TransactionRecord:
        return cls(data["id"], data["name"], data["coordinator"], data["state"],
                   tuple(StepRecord.from_dict(s) for s in data["steps"]), tuple(data["locks"]),
                   data["deadline"], data.get("error"), data["created"], data["updated"],
                   data.get("recovered_by"), revision)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "coordinator": self.coordinator,
                "state": self.state, "steps": [s.to_dict() for s in self.steps],
                "locks": list(self.locks), "deadline": self.deadline, "error": self.error,
                "created": self.created, "updated": self.updated,
                "recovered_by": self.recovered_by}


# ---------------------------------------------------------------------------------- registry
@attrs.frozen
class _Handler:
    do: Callable[[dict[str, Any]], Any]
    undo: Callable[..., Any] | None
    #: Whether undo takes (args, do_result) rather than (args).
    undo_takes_result: bool


def _takes_two(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class StepRegistry:
    """Step handlers a node can run, by name: ``do(args) -> result`` and ``undo(args, result)``
    (or ``undo(args)``), where ``result`` is what ``do`` returned on this node, or None when
    the do was interrupted by a crash. Handlers run on the agent's thread, one at a time."""

    def __init__(self) -> None:
        self._handlers: dict[str, _Handler] = {}
        self._guard = threading.Lock()

    def register(self, name: str, do: Callable[[dict[str, Any]], Any],
                 undo: Callable[..., Any] | None = None) -> None:
        with self._guard:
            if name in self._handlers:
                raise ValueError(f"step {name!r} is already registered")
            self._handlers[name] = _Handler(do, undo, undo is not None and _takes_two(undo))

    def get(self, name: str) -> _Handler | None:
        with self._guard:
            return self._handlers.get(name)

    def names(self) -> list[str]:
        with self._guard:
            return sorted(self._handlers)

    def __contains__(self, name: object) -> bool:
        with self._guard:
            return name in self._handlers


# ---------------------------------------------------------------------------------- helpers
def _dumps(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _new_txn_id() -> str:
    """Sortable by start time (milliseconds, hex), unique by 32 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def announce(store: Store, prefix: str, node_uuid: str, lease: Lease, info: Mapping[str, Any] | None = None) -> int:
    """Write ``P/alive/<node>`` bound to ``lease`` (the daemon does this; handy in tests)."""
    return store.put(f"{check_prefix(prefix)}alive/{node_uuid}", _dumps(dict(info or {})), lease=lease)


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


class Executor(abc.ABC):
    """Runs transactions of steps across peers (see the module docstring)."""

    @abc.abstractmethod
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (),
            deadline: float = 60.0, commit: Sequence[Op] = ()) -> TransactionRecord:
        """Run every step then commit ``commit`` atomically, or roll back and raise
        TransactionFailed. Returns the committed record."""

    @abc.abstractmethod
    def list_transactions(self) -> list[TransactionRecord]:
        """Every recorded transaction, oldest first."""

    @abc.abstractmethod
    def get_transaction(self, txn_id: str) -> TransactionRecord:
        """One transaction's record (UnknownTransaction if absent)."""


# ---------------------------------------------------------------------------------- executor
class StoreExecutor(Executor):
    """The store-backed Executor: coordinator (``run``) and this node's agent (``start``).

    ``lease``: the daemon's lease (its alive key's); a transaction's coordinator key and the
    recoverer's claim are bound to it, so they vanish with the daemon. Without one, the
    executor grants its own (``lease_ttl`` seconds) and revokes it on ``stop``. The daemon may
    assign a fresh one to ``lease`` after losing the old.
    """

    def __init__(self, store: Store, prefix: str, node_uuid: str,
                 registry: StepRegistry | None = None, lease: Lease | None = None, *,
                 lease_ttl: float | None = None, lock_timeout: float = 10.0,
                 undo_timeout: float = 30.0, recover_interval: float = 5.0,
                 resync_interval: float = 10.0, keep_transactions: int = 100,
                 prune_every: int = 10) -> None:
        self.store = store
        self.prefix = check_prefix(prefix)
        self.node_uuid = node_uuid
        self.registry = registry if registry is not None else StepRegistry()
        self.lease = lease
        self.lease_ttl = max(lease_ttl or 10.0, store.capabilities.min_lease_ttl)
        self.lock_timeout = lock_timeout
        self.undo_timeout = undo_timeout
        self.recover_interval = recover_interval
        self.resync_interval = resync_interval
        self.keep_transactions = keep_transactions
        self.prune_every = max(1, prune_every)
        self._finished_runs = 0
        self._own_lease: Lease | None = None
        self._lease_guard = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ keys
    def _record_key(self, txn: str) -> str:
        return f"{self.prefix}txns/{txn}"

    def _active_key(self, txn: str) -> str:
        return f"{self.prefix}active/{txn}"

    def _coordinator_key(self, txn: str) -> str:
        return f"{self.prefix}coordinators/{txn}"

    def _inbox(self, node: str) -> str:
        return f"{self.prefix}inbox/{node}/"

    def _message_key(self, node: str, txn: str, index: int, action: str) -> str:
        return f"{self._inbox(node)}{txn}-{index}-{action}"

    def _results(self, txn: str, index: int, action: str) -> str:
        return f"{self.prefix}results/{txn}/{index}-{action}/"

    def _alive_key(self, node: str) -> str:
        return f"{self.prefix}alive/{node}"

    def _driver_lease(self) -> Lease:
        """The lease coordinator keys are bound to (the daemon's, else our own)."""
        lease = self.lease() if callable(self.lease) else self.lease
        if lease is not None and lease.alive:
            return lease
        with self._lease_guard:
            if self._own_lease is None or not self._own_lease.alive:
                self._own_lease = self.store.lease(self.lease_ttl).keep_alive()
            return self._own_lease

    def is_alive(self, node: str) -> bool:
        return self.store.get(self._alive_key(node)) is not None

    # ------------------------------------------------------------------ observability
    def list_transactions(self) -> list[TransactionRecord]:
        records = []
        for entry in self.store.list(f"{self.prefix}txns/"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                records.append(TransactionRecord.from_dict(json.loads(entry.value), entry.revision))
        return sorted(records, key=lambda r: (r.created, r.id))

    def get_transaction(self, txn_id: str) -> TransactionRecord:
        try:
            entry = self.store.get(self._record_key(txn_id))
        except InvalidKeyError:
            raise UnknownTransaction(txn_id) from None
        if entry is None:
            raise UnknownTransaction(txn_id)
        return TransactionRecord.from_dict(json.loads(entry.value), entry.revision)

    # ------------------------------------------------------------------ coordinator
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (),
            deadline: float = 60.0, commit: Sequence[Op] = ()) -> TransactionRecord:
        steps = list(steps)
        commit = list(commit)
        if len(commit) + COMMIT_OVERHEAD > MAX_TXN_OPS:
            raise ValueTooLargeError(
                f"{name}: {len(commit)} configuration writes; a transaction commits at most "
                f"{MAX_TXN_OPS - COMMIT_OVERHEAD} at once")
        lock_names = sorted(set(locks))  # one global order: no deadlock between coordinators
        held = []
        try:
            for lock_name in lock_names:
                lock = self.store.lock(lock_name, ttl=self.lease_ttl, holder=self.node_uuid)
                lock.acquire(timeout=self.lock_timeout)
                held.append(lock)
            return self._run_locked(name, steps, lock_names, deadline, commit)
        finally:
            for lock in reversed(held):
                try:
                    lock.release()
                except StoreError as exc:
                    log.warning("could not release lock %s (its lease will expire): %s", lock.name, exc)

    def _run_locked(self, name: str, steps: list[Step], locks: list[str], deadline: float,
                    commit: list[Op]) -> TransactionRecord:
        txn = _new_txn_id()
        now = time.time()
        until = time.monotonic() + deadline
        doc: dict[str, Any] = {
            "id": txn, "name": name, "coordinator": self.node_uuid, "state": RUNNING,
            "steps": [{"name": s.name, "targets": list(s.peers), "args": dict(s.args),
                       "status": "pending", "outcomes": {}, "undo": {}} for s in steps],
            "locks": locks, "deadline": now + deadline, "error": None,
            "created": now, "updated": now, "recovered_by": None,
        }
        # The coordinator key first, then the record: a coordinator that dies in between
        # leaves no record, and a record never exists without its driver's key. (Leased and
        # unleased keys are not mixed in one store transaction: ZooKeeper binds a whole multi
        # to one session.)
        self.store.put(self._coordinator_key(txn), f"coordinator:{self.node_uuid}".encode(),
                       ABSENT, lease=self._driver_lease())
        try:
            revision = self.store.transaction([
                Put(self._record_key(txn), _dumps(doc), ABSENT),
                Put(self._active_key(txn), b"", ABSENT),
            ])
            log.info("txn %s (%s) started with %d step(s)", txn, name, len(steps))
            return self._drive(doc, revision, steps, commit, until)
        except TransactionFailed:
            raise
        except ConflictError as exc:  # a record CAS lost: a recoverer took the transaction over
            raise self._taken_over(doc) from exc
        except BaseException:
            # Store trouble (or an interrupt) mid-way: hand the transaction to the recoverers
            # rather than leave it running under a coordinator key our live lease keeps.
            self._hand_over(txn)
            raise

    def _drive(self, doc: dict[str, Any], revision: int, steps: list[Step], commit: list[Op],
               until: float) -> TransactionRecord:
        name, txn = doc["name"], doc["id"]
        #: (step index, peer, its outcome, whether the step was handed out at all)
        failure: tuple[int, str, PeerOutcome, bool] | None = None
        for index, step in enumerate(steps):
            dead = [p for p in step.peers if not self.is_alive(p)]
            if dead:
                doc["steps"][index]["status"] = "failed"
                doc["steps"][index]["outcomes"] = {
                    p: PeerOutcome(LOST, f"peer {p} is not alive").to_dict() for p in dead}
                failure = (index, dead[0], PeerOutcome(LOST, f"peer {dead[0]} is not alive"), False)
                break
            doc["steps"][index]["status"] = "running"
            revision = self._send(doc, revision, index, DO, step.peers)
            outcomes = self._collect(txn, index, DO, step.peers, until, stop_on_error=True)
            doc["steps"][index]["outcomes"] = {p: o.to_dict() for p, o in outcomes.items()}
            bad = next(((p, o) for p, o in outcomes.items() if not o.ok), None)
            if bad is None and len(outcomes) == len(step.peers):
                doc["steps"][index]["status"] = "done"
                continue
            doc["steps"][index]["status"] = "failed"
            if bad is None:  # cannot happen: _collect answers for every target
                bad = (step.peers[0], PeerOutcome(LOST, "no answer"))
            failure = (index, *bad, True)
            break
        if failure is None:
            record = self._commit(doc, revision, commit)
            if record is not None:
                self._prune()
                return record
            # The caller's expectations failed: undo every step.
            error = doc["error"]
            final = self._abort(doc, revision, len(steps) - 1, error)
            self._prune()
            message = f"{name}: commit failed: {error}; " + (
                "rolled back" if final.state == ROLLED_BACK else f"rollback incomplete: {final.error}")
            raise TransactionFailed(message, record=final, error=error, conflict=True,
                                    errno=errno_module.EBUSY)
        index, peer, outcome, sent = failure
        step_name = steps[index].name
        error = f"step {step_name!r} failed on {peer}: {outcome.error}"
        final = self._abort(doc, revision, index if sent else index - 1, error)
        self._prune()
        message = f"{name}: {error}"
        if final.state != ROLLED_BACK:
            message += f"; rollback incomplete: {final.error}"
        raise TransactionFailed(message, record=final, step=step_name, peer=peer,
                                error=outcome.error or "", errno=outcome.errno)

    def _hand_over(self, txn: str, patience: float = 60.0) -> None:
        """Remove our coordinator key (retrying in the background while the store is away),
        so that any agent's recoverer rolls the transaction back."""
        key = self._coordinator_key(txn)

        def attempt() -> bool:
            try:
                entry = self.store.get(key)
                if entry is not None and entry.value == f"coordinator:{self.node_uuid}".encode():
                    self.store.delete(key, entry.revision)
                return True
            except ConflictError:
                return True
            except StoreError:
                return False

        if attempt():
            return

        def retry() -> None:
            give_up = time.monotonic() + patience
            while time.monotonic() < give_up and not attempt():
                time.sleep(1.0)

        threading.Thread(target=retry, name=f"hand-over-{txn}", daemon=True).start()

    def _save(self, doc: dict[str, Any], revision: int, extra: Sequence[Op] = ()) -> int:
        """CAS the record (fencing: a recoverer that took the transaction over wins)."""
        doc["updated"] = time.time()
        return self.store.transaction([Put(self._record_key(doc["id"]), _dumps(doc), revision), *extra])

    def _send(self, doc: dict[str, Any], revision: int, index: int, action: str,
              targets: Sequence[str]) -> int:
        """Record the step's progress and drop one message per target: one store transaction
        (split only when the targets exceed one transaction's limits)."""
        step = doc["steps"][index]
        messages = [Put(self._message_key(p, doc["id"], index, action), _dumps({
            "txn": doc["id"], "index": index, "action": action, "step": step["name"],
            "args": step["args"], "coordinator": self.node_uuid, "attempt": 0}))
            for p in targets]
        record_size = len(_dumps(doc)) + 1024
        first: list[Op] = []
        size = record_size
        rest = list(messages)
        while rest and len(first) + 1 < MAX_TXN_OPS and size + len(rest[0].value) <= MAX_TXN_SIZE:
            op = rest.pop(0)
            first.append(op)
            size += len(op.value)
        revision = self._save(doc, revision, first)
        while rest:
            chunk: list[Op] = []
            size = 0
            while rest and len(chunk) < MAX_TXN_OPS and size + len(rest[0].value) <= MAX_TXN_SIZE:
                op = rest.pop(0)
                chunk.append(op)
                size += len(op.value)
            self.store.transaction(chunk)
        return revision

    def _collect(self, txn: str, index: int, action: str, targets: Sequence[str], until: float,
                 stop_on_error: bool) -> dict[str, PeerOutcome]:
        """Wait for every target's result of one step until ``until`` (monotonic). A target
        whose alive key is gone is LOST (for a do) or QUEUED (for an undo: it runs later)."""
        prefix = self._results(txn, index, action)
        outcomes: dict[str, PeerOutcome] = {}

        def absorb(key: str, value: bytes | None) -> None:
            node = key[len(prefix):]
            if value is not None and node in targets and node not in outcomes:
                with contextlib.suppress(ValueError):
                    outcomes[node] = PeerOutcome.from_dict(json.loads(value))

        listing = self.store.list(prefix)
        for entry in listing:
            absorb(entry.key, entry.value)
        with self.store.watch(prefix, listing.revision) as watch:
            next_alive_check = 0.0
            while True:
                pending = [p for p in targets if p not in outcomes]
                if not pending or (stop_on_error and any(not o.ok for o in outcomes.values())):
                    break
                now = time.monotonic()
                if now >= until:
                    for node in pending:
                        outcomes[node] = PeerOutcome(
                            LOST if action == DO else ERROR, "no answer before the deadline")
                    break
                if now >= next_alive_check:
                    next_alive_check = now + 0.5
                    for node in pending:
                        if not self.is_alive(node):
                            late = self.store.get(prefix + node)  # answered, then died?
                            if late is not None:
                                absorb(late.key, late.value)
                            else:
                                outcomes[node] = PeerOutcome(
                                    LOST if action == DO else QUEUED, f"peer {node} is not alive")
                    continue
                for event in watch.get(timeout=max(0.01, min(0.25, until - now))):
                    if event.kind is EventKind.PUT:
                        absorb(event.key, event.value)
        return {p: outcomes[p] for p in targets if p in outcomes}

    def _commit(self, doc: dict[str, Any], revision: int, commit: list[Op]) -> TransactionRecord | None:
        """Config writes + final record in one store transaction. None (with ``doc["error"]``
        set) when the caller's expectations failed; raises if the record was taken over."""
        doc["state"] = COMMITTED
        try:
            new_revision = self._save(doc, revision, [*commit, *self._finish_ops(doc["id"])])
        except ConflictError as exc:
            doc["state"] = RUNNING
            current = self.store.get(self._record_key(doc["id"]))
            if current is None or current.revision != revision:
                raise self._taken_over(doc) from exc
            doc["error"] = f"configuration changed meanwhile ({exc})"
            return None
        except StoreError as exc:
            # Unknown outcome (timeout, lost connection): the record tells whether it applied.
            current = self._reread(doc["id"])
            if current is not None and current.state == COMMITTED:
                return current
            doc["state"] = RUNNING
            if current is None or current.revision != revision:
                raise self._taken_over(doc) from exc
            doc["error"] = f"commit failed: {exc}"
            return None
        log.info("txn %s (%s) committed", doc["id"], doc["name"])
        return TransactionRecord.from_dict(doc, new_revision)

    def _reread(self, txn: str, attempts: int = 10) -> TransactionRecord | None:
        for _ in range(attempts):
            try:
                return self.get_transaction(txn)
            except UnknownTransaction:
                return None
            except StoreError:
                time.sleep(0.5)
        return None

    def _taken_over(self, doc: dict[str, Any]) -> TransactionFailed:
        record = self._reread(doc["id"])
        return TransactionFailed(
            f"{doc['name']}: this coordinator lost transaction {doc['id']} (its lease expired and "
            f"it was recovered{' by ' + record.recovered_by if record and record.recovered_by else ''})",
            record=record, error="coordinator lost its lease", errno=errno_module.ETIMEDOUT)

    def _abort(self, doc: dict[str, Any], revision: int, last: int, error: str) -> TransactionRecord:
        doc["state"] = ROLLING_BACK
        doc["error"] = error
        try:
            revision = self._save(doc, revision)
        except ConflictError as exc:
            raise self._taken_over(doc) from exc
        return self._rollback(doc, revision, last)

    def _rollback(self, doc: dict[str, Any], revision: int, last: int) -> TransactionRecord:
        """Undo steps ``last`` .. 0 in reverse order, then write the final state. Undo goes to
        every target of a step that was handed out: each agent undoes only what its do
        completed (as it recorded), so an unknown outcome is safe to undo."""
        problems: list[str] = []
        for index in range(last, -1, -1):
            step = doc["steps"][index]
            if step["status"] == "pending":
                continue
            targets = [p for p in step["targets"]
                       if step["outcomes"].get(p, {}).get("status") != ERROR]
            if not targets:
                continue
            step["status"] = "undoing"
            revision = self._send(doc, revision, index, UNDO, targets)
            outcomes = self._collect(doc["id"], index, UNDO, targets,
                                     time.monotonic() + self.undo_timeout, stop_on_error=False)
            step["undo"] = {p: o.to_dict() for p, o in outcomes.items()}
            bad = [(p, o) for p, o in outcomes.items() if o.status not in (OK, SKIPPED, QUEUED)]
            step["status"] = "undo-failed" if bad else "undone"
            problems += [f"undo of {step['name']!r} on {p}: {o.error}" for p, o in bad]
        doc["state"] = FAILED if problems else ROLLED_BACK
        if problems:
            doc["error"] = f"{doc['error']}; " + "; ".join(problems)
        try:
            revision = self._save(doc, revision, self._finish_ops(doc["id"]))
        except ConflictError as exc:
            raise self._taken_over(doc) from exc
        log.info("txn %s (%s) %s: %s", doc["id"], doc["name"], doc["state"], doc["error"])
        return TransactionRecord.from_dict(doc, revision)

    def _finish_ops(self, txn: str) -> list[Op]:
        """Writes that go with a final state: the transaction stops being active and driven."""
        return [Delete(self._active_key(txn)), Delete(self._coordinator_key(txn))]

    def _prune(self) -> None:
        """Every ``prune_every`` transactions this coordinator finishes, prune."""
        with self._lease_guard:
            self._finished_runs += 1
            due = self._finished_runs % self.prune_every == 0
        if due:
            self.prune()

    def prune(self) -> None:
        """Keep the newest ``keep_transactions`` finished records (and their results)."""
        try:
            finished = [r for r in self.list_transactions() if r.finished]
            for record in finished[:max(0, len(finished) - self.keep_transactions)]:
                results = [Delete(e.key) for e in self.store.list(f"{self.prefix}results/{record.id}/")]
                for start in range(0, len(results), MAX_TXN_OPS):
                    self.store.transaction(results[start:start + MAX_TXN_OPS])
                self.store.delete(self._record_key(record.id), record.revision)
        except StoreError as exc:
            log.debug("pruning transactions failed (next time): %s", exc)

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[TransactionRecord]:
        """Roll back every active transaction whose driver is gone; returns those we did.
        Cheap when nothing is wrong: two listings of small index prefixes."""
        done = []
        active = {e.key.rsplit("/", 1)[1] for e in self.store.list(f"{self.prefix}active/")}
        if not active:
            return done
        driven = {e.key.rsplit("/", 1)[1] for e in self.store.list(f"{self.prefix}coordinators/")}
        for txn in sorted(active - driven):
            if self._stop.is_set():
                break
            entry = self.store.get(self._record_key(txn))
            try:
                doc = json.loads(entry.value) if entry is not None else None
            except ValueError:
                doc = None
            if doc is None or doc.get("state") not in ACTIVE_STATES:
                with contextlib.suppress(StoreError):  # a stale index entry
                    self.store.transaction([Delete(self._active_key(txn)),
                                            Check(self._coordinator_key(txn), ABSENT)])
                continue
            if self.store.get(self._coordinator_key(txn)) is not None:
                continue
            record = self._recover_one(doc, entry.revision)
            if record is not None:
                done.append(record)
        return done

    def _recover_one(self, doc: dict[str, Any], revision: int) -> TransactionRecord | None:
        held = []
        try:
            # Re-take the transaction's locks, so no new operation runs while we undo.
            for lock_name in doc.get("locks") or ():
                lock = self.store.lock(lock_name, ttl=self.lease_ttl, holder=self.node_uuid)
                lock.acquire(timeout=min(self.lock_timeout, 2.0))
                held.append(lock)
            doc["state"] = ROLLING_BACK
            doc["recovered_by"] = self.node_uuid
            if not doc.get("error"):
                doc["error"] = f"coordinator {doc['coordinator']} died"
            # The claim: our key (bound to our lease; one recoverer creates it), then the
            # record by CAS, which fences a coordinator that is late rather than dead.
            key = self._coordinator_key(doc["id"])
            try:
                claim = self.store.put(key, f"recoverer:{self.node_uuid}".encode(), ABSENT,
                                       lease=self._driver_lease())
            except ConflictError:
                return None  # another recoverer got there first
            try:
                revision = self._save(doc, revision)
            except ConflictError:
                with contextlib.suppress(StoreError):
                    self.store.delete(key, claim)
                return None  # the coordinator was late, not dead: look again next scan
            log.warning("txn %s (%s): coordinator %s is gone; rolling back", doc["id"],
                        doc["name"], doc["coordinator"])
            started = [i for i, s in enumerate(doc["steps"]) if s["status"] != "pending"]
            return self._rollback(doc, revision, max(started) if started else -1)
        except LockTimeoutError:
            return None  # held by a running operation: next scan
        except TransactionFailed as exc:  # lost it in turn (our lease expired)
            log.warning("recovery of txn %s interrupted: %s", doc["id"], exc)
            return None
        finally:
            for lock in reversed(held):
                with contextlib.suppress(StoreError):
                    lock.release()

    # ------------------------------------------------------------------ agent
    def start(self, wait: float | None = None) -> StoreExecutor:
        """Run the agent (inbox) and the recoverer in background threads; returns once the
        agent watches its inbox (or after ``wait`` seconds, default the store's timeout)."""
        if self._threads:
            return self
        self._stop.clear()
        self._ready.clear()
        for target, label in ((self._serve_inbox, "inbox"), (self._serve_recovery, "recover")):
            thread = threading.Thread(target=target, name=f"executor-{label}-{self.node_uuid[:8]}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._ready.wait(self.store.timeout if wait is None else wait):
            log.warning("agent of %s is not watching its inbox yet (store slow or away)", self.node_uuid)
        return self

    @property
    def ready(self) -> bool:
        """True once the agent has gone through its inbox and watches it."""
        return self._ready.is_set()

    def serve(self) -> None:
        """Run the agent in this thread (the recoverer in a helper thread) until ``stop``."""
        self._stop.clear()
        helper = threading.Thread(target=self._serve_recovery, daemon=True,
                                  name=f"executor-recover-{self.node_uuid[:8]}")
        helper.start()
        self._threads.append(helper)
        self._serve_inbox()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads = []
        with self._lease_guard:
            lease, self._own_lease = self._own_lease, None
        if lease is not None:
            with contextlib.suppress(StoreError):
                lease.revoke()

    def _serve_recovery(self) -> None:
        while not self._stop.is_set():
            try:
                self.recover()
            except StoreError as exc:
                log.warning("transaction recovery scan failed: %s", exc)
            except Exception:
                log.exception("transaction recovery scan failed")
            self._stop.wait(self.recover_interval)

    def _serve_inbox(self) -> None:
        inbox = self._inbox(self.node_uuid)
        while not self._stop.is_set():
            try:
                listing = self.store.list(inbox)
                for entry in sorted(listing, key=lambda e: (e.created, e.key)):
                    if self._stop.is_set():
                        return
                    self._handle(entry.key)
                resync = time.monotonic() + self.resync_interval
                with self.store.watch(inbox, listing.revision) as watch:
                    self._ready.set()
                    while not self._stop.is_set() and time.monotonic() < resync:
                        for event in watch.get(timeout=0.2):
                            if self._stop.is_set():
                                return
                            if event.kind is EventKind.PUT:
                                self._handle(event.key)
            except RevisionCompactedError:
                continue  # list again
            except StoreError as exc:
                log.warning("inbox of %s: %s; retrying", self.node_uuid, exc)
                self._stop.wait(0.5)
            except Exception:
                log.exception("inbox of %s failed; retrying", self.node_uuid)
                self._stop.wait(0.5)

    def _handle(self, key: str) -> None:
        """Run one message if it is still there (events of our own claims find it gone)."""
        entry = self.store.get(key)
        if entry is None:
            return
        try:
            msg = json.loads(entry.value)
            txn, index, action = msg["txn"], int(msg["index"]), msg["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("dropping malformed message %s", key)
            self.store.delete(key, entry.revision)
            return
        result_key = self._results(txn, index, action) + self.node_uuid
        if action == UNDO and self.store.get(result_key) is not None:  # resent by a recoverer
            with contextlib.suppress(ConflictError):
                self.store.delete(key, entry.revision)
            return
        attempt = int(msg.get("attempt") or 0)
        if action == DO:
            record = self.store.get(self._record_key(txn))
            state = json.loads(record.value).get("state") if record else None
            if state != RUNNING:
                # The transaction ended (or is being undone) without us: never start late.
                ops: list[Op] = [Delete(key, entry.revision)]
                if attempt:  # a previous delivery may have half-run: let the undo know
                    ops.append(Put(result_key, _dumps(PeerOutcome(
                        INTERRUPTED, f"agent restarted mid-step; transaction {state or 'gone'}",
                        attempt=attempt).to_dict())))
                with contextlib.suppress(ConflictError):
                    self.store.transaction(ops)
                log.info("dropped %s: transaction %s is %s", key, txn, state or "gone")
                return
        # Claim: from here a crash leaves a message whose attempt tells the next delivery.
        msg["attempt"] = attempt + 1
        try:
            claimed = self.store.put(key, _dumps(msg), entry.revision)
        except ConflictError:
            return
        delivery = Delivery(txn, index, action, attempt + 1, self.node_uuid, msg.get("coordinator", ""))
        outcome = self._run_handler(msg, delivery, result_key)
        try:
            self.store.transaction([Put(result_key, _dumps(outcome.to_dict())), Delete(key, claimed)])
        except ConflictError:
            self.store.put(result_key, _dumps(outcome.to_dict()))
        log.debug("%s %s step %d (%s) on %s: %s", txn, action, index, msg.get("step"),
                  self.node_uuid, outcome.status)

    def _run_handler(self, msg: dict[str, Any], delivery: Delivery, result_key: str) -> PeerOutcome:
        name = msg.get("step", "")
        args = msg.get("args") or {}
        handler = self.registry.get(name)
        if delivery.action == UNDO:
            do = self.store.get(self._results(delivery.txn_id, delivery.index, DO) + self.node_uuid)
            done = PeerOutcome.from_dict(json.loads(do.value)) if do is not None else None
            if done is None or done.status not in (OK, INTERRUPTED):
                return PeerOutcome(SKIPPED, "the do did not run here", attempt=delivery.attempt)
            if handler is None or handler.undo is None:
                return PeerOutcome(SKIPPED, f"step {name!r} has no undo", attempt=delivery.attempt)
            call = (lambda: handler.undo(args, done.result)) if handler.undo_takes_result \
                else (lambda: handler.undo(args))
        else:
            if handler is None:
                return PeerOutcome(ERROR, f"no handler for step {name!r} on node {self.node_uuid}",
                                   errno_module.ENOSYS, attempt=delivery.attempt)
            call = lambda: handler.do(args)
        token = _delivery.set(delivery)
        try:
            result = call()
            _dumps(result)  # must be JSON-serialisable to be recorded
            return PeerOutcome(OK, None, 0, result, delivery.attempt)
        except Exception as exc:  # noqa: BLE001 (a handler's failure is the step's outcome)
            log.info("%s of step %r (txn %s) failed on %s: %s", delivery.action, name,
                     delivery.txn_id, self.node_uuid, exc)
            code = getattr(exc, "errno", 0)
            return PeerOutcome(ERROR, _error_text(exc), code if isinstance(code, int) else 0,
                               None, delivery.attempt)
        finally:
            _delivery.reset(token)


__all__ = [
    "ACTIVE_STATES", "COMMITTED", "FAILED", "FINAL_STATES", "ROLLED_BACK", "ROLLING_BACK",
    "RUNNING", "Delivery", "Executor", "PeerOutcome", "Step", "StepRecord", "StepRegistry",
    "StoreExecutor", "TransactionFailed", "TransactionRecord", "UnknownTransaction", "announce",
    "current_delivery",
]
