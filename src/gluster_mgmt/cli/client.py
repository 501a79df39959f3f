"""The CLI's only way to the daemon: HTTP/1.1 + JSON over the daemon's unix socket.

This module is the contract between ``gluster-mgmt`` (the CLI) and ``gluster-mgmtd`` (the
daemon). It uses the standard library only, so a CLI command never loads a store client.

Transport
=========
``POST /v1/<route>`` on the unix socket given by ``--socket=PATH`` (or ``--socket PATH``),
else the environment variable ``GLUSTER_MGMT_SOCKET``, else ``/run/gluster-mgmt/mgmtd.sock``.
The request body is a JSON object of parameters (``{}`` when there are none), sent with
``Content-Type: application/json`` and a ``Content-Length``. Every reply, whatever its HTTP
status, is a JSON object::

    {"op_ret": 0 | -1, "op_errno": int, "op_errstr": str, "data": {...}}

``op_ret``/``op_errno``/``op_errstr`` mean what they mean in glusterd's CLI replies and are
shown as such (``--xml`` prints them as opRet/opErrno/opErrstr). ``op_errstr`` holds glusterd's
own wording for a failure; the CLI adds the ``volume create: v1: failed:`` prefix itself.
``data`` is ``{}`` on failure unless stated otherwise. Absent optional counts are ``null``.

Routes, parameters and ``data``
===============================
Peers
-----
``peer/probe {host}``
    data: ``{"message": str}`` optional. An empty message prints ``peer probe: success``; a
    non-empty one is printed instead of "success", as glusterd does for
    ``Probe on localhost not needed`` and ``Host H port 24007 already in peer list``.
``peer/detach {host, force: bool}``
    data: ``{"message": str}`` optional, as for probe.
``peer/status {}``
    data: ``{"peers": [PEER, ...]}`` — every peer except the node answering.
``pool/list {}``
    data: ``{"peers": [PEER, ...]}`` — the same plus the answering node, whose entry has
    ``"hostnames": ["localhost"]`` and ``"local": true`` (the CLI prints it last, like
    glusterd, wherever it is in the list).

``system/uuid-get {}``
    data: ``{"uuid": str}`` — the answering node's UUID (its glusterd.info's).

PEER is ``{"uuid": str, "hostnames": [str, ...], "state": str, "connected": bool}``; ``state``
is glusterd's state text (``"Peer in Cluster"``, ``"Probe Sent to Peer"``, ``"Peer Rejected"``,
``"Peer detach in progress"``; ``"Detaching"`` is accepted as the latter). The first hostname is
the one shown; the others are listed under "Other names:".

Volumes
-------
``volume/create {name, bricks: ["HOST:/PATH", ...], replica, arbiter, disperse,
disperse_data, redundancy, transport, force: bool}``
    The CLI has already applied the gluster CLI's local checks (name, brick syntax, loopback,
    duplicates, counts, disperse/redundancy arithmetic and its confirmations), so
    ``disperse``/``redundancy`` arrive computed when the volume is dispersed and ``replica``
    is 3 for ``replica 2 arbiter 1``. ``transport`` is ``"tcp"``, ``"rdma"`` or
    ``"tcp,rdma"`` (default ``"tcp"``). Counts not given are ``null``.
    data: ``{"volume": VOLUME}``.
``volume/start {name, force: bool}``, ``volume/stop {name, force: bool}``
    data: ``{"volume": VOLUME}`` (only ``name`` and ``uuid`` are used).
``volume/delete {name}``
    data: ``{}`` or ``{"volume": VOLUME}`` (its ``uuid`` then goes into ``--xml``).
``volume/info {name: str | null}``
    data: ``{"volumes": [VOLUME, ...]}`` in name order; ``null`` means all volumes. An
    unknown name is a failure with op_errstr ``Volume NAME does not exist``.
``volume/list {}``
    data: ``{"volumes": [name, ...]}`` in name order.
``volume/status {name: str | null, detail: bool, dump: str | null, brick: str | null, daemon: str | null}``
    data: ``{"volumes": [STATUS, ...]}``; with ``name: null`` every volume, started or not.
    STATUS is::

        {"name", "id", "status": "Created"|"Started"|"Stopped", "not_started": bool,
         "bricks": [{"hostname", "path", "host_uuid", "port": int|null,
                     "rdma_port": int (0 for none), "online": bool, "pid": int|null,
                     # with detail=true, when known, each from the brick's own host
                     # (bytes and counts as integers, inode_size text):
                     "size_total", "size_free", "device", "block_size", "mnt_options",
                     "fs_name", "inode_size", "inodes_total", "inodes_free"}],
         "self_heal": [{"hostname", "host_uuid", "online": bool, "pid": int|null}]}

    ``self_heal`` lists the self-heal daemons serving the volume (empty for distribute
    volumes); ``hostname`` is ``"localhost"`` for the answering node, as glusterd shows it.
    ``port: null`` and ``pid: null`` print as ``N/A``.
    With ``dump`` (``clients``, ``client-list``, ``fd``, ``inode``, ``callpool``, ``mem``)
    and optionally ``brick`` (``HOST:PATH``, that brick alone): no self-heal daemons or
    tasks; each running brick's own answer as ``"dump": [[key, value], ...]``, and per
    volume ``"dump"`` (the word), ``"node_count"`` (glusterd's ``count``) and for
    client-list ``"client_list": [[key, value], ...]`` (docs/brick-ops.md).
    Without ``dump``, ``brick`` lists that brick alone (no self-heal daemons, no tasks).
    ``daemon`` (``shd``, ``quotad``, ``nfs``; with ``name``): ``shd``/``quotad`` list no
    bricks and only those daemons (``"name"``: ``"Self-heal Daemon"``/``"Quota Daemon"``),
    or with ``dump`` this node's one, its ``hostname`` the node's uuid, its answer as
    ``"dump"`` and the daemon's refusal (client-list) as the volume's ``"op_errstr"``;
    ``nfs`` is the whole volume (glusterd 10.3 has no NFS server) without its tasks. Each
    volume then carries ``"daemon"``.
``volume/set {name, options: [[key, value], ...]}``
    Keys as typed (the daemon resolves short names); values with whitespace already
    stripped, as the gluster CLI does (except for ``user.*`` keys). ``volume set NAME group
    G`` is expanded by the CLI from ``/var/lib/glusterd/groups/G``. data: any.
``volume/get {name, key}`` (``key`` may be ``"all"``)
    data: ``{"options": [[key, value], ...]}`` with ``value`` exactly as glusterd shows it:
    defaults carry a `` (DEFAULT)`` suffix and an unset option without default is
    ``"(null)"``. A third element ``is_default: bool`` is also accepted: the CLI then adds
    the suffix itself (and prints ``null`` values as ``(null)``).
``volume/reset {name, key: str | null, force: bool}``  (``null`` = all options)
    data: any; ``{"message": str}`` replaces "reset volume successful".
``volume/add-brick {name, bricks, replica, arbiter, force}``
    data: any.
``volume/remove-brick {name, bricks, replica, action}``
    ``action`` is ``"start"``, ``"status"``, ``"stop"``, ``"commit"`` or ``"force"``
    (``force`` is glusterd's "commit force"). data: any; ``{"task_id": str}`` when a
    migration task was started; for status and stop ``{"task_id", "nodes": [{hostname,
    node_uuid, status, files, size, lookups, failures, skipped, run_time, time_left}]}``
    (``status``: glusterd's gf_defrag_status_t number).
``volume/rebalance {name, action, fix_layout, force}``  (``action``: start, stop, status)
    data: start ``{"task_id": str}``; status and stop as remove-brick's.
``volume/replace-brick {name, old, new}``
    Only ``commit force`` exists (the CLI refuses anything else, as glusterd's does).
``volume/reset-brick {name, source, op, destination}``  (``op``: start, commit, commit-force)
    data: ``{"volume": VOLUME}``.
``volume/log-rotate {name, brick}``  (``brick``: null for all)
    data: ``{"volume", "rotate_key", "bricks"}``.
``volume/profile {name, op, info_op, peek, top_op, clear, list_count, brick, block_size,
block_count}``  (``volume profile`` and ``volume top``; numbers as ``cluster.profile``'s enums)
    data: ``{"name", "op", "request": [[key, value], ...], "output": [[key, value], ...]}``:
    the command's dict and the bricks' answers as glusterd's reply dict holds them
    (``count``, ``N-brick``, ``N-...``).
``volume/statedump {name, options: [word, ...]}`` / ``volume/barrier {name, barrier}``
    data: any. ``options``: the bricks' dump options (``nfs`` among them, a word of the
    bricks' options file: no NFS server), ``quotad`` first then its options, or
    ``client HOST PID``.
``volume/sync {host, name}``  (``name``: null for all)
    data: ``{}``: glusterd's checks only (every node reads the one store).

Transactions and import (gluster_mgmt's own)
---------------------------------------------
``txn/list {}``
    data: ``{"transactions": [TXN, ...]}``
``txn/show {id}``
    data: ``{"transaction": TXN}``; TXN is ``{"id", "operation", "state", "coordinator",
    "started", "finished", "error", "steps": [{"name", "targets", "state", "error"}]}``
    (every field but ``id`` optional; times as ISO-8601 text or unix seconds).
``import {path}``
    Import a stock glusterd state directory. data: ``{"volumes": [names], "peers": [uuids],
    "message": str}`` (all optional).

VOLUME is ``gluster_mgmt.model.Volume.to_dict()``: ``name``, ``uuid``, ``type``
(``distribute``/``replicate``/``disperse``), ``bricks`` (``hostname``, ``path``, ``host_uuid``,
...), ``replica_count``, ``arbiter_count``, ``disperse_count``, ``redundancy_count``,
``options`` (reconfigured options, in order), ``status``, ``transport``; ``snap_count`` is
read when present (else 0). The CLI never prints ``username``/``password`` (``--json``
redacts them); the daemon may leave them out.
"""

from __future__ import annotations

import json
import os
import socket

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/run/gluster-mgmt/mgmtd.sock"
SOCKET_ENV = "GLUSTER_MGMT_SOCKET"
API_PREFIX = "/v1/"
#: Seconds to wait for the daemon's answer; cluster operations wait on peers, so be generous
#: (gluster's CLI waits 120 s by default, `--timeout=` changes it).
DEFAULT_TIMEOUT = 120.0


class ConnectionFailed(Exception):
    """The daemon could not be reached (no socket, refused, or it hung up)."""


class ProtocolError(Exception):
    """The daemon answered something that is not the JSON reply of the contract."""


class Response:
    """One reply of the daemon."""

    __slots__ = ("data", "http_status", "op_errno", "op_errstr", "op_ret")

    def __init__(self, op_ret: int, op_errno: int, op_errstr: str, data: dict[str, Any],
                 http_status: int = 200) -> None:
        self.op_ret = op_ret
        self.op_errno = op_errno
        self.op_errstr = op_errstr
        self.data = data
        self.http_status = http_status

    @property
    def ok(self) -> bool:
        return self.op_ret == 0

    @classmethod
    def from_json(cls, payload: Any, http_status: int = 200) -> Response:
        if not isinstance(payload, dict) or "op_ret" not in payload:
            raise ProtocolError(f"unexpected reply from the daemon (HTTP {http_status})")
        data = payload.get("data")
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ProtocolError("the daemon's reply has a non-object 'data'")
        try:
            op_ret = int(payload["op_ret"])
            op_errno = int(payload.get("op_errno") or 0)
        except (TypeError, ValueError):
            raise ProtocolError("the daemon's reply has non-integer op_ret/op_errno") from None
        return cls(op_ret, op_errno, str(payload.get("op_errstr") or ""), data, http_status)

    def __repr__(self) -> str:
        return (f"Response(op_ret={self.op_ret}, op_errno={self.op_errno}, "
                f"op_errstr={self.op_errstr!r}, data={self.data!r})")


def socket_path(explicit: str | None = None) -> str:
    """--socket wins, then $GLUSTER_MGMT_SOCKET, then the default path."""
    return explicit or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


class Client:
    """Calls routes of the daemon; one connection per client, reused across calls."""

    def __init__(self, path: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.path = socket_path(path)
        self.timeout = timeout

    def call(self, route: str, params: dict[str, Any] | None = None) -> Response:
        """One request per connection (``Connection: close``), spoken over a bare socket:
        http.client would cost the CLI ~30 ms of imports (email, ssl) on every command."""
        body = json.dumps(params or {}).encode()
        request = (f"POST {API_PREFIX}{route} HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Type: application/json\r\nAccept: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        chunks = []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
                sock.sendall(request)
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise ConnectionFailed(f"{self.path}: {exc}") from exc
        status, raw = _parse_http_reply(b"".join(chunks), self.path)
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            raise ProtocolError(f"the daemon's reply is not JSON (HTTP {status})") from None
        return Response.from_json(payload, status)

    def close(self) -> None:
        """Nothing to release: every call has its own connection."""

    def __enter__(self) -> Client:  # noqa: PYI034 (no typing.Self on 3.10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_http_reply(reply: bytes, where: str) -> tuple[int, bytes]:
    """(status, body) of an HTTP/1.x response read to EOF."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        raise ConnectionFailed(f"{where}: the daemon closed the connection without a reply")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(None, 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        raise ProtocolError(f"the daemon's reply is not HTTP: {lines[0][:60]!r}")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            body = body[:int(value)]
    return int(status_line[1]), body
