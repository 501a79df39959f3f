"""The daemon's REST API: JSON over HTTP/1.1 on a root-only unix socket (the CLI) and on TCP
(peers). ``POST /v1/<noun>/<verb>`` with a JSON object of parameters; every reply is
``{"op_ret", "op_errno", "op_errstr", "data"}`` like glusterd's CLI responses.

On TCP a request must prove the cluster secret with an HMAC that also covers a nonce and the
address it was sent to (membership.peer_calls: the header, the window, the replay cache); the
secret never travels. ``cluster/join`` proves the secret of the cluster it names, which the
node reads from its own store (a ``ClusterSignedRoute``).
"""

from __future__ import annotations

import errno
import http.server
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

import attrs

from gluster_mgmt.errors import GlusterMgmtError, OperationFailed, StoreError
from gluster_mgmt.membership.peer_calls import (
    AUTH_HEADER,
    ReplayCache,
    Verdict,
    endpoint,
    verify,
)

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def reply(op_ret: int = 0, op_errno: int = 0, op_errstr: str = "", data: dict | None = None) -> dict:
    return {"op_ret": op_ret, "op_errno": op_errno, "op_errstr": op_errstr, "data": data or {}}


@attrs.frozen
class ClusterSignedRoute:
    """A route whose TCP caller proves the secret of the cluster its request names, not ours
    (being probed: ``secret_for`` finds that secret in our own store, or raises
    OperationFailed)."""

    handler: Handler
    secret_for: Callable[[dict[str, Any]], str]

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.handler(params)


class Api:
    """Routes requests to handlers; checks each TCP request's signature (unless its route is
    open) and spends its nonce."""

    def __init__(self, routes: dict[str, Handler], secret: Callable[[], str | None],
                 open_routes: frozenset[str] = frozenset()) -> None:
        self.routes = routes
        self.secret = secret
        self.open_routes = open_routes
        self.replay = ReplayCache()

    def handle(self, method: str, path: str, body: bytes, auth: str | None, trusted: bool,
               target: str = "") -> tuple[int, dict]:
        """``target``: the endpoint (``ip:port``) the request reached, for its signature."""
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
            if refused is not None:
                return refused
        try:
            return 200, reply(data=handler(params))
        except OperationFailed as exc:
            return 200, reply(-1, exc.errno, str(exc))
        except StoreError as exc:
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


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
            # the body cannot be delimited: answer, then close the connection
            self.close_connection = True
            self._send(400, reply(-1, errno.EINVAL, "malformed Content-Length header"))
            return
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(413, reply(-1, errno.E2BIG, "request too large"))
            return
        body = self.rfile.read(length)
        status, payload = self.server.api.handle(
            "POST", self.path, body, self.headers.get(AUTH_HEADER), self.server.trusted,
            self._target())
        self._send(status, payload)

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
        log.debug("%s %s", self.address_string(), format % args)


class _Server:
    api: Api
    trusted: bool


class UnixApiServer(_Server, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Root-only: the socket file is created 0600 in a 0700 directory."""

    daemon_threads = True
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


class TcpApiServer(_Server, http.server.ThreadingHTTPServer):
    daemon_threads = True
    trusted = False

    def __init__(self, address: str, port: int, api: Api) -> None:
        self.api = api
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        http.server.ThreadingHTTPServer.__init__(self, (address, port), _RequestHandler)


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
