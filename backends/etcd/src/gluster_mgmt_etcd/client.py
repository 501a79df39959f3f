"""The etcd edge: one gRPC channel per endpoint, fail-over between them, TLS, the auth token
(renewed when the server calls it stale), and gRPC errors translated into gluster_mgmt.errors.

Requests go straight to the generated stubs of ``cslab-etcd3`` (``etcd3.etcdrpc``): the hot
path costs what the raw client costs (see docs/backends.md, "Choice of etcd client").
"""

from __future__ import annotations

import socket
import threading
import zlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs
import grpc
from etcd3 import etcdrpc

from gluster_mgmt.errors import (
    AuthError,
    LeaseExpiredError,
    RevisionCompactedError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import translating

#: Requests safe to send again to another endpoint after an UNAVAILABLE answer or a deadline.
_IDEMPOTENT = frozenset({"Range", "KeepAliveOnce", "LeaseRevoke"})
#: An endpoint that answers so is (or behaves as) unreachable: later calls go to the next one.
_UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
#: What a failed RPC raises: gRPC's error, or ValueError from a closed channel.
RPC_ERRORS = (grpc.RpcError, ValueError)

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


def translate_exception(exc: BaseException, where: str, what: str) -> StoreError | None:
    """The gluster_mgmt error for a gRPC failure (None if it is not one). ``where``: the
    redacted store URL; ``what``: the request."""
    if not isinstance(exc, RPC_ERRORS):
        return None
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or ""
    if code is grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(f"{where} is unavailable: {details}")
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return StoreTimeoutError(f"{where} did not answer {what}")
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED or "too large" in details or "too many operations" in details:
        return ValueTooLargeError(f"{where} refused the request as too large: {details}")
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED) or (
        "authentication failed" in details or "user name is empty" in details
    ):
        return AuthError(f"{where} refused our credentials: {details}")
    if "lease not found" in details:
        return LeaseExpiredError(f"{where}: lease has expired or was revoked ({details})")
    if "compacted" in details:
        return RevisionCompactedError(f"{where}: {details}")
    name = code.name if code is not None else type(exc).__name__
    return StoreError(f"{where} failed: {name}: {details}")


def translate_errors(where: str, what: str) -> AbstractContextManager[None]:
    """The etcd edge: gRPC's exceptions become gluster_mgmt errors."""
    return translating(lambda exc: translate_exception(exc, where, what))


def bad_token(exc: BaseException) -> bool:
    return isinstance(exc, grpc.Call) and "invalid auth token" in (exc.details() or "")


def tls_credentials(params: dict[str, str]) -> grpc.ChannelCredentials | None:
    """Channel credentials from the URL's ``tls``, ``cacert``, ``cert`` and ``key``."""
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


class Connection:
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
        self.Compact = kv.Compact
        self.LeaseGrant = lease.LeaseGrant
        self.LeaseRevoke = lease.LeaseRevoke
        self.LeaseKeepAlive = lease.LeaseKeepAlive
        self.Watch = etcdrpc.WatchStub(self.channel).Watch
        self.Authenticate = etcdrpc.AuthStub(self.channel).Authenticate

    def KeepAliveOnce(self, request, timeout: float, metadata):  # noqa: N802 (an RPC's name)
        """One lease keep-alive: a LeaseKeepAlive stream of one request and one answer."""
        responses = self.LeaseKeepAlive(iter((request,)), timeout=timeout, metadata=metadata)
        try:
            return next(responses, None)
        finally:
            responses.cancel()

    def close(self) -> None:
        self.channel.close()


@attrs.frozen
class Endpoints:
    """What an EtcdClient connects to, and as whom."""

    #: ``host:port`` of each endpoint, tried in turn.
    targets: tuple[str, ...]
    credentials: grpc.ChannelCredentials | None
    user: str | None
    password: str | None = attrs.field(repr=False)
    #: Of every unary request, seconds.
    timeout: float
    #: The store in messages: its redacted URL, never the password or token.
    where: str

    def __attrs_post_init__(self) -> None:
        if (self.user is None) != (self.password is None):
            raise AuthError(f"{self.where} needs both a user and a password")


class EtcdClient:
    """The endpoints of one store URL; thread-safe."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.where = endpoints.where
        self.timeout = endpoints.timeout
        self.user = endpoints.user
        self._endpoints = endpoints
        self._targets = endpoints.targets
        self._connections: list[Connection | None] = [None] * len(self._targets)
        self._current = 0
        self._guard = threading.Lock()
        self.closed = False
        #: gRPC metadata carrying the auth token (None without auth).
        self.metadata: tuple[tuple[str, str], ...] | None = None
        self.authenticated = self.user is None
        #: The endpoint requests go to now.
        self._current = first_endpoint(self._targets)
        self.conn = self._connection(self._current)

    def _connection(self, index: int) -> Connection:
        with self._guard:
            conn = self._connections[index]
            if conn is None:
                if self.closed:
                    raise StoreError(f"{self.where} is closed")
                conn = Connection(self._targets[index], self._endpoints.credentials)
                self._connections[index] = conn
            return conn

    def failed_over(self, conn: Connection) -> None:
        """``conn`` is unreachable: later calls try the next endpoint (if there are several)."""
        if len(self._targets) > 1 and self.conn is conn:
            with self._guard:
                if self.conn is not conn or self.closed:
                    return
                self._current = (self._current + 1) % len(self._targets)
            self.conn = self._connection(self._current)

    def translate(self, exc: BaseException, conn: Connection | None, what: str) -> StoreError:
        """The gluster_mgmt error for a failed RPC on ``conn`` (chain ``exc`` when raising it);
        an unreachable endpoint is failed over first."""
        if self.closed and (isinstance(exc, ValueError) or (
                isinstance(exc, grpc.Call) and exc.code() is grpc.StatusCode.CANCELLED)):
            return StoreError(f"{self.where} is closed")
        if conn is not None and isinstance(exc, grpc.Call) and exc.code() in _UNREACHABLE:
            self.failed_over(conn)
        return translate_exception(exc, self.where, what) or StoreError(f"{self.where} failed: {exc!r}")

    def authenticate(self, stale: object = None) -> None:
        """Get a token (again, if the one in use is ``stale``)."""
        with self._guard:
            if self.authenticated and self.metadata is not stale:
                return  # another thread did it
        conn = self.conn
        request = etcdrpc.AuthenticateRequest(name=self.user, password=self._endpoints.password)
        try:
            token = conn.Authenticate(request, timeout=self.timeout).token
        except RPC_ERRORS as exc:
            if isinstance(exc, grpc.Call) and exc.code() is grpc.StatusCode.FAILED_PRECONDITION \
                    and "not enabled" in (exc.details() or ""):
                token = None  # the server does not check credentials: go without
            else:
                raise self.translate(exc, conn, "Authenticate") from exc
        with self._guard:
            self.metadata = (("token", token),) if token else None
            self.authenticated = True

    def unary(self, method: str, request: object) -> Any:
        """Call one unary RPC within the timeout; errors come out translated. A stale token is
        renewed once; another endpoint is tried when it is safe (a read, or a request that
        never left because no connection could be made)."""
        if not self.authenticated:
            self.authenticate()
        renewed = False
        others = len(self._targets) - 1
        while True:
            conn = self.conn
            metadata = self.metadata
            try:
                return getattr(conn, method)(request, timeout=self.timeout, metadata=metadata)
            except RPC_ERRORS as exc:
                if not renewed and self.user is not None and bad_token(exc):
                    renewed = True
                    self.authenticate(stale=metadata)
                elif others > 0 and _elsewhere(exc, method):
                    others -= 1
                    self.failed_over(conn)
                else:
                    raise self.translate(exc, conn, f"{method} within {self.timeout:g}s") from exc

    def close(self) -> None:
        with self._guard:
            self.closed = True
            connections, self._connections = self._connections, [None] * len(self._targets)
        for conn in connections:
            if conn is not None:
                conn.close()


def _elsewhere(exc: BaseException, method: str) -> bool:
    """Whether the request may go to another endpoint now: a read (or keep-alive, revoke) that
    the endpoint could not answer, or any request that never left. A write that ran into the
    deadline may have been applied: it is not sent again (the next request fails over)."""
    if not isinstance(exc, grpc.Call) or exc.code() not in _UNREACHABLE:
        return False
    return method in _IDEMPOTENT or "failed to connect" in (exc.details() or "").lower()


def first_endpoint(targets: Sequence[str]) -> int:
    """The endpoint a client starts on: one on this host if the URL has one (a daemon talks to
    its own member; a partition that cuts the host off then cuts it off its member too), else
    one picked by this host's name, so that the daemons of a cluster spread over the members
    instead of all loading the URL's first."""
    for index, target in enumerate(targets):
        if _is_local(target.rpartition(":")[0].strip("[]")):
            return index
    return zlib.crc32(socket.gethostname().encode()) % len(targets) if targets else 0


def _is_local(host: str) -> bool:
    """True if ``host`` is an address of this host (binding to it succeeds)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, proto, _name, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.bind((address[0], 0))
                return True
        except OSError:
            continue
    return False
