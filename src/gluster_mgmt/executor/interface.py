"""The executor as its callers use it: steps in, a committed record or TransactionFailed out."""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from gluster_mgmt.executor.record import TransactionRecord
from gluster_mgmt.store.base import Lease
from gluster_mgmt.store.types import Op


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


class Executor(abc.ABC):
    """Runs transactions of steps across peers (see the package docstring)."""

    @abc.abstractmethod
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (),
            deadline: float = 60.0, commit: Sequence[Op] = (),
            alive: Collection[str] | None = None) -> TransactionRecord:
        """Run every step then commit ``commit`` atomically, or roll back and raise
        TransactionFailed. Returns the committed record. ``alive``: the nodes the caller
        found alive in a read just made (its checks): the first step's targets are checked
        against it instead of a read of their own."""

    @abc.abstractmethod
    def lease(self) -> Lease:
        """The node's lease this executor binds its keys to: a change's lock taken outside a
        transaction (``Cluster.volume_lock``) is bound to it too."""

    @abc.abstractmethod
    def list_transactions(self) -> list[TransactionRecord]:
        """Every recorded transaction, oldest first."""

    @abc.abstractmethod
    def get_transaction(self, txn_id: str) -> TransactionRecord:
        """One transaction's record (UnknownTransaction if absent)."""
