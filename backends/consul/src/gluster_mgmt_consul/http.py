"""The HTTP edge of the Consul backend.

py-consul's HTTP client shape (``consul.base.HTTPClient``: URI building) with what the store
needs on top: a timeout on every request (py-consul's sync client may send none), one pooled
``requests`` session per client, fail-over between the agents named in the URL, the ACL token
in a header only, and every failure translated into ``gluster_mgmt.errors`` with the original
exception chained. Status and headers are returned raw, so hot paths parse only what they use.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import weakref
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote, urlencode

import requests
import requests.adapters
import urllib3
from consul.base import HTTPClient, Response
from consul.callback import CB
from consul.exceptions import ACLDisabled, ACLPermissionDenied, ConsulException

from gluster_mgmt.errors import (
    AuthError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import translating


class Reply:
    """A raw answer: status code, headers, body bytes (JSON decoded on demand)."""

    __slots__ = ("content", "headers", "status")

    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None

    @property
    def index(self) -> int:
        """X-Consul-Index (0 when absent)."""
        return int(self.headers.get("X-Consul-Index") or 0)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


#: What a Consul server answers (HTTP 500) when it holds no leader to forward a request to:
#: an election is under way (a server died, a partition healed). Nothing was applied, so the
#: request is sent again until a leader answers or its timeout is spent; "leadership lost
#: while committing" is not among them: that write may have been applied.
_LEADERLESS = ("no cluster leader", "rpc error getting client")
#: The first pause between those attempts, and the longest (an election takes ~1-3 s).
_LEADERLESS_PAUSE = (0.05, 0.4)


def _leaderless(status: int, content: bytes) -> bool:
    if status != 500:
        return False
    text = content[:300].decode("utf-8", "replace").lower()
    return any(words in text for words in _LEADERLESS)


def _not_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the request never reached the server (safe to send to another agent)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason).__name__ in ("NewConnectionError", "ConnectTimeoutError")


class ConsulHTTP(HTTPClient):
    """One pooled HTTP session to the Consul agent(s); thread-safe for concurrent calls."""

    def __init__(
        self,
        hosts: list[tuple[str, int]],
        *,
        scheme: str = "http",
        verify: bool | str = True,
        cert: Any = None,
        token: str | None = None,
        timeout: float = 5.0,
        label: str = "consul",
        pool_size: int = 32,
        interruptible: bool = False,
    ) -> None:
        host, port = hosts[0]
        super().__init__(_host(host), port, scheme, verify, cert)
        self._bases = [f"{scheme}://{_host(h)}:{p}" for h, p in hosts]
        self._current = 0
        self._guard = threading.Lock()
        self.timeout = timeout
        #: The redacted store URL, for messages (never the token).
        self.label = label
        self.session = requests.Session()
        # No proxy / .netrc lookups per request: the agent is reached directly.
        self.session.trust_env = False
        self.session.verify = verify
        if cert is not None:
            self.session.cert = cert
        adapter = requests.adapters.HTTPAdapter(pool_connections=len(hosts), pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._connections: weakref.WeakSet = weakref.WeakSet()
        if interruptible:
            adapter.poolmanager.pool_classes_by_scheme = _tracking_pools(self._connections)
        if token:
            self.session.headers["X-Consul-Token"] = token

    # --------------------------------------------------------------------- raw request
    def call(
        self,
        method: str,
        path: str,
        params: list[tuple[str, Any]] | None = None,
        data: bytes | str | None = None,
        timeout: float | None = None,
        allow: tuple[int, ...] = (200,),
    ) -> Reply:
        """Send one request; statuses in ``allow`` are returned, anything else is raised as the
        matching gluster_mgmt error."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        pause = _LEADERLESS_PAUSE[0]
        while True:
            reply = self._send(method, path, params, data, timeout)
            if not _leaderless(reply.status, reply.content) or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, _LEADERLESS_PAUSE[1])
        if reply.status in allow:
            return reply
        raise self.error(method, path, reply.status, reply.content)

    def _send(self, method: str, path: str, params: list[tuple[str, Any]] | None,
              data: bytes | str | None, timeout: float) -> Reply:
        """One attempt, failing over to the next agent when this one refuses the connection."""
        attempts = len(self._bases)
        for attempt in range(attempts):
            base = self._bases[self._current]
            url = base + quote(path, safe="/:")
            if params:
                url += "?" + urlencode(params)
            with translate_errors(self.label, f"{method} {path} within {timeout:g}s"):
                try:
                    r = self.session.request(method, url, data=data, timeout=timeout)
                except requests.exceptions.ConnectionError as exc:
                    if attempt + 1 < attempts and _not_sent(exc):
                        self._fail_over(base)
                        continue
                    raise
            return Reply(r.status_code, r.headers, r.content)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail_over(self, base: str) -> None:
        """``base`` refused a connection: later requests go to the next agent."""
        with self._guard:
            if self._bases[self._current] == base:
                self._current = (self._current + 1) % len(self._bases)

    def error(self, method: str, path: str, status: int, content: bytes) -> StoreError:
        """The gluster_mgmt error for an unexpected HTTP status (with py-consul's own
        exception for it chained, when it has one)."""
        text = content.decode("utf-8", "replace").strip()[:300]
        what = f"Consul at {self.label}: {method} {path}: {status} {text}"
        cause: BaseException | None = None
        try:
            CB._status(Response(status, {}, text), allow_404=False)
        except ConsulException as exc:
            cause = exc
        lowered = text.lower()
        if isinstance(cause, (ACLPermissionDenied, ACLDisabled)) or status in (401, 403) or "acl not found" in lowered:
            err: StoreError = _refused(self.label, f"{method} {path}", text)
        elif status == 413 or "too large" in lowered or "too many operations" in lowered:
            err = ValueTooLargeError(what)
        elif status == 429 or status >= 500:
            err = UnavailableError(what)
        else:
            err = StoreError(what)
        err.__cause__ = cause
        return err

    # --------------------------------------------------------------------- py-consul API shape
    # (so py-consul's endpoint helpers could run over this client too)
    def _cb(self, callback, method, path, params, data=None):
        r = self.call(method, path, params, data, allow=tuple(range(200, 600)))
        return callback(Response(r.status, r.headers, r.content.decode("utf-8", "replace")))

    def get(self, callback, path, params=None, headers=None, raw=False):
        return self._cb(callback, "GET", path, params)

    def put(self, callback, path, params=None, data="", headers=None):
        return self._cb(callback, "PUT", path, params, data)

    def delete(self, callback, path, params=None, data="", headers=None):
        return self._cb(callback, "DELETE", path, params, data)

    def post(self, callback, path, params=None, data="", headers=None):
        return self._cb(callback, "POST", path, params, data)

    def close(self) -> None:
        self.session.close()

    def interrupt(self) -> None:
        """Abort the requests in flight (a blocking query) from another thread: they fail
        at once instead of running until their wait is over. Needs ``interruptible=True``."""
        for conn in list(self._connections):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _refused(where: str, what: str, why: object) -> AuthError:
    return AuthError(f"Consul at {where} refused the ACL token for {what}: {why}")


def translate_exception(exc: BaseException, where: str, what: str) -> StoreError | None:
    """The gluster_mgmt error for a requests or py-consul exception (None if neither's).
    ``where``: the redacted store URL; ``what``: the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return UnavailableError(f"Consul at {where} did not accept a connection for {what}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return UnavailableError(f"Consul at {where} is unreachable: {_reason(exc)}")
    if isinstance(exc, requests.exceptions.Timeout):
        return StoreTimeoutError(f"Consul at {where} did not answer {what}")
    if isinstance(exc, requests.exceptions.RequestException):
        return UnavailableError(f"Consul request {what} to {where} failed: {_reason(exc)}")
    if isinstance(exc, (ACLPermissionDenied, ACLDisabled)):
        return _refused(where, what, exc)
    if isinstance(exc, ConsulException):
        return StoreError(f"Consul at {where}: {what} failed: {exc}")
    return None


def translate_errors(where: str, what: str) -> AbstractContextManager[None]:
    """The Consul edge: requests' and py-consul's exceptions become gluster_mgmt errors."""
    return translating(lambda exc: translate_exception(exc, where, what))


def _tracking_pools(connections: weakref.WeakSet) -> dict[str, type]:
    """urllib3 pool classes that remember the connections they open."""

    class Pool(urllib3.HTTPConnectionPool):
        def _new_conn(self):  # type: ignore[override]
            conn = super()._new_conn()
            connections.add(conn)
            return conn

    class SecurePool(urllib3.HTTPSConnectionPool):
        def _new_conn(self):  # type: ignore[override]
            conn = super()._new_conn()
            connections.add(conn)
            return conn

    return {"http": Pool, "https": SecurePool}


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without its URL noise."""
    inner: Any = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    text = str(inner)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x...>: "
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text[:200]
