"""etcd v3 backend: every Store primitive is one etcd request over gRPC.

The ``cslab-etcd3`` distribution provides the generated etcd v3 gRPC stubs (``etcd3.etcdrpc``);
requests go straight to them, so the hot path (get, put, CAS, txn) costs what the raw client
costs, and errors are translated here, at the edge, into ``gluster_mgmt.errors``.

URL: ``etcd://[user:password@]host:port[,host:port...]/root[?timeout=S&cacert=F&cert=F&key=F]``.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from typing import Any

import grpc
from etcd3 import etcdrpc

from gluster_mgmt.errors import (
    AuthError,
    ConflictError,
    LeaseExpiredError,
    RevisionCompactedError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import Lease, Store, StoreURL, Watch, conflict_message
from gluster_mgmt.store.types import (
    Capabilities,
    Delete,
    Entry,
    EventKind,
    Expect,
    Expectation,
    Listing,
    Op,
    Put,
    WatchEvent,
)

log = logging.getLogger(__name__)

_ANY = Expect.ANY
_ABSENT = Expect.ABSENT
_EQUAL = etcdrpc.Compare.EQUAL
_CREATE = etcdrpc.Compare.CREATE
_MOD = etcdrpc.Compare.MOD
_PUT_EVENT = 0  # mvccpb.Event.PUT
_RETRYABLE = (UnavailableError, StoreTimeoutError)
#: Requests safe to send again to another endpoint after an UNAVAILABLE answer.
_IDEMPOTENT = frozenset({"Range", "KeepAliveOnce", "LeaseRevoke"})

#: Channel options: large listings must fit; a dead peer is noticed by HTTP/2 pings (etcd
#: refuses pings more often than every 5 s); a restarted server is found again within ~1 s.
GRPC_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)
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


class _Connection:
    """One endpoint: its channel and the bound RPCs we use."""

    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None) -> None:
        self.target = target
        if credentials is None:
            self.channel = grpc.insecure_channel(target, options=GRPC_OPTIONS)
        else:
            self.channel = grpc.secure_channel(target, credentials, options=GRPC_OPTIONS)
        kv = etcdrpc.KVStub(self.channel)
        lease = etcdrpc.LeaseStub(self.channel)
        self.Range = kv.Range
        self.Put = kv.Put
        self.DeleteRange = kv.DeleteRange
        self.Txn = kv.Txn
        self.LeaseGrant = lease.LeaseGrant
        self.LeaseRevoke = lease.LeaseRevoke
        self.LeaseKeepAlive = lease.LeaseKeepAlive
        self.Watch = etcdrpc.WatchStub(self.channel).Watch
        self.Authenticate = etcdrpc.AuthStub(self.channel).Authenticate

    def KeepAliveOnce(self, request, timeout: float, metadata):
        """One lease keep-alive: a LeaseKeepAlive stream of one request and one answer."""
        responses = self.LeaseKeepAlive(iter((request,)), timeout=timeout, metadata=metadata)
        try:
            return next(responses, None)
        finally:
            responses.cancel()

    def close(self) -> None:
        self.channel.close()


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
        self._credentials = self._tls_credentials(url.params)
        self._targets = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in url.hosts]
        self._connections: list[_Connection | None] = [None] * len(self._targets)
        self._current = 0
        self._guard = threading.Lock()
        self._closed = False
        self._user = url.username
        self._password = url.secret
        if (self._user is None) != (self._password is None):
            raise AuthError(f"etcd store URL {url.redacted()} needs both a user and a password")
        self._metadata: tuple[tuple[str, str], ...] | None = None
        self._authenticated = self._user is None
        self._watches: weakref.WeakSet[_EtcdWatch] = weakref.WeakSet()
        self._conn = self._connection(0)

    @staticmethod
    def _tls_credentials(params: dict[str, str]) -> grpc.ChannelCredentials | None:
        names = ("cacert", "cert", "key")
        if not any(params.get(n) for n in names) and params.get("tls", "").lower() not in ("1", "true", "yes"):
            return None
        blobs: list[bytes | None] = []
        for name in names:
            path = params.get(name)
            if not path:
                blobs.append(None)
                continue
            try:
                with open(path, "rb") as f:
                    blobs.append(f.read())
            except OSError as exc:
                raise StoreError(f"cannot read the etcd TLS {name} file {path}: {exc.strerror}") from exc
        if (blobs[1] is None) != (blobs[2] is None):
            raise StoreError("etcd TLS needs both cert= and key= (or neither)")
        return grpc.ssl_channel_credentials(*blobs)

    # ------------------------------------------------------------------ connection handling
    def _connection(self, index: int) -> _Connection:
        with self._guard:
            conn = self._connections[index]
            if conn is None:
                if self._closed:
                    raise StoreError(f"{self!r} is closed")
                conn = self._connections[index] = _Connection(self._targets[index], self._credentials)
            return conn

    def _failed_over(self, conn: _Connection) -> None:
        """``conn`` is unreachable: later calls try the next endpoint (if there are several)."""
        if len(self._targets) > 1 and self._conn is conn:
            with self._guard:
                if self._conn is not conn or self._closed:
                    return
                self._current = (self._current + 1) % len(self._targets)
            self._conn = self._connection(self._current)

    def _where(self) -> str:
        return f"etcd {self.url.redacted()}"

    def _translate(self, exc: BaseException, conn: _Connection | None = None) -> StoreError:
        """The gluster_mgmt error for a gRPC failure (chain ``exc`` when raising it)."""
        if isinstance(exc, ValueError) and self._closed:  # "Cannot invoke RPC on closed channel"
            return StoreError(f"{self!r} is closed")
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or ""
        where = self._where()
        if code is grpc.StatusCode.UNAVAILABLE:
            if conn is not None:
                self._failed_over(conn)
            return UnavailableError(f"{where} is unavailable: {details}")
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return StoreTimeoutError(f"{where} did not answer within {self.timeout:g}s")
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED or "too large" in details or (
            "too many operations" in details
        ):
            return ValueTooLargeError(f"{where} refused the request as too large: {details}")
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED) or (
            "authentication failed" in details or "user name is empty" in details
        ):
            return AuthError(f"{where} refused our credentials: {details}")
        if "lease not found" in details:
            return LeaseExpiredError(f"{where}: lease has expired or was revoked ({details})")
        if "compacted" in details:
            return RevisionCompactedError(f"{where}: {details}")
        if code is grpc.StatusCode.CANCELLED and self._closed:
            return StoreError(f"{self!r} is closed")
        name = code.name if code is not None else type(exc).__name__
        return StoreError(f"{where} failed: {name}: {details}")

    @staticmethod
    def _bad_token(exc: BaseException) -> bool:
        return isinstance(exc, grpc.Call) and "invalid auth token" in (exc.details() or "")

    def _authenticate(self, stale: object = None) -> None:
        """Get a token (again, if the one in use is ``stale``)."""
        with self._guard:
            if self._authenticated and self._metadata is not stale:
                return  # another thread did it
        conn = self._conn
        request = etcdrpc.AuthenticateRequest(name=self._user, password=self._password)
        try:
            token = conn.Authenticate(request, timeout=self.timeout).token
        except (grpc.RpcError, ValueError) as exc:
            if isinstance(exc, grpc.Call) and exc.code() is grpc.StatusCode.FAILED_PRECONDITION \
                    and "not enabled" in (exc.details() or ""):
                token = None  # the server does not check credentials: go without
            else:
                raise self._translate(exc, conn) from exc
        with self._guard:
            self._metadata = (("token", token),) if token else None
            self._authenticated = True

    def _unary(self, method: str, request: object) -> Any:
        """Call one unary RPC with the store's timeout; errors come out translated."""
        if not self._authenticated:
            self._authenticate()
        conn = self._conn
        metadata = self._metadata
        try:
            return getattr(conn, method)(request, timeout=self.timeout, metadata=metadata)
        except (grpc.RpcError, ValueError) as exc:
            failure = exc
        return self._unary_again(method, request, conn, metadata, failure)

    def _unary_again(self, method: str, request: object, conn: _Connection, metadata, exc) -> Any:
        """The slow path: renew an expired token, or try the next endpoint when it is safe
        (a read, or a request that never left because no connection could be made)."""
        renewed = False
        others = len(self._targets) - 1
        while True:
            if not renewed and self._user is not None and self._bad_token(exc):
                renewed = True
                self._authenticate(stale=metadata)
            elif others > 0 and self._elsewhere(exc, method):
                others -= 1
                self._failed_over(conn)
            else:
                raise self._translate(exc, conn) from exc
            conn = self._conn
            metadata = self._metadata
            try:
                return getattr(conn, method)(request, timeout=self.timeout, metadata=metadata)
            except (grpc.RpcError, ValueError) as again:
                exc = again

    @staticmethod
    def _elsewhere(exc: BaseException, method: str) -> bool:
        if not isinstance(exc, grpc.Call) or exc.code() is not grpc.StatusCode.UNAVAILABLE:
            return False
        return method in _IDEMPOTENT or "failed to connect" in (exc.details() or "").lower()

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

    def _grant_lease(self, ttl: float) -> Lease:
        response = self._unary("LeaseGrant", etcdrpc.LeaseGrantRequest(TTL=math.ceil(ttl)))
        if response.error:
            raise StoreError(f"{self._where()} refused a lease of {ttl:g}s: {response.error}")
        return _EtcdLease(self, response.ID, float(max(response.TTL, math.ceil(ttl))))

    def _close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, [None] * len(self._targets)
        for watch in list(self._watches):
            watch.close()
        for conn in connections:
            if conn is not None:
                conn.close()


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
        store = self.store
        while not self.closed:
            conn = store._conn
            self._established = False
            try:
                if not store._authenticated:
                    store._authenticate()
                self._stream(conn)
            except StoreError as exc:  # from _authenticate, or a cancelled/compacted watch
                if not isinstance(exc, _RETRYABLE):
                    self._fail(exc)
                    return
                log.debug("etcd watch on %r: %s; reconnecting", self.prefix, exc)
            except (grpc.RpcError, ValueError) as exc:
                if self.closed:
                    return
                if store._bad_token(exc) and store._user is not None:
                    try:
                        store._authenticate(stale=store._metadata)
                    except StoreError:
                        pass
                    continue
                error = store._translate(exc, conn)
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

    def _stream(self, conn: _Connection) -> None:
        """Run one watch stream until it breaks (raises) or the watch is closed."""
        ended = threading.Event()
        start = max(self.revision, self._resume) + 1
        create = etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=self._key, range_end=self._end, start_revision=start, progress_notify=True))

        def requests():
            yield create
            ended.wait()  # keep our side open until the stream is over

        metadata = (("hasleader", "true"),) + (self.store._metadata or ())
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
