"""The agent: runs the steps sent to this node, one message at a time in creation order.

For each message it claims it (attempt + 1, by CAS) before running the handler, then writes
the result and removes the message in one store transaction. A do whose transaction is no
longer running is dropped, never started late; an undo runs only where its do completed (or
was interrupted by a crash), as this node's own result of the do says.
"""

from __future__ import annotations

import contextlib
import errno as errno_module
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs

from gluster_mgmt.errors import ConflictError, StoreError
from gluster_mgmt.executor.record import (
    Action,
    PeerOutcome,
    PeerStatus,
    StepMessage,
    TxnState,
    to_json,
)
from gluster_mgmt.executor.registry import Delivery, StepRegistry, delivering
from gluster_mgmt.store.base import Store
from gluster_mgmt.store.follow import Follow, Update
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import Check, Delete, Entry, Op, Put

log = logging.getLogger(__name__)

#: How long one read of the inbox watch waits, which bounds how late ``stop`` takes effect.
INBOX_POLL_INTERVAL = 0.2
#: Wait before following the inbox again after a failure.
RETRY_DELAY = 0.5
#: A do result's statuses after which its undo must run.
UNDO_NEEDED = frozenset({PeerStatus.OK, PeerStatus.INTERRUPTED})


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def _stored_state(value: bytes) -> TxnState | None:
    """A stored record's state, read without decoding the rest (None if it has none)."""
    state = json.loads(value).get("state")
    try:
        return TxnState(state)
    except ValueError:
        return None


@attrs.define(slots=False, eq=False)
class Agent:
    """This node's inbox, followed until ``stop`` is set; ``resync_interval``: list it again
    that often even when the watch is healthy."""

    store: Store
    keys: ClusterKeys
    node_uuid: str
    registry: StepRegistry
    _stop: threading.Event
    resync_interval: float = attrs.field(kw_only=True)
    _ready: threading.Event = attrs.field(factory=threading.Event, init=False)
    #: the inbox being followed, so that ``interrupt`` can end its poll
    _inbox: Follow | None = attrs.field(default=None, init=False)
    #: (key, revision) of the messages this agent claimed whose claim it has not seen come
    #: back through the inbox yet: that event is its own write, nothing to run
    _claims: set[tuple[str, int]] = attrs.field(factory=set, init=False)

    @property
    def ready(self) -> bool:
        """True once the agent has gone through its inbox and watches it."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None) -> bool:
        return self._ready.wait(timeout)

    def reset(self) -> None:
        """Before serving again: ``ready`` is to tell about the coming run."""
        self._ready.clear()

    def interrupt(self) -> None:
        """After ``stop`` is set: end the inbox's poll now rather than when it times out (a
        node leaving a cluster at `peer detach` waits for this thread)."""
        inbox = self._inbox
        if inbox is not None:
            inbox.stop()

    def serve(self) -> None:
        """Follow the inbox in this thread until ``stop``. After any failure, a fresh listing
        (not ``Follow.run``, which would watch on past the message whose handling failed)."""
        while not self._stop.is_set():
            try:
                with Follow(self.store, self.keys.inbox(self.node_uuid), self._on_update,
                            name=f"inbox of {self.node_uuid}",
                            resync_interval=self.resync_interval) as inbox:
                    self._inbox = inbox
                    inbox.poll(0)  # the listing: every message there, in creation order
                    inbox.poll(0)  # the watch, from the listing's revision
                    self._ready.set()
                    while not self._stop.is_set():
                        inbox.poll(INBOX_POLL_INTERVAL)
            except StoreError as exc:
                log.warning("inbox of %s: %s; retrying", self.node_uuid, exc)
                self._stop.wait(RETRY_DELAY)
            except Exception:
                log.exception("inbox of %s failed; retrying", self.node_uuid)
                self._stop.wait(RETRY_DELAY)

    def _on_update(self, update: Update) -> None:
        if update.relisted:
            keys = [e.key for e in sorted(update.entries.values(), key=lambda e: (e.created, e.key))]
        else:
            keys = list(update.changed)
        for key in keys:
            if self._stop.is_set():
                return
            seen = update.entries.get(key)
            if seen is None:  # deleted: our own result's deletion, or a recoverer's
                self._claims = {c for c in self._claims if c[0] != key}
                continue
            if (key, seen.revision) in self._claims:
                self._claims.discard((key, seen.revision))
                continue
            self._handle(key, seen)

    def _handle(self, key: str, seen: Entry) -> None:
        """Run one message as the inbox's update showed it (no read of it again: if it
        changed meanwhile, the claim's compare-and-set on ``seen``'s revision fails and the
        change's own event brings it back)."""
        entry = seen
        try:
            message = StepMessage.from_json(entry.value)
            result_key = self.keys.result(message.txn, message.index, message.action,
                                          self.node_uuid)
        except (ValueError, KeyError, TypeError):
            log.warning("dropping malformed message %s", key)
            self.store.delete(key, entry.revision)
            return
        if message.action is Action.UNDO and self.store.get(result_key) is not None:
            with contextlib.suppress(ConflictError):  # resent by a recoverer
                self.store.delete(key, entry.revision)
            return
        claimed = self._claim_sent_with_record(key, entry, message) \
            if message.action is Action.DO else None
        if message.action is Action.DO and claimed is None:
            stored = self.store.get(self.keys.txn(message.txn))
            state = _stored_state(stored.value) if stored is not None else None
            if state is not TxnState.RUNNING:
                # The transaction ended (or is being undone) without us: never start late.
                ops: list[Op] = [Delete(key, entry.revision)]
                if message.attempt:  # a previous delivery may have half-run: let the undo know
                    ops.append(Put(result_key, PeerOutcome(
                        PeerStatus.INTERRUPTED,
                        f"agent restarted mid-step; transaction {state or 'gone'}",
                        attempt=message.attempt).to_json()))
                with contextlib.suppress(ConflictError):
                    self.store.transaction(ops)
                log.info("dropped %s: transaction %s is %s", key, message.txn, state or "gone")
                return
        # Claim: from here a crash leaves a message whose attempt tells the next delivery.
        message = attrs.evolve(message, attempt=message.attempt + 1)
        if claimed is None:
            try:
                claimed = self.store.put(key, message.to_json(), entry.revision)
            except ConflictError:
                return
        self._claims.add((key, claimed))
        delivery = Delivery(message.txn, message.index, message.action, message.attempt,
                            self.node_uuid, message.coordinator)
        outcome = self._run_handler(message, delivery)
        try:
            self.store.transaction([Put(result_key, outcome.to_json()), Delete(key, claimed)])
        except ConflictError:
            self.store.put(result_key, outcome.to_json())
        log.debug("%s %s step %d (%s) on %s: %s", message.txn, message.action, message.index,
                  message.step, self.node_uuid, outcome.status)

    def _claim_sent_with_record(self, key: str, entry: Entry, message: StepMessage) -> int | None:
        """Claim a do message in one store transaction with the proof that its transaction
        still runs: the coordinator writes a step's messages in the same store transaction
        as the record (state running), so a record still at the message's revision is that
        record, running. The claim's revision; None when either moved since (or the message
        came in a later chunk): then the record is read to tell why."""
        claim = attrs.evolve(message, attempt=message.attempt + 1)
        try:
            return self.store.transaction([
                Check(self.keys.txn(message.txn), entry.revision),
                Put(key, claim.to_json(), entry.revision)])
        except ConflictError:
            return None

    def _run_handler(self, message: StepMessage, delivery: Delivery) -> PeerOutcome:
        name = message.step
        args = dict(message.args)
        handler = self.registry.get(name)
        call: Callable[[], Any]
        if delivery.action is Action.UNDO:
            do = self.store.get(self.keys.result(delivery.txn_id, delivery.index, Action.DO,
                                                 self.node_uuid))
            done = PeerOutcome.from_json(do.value) if do is not None else None
            if done is None or done.status not in UNDO_NEEDED:
                return PeerOutcome(PeerStatus.SKIPPED, "the do did not run here",
                                   attempt=delivery.attempt)
            if handler is None or handler.undo is None:
                return PeerOutcome(PeerStatus.SKIPPED, f"step {name!r} has no undo",
                                   attempt=delivery.attempt)
            undo = handler.undo
            call = (lambda: undo(args, done.result)) if handler.undo_takes_result \
                else (lambda: undo(args))
        else:
            if handler is None:
                return PeerOutcome(PeerStatus.ERROR,
                                   f"no handler for step {name!r} on node {self.node_uuid}",
                                   errno_module.ENOSYS, attempt=delivery.attempt)
            do_step = handler.do
            call = lambda: do_step(args)  # noqa: E731
        with delivering(delivery):
            try:
                result = call()
                to_json(result)  # must be JSON-serialisable to be recorded
                return PeerOutcome(PeerStatus.OK, None, 0, result, delivery.attempt)
            except Exception as exc:  # noqa: BLE001 (a handler's failure is the step's outcome)
                log.info("%s of step %r (txn %s) failed on %s: %s", delivery.action, name,
                         delivery.txn_id, self.node_uuid, exc)
                code = getattr(exc, "errno", 0)
                return PeerOutcome(PeerStatus.ERROR, _error_text(exc),
                                   code if isinstance(code, int) else 0, None, delivery.attempt)
