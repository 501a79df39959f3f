"""How a transaction fails, as its caller sees it."""

from __future__ import annotations

import errno as errno_module
from typing import TYPE_CHECKING

from gluster_mgmt.errors import OperationFailed

if TYPE_CHECKING:
    from gluster_mgmt.executor.record import TransactionRecord


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
