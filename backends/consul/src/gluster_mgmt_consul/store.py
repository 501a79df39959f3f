"""The Consul KV backend: ``consul://[TOKEN@]host:port[,host:port...]/root[?token=...]``.

Mapping (see docs/backends.md):

* revision = ModifyIndex (Consul's Raft index: store-wide, increasing), created = CreateIndex,
  lease = session UUID as an int.
* Every write goes through ``/v1/txn`` (its results carry the new ModifyIndex; plain KV PUT
  does not say): ABSENT = ``cas`` index 0 / ``check-not-exists``, a revision = ``cas`` /
  ``check-index``, a lease = the ``lock`` verb with the session.
* History is emulated (gluster_mgmt.store.emulated): a delete also writes a tombstone
  ``<root>.deleted/<key>`` in the same txn; the horizon is kept at ``<root>.compacted``.
* Reads are ``consistent``; ``list`` is one recursive GET (revision = X-Consul-Index).
* Watches (watch.py) are blocking queries on the prefix's change journal (journal.py: a
  record per directory a commit changed, written in the commit's own txn), so a change costs
  a watch the change; a listing of the prefix when the journal cannot vouch that none was missed.
* KV items decode to entries, and keys starting a segment with '.' are the backend's own (kv.py).
* Leases are sessions (TTL, behavior=delete, LockDelay=0, no health checks) on an external
  catalog node of our own (``SESSION_NODE``), so losing a Consul server ends none of them.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import attrs
from consul.exceptions import ACLPermissionDenied

from gluster_mgmt.errors import AuthError, ConflictError, LeaseExpiredError, StoreError
from gluster_mgmt.store.base import Lease, StoreURL
from gluster_mgmt.store.emulated import EmulatedHistoryStore, Horizon, Tombstone
from gluster_mgmt.store.types import Capabilities, Check, Delete, Entry, Expect, Expectation, Listing, Op, Put
from gluster_mgmt_consul import journal, kv
from gluster_mgmt_consul.http import ConsulHTTP, Reply, translate_exception
from gluster_mgmt_consul.journal import Change
from gluster_mgmt_consul.watch import ConsulWatch

log = logging.getLogger(__name__)

#: Consul's hard limit on operations in one /v1/txn.
CONSUL_TXN_OPS = 64
#: Where a deletion leaves its tombstone (under the store's root; '.' segments are reserved).
TOMBSTONES = ".deleted/"
#: Highest revision whose tombstones may have been swept.
HORIZON = ".compacted"
#: The external catalog node every gluster_mgmt session is created on (see _session_node).
SESSION_NODE = "gluster-mgmt-sessions"
#: What journal ops are named in a txn's error report (they are no caller's keys): a record's
#: (its session is the store's own), a sentinel's (its session is a lease's).
JOURNAL_OP = "<journal>"
SENTINEL_OP = "<lease sentinel>"
#: TTL of a store's journal session, and how often it is renewed while the store writes.
JOURNAL_SESSION_TTL = 86400.0
JOURNAL_SESSION_RENEW = 3600.0

_random_bits = random.Random().getrandbits  # a private generator: the global one stays untouched

_CONSISTENT = ("consistent", "")


def _flags() -> int:
    """A fresh Flags value per write. Consul skips a write identical to the stored entry
    (same value, flags, session): its ModifyIndex would not move, so a put would not return
    a new revision, a watch would not see it, and a re-deletion's tombstone would keep its
    old revision. Flags are otherwise unused by this backend."""
    return _random_bits(63)


def _session_of(lease: Any) -> str:
    """The Consul session id of a lease (ours, or a bare id read back from an entry)."""
    return getattr(lease, "session", None) or str(uuid.UUID(int=getattr(lease, "id", lease)))


def _sentinels(puts: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The (journal directory, session) sentinels of puts made with a lease."""
    return sorted({(journal.journal_dir(key), _session_of(lease)) for key, lease in puts if lease is not None})


def _journal_size(changes: list[Change], sentinels: list[tuple[str, str]]) -> int:
    """How many txn ops the journal of ``changes`` takes."""
    return 2 * len({journal.journal_dir(c.key) for c in changes}) + len(sentinels)


class _JournalSessionLost(StoreError):
    """Consul ended the session a store locks journal records with (it makes a new one)."""


class ConsulStore(EmulatedHistoryStore):
    name = "consul"
    default_port = 8500
    capabilities = Capabilities(
        # Consul refuses session TTLs under 10 s, and invalidates a session up to 2x its TTL
        # after the last renewal (the slack covers TTLs up to 15 s, LeaseLock's default).
        min_lease_ttl=10.0,
        lease_expiry_slack=15.0,
        watch_every_revision=False,
    )

    tombstones_max = tombstones_kept = 2000
    sweep_every = 200
    sweep_chunk = CONSUL_TXN_OPS - 1  # and the horizon's cas
    #: Blocking-query wait of watches, seconds.
    watch_wait = 30.0
    #: Shortest time between two sweeps of emptied directories' journal records, seconds.
    journal_sweep_interval = 300.0

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        params = dict(url.params)
        token = params.pop("token", None) or url.secret or url.username
        # Keep the token out of everything that might be printed (StoreURL's repr shows
        # params and username).
        url = attrs.evolve(url, params=params, username=None, secret=None)
        super().__init__(url, timeout)
        self._token = token
        self._hosts = list(url.hosts) or [("127.0.0.1", self.default_port)]
        self._scheme = "https" if params.get("scheme", "").lower() == "https" or params.get("tls") in (
            "1", "true", "yes") else "http"
        verify: bool | str = params.get("ca") or True
        if params.get("verify", "").lower() in ("0", "false", "no"):
            verify = False
        self._verify = verify
        self._cert = (params["cert"], params["key"]) if "cert" in params and "key" in params else params.get("cert")
        self._dc = [("dc", params["dc"])] if params.get("dc") else []
        self._read = [_CONSISTENT, *self._dc]
        consistency = params.get("consistency", "consistent")
        if consistency not in ("consistent", "default", "stale"):
            raise StoreError(f"consistency must be consistent, default or stale, not {consistency!r}")
        if consistency != "consistent":
            self._read = [(consistency, "")] if consistency == "stale" else []
            self._read += self._dc
        self._label = url.redacted()
        self._http = self._client()
        self._txn_path = "/v1/txn"
        self._txn_params = self._dc or None
        self._tomb_root = self.root + TOMBSTONES
        self._horizon_key = self.root + HORIZON
        #: Whether SESSION_NODE is registered (None: not tried yet).
        self._session_node_ready: bool | None = None
        #: The session journal records are locked with (see journal.py), and when it was
        #: last created or renewed (monotonic).
        self._journal_session_id: str | None = None
        self._journal_session_at = 0.0
        self._journal_guard = threading.Lock()
        self._journal_swept_at = float("-inf")

    def _client(self, pool_size: int = 32, interruptible: bool = False) -> ConsulHTTP:
        return ConsulHTTP(
            self._hosts, scheme=self._scheme, verify=self._verify, cert=self._cert, token=self._token,
            timeout=self.timeout, label=self._label, pool_size=pool_size, interruptible=interruptible,
        )

    # ------------------------------------------------------------------ helpers
    def _txn(self, ops: list[dict], keys: list[str]) -> tuple[list[dict], Reply]:
        """Run ``ops``; ``keys[i]`` is the caller's key for op i (for error reports).
        Returns the results; a failed txn raises ConflictError / LeaseExpiredError."""
        r = self._http.call("PUT", self._txn_path, self._txn_params, json.dumps(ops),
                            allow=(200, 409))
        body = r.json() or {}
        if r.status == 200:
            return body.get("Results") or [], r
        raise self._conflict(body, keys)

    def _conflict(self, body: dict, keys: list[str]) -> StoreError:
        """ConflictError naming the keys whose ops failed (Consul reports every failed op by
        its index), or LeaseExpiredError when only a session was invalid."""
        failed: list[str] = []
        expired: list[str] = []
        reasons = []
        for err in body.get("Errors") or []:
            i = err.get("OpIndex", -1)
            what = err.get("What", "")
            if "Permission denied" in what or "ACL not found" in what:
                cause = ACLPermissionDenied(what)
                auth = translate_exception(cause, self._label, "a transaction")
                auth.__cause__ = cause
                return auth
            key = keys[i] if 0 <= i < len(keys) else "?"
            if "invalid session" in what:
                expired.append(key)
            elif key not in failed:
                failed.append(key)
            reasons.append(f"{key}: {what.replace(self.root, '', 1) if self.root else what}")
        if JOURNAL_OP in expired and set(expired + failed) == {JOURNAL_OP}:
            # the record's lock saw an invalid session, and so its unlock failed too
            return _JournalSessionLost("the journal session has ended")
        if expired and not failed:
            return LeaseExpiredError(f"lease of {', '.join(expired)} has expired or was revoked")
        return ConflictError(
            f"expectation failed for {', '.join(failed or expired)} ({'; '.join(reasons)})",
            tuple(failed or expired),
        )

    @staticmethod
    def _revision(results: list[dict]) -> int:
        return max(res["KV"]["ModifyIndex"] for res in results if res.get("KV"))

    def _current_index(self) -> int:
        """The store's current revision (X-Consul-Index of a consistent read)."""
        r = self._http.call("GET", kv.path(self._horizon_key), self._read, allow=(200, 404))
        return r.index

    def _put_ops(self, full: str, value: bytes, expect: Expectation, lease: Any,
                 holders: dict[str, tuple[str, int]] | None = None) -> list[dict]:
        """The txn ops of one put. ``holders`` maps keys locked by another session to that
        session and the index it was read at: the put takes such a key over (unlock, then
        lock) as long as nobody wrote it since — what etcd and ZooKeeper do on their own."""
        v = kv.encode(value)
        if lease is None:
            if expect is Expect.ANY:
                return [{"KV": {"Verb": "set", "Key": full, "Value": v, "Flags": _flags()}}]
            index = 0 if expect is Expect.ABSENT else expect
            return [{"KV": {"Verb": "cas", "Key": full, "Value": v, "Flags": _flags(), "Index": index}}]
        session = _session_of(lease)
        lock = {"KV": {"Verb": "lock", "Key": full, "Value": v, "Flags": _flags(), "Session": session}}
        held = (holders or {}).get(full)
        if held is not None:
            other, index = held
            unlock = {"KV": {"Verb": "unlock", "Key": full, "Value": v, "Flags": _flags(), "Session": other}}
            return [self._check_op(full, index if expect is Expect.ANY else expect), unlock, lock]
        if expect is Expect.ANY:
            return [lock]
        return [self._check_op(full, expect), lock]

    def _foreign_holders(self, leased: list[tuple[Any, str]]) -> dict[str, tuple[str, int]]:
        """Of the keys to be bound to a lease, those another session holds (read after a txn
        failed: a lock held elsewhere is one reason it may have)."""
        holders = {}
        for lease, full in leased:
            r = self._http.call("GET", kv.path(full), self._read, allow=(200, 404))
            if r.status == 404:
                continue
            item = r.json()[0]
            if item.get("Session") and item["Session"] != _session_of(lease):
                holders[full] = (item["Session"], item["ModifyIndex"])
        return holders

    @staticmethod
    def _check_op(full: str, expect: Expectation) -> dict:
        if expect is Expect.ABSENT:
            return {"KV": {"Verb": "check-not-exists", "Key": full}}
        return {"KV": {"Verb": "check-index", "Key": full, "Index": expect}}

    def _tombstone(self, key: str) -> dict:
        return {"KV": {"Verb": "set", "Key": self._tomb_root + key, "Value": None, "Flags": _flags()}}

    # ------------------------------------------------------------------ primitives
    def _get(self, key: str) -> Entry | None:
        r = self._http.call("GET", kv.path(self.root + key), self._read, allow=(200, 404))
        if r.status == 404:
            return None
        return kv.entry(key, r.json()[0])

    def _list(self, prefix: str) -> Listing:
        r = self._http.call("GET", kv.path(self.root + prefix), [("recurse", ""), *self._read],
                            allow=(200, 404))
        n = len(self.root)
        items = r.json() if r.status == 200 else ()
        entries = tuple(kv.entry(item["Key"][n:], item) for item in items if not kv.reserved(item["Key"][n:]))
        return Listing(entries, r.index)

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        # A read-only txn, answered from one snapshot with the reads' consistency. "get" fails
        # the whole txn on a missing key, so a key is read as a tree and matched exactly.
        # Consul gives no index for a read-only txn: the revision is its entries' latest (a
        # watch from it may repeat what the read saw, and misses nothing after it).
        ops = [{"KV": {"Verb": "get-tree", "Key": self.root + name}} for name in keys + prefixes]
        r = self._http.call("PUT", self._txn_path, [*self._read], json.dumps(ops), allow=(200, 409))
        if r.status == 409:
            raise self._conflict(r.json() or {}, [*keys, *prefixes])
        n = len(self.root)
        wanted = set(keys)
        entries = []
        for result in (r.json() or {}).get("Results") or []:
            item = result.get("KV") or {}
            rel = item.get("Key", "")[n:]
            if not item or kv.reserved(rel):
                continue
            if rel in wanted or any(rel.startswith(prefix) for prefix in prefixes):
                entries.append(kv.entry(rel, item))
        return Listing(tuple(entries), r.index or max((e.revision for e in entries), default=0))

    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        full = self.root + key
        changes = [Change(key, value)]
        sentinels = _sentinels([(key, lease)])
        ops = self._put_ops(full, value, expect, lease)
        try:
            results = self._journaled(ops, [key] * len(ops), changes, sentinels)
        except ConflictError:
            holders = self._foreign_holders([(lease, full)]) if lease is not None else {}
            if not holders:
                raise
            ops = self._put_ops(full, value, expect, lease, holders)
            results = self._journaled(ops, [key] * len(ops), changes, sentinels)
        if isinstance(lease, ConsulLease):
            lease._bound(full)
            return self._revision(results)
        written = [res["KV"] for res in results if (res.get("KV") or {}).get("Key") == full][-1]
        if written.get("Session"):
            # Consul keeps a key's session across a plain write; a put without a lease must
            # leave the key unbound (as every other backend does): release it, unless someone
            # wrote it meanwhile.
            unlock = [{"KV": {"Verb": "check-index", "Key": full, "Index": written["ModifyIndex"]}},
                      {"KV": {"Verb": "unlock", "Key": full, "Value": kv.encode(value), "Flags": _flags(),
                              "Session": written["Session"]}}]
            try:
                results = self._journaled(unlock, [key, key], changes, [])
            except (ConflictError, LeaseExpiredError):
                pass  # overwritten, or the session is gone (and the key with it)
        return self._revision(results)

    def _delete(self, key: str, expect: Expectation) -> int | None:
        full = self.root + key
        if expect is Expect.ANY:
            # "get" fails the txn when the key is absent: then nothing was written.
            first = {"KV": {"Verb": "get", "Key": full}}
        else:
            first = self._check_op(full, expect)
        ops = [first, {"KV": {"Verb": "delete", "Key": full}}, self._tombstone(key)]
        try:
            results = self._journaled(ops, [key] * 3, [Change(key, None)], [])
        except ConflictError:
            if expect is Expect.ANY:
                return None
            raise
        self._deleted(1)
        return self._revision(results)

    def _commit(self, ops: list[Op]) -> int:
        changes = [Change(op.key, op.value if isinstance(op, Put) else None)
                   for op in ops if isinstance(op, (Put, Delete))]
        sentinels = _sentinels([(op.key, op.lease) for op in ops if isinstance(op, Put)])
        extra = _journal_size(changes, sentinels)
        txn, keys, leased, deletes = self._txn_ops(ops, compact=False)
        compact = len(txn) + extra > CONSUL_TXN_OPS
        if compact:
            # Too many for Consul's 64: a delete at an exact revision becomes a delete-cas
            # (2 ops instead of 3), its key's existence checked just before (see README).
            txn, keys, leased, deletes = self._txn_ops(ops, compact=True)
            self._precheck([op for op in ops if isinstance(op, Delete) and op.expect is not Expect.ANY])
        if not txn:  # only Check(ANY): nothing to compare, nothing to write
            return self._current_index()
        try:
            results = self._journaled(txn, keys, changes, sentinels)
        except ConflictError:
            holders = self._foreign_holders(leased)
            if not holders:
                raise
            txn, keys, leased, deletes = self._txn_ops(ops, compact, holders)
            if len(txn) > CONSUL_TXN_OPS:
                raise StoreError(f"a transaction taking over {len(holders)} locked key(s) needs "
                                 f"{len(txn)} operations; Consul allows {CONSUL_TXN_OPS}") from None
            results = self._journaled(txn, keys, changes, sentinels)
        for lease, full in leased:
            lease._bound(full)
        if deletes:
            self._deleted(deletes)
        writes = [res for res in results if res.get("KV")]
        if deletes or any(isinstance(op, Put) for op in ops):
            return self._revision(writes)
        return self._current_index()  # a read-only txn (checks only) has no index of its own

    def _txn_ops(self, ops: list[Op], compact: bool, holders: dict[str, tuple[str, int]] | None = None):
        txn: list[dict] = []
        keys: list[str] = []
        leased: list[tuple[ConsulLease, str]] = []
        deletes = 0
        for op in ops:
            full = self.root + op.key
            if isinstance(op, Put):
                new = self._put_ops(full, op.value, op.expect, op.lease, holders)
                if isinstance(op.lease, ConsulLease):
                    leased.append((op.lease, full))
            elif isinstance(op, Delete):
                deletes += 1
                if op.expect is Expect.ANY:
                    new = [{"KV": {"Verb": "delete", "Key": full}}]
                elif compact:
                    new = [{"KV": {"Verb": "delete-cas", "Key": full, "Index": op.expect}}]
                else:
                    new = [self._check_op(full, op.expect), {"KV": {"Verb": "delete", "Key": full}}]
                new.append(self._tombstone(op.key))
            elif isinstance(op, Check):
                new = [] if op.expect is Expect.ANY else [self._check_op(full, op.expect)]
            else:  # pragma: no cover - validated by the core
                raise StoreError(f"unknown transaction operation {op!r}")
            txn += new
            keys += [op.key] * len(new)
        return txn, keys, leased, deletes

    def _precheck(self, deletes: list[Delete]) -> None:
        """Read-only txn: every key deleted at an exact revision still has it."""
        if not deletes:
            return
        ops = [self._check_op(self.root + d.key, d.expect) for d in deletes]
        r = self._http.call("PUT", self._txn_path, [*self._read], json.dumps(ops), allow=(200, 409))
        if r.status == 409:
            raise self._conflict(r.json() or {}, [d.key for d in deletes])

    # ------------------------------------------------------------------ the journal
    def _journaled(self, ops: list[dict], keys: list[str], changes: list[Change],
                   sentinels: list[tuple[str, str]]) -> list[dict]:
        """Run ``ops`` (``keys[i]`` names op i) with the journal records of ``changes`` and
        the sentinels of ``sentinels`` in the same txn (see journal.py); returns the results.
        Too many ops for one txn: the commit alone, its directories marked "list again\"."""
        for attempt in (1, 2):
            records = journal.records(changes)
            extra = self._journal_ops(records, sentinels)
            if len(ops) + len(extra) > CONSUL_TXN_OPS:
                return self._unjournaled(ops, keys, changes, sentinels)
            names = [JOURNAL_OP] * (2 * len(records)) + [SENTINEL_OP] * len(sentinels)
            try:
                results, _ = self._txn(ops + extra, keys + names)
                return results
            except _JournalSessionLost:
                self._journal_session(lost=True)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _unjournaled(self, ops: list[dict], keys: list[str], changes: list[Change],
                     sentinels: list[tuple[str, str]]) -> list[dict]:
        """A commit too big to journal: its sentinels first (a sentinel without keys is
        harmless; a leased key without one would vanish unseen), then the commit, then a
        relist record in each directory it changed."""
        if sentinels:
            extra = self._journal_ops({}, sentinels)
            for start in range(0, len(extra), CONSUL_TXN_OPS):
                chunk = extra[start:start + CONSUL_TXN_OPS]
                self._txn(chunk, [SENTINEL_OP] * len(chunk))
        results, _ = self._txn(ops, keys)
        dirs = sorted({journal.journal_dir(c.key) for c in changes})
        for start in range(0, len(dirs), CONSUL_TXN_OPS // 2):
            marks = {d: journal.RELIST_RECORD for d in dirs[start:start + CONSUL_TXN_OPS // 2]}
            try:
                try:
                    self._txn(self._journal_ops(marks, []), [JOURNAL_OP] * 2 * len(marks))
                except _JournalSessionLost:
                    self._journal_session(lost=True)
                    self._txn(self._journal_ops(marks, []), [JOURNAL_OP] * 2 * len(marks))
            except StoreError as exc:
                log.warning("%r: watchers of %s may not see a commit until the next one there: %s",
                            self, ", ".join(marks) or "/", exc)
        return results

    def _journal_ops(self, records: dict[str, bytes], sentinels: Iterable[tuple[str, str]]) -> list[dict]:
        """Each record written with ``lock`` + ``unlock`` by the journal session (its
        LockIndex counts commits), each sentinel locked by its lease's session."""
        ops: list[dict] = []
        if records:
            session = self._journal_session()
            for directory, value in records.items():
                key = self.root + journal.record_key(directory)
                v = kv.encode(value)
                ops += [{"KV": {"Verb": "lock", "Key": key, "Value": v, "Session": session}},
                        {"KV": {"Verb": "unlock", "Key": key, "Value": v, "Session": session}}]
        for directory, owner in sentinels:
            ops.append({"KV": {"Verb": "lock", "Key": self.root + journal.sentinel_key(directory, owner),
                               "Value": None, "Session": owner}})
        return ops

    def sweep(self, keep: int | None = None) -> int:
        horizon = super().sweep(keep)
        now = time.monotonic()
        if now - self._journal_swept_at >= self.journal_sweep_interval:
            self._journal_swept_at = now
            self.sweep_journal()
        return horizon

    def sweep_journal(self) -> int:
        """Remove the records of journal directories that hold no key any more (a
        transaction's results, once pruned). A directory empties by deletions, so only those
        whose last commit deleted are looked at; each goes with ``delete-cas`` at the index
        read before its directory was found empty, so a commit in between makes it stay. A
        watch that knew one lists its prefix again. Returns how many went."""
        cut = len(self.root + journal.JOURNAL)
        r = self._http.call("GET", kv.path(self.root + journal.JOURNAL), [("recurse", ""), *self._read],
                            allow=(200, 404))
        view, _ = journal.parse_view(r.json() if r.status == 200 else (), cut, r.index)
        doomed = []
        for directory, record in sorted(view.records.items()):
            named = journal.parse_record(directory, record.value)
            if not directory or named is not None and any(c.kind is not journal.Kind.DELETE for c in named):
                continue
            r = self._http.call("GET", kv.path(f"{self.root}{directory}/"),
                                [("keys", ""), ("separator", "/"), *self._read], allow=(200, 404))
            if r.status == 404 or not r.json():
                doomed.append((directory, record.modified))
        gone = 0
        for start in range(0, len(doomed), CONSUL_TXN_OPS):
            chunk = doomed[start:start + CONSUL_TXN_OPS]
            ops = [{"KV": {"Verb": "delete-cas", "Key": self.root + journal.record_key(d), "Index": index}}
                   for d, index in chunk]
            try:
                self._txn(ops, [d for d, _ in chunk])
                gone += len(chunk)
            except ConflictError:
                pass  # a commit came meanwhile: the next sweep
        return gone

    def _journal_session(self, lost: bool = False) -> str:
        """The session this store locks journal records with: created on first use (no
        health checks, Behavior=release: it holds nothing between txns), renewed every
        JOURNAL_SESSION_RENEW while the store writes, made anew when Consul ended it."""
        with self._journal_guard:
            now = time.monotonic()
            if lost:
                self._journal_session_id = None
            elif self._journal_session_id is not None and now - self._journal_session_at > JOURNAL_SESSION_RENEW:
                r = self._http.call("PUT", f"/v1/session/renew/{self._journal_session_id}", self._dc or None,
                                    allow=(200, 404))
                if r.status == 404 or not r.json():
                    self._journal_session_id = None
                self._journal_session_at = now
            if self._journal_session_id is None:
                body = {"Name": "gluster-mgmt-journal", "TTL": f"{JOURNAL_SESSION_TTL:g}s", "Behavior": "release",
                        "LockDelay": "0s", "NodeChecks": [], "ServiceChecks": []}
                node = self._session_node()
                if node is not None:
                    body["Node"] = node
                r = self._http.call("PUT", "/v1/session/create", self._dc or None, json.dumps(body))
                self._journal_session_id = r.json()["ID"]
                self._journal_session_at = now
            return self._journal_session_id

    def _watch(self, prefix: str, start_revision: int | None) -> ConsulWatch:
        return ConsulWatch(self, prefix, start_revision, http=self._client(pool_size=1, interruptible=True),
                           read=self._read, dc=self._dc, wait=self.watch_wait).start()

    def _grant_lease(self, ttl: float) -> Lease:
        body = {"Name": "gluster-mgmt", "TTL": f"{ttl:g}s", "Behavior": "delete", "LockDelay": "0s",
                "NodeChecks": [], "ServiceChecks": []}
        node = self._session_node()
        if node is not None:
            body["Node"] = node
        r = self._http.call("PUT", "/v1/session/create", self._dc or None, json.dumps(body))
        return ConsulLease(self, r.json()["ID"], ttl)

    def _session_node(self) -> str | None:
        """The catalog node our sessions are created on: not the agent's, which Consul
        deregisters (autopilot cleans up a dead server within seconds) and so destroys every
        session on it, but an external node of our own that only the TTL ends sessions on.
        Registered once per store (idempotent); without the ACL to register it, the agent's
        node (None), as before."""
        if self._session_node_ready is None:
            body = {"Node": SESSION_NODE, "Address": "127.0.0.1",
                    "NodeMeta": {"external-node": "true", "external-probe": "false"}}
            try:
                self._http.call("PUT", "/v1/catalog/register", self._dc or None, json.dumps(body))
                self._session_node_ready = True
            except AuthError as exc:
                log.warning("sessions stay on the Consul agent's node (they end if it is "
                            "deregistered): %s", exc)
                self._session_node_ready = False
        return SESSION_NODE if self._session_node_ready else None

    def _close(self) -> None:
        session, self._journal_session_id = self._journal_session_id, None
        if session is not None:
            try:
                self._http.call("PUT", f"/v1/session/destroy/{session}", self._dc or None)
            except StoreError as exc:  # it ends with its TTL
                log.debug("%r: could not destroy the journal session: %s", self, exc)
        self._http.close()

    # ------------------------------------------------------------------ emulated history
    def _tombstones(self, prefix: str) -> list[Tombstone]:
        r = self._http.call("GET", kv.path(self._tomb_root + prefix), [("recurse", ""), *self._read],
                            allow=(200, 404))
        cut = len(self._tomb_root)
        items = (r.json() or []) if r.status == 200 else []
        return [Tombstone(item["Key"][cut:], item["ModifyIndex"], item["ModifyIndex"]) for item in items]

    def _horizon(self) -> Horizon:
        """Kept at ``<root>.compacted``; its ModifyIndex is the cas token."""
        r = self._http.call("GET", kv.path(self._horizon_key), self._read, allow=(200, 404))
        if r.status == 404:
            return Horizon(0, 0)
        item = r.json()[0]
        return Horizon(int(kv.decode(item) or b"0"), item["ModifyIndex"])

    def _write_horizon(self, doomed: list[Tombstone], revision: int, expected: Horizon) -> Horizon | None:
        ops = [{"KV": {"Verb": "cas", "Key": self._horizon_key, "Value": kv.encode(str(revision).encode()),
                       "Index": expected.token}}]
        ops += [{"KV": {"Verb": "delete-cas", "Key": self._tomb_root + t.key, "Index": t.version}} for t in doomed]
        try:
            results, _ = self._txn(ops, [HORIZON] + [t.key for t in doomed])
        except ConflictError:
            return None
        return Horizon(revision, results[0]["KV"]["ModifyIndex"])


class ConsulLease(Lease):
    """A Consul session: TTL-renewed, behavior=delete, no node health checks."""

    def __init__(self, store: ConsulStore, session: str, ttl: float) -> None:
        super().__init__(uuid.UUID(session).int, ttl)
        self.session = session
        self.store = store
        self._keys: set[str] = set()
        self._keys_guard = threading.Lock()

    def _bound(self, full: str) -> None:
        with self._keys_guard:
            self._keys.add(full)

    def refresh(self) -> None:
        r = self.store._http.call("PUT", f"/v1/session/renew/{self.session}", self.store._dc or None,
                                  allow=(200, 404))
        if r.status == 404 or not r.json():
            raise LeaseExpiredError(f"lease {self.id:x} has expired")

    def _revoke(self) -> None:
        # Delete the keys this process bound to the session itself, with tombstones, so a
        # watch resumed from an old revision sees them go; then destroy the session (which
        # deletes any other key still bound to it, without tombstones).
        with self._keys_guard:
            keys, self._keys = sorted(self._keys), set()
        store = self.store
        n = len(store.root)
        step = (CONSUL_TXN_OPS - 8) // 3  # and the journal of up to 4 directories
        for start in range(0, len(keys), step):
            chunk = keys[start:start + step]
            for _ in range(2):
                ops: list[dict] = []
                for full in chunk:
                    ops += [{"KV": {"Verb": "check-session", "Key": full, "Session": self.session}},
                            {"KV": {"Verb": "delete", "Key": full}},
                            store._tombstone(full[n:])]
                if not ops:
                    break
                try:
                    store._journaled(ops, [full for full in chunk for _ in range(3)],
                                     [Change(full[n:], None) for full in chunk], [])
                    store._deleted(len(chunk))
                    break
                except ConflictError as exc:  # some keys are no longer ours: leave them be
                    chunk = [full for full in chunk if full not in exc.keys]
        store._http.call("PUT", f"/v1/session/destroy/{self.session}", store._dc or None)
