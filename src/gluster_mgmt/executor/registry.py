"""What a node can run: step handlers by name, and the delivery a running handler serves."""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from gluster_mgmt.executor.record import Action


@attrs.frozen
class Delivery:
    """Which message a handler is running: lets an idempotent handler recognise a
    redelivery (same ``txn_id`` and ``index``, ``attempt`` > 1)."""

    txn_id: str
    index: int
    action: Action
    attempt: int
    node: str
    coordinator: str


_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar("delivery", default=None)


def current_delivery() -> Delivery | None:
    """The delivery the calling step handler runs for (None outside a handler)."""
    return _delivery.get()


@contextmanager
def delivering(delivery: Delivery) -> Iterator[None]:
    """Make ``delivery`` the current one while a handler runs (the agent's side)."""
    token = _delivery.set(delivery)
    try:
        yield
    finally:
        _delivery.reset(token)


@attrs.frozen
class Handler:
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
        self._handlers: dict[str, Handler] = {}
        self._guard = threading.Lock()

    def register(self, name: str, do: Callable[[dict[str, Any]], Any],
                 undo: Callable[..., Any] | None = None) -> None:
        with self._guard:
            if name in self._handlers:
                raise ValueError(f"step {name!r} is already registered")
            self._handlers[name] = Handler(do, undo, undo is not None and _takes_two(undo))

    def get(self, name: str) -> Handler | None:
        with self._guard:
            return self._handlers.get(name)

    def names(self) -> list[str]:
        with self._guard:
            return sorted(self._handlers)

    def __contains__(self, name: object) -> bool:
        with self._guard:
            return name in self._handlers
