"""Asking a running rebalance process for its progress, or telling it to stop.

glusterd does this over the process's ``--socket-file``: one GD_BRICK v2 XLATOR_DEFRAG
CALL (see :class:`.programs.BrickOpRequest`) naming the volume's dht xlator, with a dict
whose ``rebalance-command`` says what to do. The dht xlator answers with its counters
(``gf_defrag_status_get``) as a dict of decimal text. Facts about stock GlusterFS 10.3
this module relies on, each checked against a real process in the tests:

* The listener accepts every credential flavour (glusterfsd's rpcsvc enables AUTH_NULL,
  AUTH_UNIX and all AUTH_GLUSTERFS ones); we send AUTH_GLUSTERFS_v2, as glusterd's
  rpc_clnt does, with glusterd's body (pid 0, uid 0, gid 0, no groups, 4-byte lk_owner).
* A process whose dht xlator has no defrag state (not started with ``rebalance-cmd``)
  answers op_ret -1 with an empty dict and an empty op_errstr.
* A name matching no xlator gets no reply at all (``glusterfs_handle_defrag`` composes
  "xlator NAME is not loaded" and never sends it), so it ends in :class:`DefragTimeout`.
* Until its graph is active (just started, still fetching its volfile) the process answers
  GARBAGE_ARGS: :class:`DefragRpcError`, worth retrying.
* The input dict must not be empty: an empty blob fails ``dict_unserialize``.

Synchronous on purpose: callers poll from worker threads, one short call at a time.
"""

from __future__ import annotations

import enum
import itertools
import re
import socket
import time
from collections.abc import Mapping

from gluster_mgmt.errors import GlusterMgmtError

from . import programs as pg
from .framing import RecordDecoder, RecordTooLarge, encode_record
from .gluster_dict import decode_dict, encode_dict
from .rpc_message import (
    AcceptStat,
    AuthFlavor,
    AuthStat,
    Call,
    RejectStat,
    ReplyStat,
    decode_message,
    encode_call,
)
from .xdr import Packer, XdrError

__all__ = [
    "DefragCommand", "DefragConnectionError",
    "DefragError", "DefragOpError", "DefragProtocolError", "DefragRpcError",
    "DefragTimeout", "brick_op", "defrag_command", "parse_defrag_status",
]


class DefragCommand(enum.IntEnum):
    """``gf_defrag_type`` values for ``rebalance-command`` (and ``*dht.rebalance-cmd``)."""

    NONE = 0
    START = 1
    STOP = 2
    STATUS = 3
    START_LAYOUT_FIX = 4
    START_FORCE = 5
    DETACH_STATUS = 12
    DETACH_START = 14
    DETACH_COMMIT = 15
    DETACH_COMMIT_FORCE = 16
    DETACH_STOP = 17


class DefragError(GlusterMgmtError):
    """A command to a rebalance process failed; the message names the socket and the cause."""


class DefragConnectionError(DefragError):
    """The socket could not be reached, or the process closed it before replying.

    Often just means the process is gone (a rebalance process exits when it is done).
    """


class DefragTimeout(DefragError, TimeoutError):
    """No reply in time; also what a wrong xlator name gets (stock sends no reply then)."""


class DefragRpcError(DefragError):
    """The RPC layer refused the call (MSG_DENIED, or accepted with a status not SUCCESS)."""


class DefragOpError(DefragError):
    """The process answered op_ret -1; ``op_errstr`` is its message (often empty)."""

    def __init__(self, message: str, reply: pg.BrickOpReply) -> None:
        super().__init__(message)
        self.op_ret = reply.op_ret
        self.op_errno = reply.op_errno
        self.op_errstr = reply.op_errstr
        self.output = reply.output


class DefragProtocolError(DefragError):
    """The reply (or a value in it) is not what the protocol allows."""


def _v2_credential() -> bytes:
    """The AUTH_GLUSTERFS_v2 body glusterd's calls carry (``auth_glusterfs_parms_v2``):
    pid 0, uid 0, gid 0, no groups, lk_owner = the pid's 4 little-endian bytes."""
    p = Packer()
    for word in (0, 0, 0, 0):  # pid, uid, gid, groups<> length
        p.pack_uint(word)
    p.pack_opaque(b"\0\0\0\0")
    return p.get_buffer()


_CREDENTIAL = _v2_credential()
_xids = itertools.count(1)
#: replies are a few hundred bytes; anything near this is not a defrag reply
_MAX_REPLY = 1 << 20


def brick_op(socket_path: str, request: pg.BrickOpRequest, proc: int,
             timeout: float = 5.0, what: str = "rebalance") -> pg.BrickOpReply:
    """One GD_BRICK CALL on a fresh connection to ``socket_path``; the decoded reply.
    ``what`` names the process in errors (the self-heal daemon's XLATOR_OP uses it too).

    ``op_ret`` is not judged here. Raises :class:`DefragConnectionError`,
    :class:`DefragTimeout`, :class:`DefragRpcError` or :class:`DefragProtocolError`.
    """
    deadline = time.monotonic() + timeout
    xid = next(_xids) & 0xFFFFFFFF
    payload = encode_record(encode_call(
        xid, pg.Program.BRICK, pg.PROGRAM_VERSIONS[pg.Program.BRICK], proc, pg.encode(request),
        cred_flavor=AuthFlavor.AUTH_GLUSTERFS_V2, cred_body=_CREDENTIAL))
    where = f"{what} socket {socket_path}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        stage = "cannot connect"
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(socket_path)
            stage = "connection lost"
            sock.sendall(payload)
            record = _read_record(sock, deadline)
        except TimeoutError:
            raise DefragTimeout(f"{where}: no reply within {timeout:g}s") from None
        except OSError as exc:
            raise DefragConnectionError(f"{where}: {stage}: {exc.strerror or exc}") from exc
        except RecordTooLarge as exc:
            raise DefragProtocolError(f"{where}: {exc}") from None
        if record is None:
            raise DefragConnectionError(f"{where}: closed by the process before it replied")
    return _decode_reply(where, xid, record)


def _read_record(sock: socket.socket, deadline: float) -> bytes | None:
    """The first record from ``sock``, None on EOF; TimeoutError past ``deadline``."""
    decoder = RecordDecoder(_MAX_REPLY)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            return None
        records = decoder.feed(data)
        if records:
            return records[0]


def _decode_reply(where: str, xid: int, record: bytes) -> pg.BrickOpReply:
    try:
        message = decode_message(record)
    except XdrError as exc:
        raise DefragProtocolError(f"{where}: undecodable RPC reply ({exc})") from None
    if isinstance(message, Call) or message.xid != xid:
        got = "a CALL" if isinstance(message, Call) else f"the reply to xid {message.xid}"
        raise DefragProtocolError(f"{where}: expected the reply to xid {xid}, got {got}")
    if message.reply_stat == ReplyStat.MSG_DENIED:
        if message.reject_stat == RejectStat.AUTH_ERROR:
            stat = _name(AuthStat, message.auth_stat)
            raise DefragRpcError(f"{where}: call denied: credential refused (auth_stat {stat})")
        raise DefragRpcError(f"{where}: call denied, RPC version mismatch "
                             f"(server speaks {message.low}..{message.high})")
    if message.accept_stat != AcceptStat.SUCCESS:
        hint = ""
        if message.accept_stat == AcceptStat.GARBAGE_ARGS:
            hint = " (what a process answers until its graph is active, e.g. just started)"
        raise DefragRpcError(f"{where}: call not accepted: "
                             f"{_name(AcceptStat, message.accept_stat)}{hint}")
    try:
        return pg.decode(pg.BrickOpReply, message.body)
    except XdrError as exc:
        raise DefragProtocolError(f"{where}: malformed gd1_mgmt_brick_op_rsp ({exc})") from None


def _name(enum_type: type[enum.IntEnum], value: int | None) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


def defrag_command(socket_path: str, volume: str, command: int,
                   timeout: float = 5.0) -> dict[str, bytes]:
    """Send ``command`` (:class:`DefragCommand`) to the rebalance process of ``volume``
    listening on ``socket_path``; its output dict (raw values, see :func:`parse_defrag_status`).

    An empty dict is a valid answer: a process that has not started crawling reports nothing.
    Raises a :class:`DefragError` subclass naming what went wrong.
    """
    request = pg.BrickOpRequest(
        f"{volume}-dht", pg.BrickProc.XLATOR_DEFRAG,
        encode_dict({"rebalance-command": int(command), "volname": volume}))
    reply = brick_op(socket_path, request, pg.BrickProc.XLATOR_DEFRAG, timeout)
    where = f"rebalance socket {socket_path}"
    if reply.op_ret < 0:
        detail = reply.op_errstr or "no error message (the dht xlator has no rebalance running)"
        raise DefragOpError(f"{where}: {_name(DefragCommand, command)} failed "
                            f"(op_ret {reply.op_ret}, op_errno {reply.op_errno}): {detail}", reply)
    try:
        return decode_dict(reply.output)
    except XdrError as exc:
        raise DefragProtocolError(f"{where}: malformed output dict ({exc})") from None


_INT = re.compile(rb"-?[0-9]{1,24}")
_FLOAT = re.compile(rb"-?[0-9]{1,24}(?:\.[0-9]{0,12})?")
#: output key -> (result key, parser); run-time is int64 text in 10.x (dict_set_time) and
#: was "%f" double text up to 9.x, so it is read as a float

_FIELDS: dict[str, tuple[str, type[int] | type[float]]] = {
    "status": ("status", int),
    "files": ("files", int),
    "size": ("size", int),
    "lookups": ("lookups", int),
    "failures": ("failures", int),
    "skipped": ("skipped", int),
    "run-time": ("run_time", float),
    "time-left": ("time_left", int),
}


def parse_defrag_status(items: Mapping[str, bytes]) -> dict[str, int | float]:
    """The numbers in a defrag output dict (a status reply or an EVENT_NOTIFY dict).

    Keys: status, files, size, lookups, failures, skipped, time_left (ints) and run_time
    (float seconds). A missing key reads as 0 (a process that has not started crawling
    reports none). A value that is not short decimal text raises
    :class:`DefragProtocolError` naming the key: made-up zeros could pass for real progress.
    Other keys (``volname``, ...) are ignored.
    """
    result: dict[str, int | float] = {}
    for key, (name, kind) in _FIELDS.items():
        raw = items.get(key)
        if raw is None:
            result[name] = kind(0)
            continue
        pattern = _INT if kind is int else _FLOAT
        text = bytes(raw[:-1] if raw.endswith(b"\0") else raw) \
            if isinstance(raw, bytes | bytearray) else None
        if text is None or pattern.fullmatch(text) is None:
            raise DefragProtocolError(f"defrag status value {key}={raw!r} is not a number")
        result[name] = kind(text.decode("ascii"))
    return result
