"""Calls from one daemon to another's TCP REST API (probe/join, detach/leave), and how a
request proves the cluster secret without carrying it.

``X-Gluster-Mgmt-Auth: <unix-time>:<nonce>:<target>:<hex hmac-sha256>``: the HMAC, keyed with
the cluster secret, covers the time, a random nonce, the target (the ``ip:port`` the caller's
connection reached, which the receiver reads from its own socket), the method, the path and
the body. The receiver accepts a stamp within ``AUTH_WINDOW`` of its clock, only for itself,
and each nonce once (``ReplayCache``): a captured request cannot be sent again, nor to
another node.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import threading
import time
from typing import Any

import attrs

from gluster_mgmt.errors import OperationFailed

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Gluster-Mgmt-Auth"
#: How far a signed request's clock may be from ours (and how long a nonce is remembered).
AUTH_WINDOW = 300
#: Nonces remembered at most; a signed request needs the secret, so only members fill it.
REPLAY_CACHE_LIMIT = 100_000

_HEADER = re.compile(r"([0-9]{1,12}):([0-9a-f]{32}):([0-9A-Za-z.:\[\]%-]{1,80}):([0-9a-f]{64})",
                     re.ASCII)


class Verdict(enum.Enum):
    """What the receiver concluded about a request's signature; the value is its reply text."""

    VALID = ""
    MISSING = "request does not prove the cluster secret"
    MALFORMED = "malformed X-Gluster-Mgmt-Auth header"
    EXPIRED = "request signature is outside the accepted time window"
    OTHER_TARGET = "request was signed for another node"
    BAD_SIGNATURE = "request does not prove the cluster secret: wrong signature"
    REPLAYED = "request refused: replay of an already used signature"


def endpoint(sockaddr: tuple) -> str:
    """``ip:port`` (``[ip6]:port``) of a socket address, one spelling on both sides: an
    IPv4-mapped IPv6 address reads as IPv4."""
    address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"{host}:{int(sockaddr[1])}"


def _mac(secret: str, stamp: str, nonce: str, target: str, method: str, path: str,
         body: bytes) -> str:
    message = f"{stamp}\n{nonce}\n{target}\n{method}\n{path}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, body: bytes, target: str,
         now: float | None = None, nonce: str | None = None) -> str:
    """The auth header value for one request to ``target`` (an ``endpoint``)."""
    stamp = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(16)
    return f"{stamp}:{nonce}:{target}:{_mac(secret, stamp, nonce, target, method, path, body)}"


@attrs.frozen
class Signature:
    """A parsed auth header (its form checked, nothing proven yet)."""

    stamp: int
    nonce: str
    target: str
    digest: str

    @classmethod
    def parse(cls, header: str | None) -> "Signature | Verdict":
        if not header:
            return Verdict.MISSING
        match = _HEADER.fullmatch(header) if header.isascii() else None
        if match is None:
            return Verdict.MALFORMED
        stamp, nonce, target, digest = match.groups()
        return cls(int(stamp), nonce, target, digest)


class ReplayCache:
    """Nonces seen within the window: a second use of one is a replay."""

    def __init__(self, window: float = AUTH_WINDOW, limit: int = REPLAY_CACHE_LIMIT) -> None:
        self.window = window
        self.limit = limit
        self._seen: dict[str, float] = {}  # nonce -> when it stops mattering
        self._guard = threading.Lock()

    def first_use(self, nonce: str, stamp: int) -> bool:
        """Record ``nonce``; False if it was already used. A full cache refuses (fails
        closed) rather than forgets a nonce still inside the window."""
        now = time.time()
        with self._guard:
            if nonce in self._seen:
                return False
            if len(self._seen) >= self.limit:
                self._seen = {n: t for n, t in self._seen.items() if t >= now}
                if len(self._seen) >= self.limit:
                    return False
            self._seen[nonce] = stamp + self.window
            return True


def verify(secret: str | None, header: str | None, method: str, path: str, body: bytes,
           target: str, replay: ReplayCache) -> Verdict:
    """Check a request's signature for us (``target``: the endpoint it reached). The nonce is
    spent only by a request that proved the secret, so strangers cannot fill the cache."""
    signature = Signature.parse(header)
    if isinstance(signature, Verdict):
        return signature
    if secret is None:
        return Verdict.BAD_SIGNATURE
    if abs(time.time() - signature.stamp) > AUTH_WINDOW:
        return Verdict.EXPIRED
    expected = _mac(secret, str(signature.stamp), signature.nonce, signature.target, method,
                    path, body)
    if not hmac.compare_digest(expected, signature.digest):
        return Verdict.BAD_SIGNATURE
    if not hmac.compare_digest(signature.target, target):
        return Verdict.OTHER_TARGET
    if not replay.first_use(signature.nonce, signature.stamp):
        return Verdict.REPLAYED
    return Verdict.VALID


def call_peer(host: str, port: int, route: str, params: dict[str, Any], secret: str | None,
              timeout: float = 10.0, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """POST to a peer daemon; returns its reply's ``data`` or raises OperationFailed with its
    error text. Connection failures read like glusterd's ("Transport endpoint ..."). The
    signature names the address the connection actually reached.

    ``tls`` (``TlsFiles.client_context``): speak TLS, present the node certificate, and
    accept only a server whose certificate verifies against the cluster CA and names
    ``host`` as dialled."""
    path = f"/v1/{route}"
    body = json.dumps(params).encode()
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection(host, port, timeout=timeout) if tls is None else \
        http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
    try:
        connection.connect()
        if secret is not None:
            headers[AUTH_HEADER] = sign(secret, "POST", path, body,
                                        endpoint(connection.sock.getpeername()))
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        payload = json.loads(response.read() or b"{}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, socket.gaierror):  # the CLI hears the same as glusterd's; the log tells
            log.warning("%s: DNS resolution failed on host %s (%s)", route, host, exc.strerror)
        else:
            log.warning("%s on %s:%d failed: %r", route, host, port, exc)
        message = "Probe returned with Transport endpoint is not connected"
        if tls is not None:  # say why: a refused certificate reads as a closed connection
            reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
            message += f" (TLS with {host}:{port} failed: {reason})"
        raise OperationFailed(message, errno.ENOTCONN) from exc
    finally:
        connection.close()
    if payload.get("op_ret", -1) != 0:
        raise OperationFailed(payload.get("op_errstr") or f"peer {host} refused {route}",
                              payload.get("op_errno") or errno.EIO)
    return payload.get("data") or {}
