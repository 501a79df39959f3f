"""Distributed command execution (glusterd's transactions), without N² messages.

A cluster operation is a transaction of named steps, each with ``do`` and ``undo``, run on a
chosen set of peers; the coordinator hands steps to peers through their store inboxes, waits
with a deadline, and undoes completed steps in reverse order on failure (DESIGN.md).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import attrs


@attrs.frozen
class Step:
    """One named step: ``do`` and ``undo`` run on each of ``peers`` (UUIDs)."""

    name: str
    peers: tuple[str, ...]
    do: Callable[..., Any]
    undo: Callable[..., Any] | None = None


class Executor(abc.ABC):
    """Runs transactions of steps across peers (implemented by the cluster-management layer)."""

    @abc.abstractmethod
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str] = (), deadline: float = 60.0) -> str:
        """Run every step or none (undo in reverse order); returns the transaction id."""
