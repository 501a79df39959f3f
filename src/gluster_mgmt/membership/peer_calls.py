"""Calls from one daemon to another's TCP REST API (probe/join, detach/leave), and how a
request proves the cluster secret without carrying it: an HMAC over time, method, path and
body in ``X-Gluster-Mgmt-Auth: <unix-time>:<hex hmac-sha256>``."""

from __future__ import annotations

import errno
import hashlib
import hmac
import http.client
import json
import logging
import time
from typing import Any

from gluster_mgmt.errors import OperationFailed

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Gluster-Mgmt-Auth"
#: How far a signed request's clock may be from ours.
AUTH_WINDOW = 300


def sign(secret: str, method: str, path: str, body: bytes, now: float | None = None) -> str:
    stamp = str(int(now if now is not None else time.time()))
    mac = hmac.new(secret.encode(), f"{stamp}\n{method}\n{path}\n".encode() + body, hashlib.sha256)
    return f"{stamp}:{mac.hexdigest()}"


def verify(secret: str, header: str | None, method: str, path: str, body: bytes) -> bool:
    if not header or ":" not in header:
        return False
    stamp, _, digest = header.partition(":")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > AUTH_WINDOW:
        return False
    expected = sign(secret, method, path, body, now=int(stamp)).partition(":")[2]
    return hmac.compare_digest(expected, digest)


def call_peer(host: str, port: int, route: str, params: dict[str, Any], secret: str | None,
              timeout: float = 10.0) -> dict[str, Any]:
    """POST to a peer daemon; returns its reply's ``data`` or raises OperationFailed with its
    error text. Connection failures read like glusterd's ("Transport endpoint ...")."""
    path = f"/v1/{route}"
    body = json.dumps(params).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[AUTH_HEADER] = sign(secret, "POST", path, body)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        payload = json.loads(response.read() or b"{}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.warning("%s on %s:%d failed: %r", route, host, port, exc)
        raise OperationFailed("Probe returned with Transport endpoint is not connected",
                              errno.ENOTCONN) from exc
    finally:
        connection.close()
    if payload.get("op_ret", -1) != 0:
        raise OperationFailed(payload.get("op_errstr") or f"peer {host} refused {route}",
                              payload.get("op_errno") or errno.EIO)
    return payload.get("data") or {}
