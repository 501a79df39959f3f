"""Recovery: every agent scans for transactions still active whose driver key is gone (their
coordinator died or lost its lease), claims each and rolls it back.

The claim is two writes: our driver key (bound to our lease; only one recoverer can create
it), then the record by CAS, which fences a coordinator that is late rather than dead.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import attrs

from gluster_mgmt.errors import ConflictError, LockTimeoutError, StoreError
from gluster_mgmt.executor.coordinator import Coordinator
from gluster_mgmt.executor.errors import TransactionFailed
from gluster_mgmt.executor.record import (
    DriverRole,
    StepState,
    TransactionRecord,
    TxnState,
)
from gluster_mgmt.store.base import Store
from gluster_mgmt.store.keys import ClusterKeys, last_segment
from gluster_mgmt.store.types import ABSENT, Check, Delete

log = logging.getLogger(__name__)

#: A recoverer waits this long at most for a lock a running operation holds (next scan).
RECOVERY_LOCK_PATIENCE = 2.0


@attrs.define(slots=False, eq=False)
class Recoverer:
    """Rolls back orphaned transactions through ``coordinator`` (this node's), every
    ``interval`` seconds from ``serve`` until ``stop`` is set."""

    coordinator: Coordinator
    _stop: threading.Event
    interval: float = attrs.field(kw_only=True)

    @property
    def store(self) -> Store:
        return self.coordinator.store

    @property
    def keys(self) -> ClusterKeys:
        return self.coordinator.keys

    @property
    def node_uuid(self) -> str:
        return self.coordinator.node_uuid

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.recover()
            except StoreError as exc:
                log.warning("transaction recovery scan failed: %s", exc)
            except Exception:
                log.exception("transaction recovery scan failed")
            self._stop.wait(self.interval)

    def release_earlier_life(self, live_lease: int | None) -> list[str]:
        """Hand over the transactions this node drove in an earlier life (its driver keys
        bound to a lease other than ``live_lease``), so that ``recover`` rolls them back at
        once instead of after that dead lease expires. Returns their ids."""
        released = []
        for entry in self.store.list(self.keys.coordinators):
            mine = entry.value in {role.claim(self.node_uuid) for role in DriverRole}
            if not mine or (entry.lease is not None and entry.lease == live_lease):
                continue
            with contextlib.suppress(ConflictError):
                self.store.delete(entry.key, entry.revision)
                released.append(last_segment(entry.key))
        return released

    def recover(self) -> list[TransactionRecord]:
        """Roll back every active transaction whose driver is gone; returns those we did.
        Cheap when nothing is wrong: two listings of small index prefixes."""
        done: list[TransactionRecord] = []
        active = {last_segment(e.key) for e in self.store.list(self.keys.active_txns)}
        if not active:
            return done
        driven = {last_segment(e.key) for e in self.store.list(self.keys.coordinators)}
        for txn in sorted(active - driven):
            if self._stop.is_set():
                break
            entry = self.store.get(self.keys.txn(txn))
            record = None
            if entry is not None:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = TransactionRecord.from_json(entry.value, entry.revision)
            if record is None or not record.state.active:
                # Finished since the listing, most often: a commit or rollback deletes the
                # index entry in the transaction that finishes the record, so the entry is
                # gone already. Deleting it again is a store write per scan that raced a
                # commit (100 agents scanning every few seconds: one `volume create` in a
                # few cost 13 writes instead of 11). Only an entry still there is stale.
                if self.store.get(self.keys.active_txn(txn)) is None:
                    continue
                with contextlib.suppress(StoreError):
                    self.store.transaction([Delete(self.keys.active_txn(txn)),
                                            Check(self.keys.coordinator(txn), ABSENT)])
                continue
            if self.store.get(self.keys.coordinator(txn)) is not None:
                continue
            recovered = self._recover_one(record)
            if recovered is not None:
                done.append(recovered)
        return done

    def _recover_one(self, record: TransactionRecord) -> TransactionRecord | None:
        held = []
        try:
            # Re-take the transaction's locks, so no new operation runs while we undo.
            for lock_name in record.locks:
                lock = self.store.lock(lock_name, ttl=self.coordinator.driver.ttl,
                                       holder=self.node_uuid)
                lock.acquire(timeout=min(self.coordinator.lock_timeout, RECOVERY_LOCK_PATIENCE))
                held.append(lock)
            record = attrs.evolve(
                record, state=TxnState.ROLLING_BACK, recovered_by=self.node_uuid,
                error=record.error or f"coordinator {record.coordinator} died")
            key = self.keys.coordinator(record.id)
            try:
                claim = self.store.put(key, DriverRole.RECOVERER.claim(self.node_uuid), ABSENT,
                                       lease=self.coordinator.driver.get())
            except ConflictError:
                return None  # another recoverer got there first
            try:
                record = self.coordinator.journal.save(record)
            except ConflictError:
                with contextlib.suppress(StoreError):
                    self.store.delete(key, claim)
                return None  # the coordinator was late, not dead: look again next scan
            log.warning("txn %s (%s): coordinator %s is gone; rolling back", record.id,
                        record.name, record.coordinator)
            started = [i for i, s in enumerate(record.steps) if s.status is not StepState.PENDING]
            return self.coordinator.rollback(record, max(started) if started else -1)
        except LockTimeoutError:
            return None  # held by a running operation: next scan
        except TransactionFailed as exc:  # lost it in turn (our lease expired)
            log.warning("recovery of txn %s interrupted: %s", record.id, exc)
            return None
        finally:
            for lock in reversed(held):
                with contextlib.suppress(StoreError):
                    lock.release()
