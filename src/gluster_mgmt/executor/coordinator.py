"""The coordinator: takes a transaction's locks, records it, hands each step to its targets'
inboxes, collects their results, and commits, or aborts and rolls back in reverse order.

Every state change of the record is a new frozen ``TransactionRecord`` written by CAS
(``Journal.save``), so a recoverer that took the transaction over fences a late coordinator.
"""

from __future__ import annotations

import contextlib
import errno as errno_module
import logging
import secrets
import threading
import time
from collections.abc import Collection, Sequence

import attrs

from gluster_mgmt.errors import ConflictError, StoreError, ValueTooLargeError
from gluster_mgmt.executor.errors import TransactionFailed
from gluster_mgmt.executor.interface import Step
from gluster_mgmt.executor.journal import Journal
from gluster_mgmt.executor.lease import DriverLease
from gluster_mgmt.executor.record import (
    Action,
    DriverRole,
    PeerOutcome,
    PeerStatus,
    StepMessage,
    StepRecord,
    StepState,
    TransactionRecord,
    TxnState,
)
from gluster_mgmt.store.base import MAX_TXN_OPS, MAX_TXN_SIZE, Lease, Store
from gluster_mgmt.store.follow import Follow, Update
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.lock import LeaseLock
from gluster_mgmt.store.types import ABSENT, Op, Put

log = logging.getLogger(__name__)

#: Extra operations the final commit adds to the caller's: record, coordinator and active keys
#: (and the locks' releases, when they fit).
COMMIT_OVERHEAD = 3
#: How often a wait for results checks that the peers it waits for are still alive (s).
ALIVE_CHECK_INTERVAL = 0.5
#: Undo outcomes that leave nothing to worry about.
UNDO_SETTLED = frozenset({PeerStatus.OK, PeerStatus.SKIPPED, PeerStatus.QUEUED})


class _CommitRefused(Exception):
    """The caller's expectations failed at commit (or the commit's outcome is a failure)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def new_txn_id() -> str:
    """Sortable by start time (milliseconds, hex), unique by 32 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def _pop_chunk(messages: list[Put], room: int, used: int) -> list[Op]:
    """Take from ``messages`` what fits one store transaction that has ``room`` operations
    left and already carries ``used`` bytes."""
    chunk: list[Op] = []
    while messages and len(chunk) < room and used + len(messages[0].value) <= MAX_TXN_SIZE:
        op = messages.pop(0)
        chunk.append(op)
        used += len(op.value)
    return chunk


@attrs.define(slots=False, eq=False)
class Coordinator:
    """Drives transactions from this node (``run``) and rolls back those it or a recoverer
    holds (``rollback``)."""

    store: Store
    keys: ClusterKeys
    node_uuid: str
    journal: Journal
    #: The lease our coordinator keys are bound to; its TTL is our locks' too.
    driver: DriverLease
    lock_timeout: float = attrs.field(kw_only=True)
    undo_timeout: float = attrs.field(kw_only=True)
    keep_transactions: int = attrs.field(kw_only=True)
    #: Prune finished records after every so many transactions this coordinator ends.
    prune_every: int = attrs.field(kw_only=True, converter=lambda every: max(1, every))
    _finished_runs: int = attrs.field(default=0, init=False)
    _count_guard: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def is_alive(self, node: str) -> bool:
        return self.store.get(self.keys.alive(node)) is not None

    def dead_of(self, nodes: Sequence[str]) -> list[str]:
        """Those of ``nodes`` whose alive key is gone: one read for all of them (a listing of
        the alive keys; a get for one node), not a read per node in turn."""
        if len(nodes) == 1:
            return [n for n in nodes if not self.is_alive(n)]
        prefix = self.keys.alive_prefix
        alive = {entry.key[len(prefix):] for entry in self.store.list(prefix)}
        return [n for n in nodes if n not in alive]

    # ------------------------------------------------------------------ run
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (),
            deadline: float = 60.0, commit: Sequence[Op] = (),
            alive: Collection[str] | None = None) -> TransactionRecord:
        """See Executor.run. ``alive`` stands for the first step's liveness check only when
        the locks were free at once: after waiting for one, the targets are read again."""
        steps = list(steps)
        commit = list(commit)
        if len(commit) + COMMIT_OVERHEAD > MAX_TXN_OPS:
            raise ValueTooLargeError(
                f"{name}: {len(commit)} configuration writes; a transaction commits at most "
                f"{MAX_TXN_OPS - COMMIT_OVERHEAD} at once")
        lease = self.driver.get()
        # one global order: no deadlock between coordinators waiting for each other's locks;
        # bound to the driver's lease: no lease granted (nor revoked) per lock
        held = [self.store.lock(lock_name, ttl=self.driver.ttl, holder=self.node_uuid, lease=lease)
                for lock_name in sorted(set(locks))]
        try:
            record, until, waited = self._begin(name, steps, held, deadline, lease)
            try:
                log.info("txn %s (%s) started with %d step(s)", record.id, name, len(steps))
                return self._drive(record, steps, commit, until, held,
                                   None if waited else alive)
            except TransactionFailed:
                raise
            except ConflictError as exc:  # a record CAS lost: a recoverer took the transaction over
                raise self._taken_over(record) from exc
            except BaseException:
                # Store trouble (or an interrupt) mid-way: hand the transaction to the
                # recoverers rather than leave it running under a coordinator key our live
                # lease keeps.
                self._hand_over(record.id)
                raise
        finally:
            for lock in reversed(held):
                try:
                    lock.release()
                except StoreError as exc:
                    log.warning("could not release lock %s (its lease will expire): %s", lock.name, exc)

    def _new_record(self, name: str, steps: list[Step], locks: list[LeaseLock],
                    deadline: float) -> TransactionRecord:
        now = time.time()
        return TransactionRecord(
            new_txn_id(), name, self.node_uuid, TxnState.RUNNING,
            tuple(StepRecord(s.name, s.peers, dict(s.args), StepState.PENDING, {}, {})
                  for s in steps),
            tuple(lock.name for lock in locks), now + deadline, None, now, now)

    def _begin(self, name: str, steps: list[Step], locks: list[LeaseLock], deadline: float,
               lease: Lease) -> tuple[TransactionRecord, float, bool]:
        """Take the locks, write the coordinator key (leased) and the record in one store
        transaction: a record never exists without its driver's key nor unlocked, and
        nothing is written when a lock is taken. Then (a lock was taken: ConflictError) wait
        for each lock in turn, in their order, and write the key and the record once all
        are ours. Returns the record, its deadline (monotonic) and whether a lock was waited
        for."""
        record = self._new_record(name, steps, locks, deadline)
        starting = [*(lock.taking_op() for lock in locks), *self._begin_ops(record, lease)]
        if len(starting) <= MAX_TXN_OPS:
            try:
                revision = self._write_begin(record, starting, locks)
                return attrs.evolve(record, revision=revision), time.monotonic() + deadline, False
            except ConflictError:  # a lock is held (the other keys are new): wait for it
                pass
        for lock in locks:
            if not lock.held:
                lock.acquire(timeout=self.lock_timeout)
        record = self._new_record(name, steps, locks, deadline)  # its time runs from now
        revision = self._write_begin(record, self._begin_ops(record, lease), [])
        return attrs.evolve(record, revision=revision), time.monotonic() + deadline, True

    def _begin_ops(self, record: TransactionRecord, lease: Lease) -> list[Op]:
        return [Put(self.keys.coordinator(record.id), DriverRole.COORDINATOR.claim(self.node_uuid),
                    ABSENT, lease=lease),
                *self.journal.create_ops(record)]

    def _write_begin(self, record: TransactionRecord, ops: list[Op],
                     locks: list[LeaseLock]) -> int:
        """Commit a transaction's start; an unknown outcome (timeout, lost connection) is
        read back: what did apply (the coordinator key says so) is handed to the recoverers
        and its locks released."""
        try:
            revision = self.store.transaction(ops)
        except ConflictError:
            raise
        except StoreError:
            with contextlib.suppress(StoreError):
                applied = self.store.get(self.keys.coordinator(record.id))
                if applied is not None:
                    for lock in locks:
                        lock.taken(applied.revision)
            self._hand_over(record.id)
            raise
        for lock in locks:
            lock.taken(revision)
        return revision

    def _drive(self, record: TransactionRecord, steps: list[Step], commit: list[Op],
               until: float, locks: Sequence[LeaseLock] = (),
               alive: Collection[str] | None = None) -> TransactionRecord:
        #: (step index, peer, its outcome, whether the step was handed out at all)
        failure: tuple[int, str, PeerOutcome, bool] | None = None
        for index, step in enumerate(steps):
            if index == 0 and alive is not None:  # the caller's read just now
                dead = [p for p in step.peers if p not in alive]
            else:
                dead = self.dead_of(step.peers)
            if dead:
                record = record.with_step(index, status=StepState.FAILED, outcomes={
                    p: PeerOutcome(PeerStatus.LOST, f"peer {p} is not alive") for p in dead})
                failure = (index, dead[0],
                           PeerOutcome(PeerStatus.LOST, f"peer {dead[0]} is not alive"), False)
                break
            record = self._send(record.with_step(index, status=StepState.RUNNING), index,
                                Action.DO, step.peers)
            # a new transaction's step: no result of it can predate its messages
            outcomes = self._collect(record.id, index, Action.DO, step.peers, until,
                                     stop_on_error=True, checked_alive=True,
                                     sent_at=record.revision)
            record = record.with_step(index, outcomes=outcomes)
            bad = next(((p, o) for p, o in outcomes.items() if not o.ok), None)
            if bad is None and len(outcomes) == len(step.peers):
                record = record.with_step(index, status=StepState.DONE)
                continue
            record = record.with_step(index, status=StepState.FAILED)
            if bad is None:  # cannot happen: _collect answers for every target
                bad = (step.peers[0], PeerOutcome(PeerStatus.LOST, "no answer"))
            failure = (index, *bad, True)
            break
        if failure is None:
            try:
                committed = self._commit(record, commit, locks)
            except _CommitRefused as refused:  # the caller's expectations failed: undo all
                final = self._abort(record, len(steps) - 1, refused.error)
                self._count_finished()
                message = f"{record.name}: commit failed: {refused.error}; " + (
                    "rolled back" if final.state is TxnState.ROLLED_BACK
                    else f"rollback incomplete: {final.error}")
                raise TransactionFailed(message, record=final, error=refused.error,
                                        conflict=True, errno=errno_module.EBUSY) from None
            self._count_finished()
            return committed
        index, peer, outcome, sent = failure
        step_name = steps[index].name
        error = f"step {step_name!r} failed on {peer}: {outcome.error}"
        final = self._abort(record, index if sent else index - 1, error)
        self._count_finished()
        message = f"{record.name}: {error}"
        if final.state is not TxnState.ROLLED_BACK:
            message += f"; rollback incomplete: {final.error}"
        raise TransactionFailed(message, record=final, step=step_name, peer=peer,
                                error=outcome.error or "", errno=outcome.errno)

    # ------------------------------------------------------------------ steps
    def _send(self, record: TransactionRecord, index: int, action: Action,
              targets: Sequence[str]) -> TransactionRecord:
        """Record the step's progress and drop one message per target: one store transaction
        (split only when the targets exceed one transaction's limits)."""
        step = record.steps[index]
        message = StepMessage(record.id, index, action, step.name, step.args, self.node_uuid)
        messages = [Put(self.keys.message(p, record.id, index, action), message.to_json())
                    for p in targets]
        record = self.journal.save(record, _pop_chunk(messages, MAX_TXN_OPS - 1,
                                                      len(record.to_json()) + 1024))
        while messages:
            self.store.transaction(_pop_chunk(messages, MAX_TXN_OPS, 0))
        return record

    def _collect(self, txn: str, index: int, action: Action, targets: Sequence[str],
                 until: float, stop_on_error: bool, checked_alive: bool = False,
                 sent_at: int | None = None) -> dict[str, PeerOutcome]:
        """Wait for every target's result of one step until ``until`` (monotonic). A target
        whose alive key is gone is LOST (for a do) or QUEUED (for an undo: it runs later).
        ``checked_alive``: the caller has just read every target's alive key, so the first
        check comes ``ALIVE_CHECK_INTERVAL`` later (a read per target per step saved).
        ``sent_at``: the revision at which these messages were first sent, when nobody can
        have sent them before (a new transaction's step): every result comes after it, so
        the results are watched from there without listing them first (a store round trip
        less per step)."""
        prefix = self.keys.results(txn, index, action)
        outcomes: dict[str, PeerOutcome] = {}

        def absorb(node: str, value: bytes) -> None:
            if node in targets and node not in outcomes:
                with contextlib.suppress(ValueError):
                    outcomes[node] = PeerOutcome.from_json(value)

        def on_change(update: Update) -> None:
            for key in update.changed:
                absorb(key[len(prefix):], update.entries[key].value)

        with Follow(self.store, prefix, on_change) as results:
            if sent_at is None:
                results.poll(0)  # the listing: results that came before we looked
            else:
                results.assume_empty_at(sent_at)
            results.poll(0)  # the watch, from the listing's (or the sending's) revision
            next_alive_check = time.monotonic() + ALIVE_CHECK_INTERVAL if checked_alive else 0.0
            while True:
                pending = [p for p in targets if p not in outcomes]
                if not pending or (stop_on_error and any(not o.ok for o in outcomes.values())):
                    break
                now = time.monotonic()
                if now >= until:
                    for node in pending:
                        outcomes[node] = PeerOutcome(
                            PeerStatus.LOST if action is Action.DO else PeerStatus.ERROR,
                            "no answer before the deadline")
                    break
                if now >= next_alive_check:
                    next_alive_check = now + ALIVE_CHECK_INTERVAL
                    for node in pending:
                        if not self.is_alive(node):
                            late = self.store.get(self.keys.result(txn, index, action, node))
                            if late is not None:  # answered, then died
                                absorb(node, late.value)
                            else:
                                outcomes[node] = PeerOutcome(
                                    PeerStatus.LOST if action is Action.DO else PeerStatus.QUEUED,
                                    f"peer {node} is not alive")
                    continue
                results.poll(max(0.01, min(0.25, until - now)))
        return {p: outcomes[p] for p in targets if p in outcomes}

    # ------------------------------------------------------------------ endings
    def _commit(self, record: TransactionRecord, commit: list[Op],
                locks: Sequence[LeaseLock] = ()) -> TransactionRecord:
        """Config writes + final record in one store transaction, the locks released in it
        too when they fit (each expected at its token: a lock lost meanwhile refuses the
        commit). Raises _CommitRefused when the caller's expectations failed,
        TransactionFailed if the record was taken over."""
        finish = [*commit, *self.journal.finish_ops(record.id)]
        releasing = list(locks) if len(finish) + 1 + len(locks) <= MAX_TXN_OPS else []
        try:
            committed = self.journal.save(attrs.evolve(record, state=TxnState.COMMITTED),
                                          [*finish, *(lock.release_op() for lock in releasing)])
            for lock in releasing:
                lock.released()
        except ConflictError as exc:
            current = self.store.get(self.keys.txn(record.id))
            if current is None or current.revision != record.revision:
                raise self._taken_over(record) from exc
            raise _CommitRefused(f"configuration changed meanwhile ({exc})") from exc
        except StoreError as exc:
            # Unknown outcome (timeout, lost connection): the record tells whether it applied.
            stored = self.journal.reread(record.id)
            if stored is not None and stored.state is TxnState.COMMITTED:
                return stored
            if stored is None or stored.revision != record.revision:
                raise self._taken_over(record) from exc
            raise _CommitRefused(f"commit failed: {exc}") from exc
        log.info("txn %s (%s) committed", record.id, record.name)
        return committed

    def _abort(self, record: TransactionRecord, last: int, error: str) -> TransactionRecord:
        try:
            record = self.journal.save(
                attrs.evolve(record, state=TxnState.ROLLING_BACK, error=error))
        except ConflictError as exc:
            raise self._taken_over(record) from exc
        return self.rollback(record, last)

    def rollback(self, record: TransactionRecord, last: int) -> TransactionRecord:
        """Undo steps ``last`` .. 0 in reverse order, then write the final state. Undo goes to
        every target of a step that was handed out: each agent undoes only what its do
        completed (as it recorded), so an unknown outcome is safe to undo."""
        problems: list[str] = []
        for index in range(last, -1, -1):
            step = record.steps[index]
            if step.status is StepState.PENDING:
                continue
            targets = [p for p in step.targets if p not in step.outcomes
                       or step.outcomes[p].status is not PeerStatus.ERROR]
            if not targets:
                continue
            record = self._send(record.with_step(index, status=StepState.UNDOING), index,
                                Action.UNDO, targets)
            outcomes = self._collect(record.id, index, Action.UNDO, targets,
                                     time.monotonic() + self.undo_timeout, stop_on_error=False)
            bad = [(p, o) for p, o in outcomes.items() if o.status not in UNDO_SETTLED]
            record = record.with_step(index, undo=outcomes,
                                      status=StepState.UNDO_FAILED if bad else StepState.UNDONE)
            problems += [f"undo of {step.name!r} on {p}: {o.error}" for p, o in bad]
        if problems:
            record = attrs.evolve(record, state=TxnState.FAILED,
                                  error=f"{record.error}; " + "; ".join(problems))
        else:
            record = attrs.evolve(record, state=TxnState.ROLLED_BACK)
        try:
            record = self.journal.save(record, self.journal.finish_ops(record.id))
        except ConflictError as exc:
            raise self._taken_over(record) from exc
        log.info("txn %s (%s) %s: %s", record.id, record.name, record.state, record.error)
        return record

    def _taken_over(self, record: TransactionRecord) -> TransactionFailed:
        current = self.journal.reread(record.id)
        return TransactionFailed(
            f"{record.name}: this coordinator lost transaction {record.id} (its lease expired "
            f"and it was recovered{' by ' + current.recovered_by if current and current.recovered_by else ''})",
            record=current, error="coordinator lost its lease", errno=errno_module.ETIMEDOUT)

    def _hand_over(self, txn: str, patience: float = 60.0) -> None:
        """Remove our coordinator key (retrying in the background while the store is away),
        so that any agent's recoverer rolls the transaction back."""
        key = self.keys.coordinator(txn)

        def attempt() -> bool:
            try:
                entry = self.store.get(key)
                if entry is not None and entry.value == DriverRole.COORDINATOR.claim(self.node_uuid):
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

    def _count_finished(self) -> None:
        """Every ``prune_every`` transactions this coordinator finishes, prune."""
        with self._count_guard:
            self._finished_runs += 1
            due = self._finished_runs % self.prune_every == 0
        if due:
            self.journal.prune(self.keep_transactions)
