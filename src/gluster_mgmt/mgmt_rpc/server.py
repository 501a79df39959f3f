"""The asyncio server stock glusterfsd bricks and GlusterFS clients talk to on port 24007.

It speaks the wire protocol only; what volfiles exist and where bricks listen is the
business of a :class:`MgmtBackend`. Design points, each for a reason:

* One :class:`asyncio.Protocol` per connection (no stream objects): cheap for many idle,
  long-lived mgmt connections.
* Calls that need no backend (DUMP, PING, NULL, errors) are answered at once; backend calls
  run one at a time per connection, in arrival order, so a brick's SIGNIN is never
  overtaken by its own SIGNOUT. Replies carry the call's xid, so pipelining just works.
* Memory per connection is bounded: records are capped (:mod:`.framing`), reading pauses
  while too many backend calls are queued or the peer does not read its replies.
* Resources across connections are bounded too (:class:`ConnectionLimits`), because anyone
  on the network can connect: a total budget for partial records, a connection limit (total,
  kept below the open-file limit, and per source address), and a deadline for completing a
  record. Stock clients send GETSPEC at once and then may stay silent for days, so only a
  connection that never completed a valid record, or sits on half a record, is timed out;
  at the connection limit such unproven connections are evicted (oldest first) for new ones.
* Peer-supplied strings are logged through :func:`log_safety.untrusted`, repeated
  complaints through a :class:`log_safety.RateLimiter`.
* Each connection remembers the volfile ids it fetched, so a volfile change sends a
  CALLBACK FETCHSPEC to exactly the processes using it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import ipaddress
import itertools
import logging
import os
import resource
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from gluster_mgmt.log_safety import RateLimiter, suppressed_note, untrusted
from gluster_mgmt.rules import MGMT_PORT

from . import programs as pg
from .framing import (
    DEFAULT_MAX_RECORD_SIZE,
    RecordDecoder,
    RecordTooLarge,
    encode_record,
)
from .gluster_dict import DictValue, decode_dict, encode_dict, value_text
from .rpc_message import (
    ACCEPTED_AUTH_FLAVORS,
    RPC_VERSION,
    AcceptStat,
    AuthStat,
    Call,
    Reply,
    decode_message,
    encode_accepted_reply,
    encode_auth_error,
    encode_call,
    encode_prog_mismatch,
    encode_rpc_mismatch,
)
from .xdr import XdrError

__all__ = ["ConnectionLimits", "EventNotifyBackend", "MgmtBackend", "MgmtRpcServer", "PeerInfo",
           "Route", "VolfileReply", "VolumeInfoBackend"]

#: GETSPEC keys of self-heal daemon graphs (glusterd's ``shd/VOL``).
SHD_VOLFILE_PREFIX = "shd/"

log = logging.getLogger(__name__)

#: backend calls queued on one connection before we stop reading from it
MAX_QUEUED_CALLS = 64
#: volfile ids remembered per connection (real processes fetch one)
MAX_TRACKED_VOLFILES = 64
#: Default connection limit: far above what a node serves (a brick, a self-heal daemon and
#: each mount or gfapi process hold one), low enough to bound the daemon's memory.
DEFAULT_MAX_CONNECTIONS = 16384
#: Default per source address: a client host with hundreds of mounts or gfapi processes
#: fits; one attacking host cannot take every slot.
DEFAULT_MAX_CONNECTIONS_PER_HOST = 1024
#: Default seconds to complete the first record, or any record started. Stock processes
#: send their first call as soon as they connect and a whole record at a time.
DEFAULT_IDLE_TIMEOUT = 30.0
#: Default budget for partial records of all connections together: 32 records of the
#: largest size at once, while real mgmt traffic has a few hundred bytes in flight.
DEFAULT_MAX_BUFFERED = 32 << 20
#: Open files kept out of the connection limit: the REST servers' sockets and workers, store
#: clients, pidfiles, log files and brick pipes, plus the ACCEPTS_PER_TICK sockets accepted
#: before a refused one is closed.
FD_RESERVE = 256
#: Connections accepted per wake-up of the listener (asyncio's loop also uses it as the
#: listen backlog; we set the kernel's to LISTEN_BACKLOG afterwards). Kept small so refused
#: connections do not pile up as open files before they are closed.
ACCEPTS_PER_TICK = 64
#: Kernel listen backlog, as glusterd's transport.listen-backlog: mounts come in bursts.
LISTEN_BACKLOG = 1024
#: How often idle and half-sent connections are looked for.
SWEEP_INTERVAL = 1.0
_ACCEPT_OUT_OF_RESOURCES = "socket.accept() out of system resource"


@attrs.frozen
class ConnectionLimits:
    """What all connections together may hold; see the module docstring for why."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_per_host: int = DEFAULT_MAX_CONNECTIONS_PER_HOST
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_buffered: int = DEFAULT_MAX_BUFFERED


def open_file_limit() -> int:
    """The process's soft RLIMIT_NOFILE (read each time: an administrator may change it)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@attrs.frozen
class PeerInfo:
    """Who is asking: the connection's id and remote address."""

    conn_id: int
    host: str
    port: int


@attrs.frozen
class VolfileReply:
    """A volfile plus the GETSPEC reply xdata to send with it.

    Backends return plain bytes in the common case; this is for the few keys where stock
    glusterd adds xdata (e.g. ``pidfile`` for ``shd/VOL``, ``cluster.brick-vol-servers``).
    """

    spec: bytes
    xdata: Mapping[str, DictValue] = attrs.field(factory=dict)


@runtime_checkable
class MgmtBackend(Protocol):
    """What the server needs from the rest of gluster_mgmt; all methods are coroutines.

    Exceptions raised here are logged and turned into protocol-level failures
    (op_ret -1), never into a dropped connection.
    """

    async def getspec(self, volfile_id: str, peer: PeerInfo) -> bytes | VolfileReply | None:
        """The volfile for a GETSPEC key, verbatim as sent (``/VOL``, ``VOL.tcp``,
        ``VOL.HOST.EXP``; see :func:`programs.normalize_volfile_id`); None if unknown."""

    async def signin(self, brick: str, port: int, pid: int, peer: PeerInfo) -> None:
        """A brick process listens on ``port`` for ``brick`` (an exported xlator name).
        Raises PermissionError when ``peer`` may not sign bricks in (answered EPERM)."""

    async def signout(self, brick: str, port: int, peer: PeerInfo) -> None:
        """A brick process is shutting down cleanly (PermissionError as for signin)."""

    async def port_by_brick(self, brick: str) -> int | None:
        """The port signed in for ``brick`` (exact name), None if not signed in."""

    async def connection_closed(self, conn_id: int) -> None:
        """Connection ``conn_id`` is gone: drop the portmap entries it signed in.

        Called for every connection (most are short portmap lookups): keep it cheap."""


@runtime_checkable
class EventNotifyBackend(Protocol):
    """An optional extra of a :class:`MgmtBackend`: backends without it still work (the
    server looks the method up with getattr). Kept out of :class:`MgmtBackend` so that
    ``isinstance(backend, MgmtBackend)`` stays true for backends written before it."""

    async def event_notify(self, op: int, items: dict[str, bytes], peer: PeerInfo) -> None:
        """HANDSHAKE EVENT_NOTIFY with a non-empty, well-formed dict (raw values: see
        ``gluster_dict.value_text`` and ``defrag_client.parse_defrag_status``).

        ``op`` is :attr:`programs.EventNotifyOp.DEFRAG_STATUS`, the only op there is (others
        are refused before reaching here): a rebalance process's final counters plus
        ``volname`` = ``rebalance/VOL``, sent just before it exits. Raising makes the reply
        op_ret -1, which the process only logs."""


@runtime_checkable
class VolumeInfoBackend(Protocol):
    """Another optional extra of a :class:`MgmtBackend` (looked up with getattr)."""

    async def volume_id(self, name: str) -> str | None:
        """The UUID of volume ``name`` (gfapi's GET_VOLUME_INFO), None if there is none."""


@attrs.frozen
class Route:
    """How one procedure is served: ``handler(connection, args)`` returns the encoded
    result, at once (``runs_backend`` False) or as a coroutine queued per connection."""

    args: type | None  # message class the arguments decode to; None: no arguments
    handler: Callable[..., Any]
    runs_backend: bool



_SERVED_VERSIONS: dict[int, int] = {
    pg.Program.DUMP: 1,
    pg.Program.HANDSHAKE: 2,
    pg.Program.PORTMAP: 1,
}


class _Connection(asyncio.Protocol):
    """One client or brick connection: decode records, dispatch calls, send callbacks."""

    def __init__(self, server: MgmtRpcServer, conn_id: int) -> None:
        self.server = server
        self.conn_id = conn_id
        self.peer = PeerInfo(conn_id, "", 0)
        self.transport: asyncio.Transport | None = None
        self.decoder = RecordDecoder(server.max_record_size)
        #: normalised volfile ids this connection fetched (ordered, bounded)
        self.fetched: dict[str, None] = {}
        self._queue: collections.deque[tuple[Call, Route, Any]] = collections.deque()
        self._worker: asyncio.Task[None] | None = None
        self._paused_by: set[str] = set()
        self._callback_xid = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        #: admitted under the connection limits (a refused one is closed and forgotten)
        self.admitted = False
        #: completed a valid RPC record: a real client, exempt from the first-record deadline
        self.proven = False
        self.started = time.monotonic()
        #: when the record now half-received began (None: nothing buffered)
        self.partial_since: float | None = None
        #: bytes of partial records counted in the server's budget
        self.held = 0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        address = transport.get_extra_info("peername")
        if isinstance(address, tuple) and len(address) >= 2:
            self.peer = PeerInfo(self.conn_id, str(address[0]), int(address[1]))
        if not self.server._admit(self):
            transport.abort()
            return
        log.debug("connection %d from %s:%d", self.conn_id, self.peer.host, self.peer.port)

    def data_received(self, data: bytes) -> None:
        server = self.server
        try:
            records = self.decoder.feed(data)
        except RecordTooLarge as exc:
            server._complain(f"too-large:{self.peer.host}", logging.WARNING,
                             "connection %d (%s): %s; closing", self.conn_id, self.peer.host, exc)
            self._abort()
            return
        held = self.decoder.buffered
        server._buffered += held - self.held
        grew = held > self.held
        self.held = held
        if not held:
            self.partial_since = None
        elif records or self.partial_since is None:
            self.partial_since = time.monotonic()
        if grew and server._buffered > server.limits.max_buffered:
            server._complain("buffer-budget", logging.WARNING,
                             "connection %d (%s): partial records of all connections would "
                             "exceed %d bytes; closing it", self.conn_id, self.peer.host,
                             server.limits.max_buffered)
            self._abort()
            return
        for record in records:
            if self.transport is None or self.transport.is_closing():
                return
            self._handle_record(record)

    def pause_writing(self) -> None:
        self._pause("write")

    def resume_writing(self) -> None:
        self._resume("write")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.server._forget(self)
        self.decoder = RecordDecoder(0)  # free a half-received record now
        if not self.admitted:  # refused at once: the backend never heard of it
            if not self.closed.done():
                self.closed.set_result(None)
            return
        log.debug("connection %d closed (%s)", self.conn_id, exc or "eof")
        if self._worker is not None:
            self._worker.cancel()
        self._queue.clear()
        self.server._connection_gone(self)

    # -- dispatch ------------------------------------------------------------------------

    def _handle_record(self, record: bytes) -> None:
        try:
            message = decode_message(record)
        except XdrError as exc:
            # without a readable header there is no xid to answer: drop the peer
            self.server._complain(f"undecodable:{self.peer.host}", logging.WARNING,
                                  "connection %d (%s): undecodable RPC header (%s); closing",
                                  self.conn_id, self.peer.host, exc)
            self._abort()
            return
        if not self.proven:
            self.proven = True
            self.server._unproven.pop(self.conn_id, None)
        if isinstance(message, Reply):
            log.debug("connection %d: reply xid %d to our callback ignored", self.conn_id,
                      message.xid)
            return
        reply = self._check_call(message)
        if reply is not None:
            self.send(reply)

    def _check_call(self, call: Call) -> bytes | None:
        """Answer at once when we can (errors, trivial procs); queue backend calls."""
        xid = call.xid
        if call.rpcvers != RPC_VERSION:
            return encode_rpc_mismatch(xid)
        if call.cred_flavor not in ACCEPTED_AUTH_FLAVORS:
            return encode_auth_error(xid, AuthStat.AUTH_REJECTEDCRED)
        served = self.server.served_versions.get(call.prog)
        if served is None:
            return encode_accepted_reply(xid, AcceptStat.PROG_UNAVAIL)
        if call.vers != served:
            return encode_prog_mismatch(xid, 0, 0)  # what stock glusterd answers
        route = self.server.routes.get((call.prog, call.proc))
        if route is None:
            return encode_accepted_reply(xid, AcceptStat.PROC_UNAVAIL)
        args: Any = None
        if route.args is not None:
            try:
                args = pg.decode(route.args, call.args)
            except (XdrError, ValueError) as exc:
                self.server._complain(f"garbage:{self.peer.host}", logging.INFO,
                                      "connection %d (%s): garbage args for prog %d proc %d: %s",
                                      self.conn_id, self.peer.host, call.prog, call.proc,
                                      untrusted(exc))
                return encode_accepted_reply(xid, AcceptStat.GARBAGE_ARGS)
        if not route.runs_backend:
            return encode_accepted_reply(xid, AcceptStat.SUCCESS, route.handler(self, args))
        self._queue.append((call, route, args))
        if len(self._queue) >= MAX_QUEUED_CALLS:
            self._pause("queue")
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run_queue())
        return None

    async def _run_queue(self) -> None:
        while self._queue:
            call, route, args = self._queue.popleft()
            if len(self._queue) < MAX_QUEUED_CALLS // 2:
                self._resume("queue")
            try:
                body = await route.handler(self, args)
            except Exception:  # a bug, e.g. a backend returning the wrong type
                log.exception("connection %d: prog %d proc %d failed", self.conn_id,
                              call.prog, call.proc)
                self.send(encode_accepted_reply(call.xid, AcceptStat.SYSTEM_ERR))
                continue
            self.send(encode_accepted_reply(call.xid, AcceptStat.SUCCESS, body))

    # -- output --------------------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_record(payload))

    def send_fetchspec(self) -> None:
        """CALLBACK FETCHSPEC, laid out as glusterd's: AUTH_NULL cred and verifier, no args."""
        self._send_callback(pg.CallbackProc.FETCHSPEC)

    def send_statedump(self, pid: int) -> None:
        """CALLBACK STATEDUMP for the client process ``pid`` (each client compares it with
        its own pid)."""
        self._send_callback(pg.CallbackProc.STATEDUMP, pg.encode(pg.StatedumpCallback(pid)))

    def _send_callback(self, proc: pg.CallbackProc, args: bytes = b"") -> None:
        self._callback_xid = (self._callback_xid + 1) & 0xFFFFFFFF
        self.send(encode_call(self._callback_xid, pg.Program.CALLBACK,
                              pg.PROGRAM_VERSIONS[pg.Program.CALLBACK], proc, args=args))

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _pause(self, reason: str) -> None:
        if not self._paused_by and self.transport is not None:
            self.transport.pause_reading()
        self._paused_by.add(reason)

    def _resume(self, reason: str) -> None:
        if reason not in self._paused_by:
            return
        self._paused_by.discard(reason)
        if not self._paused_by and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def remember_fetch(self, key: str) -> None:
        volfile_id = pg.normalize_volfile_id(key)
        self.fetched.pop(volfile_id, None)
        self.fetched[volfile_id] = None
        while len(self.fetched) > MAX_TRACKED_VOLFILES:
            del self.fetched[next(iter(self.fetched))]


def _address_key(address: str) -> str:
    """An address compared as an address (``::ffff:127.0.0.1`` is ``127.0.0.1``); a name
    as given."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


# -- procedure handlers ------------------------------------------------------------------

def _null(conn: _Connection, args: None) -> bytes:
    return b""


def _dump(conn: _Connection, args: pg.DumpRequest) -> bytes:
    return conn.server._dump_reply


_PING_REPLY = pg.encode(pg.CommonReply())
_EVENT_NOTIFY_REPLY = pg.encode(pg.EventNotifyReply())
_EVENT_NOTIFY_INVALID = pg.encode(pg.EventNotifyReply(-1, errno.EINVAL))
# stock glusterd never answers BRICKBYPORT (the client would hang); we say "not found"
_BRICK_BY_PORT_REPLY = pg.encode(pg.BrickByPortReply(-1, errno.ENOSYS))


def _ping(conn: _Connection, args: None) -> bytes:
    return _PING_REPLY


def _brick_by_port(conn: _Connection, args: pg.BrickByPortRequest) -> bytes:
    return _BRICK_BY_PORT_REPLY


async def _getspec(conn: _Connection, args: pg.GetspecRequest) -> bytes:
    conn.remember_fetch(args.key)
    try:
        spec = await conn.server.backend.getspec(args.key, conn.peer)
    except Exception:
        log.exception("backend getspec(%s) failed", untrusted(args.key))
        return pg.encode(pg.GetspecReply.failed(errno.EIO))
    if spec is None:
        conn.server._complain(f"getspec-enoent:{conn.peer.host}", logging.INFO,
                              "GETSPEC %s from %s: no such volfile", untrusted(args.key),
                              conn.peer.host)
        return pg.encode(pg.GetspecReply.failed(errno.ENOENT))
    if isinstance(spec, VolfileReply):
        reply = pg.GetspecReply.found(bytes(spec.spec), encode_dict(spec.xdata))
    elif isinstance(spec, bytes | bytearray | memoryview):
        reply = pg.GetspecReply.found(bytes(spec))
    else:
        raise TypeError(f"backend getspec returned {type(spec).__name__}, not bytes")
    log.debug("GETSPEC %s from %s: %d bytes", untrusted(args.key), conn.peer.host, reply.op_ret)
    return pg.encode(reply)


async def _event_notify(conn: _Connection, args: pg.EventNotifyRequest) -> bytes:
    """Hand a rebalance process's report to the backend. Stock glusterd answers unknown ops
    and bad dicts with op_ret -1 and sends nothing when it took a dict; we always answer
    (the process's callback just logs a failure), with op_errno set so its log says why."""
    if args.op != pg.EventNotifyOp.DEFRAG_STATUS:
        conn.server._complain(f"event-notify:{conn.peer.host}", logging.WARNING,
                              "EVENT_NOTIFY from %s (connection %d): unknown op %d",
                              conn.peer.host, conn.conn_id, args.op)
        return _EVENT_NOTIFY_INVALID
    try:
        items = decode_dict(args.dict)
    except XdrError as exc:
        conn.server._complain(f"event-notify:{conn.peer.host}", logging.WARNING,
                              "EVENT_NOTIFY op %d from %s (connection %d): malformed dict of %d "
                              "bytes (%s); answered op_ret -1", args.op, conn.peer.host,
                              conn.conn_id, len(args.dict), untrusted(exc))
        return _EVENT_NOTIFY_INVALID
    if not items:  # as glusterd: nothing to report, nothing to do
        return _EVENT_NOTIFY_REPLY
    handler = getattr(conn.server.backend, "event_notify", None)
    if handler is None:
        log.info("EVENT_NOTIFY op %d from %s: backend takes no event_notify; acknowledged",
                 args.op, conn.peer.host)
        return _EVENT_NOTIFY_REPLY
    try:
        await handler(args.op, items, conn.peer)
    except Exception:
        log.exception("backend event_notify(%d) failed", args.op)
        return pg.encode(pg.EventNotifyReply(-1, errno.EIO))
    return _EVENT_NOTIFY_REPLY


async def _get_volume_info(conn: _Connection, args: pg.GetVolumeInfoRequest) -> bytes:
    """gfapi's glfs_get_volumeid: the volume's UUID, with glusterd's answers (flags 0: an
    empty success; no flags, no volname or no such volume: op_ret -1)."""
    def failed(err: int) -> bytes:
        return pg.encode(pg.GetVolumeInfoReply(-1, err))
    try:
        items = decode_dict(args.dict)
    except XdrError:
        return failed(errno.EINVAL)
    try:
        flags = int(value_text(items["flags"]))
    except (KeyError, ValueError):
        return failed(errno.ENOENT)
    if not flags:
        return pg.encode(pg.GetVolumeInfoReply())
    if "volname" not in items:
        return failed(errno.EINVAL)
    lookup = getattr(conn.server.backend, "volume_id", None)
    try:
        volume_id = await lookup(value_text(items["volname"])) if lookup else None
    except Exception:
        log.exception("backend volume_id failed")
        return failed(errno.EIO)
    if volume_id is None:
        return failed(errno.EINVAL)
    reply = {"volume_id": volume_id} if flags & pg.GET_VOLUME_UUID else {}
    return pg.encode(pg.GetVolumeInfoReply(dict=encode_dict(reply)))


async def _port_by_brick(conn: _Connection, args: pg.PortByBrickRequest) -> bytes:
    try:
        port = await conn.server.backend.port_by_brick(args.brick)
    except Exception:
        log.exception("backend port_by_brick(%s) failed", untrusted(args.brick))
        port = None
    if not port:  # never 0 with op_ret 0: the client would reconnect to us forever
        return pg.encode(pg.PortByBrickReply(-1))
    return pg.encode(pg.PortByBrickReply(0, 0, 0, port))


def _refuse_portmap(conn: _Connection, proc: str, reason: Exception) -> None:
    conn.server._complain(f"portmap-refused:{conn.peer.host}", logging.WARNING,
                          "%s from %s refused: %s", proc, conn.peer.host, reason)


async def _signin(conn: _Connection, args: pg.SigninRequest) -> bytes:
    log.info("SIGNIN brick %s port %d pid %d (connection %d)", untrusted(args.brick), args.port,
             args.pid, conn.conn_id)
    try:
        await conn.server.backend.signin(args.brick, args.port, args.pid, conn.peer)
    except PermissionError as exc:
        _refuse_portmap(conn, "SIGNIN", exc)
        return pg.encode(pg.SigninReply(-1, errno.EPERM))
    except Exception:
        log.exception("backend signin(%s) failed", untrusted(args.brick))
        return pg.encode(pg.SigninReply(-1, errno.EIO))
    return pg.encode(pg.SigninReply())


async def _signout(conn: _Connection, args: pg.SignoutRequest) -> bytes:
    log.info("SIGNOUT brick %s port %d (connection %d)", untrusted(args.brick), args.port,
             conn.conn_id)
    try:
        await conn.server.backend.signout(args.brick, args.port, conn.peer)
    except PermissionError as exc:
        _refuse_portmap(conn, "SIGNOUT", exc)
        return pg.encode(pg.SignoutReply(-1, errno.EPERM))
    except Exception:
        log.exception("backend signout(%s) failed", untrusted(args.brick))
        return pg.encode(pg.SignoutReply(-1, errno.EIO))
    return pg.encode(pg.SignoutReply())


_ROUTES: dict[tuple[int, int], Route] = {
    (pg.Program.DUMP, pg.DumpProc.NULL): Route(None, _null, False),
    (pg.Program.DUMP, pg.DumpProc.DUMP): Route(pg.DumpRequest, _dump, False),
    (pg.Program.DUMP, pg.DumpProc.PING): Route(None, _ping, False),
    (pg.Program.HANDSHAKE, pg.HandshakeProc.NULL): Route(None, _null, False),
    (pg.Program.HANDSHAKE, pg.HandshakeProc.GETSPEC): Route(pg.GetspecRequest, _getspec, True),
    (pg.Program.HANDSHAKE, pg.HandshakeProc.EVENT_NOTIFY):
        Route(pg.EventNotifyRequest, _event_notify, True),
    (pg.Program.HANDSHAKE, pg.HandshakeProc.GET_VOLUME_INFO):
        Route(pg.GetVolumeInfoRequest, _get_volume_info, True),
    (pg.Program.PORTMAP, pg.PortmapProc.NULL): Route(None, _null, False),
    (pg.Program.PORTMAP, pg.PortmapProc.PORTBYBRICK):
        Route(pg.PortByBrickRequest, _port_by_brick, True),
    (pg.Program.PORTMAP, pg.PortmapProc.BRICKBYPORT):
        Route(pg.BrickByPortRequest, _brick_by_port, False),
    (pg.Program.PORTMAP, pg.PortmapProc.SIGNIN): Route(pg.SigninRequest, _signin, True),
    (pg.Program.PORTMAP, pg.PortmapProc.SIGNOUT): Route(pg.SignoutRequest, _signout, True),
}


class MgmtRpcServer:
    """The mgmt RPC listener (glusterd's port 24007 role).

    ``async with MgmtRpcServer(backend, "0.0.0.0", 24007) as server: ...`` or
    :meth:`start` / :meth:`close`. ``port=0`` picks a free port (see :attr:`port`).
    ``ssl_context``: TLS only on the port (glusterd's secure-access, see :mod:`.tls`); the
    connection sees the protocol only once the handshake has succeeded.
    ``unix_path``: listen on that unix socket (created 0600, root's like glusterd.socket)
    instead of ``host:port``; ``extra_routes`` / ``extra_versions`` add programs (the
    GLUSTER_CLI program of :mod:`.cli_program` on glusterd's socket).
    """

    def __init__(
        self,
        backend: MgmtBackend,
        host: str | None = "0.0.0.0",
        port: int = MGMT_PORT,
        *,
        max_record_size: int = DEFAULT_MAX_RECORD_SIZE,
        programs: Iterable[pg.ProgDetail] = pg.DEFAULT_PROGRAMS,
        limits: ConnectionLimits = ConnectionLimits(),
        ssl_context: ssl.SSLContext | None = None,
        unix_path: str | None = None,
        extra_routes: Mapping[tuple[int, int], Route] | None = None,
        extra_versions: Mapping[int, int] | None = None,
    ) -> None:
        self.backend = backend
        self.unix_path = unix_path
        self.routes: dict[tuple[int, int], Route] = {**_ROUTES, **(extra_routes or {})}
        self.served_versions: dict[int, int] = {**_SERVED_VERSIONS, **(extra_versions or {})}
        self.host = host
        self.requested_port = port
        self.max_record_size = max_record_size
        self.programs = tuple(programs)
        self.ssl_context = ssl_context
        self._dump_reply = pg.encode(pg.DumpReply(self.programs))
        self._connections: dict[int, _Connection] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cleanups: set[asyncio.Task[None]] = set()
        #: may be replaced while serving (read on every connection and sweep)
        self.limits = limits
        #: admitted connections not proven yet, oldest first (the ones evicted at the limit)
        self._unproven: dict[int, _Connection] = {}
        self._per_host: collections.Counter[str] = collections.Counter()
        self._buffered = 0
        self._complaints = RateLimiter()
        self._sweeper: asyncio.Task[None] | None = None
        self._previous_handler: Any = None

    def add_program(self, detail: pg.ProgDetail, routes: Mapping[tuple[int, int], Route]) -> None:
        """Serve one more program from now on, and list it in DUMP: for a program whose
        backend exists only after the listener has started (the CLI program on 24007)."""
        self.routes.update(routes)
        self.served_versions[detail.number] = detail.version
        self.programs = (*self.programs, detail)
        self._dump_reply = pg.encode(pg.DumpReply(self.programs))

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.unix_path is not None:
            self._server = await self._listen_unix(self.unix_path)
        else:
            self._server = await self._loop.create_server(
                lambda: _Connection(self, next(self._ids)),
                self.host, self.requested_port, reuse_address=True, backlog=ACCEPTS_PER_TICK,
                ssl=self.ssl_context,
            )
        for listener in self._server.sockets:
            with listener.dup() as sock:  # same listening socket: raise the kernel's backlog
                sock.listen(LISTEN_BACKLOG)
        self._previous_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._loop_exception)
        self._sweeper = self._loop.create_task(self._sweep())
        addresses = (s.getsockname() if isinstance(s.getsockname(), str)
                     else f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._server.sockets)
        log.info("mgmt RPC server listening on %s%s", ", ".join(addresses),
                 " (TLS only)" if self.ssl_context is not None else "")

    async def _listen_unix(self, path: str) -> asyncio.base_events.Server:
        """A root-only socket at ``path``; a stale file there (a dead daemon's) is replaced,
        a live listener is not (OSError)."""
        assert self._loop is not None
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)
            else:
                raise OSError(errno.EADDRINUSE, f"{path}: another daemon listens there")
            finally:
                probe.close()
        old = os.umask(0o177)
        try:
            return await self._loop.create_unix_server(
                lambda: _Connection(self, next(self._ids)), path, backlog=ACCEPTS_PER_TICK)
        finally:
            os.umask(old)

    @property
    def connection_limit(self) -> int:
        """Connections admitted at most now: the configured limit, kept below the open-file
        limit so the daemon still has files for its CLI socket, store and bricks."""
        return max(1, min(self.limits.max_connections, open_file_limit() - FD_RESERVE))

    @property
    def buffered(self) -> int:
        """Bytes of partial records held for all connections."""
        return self._buffered

    def _admit(self, conn: _Connection) -> bool:
        """Count ``conn`` in, or refuse it (False). At the connection limit the oldest
        connection that never completed a record gives way; real clients complete theirs
        within a round trip, so it is an idle or attacking one."""
        host = conn.peer.host
        if self._per_host[host] >= self.limits.max_per_host:
            self._complain(f"refused:{host}", logging.WARNING,
                           "mgmt connection from %s refused: %d connections from that address "
                           "(limit %d)", host, self._per_host[host], self.limits.max_per_host)
            return False
        limit = self.connection_limit
        if len(self._connections) >= limit:
            if not self._unproven:
                self._complain("refused", logging.WARNING,
                               "mgmt connection from %s refused: %d connections (limit %d)",
                               host, len(self._connections), limit)
                return False
            oldest = next(iter(self._unproven.values()))
            self._complain("evicted", logging.WARNING,
                           "%d connections (limit %d): closing connection %d from %s, which "
                           "sent no complete record, for a new one from %s",
                           len(self._connections), limit, oldest.conn_id, oldest.peer.host, host)
            self._forget(oldest)
            oldest._abort()
        conn.admitted = True
        self._connections[conn.conn_id] = conn
        self._unproven[conn.conn_id] = conn
        self._per_host[host] += 1
        return True

    def _forget(self, conn: _Connection) -> None:
        """Uncount ``conn`` (idempotent: evicted connections are forgotten before they close)."""
        if self._connections.pop(conn.conn_id, None) is None:
            return
        self._unproven.pop(conn.conn_id, None)
        self._per_host[conn.peer.host] -= 1
        if self._per_host[conn.peer.host] <= 0:
            del self._per_host[conn.peer.host]
        self._buffered -= conn.held
        conn.held = 0

    def _complain(self, key: str, level: int, message: str, *args: object) -> None:
        """Log a complaint about peers at most once per key every few seconds."""
        suppressed = self._complaints.allow(key)
        if suppressed is not None:
            log.log(level, message + "%s", *args, suppressed_note(suppressed))

    async def _sweep(self) -> None:
        """Close connections past their deadline: no valid record since they connected, or
        a record begun and not finished (a peer we stopped reading from is not timed out)."""
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL, self.limits.idle_timeout / 4))
            timeout = self.limits.idle_timeout
            now = time.monotonic()
            for conn in list(self._connections.values()):
                if not conn.proven:
                    late = now - conn.started > timeout
                else:
                    late = (conn.partial_since is not None and not conn._paused_by
                            and now - conn.partial_since > timeout)
                if late:
                    self._complain(f"idle:{conn.peer.host}", logging.INFO,
                                   "connection %d (%s): no complete RPC record in %gs; closing",
                                   conn.conn_id, conn.peer.host, timeout)
                    self._forget(conn)
                    conn._abort()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio logs a traceback per failed accept (EMFILE...) and retries a second later:
        thousands of lines a second when out of files. One line every few seconds says it."""
        if context.get("message") == _ACCEPT_OUT_OF_RESOURCES:
            self._complain("accept", logging.ERROR, "cannot accept mgmt connections (%s); "
                           "retrying", context.get("exception"))
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def fetched_ids(self) -> frozenset[str]:
        """Every normalised volfile id a live connection fetched: only a change of one of
        these (or of any ``shd/`` id, once one was fetched) can send a FETCHSPEC. Callable
        from any thread (copies taken under the GIL, as ``fetched_volfiles``)."""
        ids: set[str] = set()
        for conn in list(self._connections.values()):
            ids.update(tuple(conn.fetched))
        return frozenset(ids)

    def fetched_volfiles(self) -> dict[int, tuple[str, ...]]:
        """Normalised volfile ids each live connection fetched (for status/debugging)."""
        return {cid: tuple(c.fetched) for cid, c in self._connections.items()}

    async def close(self) -> None:
        """Stop listening, drop every connection and wait for the backend to hear of it."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._loop is not None and self._loop.get_exception_handler() == self._loop_exception:
            self._loop.set_exception_handler(self._previous_handler)
        conns = list(self._connections.values())
        for conn in conns:
            if conn.transport is not None:
                conn.transport.abort()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
            if self.unix_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_path)
        if self._cleanups:
            await asyncio.wait(self._cleanups, timeout=5)

    async def __aenter__(self) -> MgmtRpcServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def notify_volfile_changed(self, volfile_ids: Iterable[str]) -> int:
        """Send FETCHSPEC to every connection that fetched one of ``volfile_ids``.

        Ids are compared normalised, so ``VOL``, ``/VOL`` and ``VOL.tcp`` are the same. A
        self-heal daemon is told of every ``shd/`` change: it serves graphs attached to it
        (SVC_ATTACH) that it never fetched, and refetches all of them on FETCHSPEC.
        Call from the event loop's thread; returns how many connections were told.
        """
        if isinstance(volfile_ids, str):  # one id, not an iterable of its characters
            volfile_ids = (volfile_ids,)
        wanted = {pg.normalize_volfile_id(v) for v in volfile_ids}
        shd_changed = any(v.startswith(SHD_VOLFILE_PREFIX) for v in wanted)
        told = 0
        for conn in list(self._connections.values()):
            if not wanted.isdisjoint(conn.fetched) or (shd_changed and any(
                    f.startswith(SHD_VOLFILE_PREFIX) for f in conn.fetched)):
                conn.send_fetchspec()
                told += 1
        log.info("volfile change %s: FETCHSPEC sent to %d connection(s)", sorted(wanted), told)
        return told

    def notify_threadsafe(self, volfile_ids: Iterable[str]) -> concurrent.futures.Future[int]:
        """:meth:`notify_volfile_changed` from any thread (e.g. a store watch thread)."""
        if self._loop is None:
            raise RuntimeError("server not started")
        ids = (volfile_ids,) if isinstance(volfile_ids, str) else tuple(volfile_ids)

        async def notify() -> int:
            return self.notify_volfile_changed(ids)

        return asyncio.run_coroutine_threadsafe(notify(), self._loop)

    def statedump_clients(self, volume: str, addresses: Iterable[str], pid: int) -> int:
        """Send CALLBACK STATEDUMP ``pid`` to every connection from one of ``addresses``
        whose last GETSPEC fetched ``volume``, as glusterd does
        (glusterd_client_statedump_submit_req). Call from the event loop's thread; returns
        how many connections were told."""
        wanted = {_address_key(a) for a in addresses}
        volfile_id = pg.normalize_volfile_id(volume)
        told = 0
        for conn in list(self._connections.values()):
            if next(reversed(conn.fetched), None) == volfile_id and \
                    _address_key(conn.peer.host) in wanted:
                conn.send_statedump(pid)
                told += 1
        log.info("statedump of client pid %d of volume %s: asked %d connection(s)", pid,
                 untrusted(volume), told)
        return told

    def statedump_clients_threadsafe(self, volume: str, addresses: Iterable[str],
                                     pid: int) -> concurrent.futures.Future[int]:
        """:meth:`statedump_clients` from any thread (an Executor step)."""
        if self._loop is None:
            raise RuntimeError("server not started")
        addresses = tuple(addresses)

        async def send() -> int:
            return self.statedump_clients(volume, addresses, pid)

        return asyncio.run_coroutine_threadsafe(send(), self._loop)

    def _connection_gone(self, conn: _Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._tell_backend_closed(conn))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def _tell_backend_closed(self, conn: _Connection) -> None:
        try:
            await self.backend.connection_closed(conn.conn_id)
        except Exception:
            log.exception("backend connection_closed(%d) failed", conn.conn_id)
        finally:
            if not conn.closed.done():
                conn.closed.set_result(None)
