"""The stored transaction records of one cluster: created with their index entry, changed
only by compare-and-swap (the record's revision fences a coordinator that was taken over),
read for ``txn list``/``txn show``, and pruned."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence

import attrs

from gluster_mgmt.errors import InvalidKeyError, StoreError
from gluster_mgmt.executor.errors import UnknownTransaction
from gluster_mgmt.executor.record import TransactionRecord
from gluster_mgmt.store.base import MAX_TXN_OPS, Store
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import ABSENT, Delete, Op, Put

log = logging.getLogger(__name__)


@attrs.frozen
class Journal:
    store: Store
    keys: ClusterKeys

    def create_ops(self, record: TransactionRecord) -> list[Op]:
        """The writes of a new record with its ``active/`` index entry (for one store
        transaction, with whatever else starts the transaction)."""
        return [Put(self.keys.txn(record.id), record.to_json(), ABSENT),
                Put(self.keys.active_txn(record.id), b"", ABSENT)]

    def save(self, record: TransactionRecord, extra: Sequence[Op] = ()) -> TransactionRecord:
        """CAS the record on the revision it was read or written at, with ``extra`` in the
        same store transaction (fencing: a recoverer that took the transaction over wins).
        Raises ConflictError when the record moved."""
        record = attrs.evolve(record, updated=time.time())
        revision = self.store.transaction(
            [Put(self.keys.txn(record.id), record.to_json(), record.revision), *extra])
        return attrs.evolve(record, revision=revision)

    def finish_ops(self, txn_id: str) -> list[Op]:
        """Writes that go with a final state: the transaction stops being active and driven."""
        return [Delete(self.keys.active_txn(txn_id)), Delete(self.keys.coordinator(txn_id))]

    def records(self) -> list[TransactionRecord]:
        """Every record that decodes, oldest first."""
        records = []
        for entry in self.store.list(self.keys.txns):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                records.append(TransactionRecord.from_json(entry.value, entry.revision))
        return sorted(records, key=lambda r: (r.created, r.id))

    def get(self, txn_id: str) -> TransactionRecord:
        try:
            entry = self.store.get(self.keys.txn(txn_id))
        except InvalidKeyError:
            raise UnknownTransaction(txn_id) from None
        if entry is None:
            raise UnknownTransaction(txn_id)
        return TransactionRecord.from_json(entry.value, entry.revision)

    def reread(self, txn_id: str, attempts: int = 10) -> TransactionRecord | None:
        """The record as stored now, retrying while the store is away (None if gone)."""
        for _ in range(attempts):
            try:
                return self.get(txn_id)
            except UnknownTransaction:
                return None
            except StoreError:
                time.sleep(0.5)
        return None

    def prune(self, keep: int) -> None:
        """Keep the newest ``keep`` finished records (and their results). Records and their
        results go together, as many as a store transaction holds: a record at a time took
        two writes each (per `volume create` past the first ``keep``: 13 writes, not 11)."""
        try:
            finished = [r for r in self.records() if r.finished]
            batch: list[Op] = []
            for record in finished[:max(0, len(finished) - keep)]:
                doomed: list[Op] = [Delete(e.key) for e in
                                    self.store.list(self.keys.txn_results(record.id))]
                doomed.append(Delete(self.keys.txn(record.id), record.revision))
                if len(batch) + len(doomed) > MAX_TXN_OPS and batch:
                    self.store.transaction(batch)
                    batch = []
                while len(doomed) > MAX_TXN_OPS:  # results of more peers than one holds
                    self.store.transaction(doomed[:MAX_TXN_OPS])
                    doomed = doomed[MAX_TXN_OPS:]
                batch += doomed
            if batch:
                self.store.transaction(batch)
        except StoreError as exc:
            log.debug("pruning transactions failed (next time): %s", exc)
