"""Calls from one daemon to another's TCP REST API (probe/join, detach/leave)."""

from __future__ import annotations

import errno
import http.client
import json
import logging
from typing import Any

from gluster_mgmt.daemon.rest import AUTH_HEADER, sign
from gluster_mgmt.errors import OperationFailed

log = logging.getLogger(__name__)


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
