"""The daemon's REST API: JSON over HTTP/1.1 on a root-only unix socket (the CLI) and on TCP
(peers). ``POST /v1/<noun>/<verb>`` with a JSON object of parameters; every reply is
``{"op_ret", "op_errno", "op_errstr", "data"}`` like glusterd's CLI responses.

On TCP a request must prove the cluster secret with an HMAC that also covers a nonce and the
address it was sent to (membership.peer_calls: the header, the window, the replay cache); the
secret never travels. ``cluster/join`` proves the secret of the cluster it names, which the
node reads from its own store (a ``ClusterSignedRoute``).

With TLS on the TCP port (``TcpApiServer(tls=...)``, the ``api_tls_*`` settings) the
handshake requires a client certificate of the cluster CA, and ``Api`` requires its names
(SAN) to include a name of a peer of the cluster whose secret the request proves: ours, or,
for ``cluster/join``, the cluster the probe names (the prober is a member of it in our store).
"""

from __future__ import annotations

import collections
import errno
import http.server
import io
import json
import logging
import os
import queue
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from gluster_mgmt.daemon.last_known import UNAVAILABLE, is_outage
from gluster_mgmt.errors import GlusterMgmtError, OperationFailed, StoreError
from gluster_mgmt.log_safety import RateLimiter, suppressed_note, untrusted
from gluster_mgmt.membership.peer_calls import AUTH_HEADER, ReplayCache, Verdict, endpoint, verify
from gluster_mgmt.tls import certificate_names, names_match

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
#: Seconds a client has to send a request's line, headers and body (and, on a kept-alive
#: connection, the next request): the CLI and peers send a request at once, so only a
#: slowloris client waits longer, and it holds a worker only this long.
REQUEST_TIMEOUT = 10.0
#: Worker threads per server: requests are short, and even the long CLI ones (a transaction
#: waiting for its peers) seldom run more than a few at a time.
API_WORKERS = 16
#: Accepted connections waiting for a worker; beyond that new ones get a 503 at once.
API_PENDING = 64
#: Connections one TCP source address may hold (queued or served): a peer makes one or two
#: at a time, and a slow client from one address keeps half the workers free for others.
API_CONNECTIONS_PER_HOST = API_WORKERS // 2
#: Listen backlog (socketserver's default of 5 drops connections in any burst).
API_BACKLOG = 128
_CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#: The first byte of every TLS connection (a handshake record)
_TLS_HANDSHAKE = 0x16
#: Bytes of a plain-HTTP request read (and dropped) after answering it, so that closing the
#: connection does not reset it before the client has read the answer
_PLAIN_DRAIN = 1 << 16

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def reply(op_ret: int = 0, op_errno: int = 0, op_errstr: str = "", data: dict | None = None) -> dict:
    return {"op_ret": op_ret, "op_errno": op_errno, "op_errstr": op_errstr, "data": data or {}}


def _plain_http_refusal() -> bytes:
    """What a plain-HTTP client of the TLS port reads: a clear error, not a hang or a reset."""
    body = json.dumps(reply(-1, errno.EPROTO, "this node's REST API speaks only TLS (mutual, "
                                              "with a certificate of the cluster CA)")).encode()
    return (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body


_PLAIN_HTTP_REFUSAL = _plain_http_refusal()


@attrs.frozen
class ClusterSignedRoute:
    """A route whose TCP caller proves the secret of the cluster its request names, not ours
    (being probed: ``secret_for`` finds that secret in our own store, or raises
    OperationFailed); ``names_for`` gives the names of that cluster's peers, one of which
    a TLS caller's certificate must carry."""

    handler: Handler
    secret_for: Callable[[dict[str, Any]], str]
    names_for: Callable[[dict[str, Any]], Iterable[str]]

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.handler(params)


class Api:
    """Routes requests to handlers; checks each TCP request's signature (unless its route is
    open) and spends its nonce; over TLS, checks that the client certificate names a peer
    (``peer_names``: every name of our cluster's peers)."""

    def __init__(self, routes: dict[str, Handler], secret: Callable[[], str | None],
                 open_routes: frozenset[str] = frozenset(),
                 peer_names: Callable[[], Iterable[str]] = frozenset) -> None:
        self.routes = routes
        self.secret = secret
        self.open_routes = open_routes
        self.peer_names = peer_names
        self.replay = ReplayCache()

    def handle(self, method: str, path: str, body: bytes, auth: str | None, trusted: bool,
               target: str = "", client_names: frozenset[str] | None = None
               ) -> tuple[int, dict]:
        """``target``: the endpoint (``ip:port``) the request reached, for its signature;
        ``client_names``: the names of the verified TLS client certificate (None: no TLS)."""
        if method != "POST" or not path.startswith("/v1/"):
            return 404, reply(-1, errno.ENOENT, f"no such endpoint: {method} {path}")
        route = path[len("/v1/"):]
        handler = self.routes.get(route)
        if handler is None:
            return 404, reply(-1, errno.ENOENT, f"no such operation: {route}")
        try:
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise ValueError("parameters must be a JSON object")
        except ValueError as exc:
            return 400, reply(-1, errno.EINVAL, f"malformed request body: {exc}")
        if not trusted and route not in self.open_routes:
            refused = self._refused(handler, params, method, path, body, auth, target)
            if refused is None and client_names is not None:
                refused = self._unknown_client(handler, params, path, target, client_names)
            if refused is not None:
                return refused
        try:
            return 200, reply(data=handler(params))
        except OperationFailed as exc:
            return 200, reply(-1, exc.errno, str(exc))
        except StoreError as exc:
            if is_outage(exc):
                log.warning("%s: store unreachable: %s", route, exc)
                return 200, reply(-1, errno.EHOSTUNREACH, f"{UNAVAILABLE}: {exc}")
            log.warning("%s: store error: %s", route, exc)
            return 200, reply(-1, errno.EIO, f"configuration store error: {exc}")
        except (GlusterMgmtError, ValueError) as exc:  # validation errors carry glusterd's text
            return 200, reply(-1, errno.EINVAL, str(exc))
        except KeyError as exc:  # a required parameter is missing
            return 400, reply(-1, errno.EINVAL, f"missing parameter {exc} for {route}")
        except TypeError as exc:  # wrong parameter names or types
            return 400, reply(-1, errno.EINVAL, f"bad parameters for {route}: {exc}")
        except Exception:
            log.exception("%s failed", route)
            return 500, reply(-1, errno.EIO, f"internal error in {route}; see the daemon log")

    def _refused(self, handler: Handler, params: dict[str, Any], method: str, path: str,
                 body: bytes, auth: str | None, target: str) -> tuple[int, dict] | None:
        """The reply refusing an unproven request, or None if its signature holds."""
        if isinstance(handler, ClusterSignedRoute):
            try:
                secret: str | None = handler.secret_for(params)
            except OperationFailed as exc:
                status = 400 if exc.errno == errno.EINVAL else 403
                return status, reply(-1, exc.errno, str(exc))
            except StoreError as exc:
                log.warning("%s: store error: %s", path, exc)
                return 503, reply(-1, errno.EIO, f"configuration store error: {exc}")
        else:
            secret = self.secret()
        verdict = verify(secret, auth, method, path, body, target, self.replay)
        if verdict is Verdict.VALID:
            return None
        if verdict is Verdict.MALFORMED:
            return 400, reply(-1, errno.EINVAL, verdict.value)
        log.warning("refused %s for %s: %s", path, target, verdict.name)
        return 403, reply(-1, errno.EACCES, verdict.value)

    def _unknown_client(self, handler: Handler, params: dict[str, Any], path: str, target: str,
                        client_names: frozenset[str]) -> tuple[int, dict] | None:
        """The reply refusing a TLS client whose certificate names no peer of the cluster
        whose secret its request proved, or None. Checked after the signature, so only
        members of the cluster make us read its peers."""
        try:
            names = handler.names_for(params) if isinstance(handler, ClusterSignedRoute) \
                else self.peer_names()
            if names_match(client_names, names):
                return None
        except StoreError as exc:
            log.warning("%s: store error: %s", path, exc)
            return 503, reply(-1, errno.EIO, f"configuration store error: {exc}")
        log.warning("refused %s for %s: client certificate names %s, no peer of the cluster",
                    path, target, untrusted(", ".join(sorted(client_names)) or "nothing"))
        return 403, reply(-1, errno.EACCES, "client certificate names no peer of this cluster")


class _DeadlineReader(socket.SocketIO):
    """The raw reader under a handler's ``rfile``: each read may wait only until the
    request's deadline, so a client sending a byte now and then cannot hold a worker (a
    plain socket timeout restarts with every byte)."""

    def __init__(self, sock: socket.socket, handler: _RequestHandler) -> None:
        super().__init__(sock, "rb")
        self._handler = handler

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._handler.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request not received in time")
        self._sock.settimeout(remaining)
        return super().readinto(buffer)


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"
    timeout = REQUEST_TIMEOUT  # socket timeout for writing replies
    #: when the request being read must be complete (monotonic clock)
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # socketserver's reader; ours applies the request deadline
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self))

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.request_timeout
        super().handle_one_request()

    def _content_length(self) -> int | None:
        """The body's length; None (after answering) when it cannot be read safely: the
        body would be read until the peer closes, or taken for the next request."""
        values = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None or len(set(values)) > 1 or \
                (values and not _CONTENT_LENGTH.fullmatch(values[0].strip())):
            self.close_connection = True
            self._send(400, reply(-1, errno.EINVAL, "malformed Content-Length header: a request "
                                                    "needs one, a non-negative number of bytes"))
            return None
        length = int(values[0]) if values else 0
        if length > MAX_BODY:
            self.close_connection = True
            self._send(413, reply(-1, errno.E2BIG, "request too large"))
            return None
        return length

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = self._content_length()
        if length is None:
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away
            self.close_connection = True
            return
        status, payload = self.server.api.handle(
            "POST", self.path, body, self.headers.get(AUTH_HEADER), self.server.trusted,
            self._target(), self._client_names())
        self._send(status, payload)

    def _client_names(self) -> frozenset[str] | None:
        """The names of the client certificate the TLS handshake verified; None without TLS."""
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        return certificate_names(self.connection.getpeercert())

    def _target(self) -> str:
        """The endpoint this request reached, as the kernel says (what the caller signed)."""
        if self.server.trusted:
            return ""
        try:
            return endpoint(self.connection.getsockname())
        except (OSError, ValueError):
            return ""

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, reply(-1, errno.EINVAL, "use POST"))

    def _send(self, status: int, payload: dict) -> None:
        self.connection.settimeout(REQUEST_TIMEOUT)  # the reads left a shorter one
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "unix"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), untrusted(format % args))


class _Server:
    """What both REST servers share: a fixed pool of workers fed from a bounded queue of
    accepted connections (a thread per connection lets any client create threads), an
    optional limit per source address, and errors logged as one line, not printed."""

    api: Api
    trusted: bool
    request_queue_size = API_BACKLOG
    request_timeout = REQUEST_TIMEOUT
    workers = API_WORKERS
    max_pending = API_PENDING
    #: connections one source address may hold; None: no limit (the trusted unix socket)
    per_host: int | None = None

    def server_activate(self) -> None:
        super().server_activate()  # type: ignore[misc]
        self._pending: queue.Queue[tuple[Any, Any] | None] = queue.Queue(self.max_pending)
        self._held: collections.Counter[str] = collections.Counter()
        self._held_lock = threading.Lock()
        self._complaints = RateLimiter()
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"{type(self).__name__}-{index}")
                         for index in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Queue the connection for a worker, or answer 503 and close it."""
        host = str(client_address[0])
        with self._held_lock:
            if self.per_host is not None and self._held[host] >= self.per_host:
                refused = f"{self._held[host]} connections from that address"
            else:
                try:
                    self._pending.put_nowait((request, client_address))
                except queue.Full:
                    refused = f"{self.max_pending} connections waiting for a worker"
                else:
                    self._held[host] += 1
                    return
        self._complain(f"refused:{host}", logging.WARNING, "REST connection from %s refused: %s",
                       host, refused)
        try:
            request.setblocking(False)
            request.send(_BUSY)
        except OSError:
            pass
        self.shutdown_request(request)  # type: ignore[attr-defined]

    def _work(self) -> None:
        while (item := self._pending.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 (handle_error logs it; the worker lives on)
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)  # type: ignore[attr-defined]
                with self._held_lock:
                    host = str(client_address[0])
                    self._held[host] -= 1
                    if self._held[host] <= 0:
                        del self._held[host]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """socketserver prints a traceback to stderr; log it instead, one JSON line (a peer
        that hangs up early is routine and logged at debug)."""
        exc = sys.exc_info()[1]
        host = str(client_address[0]) if client_address else "?"
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("REST connection from %s: %s", host, exc)
        elif self._complaints.allow(f"error:{host}") is not None:
            log.error("REST request from %s failed", host, exc_info=True)

    def _complain(self, key: str, level: int, message: str, *args: object) -> None:
        suppressed = self._complaints.allow(key)
        if suppressed is not None:
            log.log(level, message + "%s", *args, suppressed_note(suppressed))

    def server_close(self) -> None:
        super().server_close()  # type: ignore[misc]
        for _ in getattr(self, "_threads", ()):
            try:
                self._pending.put(None, timeout=1)
            except queue.Full:
                break  # workers are daemon threads; busy ones end with the process


class UnixApiServer(_Server, socketserver.UnixStreamServer):
    """Root-only: the socket file is created 0600 in a 0700 directory."""

    trusted = True

    def __init__(self, path: str, api: Api) -> None:
        self.api = api
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        old = os.umask(0o177)
        try:
            socketserver.UnixStreamServer.__init__(self, path, _RequestHandler)
        finally:
            os.umask(old)

    def get_request(self):  # unix sockets have no peer address; http.server wants one
        request, _ = self.socket.accept()
        return request, ("unix", 0)


class TcpApiServer(_Server, http.server.HTTPServer):
    """Peers and remote tools: untrusted, so connections per source address are limited.

    ``tls`` (``TlsFiles.server_context``): the port speaks only TLS with a client certificate
    required. The handshake runs in the worker, under the request deadline, so a slow or
    silent client cannot stall the accept loop; a plain-HTTP client gets a clear 400."""

    trusted = False
    per_host = API_CONNECTIONS_PER_HOST

    def __init__(self, address: str, port: int, api: Api,
                 tls: ssl.SSLContext | None = None) -> None:
        self.api = api
        self.tls = tls
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        http.server.HTTPServer.__init__(self, (address, port), _RequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        secured = self._handshake(request, str(client_address[0]))
        if secured is None:
            return
        try:
            super().finish_request(secured, client_address)
        finally:
            secured.close()

    def _handshake(self, request: socket.socket, host: str) -> ssl.SSLSocket | None:
        """The connection once its TLS handshake succeeded (client certificate verified), or
        None after refusing it. ``request`` is detached into the TLS socket."""
        assert self.tls is not None
        request.settimeout(self.request_timeout)  # CPython bounds the whole handshake by it
        try:
            first = request.recv(1, socket.MSG_PEEK)
            if first and first[0] != _TLS_HANDSHAKE:
                self._refuse_plain(request, host)
                return None
            if not first:
                return None
            secured = self.tls.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
        except OSError as exc:
            log.debug("REST connection from %s: %s", host, exc)
            return None
        try:
            secured.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            secured.close()
            reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
            self._complain(f"tls:{host}", logging.WARNING,
                           "REST TLS handshake from %s refused: %s", host, reason)
            return None
        return secured

    def _refuse_plain(self, request: socket.socket, host: str) -> None:
        """Answer a plain-HTTP client with a clear error, then close without a reset."""
        self._complain(f"plain:{host}", logging.WARNING,
                       "REST connection from %s refused: plain HTTP on the TLS port", host)
        request.sendall(_PLAIN_HTTP_REFUSAL)
        request.shutdown(socket.SHUT_WR)
        request.settimeout(1.0)
        drained = 0
        while drained < _PLAIN_DRAIN and (chunk := request.recv(4096)):
            drained += len(chunk)


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Run ``server``'s accept loop in a daemon thread (its workers are its own threads)."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
