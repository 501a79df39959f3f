"""ONC RPC v2 message headers (RFC 5531) as GlusterFS uses them.

Calls arrive with any credential flavour GlusterFS processes send (we parse and ignore the
body); our replies always carry an AUTH_NULL verifier, like glusterd's. The same module
encodes the CALLs we send as callbacks and decodes replies, which tests and clients need.
"""

from __future__ import annotations

import enum

import attrs

from .xdr import Packer, Unpacker, XdrError

__all__ = [
    "ACCEPTED_AUTH_FLAVORS",
    "AcceptStat",
    "AuthFlavor",
    "AuthStat",
    "Call",
    "MAX_AUTH_BYTES",
    "MsgType",
    "RejectStat",
    "Reply",
    "ReplyStat",
    "RPC_VERSION",
    "decode_message",
    "encode_accepted_reply",
    "encode_auth_error",
    "encode_call",
    "encode_prog_mismatch",
    "encode_rpc_mismatch",
]

RPC_VERSION = 2
MAX_AUTH_BYTES = 400  # opaque_auth body<400>


class MsgType(enum.IntEnum):
    CALL = 0
    REPLY = 1


class ReplyStat(enum.IntEnum):
    MSG_ACCEPTED = 0
    MSG_DENIED = 1


class AcceptStat(enum.IntEnum):
    SUCCESS = 0
    PROG_UNAVAIL = 1
    PROG_MISMATCH = 2
    PROC_UNAVAIL = 3
    GARBAGE_ARGS = 4
    SYSTEM_ERR = 5


class RejectStat(enum.IntEnum):
    RPC_MISMATCH = 0
    AUTH_ERROR = 1


class AuthStat(enum.IntEnum):
    AUTH_OK = 0
    AUTH_BADCRED = 1
    AUTH_REJECTEDCRED = 2
    AUTH_BADVERF = 3
    AUTH_REJECTEDVERF = 4
    AUTH_TOOWEAK = 5


class AuthFlavor(enum.IntEnum):
    AUTH_NULL = 0
    AUTH_UNIX = 1
    AUTH_GLUSTERFS = 5
    AUTH_GLUSTERFS_V2 = 390039
    AUTH_GLUSTERFS_V3 = 390040


#: what stock processes send (v2 on mgmt connections) and what glusterd accepts
ACCEPTED_AUTH_FLAVORS = frozenset(int(f) for f in AuthFlavor)


@attrs.frozen
class Call:
    """A decoded RPC CALL; ``args`` are the procedure's still-encoded arguments."""

    xid: int
    rpcvers: int
    prog: int
    vers: int
    proc: int
    cred_flavor: int
    cred_body: bytes
    verf_flavor: int
    verf_body: bytes
    args: bytes


@attrs.frozen
class Reply:
    """A decoded RPC REPLY; ``body`` holds the results when accepted with SUCCESS."""

    xid: int
    reply_stat: int
    accept_stat: int | None = None
    reject_stat: int | None = None
    low: int | None = None  # PROG_MISMATCH / RPC_MISMATCH range
    high: int | None = None
    auth_stat: int | None = None
    body: bytes = b""


def decode_message(record: bytes) -> Call | Reply:
    """Decode a record's RPC header. Raises :class:`XdrError` when it is not one."""
    u = Unpacker(record)
    xid = u.unpack_uint()
    msg_type = u.unpack_uint()
    if msg_type == MsgType.CALL:
        rpcvers = u.unpack_uint()
        prog = u.unpack_uint()
        vers = u.unpack_uint()
        proc = u.unpack_uint()
        cred_flavor = u.unpack_uint()
        cred_body = u.unpack_opaque(MAX_AUTH_BYTES)
        verf_flavor = u.unpack_uint()
        verf_body = u.unpack_opaque(MAX_AUTH_BYTES)
        return Call(xid, rpcvers, prog, vers, proc, cred_flavor, cred_body,
                    verf_flavor, verf_body, u.rest())
    if msg_type == MsgType.REPLY:
        return _decode_reply_body(xid, u)
    raise XdrError(f"message type {msg_type} is neither CALL nor REPLY")


def _decode_reply_body(xid: int, u: Unpacker) -> Reply:
    stat = u.unpack_uint()
    if stat == ReplyStat.MSG_ACCEPTED:
        u.unpack_uint()  # verifier flavour
        u.unpack_opaque(MAX_AUTH_BYTES)
        accept = u.unpack_uint()
        if accept == AcceptStat.PROG_MISMATCH:
            return Reply(xid, stat, accept_stat=accept, low=u.unpack_uint(), high=u.unpack_uint())
        return Reply(xid, stat, accept_stat=accept, body=u.rest())
    if stat == ReplyStat.MSG_DENIED:
        reject = u.unpack_uint()
        if reject == RejectStat.RPC_MISMATCH:
            return Reply(xid, stat, reject_stat=reject, low=u.unpack_uint(), high=u.unpack_uint())
        if reject == RejectStat.AUTH_ERROR:
            return Reply(xid, stat, reject_stat=reject, auth_stat=u.unpack_uint())
        raise XdrError(f"unknown reject_stat {reject}")
    raise XdrError(f"unknown reply_stat {stat}")


def encode_call(xid: int, prog: int, vers: int, proc: int, args: bytes = b"", *,
                cred_flavor: int = AuthFlavor.AUTH_NULL, cred_body: bytes = b"") -> bytes:
    """A CALL with an AUTH_NULL verifier (glusterd's callbacks use AUTH_NULL for both)."""
    p = Packer()
    for word in (xid, MsgType.CALL, RPC_VERSION, prog, vers, proc, cred_flavor):
        p.pack_uint(word)
    p.pack_opaque(cred_body)
    p.pack_uint(AuthFlavor.AUTH_NULL)
    p.pack_opaque(b"")
    return p.get_buffer() + args


def _accepted_header(xid: int, accept_stat: int) -> Packer:
    p = Packer()
    for word in (xid, MsgType.REPLY, ReplyStat.MSG_ACCEPTED, AuthFlavor.AUTH_NULL, 0, accept_stat):
        p.pack_uint(word)
    return p


def encode_accepted_reply(xid: int, accept_stat: int = AcceptStat.SUCCESS,
                          body: bytes = b"") -> bytes:
    """MSG_ACCEPTED with an empty AUTH_NULL verifier, then the results if any."""
    return _accepted_header(xid, accept_stat).get_buffer() + body


def encode_prog_mismatch(xid: int, low: int, high: int) -> bytes:
    p = _accepted_header(xid, AcceptStat.PROG_MISMATCH)
    p.pack_uint(low)
    p.pack_uint(high)
    return p.get_buffer()


def _denied_header(xid: int, reject_stat: int) -> Packer:
    p = Packer()
    for word in (xid, MsgType.REPLY, ReplyStat.MSG_DENIED, reject_stat):
        p.pack_uint(word)
    return p


def encode_rpc_mismatch(xid: int) -> bytes:
    """We speak RPC version 2 only, so low = high = 2."""
    p = _denied_header(xid, RejectStat.RPC_MISMATCH)
    p.pack_uint(RPC_VERSION)
    p.pack_uint(RPC_VERSION)
    return p.get_buffer()


def encode_auth_error(xid: int, auth_stat: int) -> bytes:
    p = _denied_header(xid, RejectStat.AUTH_ERROR)
    p.pack_uint(auth_stat)
    return p.get_buffer()
