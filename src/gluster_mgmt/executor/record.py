"""The transaction record: what the store keeps of one transaction, and its JSON codec.

Records are frozen: the coordinator and a recoverer derive each new state with
``attrs.evolve`` and write it by compare-and-swap (see ``journal``). The stored JSON (read by
``txn list``/``txn show``) spells every state as before: the enums' values.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs


def to_json(data: Any) -> bytes:
    """The one encoding of everything the executor stores (records, messages, results)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class _Word(str, enum.Enum):
    """A str enum that reads (``str``, f-strings, JSON) as its value, as the store spells it
    (Python 3.10 has no ``enum.StrEnum``)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TxnState(_Word):
    RUNNING = "running"
    ROLLING_BACK = "rolling-back"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled-back"
    #: Rollback could not be completed (an undo failed or timed out): needs an operator's look.
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """Still driven by a coordinator or a recoverer (indexed under ``active/``)."""
        return self in ACTIVE_STATES

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


ACTIVE_STATES = frozenset({TxnState.RUNNING, TxnState.ROLLING_BACK})
FINAL_STATES = frozenset({TxnState.COMMITTED, TxnState.ROLLED_BACK, TxnState.FAILED})


class StepState(_Word):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo-failed"


class Action(_Word):
    """What a step message asks of a peer."""

    DO = "do"
    UNDO = "undo"


class PeerStatus(_Word):
    """One peer's outcome of one step's do or undo (results and record)."""

    OK = "ok"  # the handler returned
    ERROR = "error"  # the handler raised (its do needs no undo)
    LOST = "lost"  # no answer: peer dead or deadline passed (its undo is sent anyway)
    SKIPPED = "skipped"  # undo: the do never completed on that peer, nothing to undo
    QUEUED = "queued"  # undo: the peer is down; its agent runs the undo when it comes back
    INTERRUPTED = "interrupted"  # do: the agent died mid-handler and the transaction ended since


class DriverRole(_Word):
    """Who drives a transaction, as its driver key ``coordinators/<txn>`` says."""

    COORDINATOR = "coordinator"
    RECOVERER = "recoverer"

    def claim(self, node: str) -> bytes:
        """The driver key's value for ``node`` in this role."""
        return f"{self.value}:{node}".encode()


@attrs.frozen
class PeerOutcome:
    """What one peer reported for one step (or what the coordinator concluded for it)."""

    status: PeerStatus = attrs.field(converter=PeerStatus)
    error: str | None = None
    errno: int = 0
    result: Any = attrs.field(default=None, hash=False)
    attempt: int = 0

    @property
    def ok(self) -> bool:
        return self.status is PeerStatus.OK

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeerOutcome:
        return cls(data.get("status", PeerStatus.ERROR), data.get("error"),
                   int(data.get("errno") or 0), data.get("result"), int(data.get("attempt") or 0))

    @classmethod
    def from_json(cls, value: bytes) -> PeerOutcome:
        return cls.from_dict(json.loads(value))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "error": self.error, "errno": self.errno,
                "result": self.result, "attempt": self.attempt}

    def to_json(self) -> bytes:
        return to_json(self.to_dict())


def _outcomes(data: Mapping[str, Any] | None) -> dict[str, PeerOutcome]:
    return {peer: PeerOutcome.from_dict(outcome) for peer, outcome in (data or {}).items()}


@attrs.frozen
class StepRecord:
    """A step as recorded in the transaction record: targets, args and per-peer outcomes."""

    name: str
    targets: tuple[str, ...]
    args: Mapping[str, Any] = attrs.field(hash=False)
    status: StepState = attrs.field(converter=StepState)
    outcomes: Mapping[str, PeerOutcome] = attrs.field(hash=False)
    undo: Mapping[str, PeerOutcome] = attrs.field(hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(data["name"], tuple(data["targets"]), data.get("args") or {}, data["status"],
                   _outcomes(data.get("outcomes")), _outcomes(data.get("undo")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "targets": list(self.targets), "args": dict(self.args),
                "status": self.status.value,
                "outcomes": {k: v.to_dict() for k, v in self.outcomes.items()},
                "undo": {k: v.to_dict() for k, v in self.undo.items()}}


@attrs.frozen
class TransactionRecord:
    """The stored account of one transaction (``txn list`` / ``txn show``)."""

    id: str
    name: str
    coordinator: str
    state: TxnState = attrs.field(converter=TxnState)
    steps: tuple[StepRecord, ...]
    locks: tuple[str, ...]
    #: Wall-clock time (epoch seconds) by which every step must have answered.
    deadline: float
    error: str | None
    created: float
    updated: float
    #: Node that rolled the transaction back after its coordinator died, if any.
    recovered_by: str | None = None
    #: Store revision of the record when read or last written (0 when not in the store).
    revision: int = attrs.field(default=0, eq=False)

    @property
    def finished(self) -> bool:
        return self.state.final

    def with_step(self, index: int, **changes: Any) -> TransactionRecord:
        """This record with step ``index`` changed (``StepRecord`` fields by name)."""
        steps = list(self.steps)
        steps[index] = attrs.evolve(steps[index], **changes)
        return attrs.evolve(self, steps=tuple(steps))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], revision: int = 0) -> TransactionRecord:
        return cls(data["id"], data["name"], data["coordinator"], data["state"],
                   tuple(StepRecord.from_dict(s) for s in data["steps"]), tuple(data["locks"]),
                   data["deadline"], data.get("error"), data["created"], data["updated"],
                   data.get("recovered_by"), revision)

    @classmethod
    def from_json(cls, value: bytes, revision: int = 0) -> TransactionRecord:
        return cls.from_dict(json.loads(value), revision)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "coordinator": self.coordinator,
                "state": self.state.value, "steps": [s.to_dict() for s in self.steps],
                "locks": list(self.locks), "deadline": self.deadline, "error": self.error,
                "created": self.created, "updated": self.updated,
                "recovered_by": self.recovered_by}

    def to_json(self) -> bytes:
        return to_json(self.to_dict())


@attrs.frozen
class StepMessage:
    """One step's do or undo for one peer, as written to its inbox. ``attempt`` counts the
    deliveries that claimed it (0 until an agent claims it)."""

    txn: str
    index: int = attrs.field(converter=int)
    action: Action = attrs.field(converter=Action)
    step: str
    args: Mapping[str, Any] = attrs.field(hash=False)
    coordinator: str
    attempt: int = 0

    @classmethod
    def from_json(cls, value: bytes) -> StepMessage:
        """Raises ValueError, KeyError or TypeError for a message that is not one."""
        data = json.loads(value)
        return cls(data["txn"], data["index"], data["action"], data.get("step", ""),
                   data.get("args") or {}, data.get("coordinator", ""),
                   int(data.get("attempt") or 0))

    def to_json(self) -> bytes:
        return to_json({"txn": self.txn, "index": self.index, "action": self.action.value,
                        "step": self.step, "args": dict(self.args),
                        "coordinator": self.coordinator, "attempt": self.attempt})
