"""etcd v3 backend: every Store primitive is one etcd request over gRPC (client.py: the
endpoints, auth, TLS and error translation).

URL: ``etcd://[user:password@]host:port[,host:port...]/root[?timeout=S&cacert=F&cert=F&key=F]``.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref

import grpc
from etcd3 import etcdrpc

from gluster_mgmt.errors import AuthError, ConflictError, LeaseExpiredError, RevisionCompactedError, StoreError
from gluster_mgmt.errors import StoreTimeoutError, UnavailableError
from gluster_mgmt.store.base import Lease, Store, StoreURL, Watch, conflict_message
from gluster_mgmt.store.types import Capabilities, Delete, Entry, EventKind, Expect, Expectation, Listing, Op, Put
from gluster_mgmt.store.types import WatchEvent
from gluster_mgmt_etcd.client import RPC_ERRORS, Connection, EtcdClient, Endpoints, bad_token, tls_credentials

log = logging.getLogger(__name__)

_ANY = Expect.ANY
_ABSENT = Expect.ABSENT
_EQUAL = etcdrpc.Compare.EQUAL
_CREATE = etcdrpc.Compare.CREATE
_MOD = etcdrpc.Compare.MOD
_PUT_EVENT = 0  # mvccpb.Event.PUT
_RETRYABLE = (UnavailableError, StoreTimeoutError)
#: Watch reconnection back-off (seconds).
WATCH_BACKOFF_MIN = 0.05
WATCH_BACKOFF_MAX = 2.0


def _range_end(key: bytes) -> bytes:
    """End (exclusive) of the range of keys starting with ``key``."""
    end = bytearray(key)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key


class EtcdStore(Store):
    """The configuration store on etcd v3 (3.4 and later)."""

    name = "etcd"
    default_port = 2379
    # etcd raises a shorter TTL to its minimum (1.5 election timeouts, 1.5 s with the default
    # 1 s election timeout, rounded up to whole seconds: 2 s). Its lessor checks expiry every
    # 500 ms, and the revocation then goes through raft.
    capabilities = Capabilities(min_lease_ttl=2.0, lease_expiry_slack=1.0, watch_every_revision=True)

    def __init__(self, url: StoreURL, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        self._prefix = self.root.encode()
        targets = tuple(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in url.hosts)
        self._client = EtcdClient(Endpoints(targets, tls_credentials(url.params), url.username, url.secret,
                                            self.timeout, self._where()))
        self._unary = self._client.unary
        self._watches: weakref.WeakSet[_EtcdWatch] = weakref.WeakSet()

    def _where(self) -> str:
        return f"etcd {self.url.redacted()}"

    # ------------------------------------------------------------------ helpers
    def _entry(self, kv, key: str | None = None) -> Entry:
        if key is None:
            key = kv.key[len(self._prefix):].decode()
        return Entry(key, kv.value, kv.mod_revision, kv.create_revision, kv.lease or None)

    @staticmethod
    def _compare(key: bytes, expect: Expectation):
        if expect is _ABSENT:
            return etcdrpc.Compare(key=key, target=_CREATE, result=_EQUAL, create_revision=0)
        return etcdrpc.Compare(key=key, target=_MOD, result=_EQUAL, mod_revision=expect)

    @staticmethod
    def _holds(kvs, expect: Expectation) -> bool:
        if expect is _ANY:
            return True
        if expect is _ABSENT:
            return not kvs
        return bool(kvs) and kvs[0].mod_revision == expect

    def _guarded(self, key: str, expect: Expectation, request_op) -> int:
        """One write under one compare; ConflictError (saying what was found) if it fails."""
        full = self._prefix + key.encode()
        response = self._unary("Txn", etcdrpc.TxnRequest(
            compare=[self._compare(full, expect)],
            success=[request_op],
            failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=full, keys_only=True))],
        ))
        if response.succeeded:
            return response.header.revision
        kvs = response.responses[0].response_range.kvs
        raise ConflictError(conflict_message(key, expect, kvs[0].mod_revision if kvs else None), (key,))

    # ------------------------------------------------------------------ primitives
    def _get(self, key: str) -> Entry | None:
        kvs = self._unary("Range", etcdrpc.RangeRequest(key=self._prefix + key.encode())).kvs
        return self._entry(kvs[0], key) if kvs else None

    def _list(self, prefix: str) -> Listing:
        start = self._prefix + prefix.encode()
        response = self._unary("Range", etcdrpc.RangeRequest(key=start, range_end=_range_end(start)))
        # etcd returns a range sorted by key bytes; keys are ASCII, so that is str order too.
        cut = len(self._prefix)
        entries = tuple(
            Entry(kv.key[cut:].decode(), kv.value, kv.mod_revision, kv.create_revision, kv.lease or None)
            for kv in response.kvs
        )
        return Listing(entries, response.header.revision)

    def _read_many(self, keys: tuple[str, ...], prefixes: tuple[str, ...]) -> Listing:
        # a txn of ranges only: etcd serves it as one linearizable read, at one revision
        ranges = [etcdrpc.RangeRequest(key=self._prefix + key.encode()) for key in keys]
        for prefix in prefixes:
            start = self._prefix + prefix.encode()
            ranges.append(etcdrpc.RangeRequest(key=start, range_end=_range_end(start)))
        response = self._unary("Txn", etcdrpc.TxnRequest(
            success=[etcdrpc.RequestOp(request_range=r) for r in ranges]))
        entries = tuple(self._entry(kv) for result in response.responses
                        for kv in result.response_range.kvs)
        return Listing(entries, response.header.revision)

    def _put(self, key: str, value: bytes, expect: Expectation, lease: Lease | None) -> int:
        request = etcdrpc.PutRequest(key=self._prefix + key.encode(), value=value,
                                     lease=lease.id if lease is not None else 0)
        if expect is _ANY:
            return self._unary("Put", request).header.revision
        return self._guarded(key, expect, etcdrpc.RequestOp(request_put=request))

    def _delete(self, key: str, expect: Expectation) -> int | None:
        request = etcdrpc.DeleteRangeRequest(key=self._prefix + key.encode())
        if expect is _ANY:
            response = self._unary("DeleteRange", request)
            return response.header.revision if response.deleted else None
        return self._guarded(key, expect, etcdrpc.RequestOp(request_delete_range=request))

    def _commit(self, ops: list[Op]) -> int:
        compare, success, failure, checked = [], [], [], []
        for op in ops:
            full = self._prefix + op.key.encode()
            if op.expect is not _ANY:
                compare.append(self._compare(full, op.expect))
                failure.append(etcdrpc.RequestOp(
                    request_range=etcdrpc.RangeRequest(key=full, keys_only=True)))
                checked.append(op)
            if isinstance(op, Put):
                lease = op.lease
                lease_id = (lease.id if isinstance(lease, Lease) else lease) or 0
                success.append(etcdrpc.RequestOp(
                    request_put=etcdrpc.PutRequest(key=full, value=op.value, lease=lease_id)))
            elif isinstance(op, Delete):
                success.append(etcdrpc.RequestOp(
                    request_delete_range=etcdrpc.DeleteRangeRequest(key=full)))
        response = self._unary("Txn", etcdrpc.TxnRequest(compare=compare, success=success, failure=failure))
        if response.succeeded:
            return response.header.revision
        # The failure branch read every compared key in the same revision: tell which failed.
        failed = tuple(
            op.key for op, result in zip(checked, response.responses)
            if not self._holds(result.response_range.kvs, op.expect)
        )
        if len(failed) == 1:
            kvs = response.responses[[op.key for op in checked].index(failed[0])].response_range.kvs
            expect = next(op.expect for op in checked if op.key == failed[0])
            message = conflict_message(failed[0], expect, kvs[0].mod_revision if kvs else None)
        else:
            message = f"transaction expectation failed for {', '.join(failed)}"
        raise ConflictError(message, failed)

    def _current_revision(self) -> int:
        # Any linearizable read carries the store's current revision; an exact-key miss is cheapest.
        return self._unary("Range", etcdrpc.RangeRequest(key=self._prefix, count_only=True)).header.revision

    def _watch(self, prefix: str, start_revision: int | None) -> Watch:
        if start_revision is None:
            start_revision = self._current_revision()
        watch = _EtcdWatch(self, prefix, start_revision)
        self._watches.add(watch)
        return watch

    def _compact(self, revision: int) -> None:
        try:
            self._unary("Compact", etcdrpc.CompactionRequest(revision=revision, physical=True))
        except RevisionCompactedError:
            pass  # compacted that far already

    def _grant_lease(self, ttl: float) -> Lease:
        response = self._unary("LeaseGrant", etcdrpc.LeaseGrantRequest(TTL=math.ceil(ttl)))
        if response.error:
            raise StoreError(f"{self._where()} refused a lease of {ttl:g}s: {response.error}")
        return _EtcdLease(self, response.ID, float(max(response.TTL, math.ceil(ttl))))

    def _close(self) -> None:
        self._client.close()
        for watch in list(self._watches):
            watch.close()


class _EtcdLease(Lease):
    def __init__(self, store: EtcdStore, lease_id: int, ttl: float) -> None:
        super().__init__(lease_id, ttl)
        self.store = store

    def refresh(self) -> None:
        response = self.store._unary("KeepAliveOnce", etcdrpc.LeaseKeepAliveRequest(ID=self.id))
        if response is None:
            raise UnavailableError(f"{self.store._where()} closed the keep-alive of lease {self.id:x}")
        if response.TTL <= 0:
            raise LeaseExpiredError(f"lease {self.id:x} has expired")

    def _revoke(self) -> None:
        try:
            self.store._unary("LeaseRevoke", etcdrpc.LeaseRevokeRequest(ID=self.id))
        except LeaseExpiredError:
            pass  # already gone, and its keys with it


class _EtcdWatch(Watch):
    """One etcd watch stream in a thread; reconnects and resumes after the last revision."""

    def __init__(self, store: EtcdStore, prefix: str, start_revision: int) -> None:
        super().__init__(prefix, start_revision)
        self.store = store
        self._key = store._prefix + prefix.encode()
        self._end = _range_end(self._key)
        #: Resume point: the last delivered revision, or later if etcd said nothing is pending.
        self._resume = start_revision
        self._call: grpc.Call | None = None
        self._call_guard = threading.Lock()
        self._established = False
        self._thread = threading.Thread(target=self._run, name=f"etcd-watch-{prefix or '/'}", daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        with self._call_guard:
            call = self._call
        if call is not None:
            call.cancel()

    def _run(self) -> None:
        delay = WATCH_BACKOFF_MIN
        client = self.store._client
        while not self.closed:
            conn = client.conn
            self._established = False
            try:
                if not client.authenticated:
                    client.authenticate()
                self._stream(conn)
            except StoreError as exc:  # from _authenticate, or a cancelled/compacted watch
                if not isinstance(exc, _RETRYABLE):
                    self._fail(exc)
                    return
                log.debug("etcd watch on %r: %s; reconnecting", self.prefix, exc)
            except RPC_ERRORS as exc:
                if self.closed:
                    return
                if bad_token(exc) and client.user is not None:
                    try:
                        client.authenticate(stale=client.metadata)
                    except StoreError:
                        pass
                    continue
                error = client.translate(exc, conn, f"a watch on {self.prefix!r}")
                if not isinstance(error, _RETRYABLE):
                    error.__cause__ = exc
                    self._fail(error)
                    return
                log.debug("etcd watch on %r broke (%s); resuming after revision %d",
                          self.prefix, error, self._resume)
            except Exception as exc:  # never die silently: the consumer would wait forever
                log.exception("etcd watch on %r failed", self.prefix)
                self._fail(StoreError(f"etcd watch on {self.prefix!r} failed: {exc}"))
                return
            if self._established:  # it worked for a while: reconnect at once
                delay = WATCH_BACKOFF_MIN
            if self._closed.wait(delay):
                return
            delay = min(delay * 2, WATCH_BACKOFF_MAX)

    def _stream(self, conn: Connection) -> None:
        """Run one watch stream until it breaks (raises) or the watch is closed."""
        ended = threading.Event()
        start = max(self.revision, self._resume) + 1
        create = etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=self._key, range_end=self._end, start_revision=start, progress_notify=True))

        def requests():
            yield create
            ended.wait()  # keep our side open until the stream is over

        metadata = (("hasleader", "true"),) + (self.store._client.metadata or ())
        try:
            call = conn.Watch(requests(), metadata=metadata)
            with self._call_guard:
                self._call = call
            if self.closed:
                call.cancel()
                return
            cut = len(self.store._prefix)
            for response in call:
                if response.compact_revision:
                    raise RevisionCompactedError(
                        f"etcd watch on {self.prefix!r} cannot resume after revision {start - 1}: "
                        f"history is compacted up to revision {response.compact_revision}")
                if response.canceled:
                    reason = response.cancel_reason or "cancelled by the server"
                    if "permission denied" in reason:
                        raise AuthError(f"etcd watch on {self.prefix!r}: {reason}")
                    raise StoreError(f"etcd watch on {self.prefix!r} ended: {reason}")
                if response.created:
                    self._established = True
                    continue
                if response.events:
                    self._deliver([
                        WatchEvent(EventKind.PUT, ev.kv.key[cut:].decode(), ev.kv.value, ev.kv.mod_revision)
                        if ev.type == _PUT_EVENT else
                        WatchEvent(EventKind.DELETE, ev.kv.key[cut:].decode(), None, ev.kv.mod_revision)
                        for ev in response.events
                    ])
                elif response.header.revision > self._resume:
                    self._resume = response.header.revision  # progress: nothing pending up to here
            if self.closed:
                return
            raise UnavailableError(f"{self.store._where()} ended the watch stream")
        except grpc.RpcError:
            if self.closed:
                return
            raise
        finally:
            ended.set()
            with self._call_guard:
                self._call = None
