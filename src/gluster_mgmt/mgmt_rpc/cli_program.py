"""GLUSTER_CLI (program 1238463 version 2): what the stock ``gluster`` binary sends to
glusterd's unix socket, ``/var/run/glusterd.socket``.

Procedure numbers and layouts are glusterfs 10.3's (``protocol-common.h``,
``cli1-xdr.x``; facts re-expressed here). Most procedures carry a glusterd dict both ways
(``gf_cli_req`` / ``gf_cli_rsp``); LIST_FRIENDS, GETWD, FSM_LOG, MOUNT and UMOUNT have
messages of their own, and every procedure must be answered with its own reply layout or
the CLI cannot even read the error. What each procedure *means* is a :class:`CliBackend`'s
business: this module only decodes calls and encodes replies, into routes for
:class:`.server.MgmtRpcServer`.
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from . import programs as pg
from .gluster_dict import DictValue, decode_dict, encode_dict
from .xdr import Packer, Unpacker

__all__ = ["CliBackend", "CliProc", "CliRequest", "CliResult", "GetVolumeFlag", "ListFriendsFlag",
           "StatusFlag", "TCP_PROCEDURES", "cli_routes", "glusterd_dict"]


class CliProc(enum.IntEnum):
    """``glusterd_cli_procnum`` of glusterfs 10.3."""

    NULL = 0
    PROBE = 1
    DEPROBE = 2
    LIST_FRIENDS = 3
    CREATE_VOLUME = 4
    GET_VOLUME = 5
    GET_NEXT_VOLUME = 6
    DELETE_VOLUME = 7
    START_VOLUME = 8
    STOP_VOLUME = 9
    RENAME_VOLUME = 10
    DEFRAG_VOLUME = 11
    SET_VOLUME = 12
    ADD_BRICK = 13
    REMOVE_BRICK = 14
    REPLACE_BRICK = 15
    LOG_ROTATE = 16
    GETSPEC = 17
    PMAP_PORTBYBRICK = 18
    SYNC_VOLUME = 19
    RESET_VOLUME = 20
    FSM_LOG = 21
    GSYNC_SET = 22
    PROFILE_VOLUME = 23
    QUOTA = 24
    TOP_VOLUME = 25
    GETWD = 26
    STATUS_VOLUME = 27
    STATUS_ALL = 28
    MOUNT = 29
    UMOUNT = 30
    HEAL_VOLUME = 31
    STATEDUMP_VOLUME = 32
    LIST_VOLUME = 33
    CLRLOCKS_VOLUME = 34
    UUID_RESET = 35
    UUID_GET = 36
    COPY_FILE = 37
    SYS_EXEC = 38
    SNAP = 39
    BARRIER_VOLUME = 40
    GET_VOL_OPT = 41
    GANESHA = 42
    BITROT = 43
    ATTACH_TIER = 44
    TIER = 45
    GET_STATE = 46
    RESET_BRICK = 47
    REMOVE_TIER_BRICK = 48
    ADD_TIER_BRICK = 49


#: What glusterd 10.3 serves of GLUSTER_CLI on its TCP port 24007, for `gluster
#: --remote-host=HOST` ("GlusterD svc cli read-only", ``gd_svc_cli_trusted_actors``): queries
#: that change nothing, plus MOUNT/UMOUNT, which geo-replication's unprivileged sessions
#: need. Nothing else, not even NULL: a TCP caller may be any host that reaches the port, so
#: anything that changes the cluster is only for the local root's unix socket. A procedure
#: outside this set is absent on TCP, answered PROC_UNAVAIL as glusterd answers it.
TCP_PROCEDURES = frozenset({CliProc.LIST_FRIENDS, CliProc.UUID_GET, CliProc.GET_VOLUME,
                            CliProc.GETWD, CliProc.STATUS_VOLUME, CliProc.LIST_VOLUME,
                            CliProc.MOUNT, CliProc.UMOUNT})


class ListFriendsFlag(enum.IntEnum):
    """``gf1_cli_friends_list``: LIST_FRIENDS' ``flags``."""

    PEERS = 1       # peer status: the other peers
    POOL_NODES = 2  # pool list: the other peers, then this node as "localhost"


class GetVolumeFlag(enum.IntEnum):
    """``gf1_cli_get_volume``: GET_VOLUME's ``flags`` dict value."""

    ALL = 1
    ONE = 2
    NEXT = 3  # the volume after ``volname`` (the first without one); count 0 at the end


class StatusFlag(enum.IntFlag):
    """``gf_cli_status_type``: STATUS_VOLUME's ``cmd`` dict value (the bits used here)."""

    NONE = 0
    DETAIL = 0x20
    TASKS = 0x40
    MASK = 0xFF      # the sub-command (mem, clients, inode, fd, callpool, detail, tasks...)
    VOL = 0x100
    ALL = 0x200
    BRICK = 0x400
    NFS = 0x800
    SHD = 0x1000
    QUOTAD = 0x2000
    #: the bits naming a daemon instead of bricks (`status VOL nfs|shd|quotad`)
    DAEMONS = NFS | SHD | QUOTAD


@attrs.frozen
class CliRequest:
    """A decoded call: the procedure, its dict (raw values, see ``gluster_dict.value_text``)
    and, for LIST_FRIENDS, its flags."""

    proc: CliProc
    dict: Mapping[str, bytes] = attrs.field(factory=dict)
    flags: int = 0


@attrs.frozen
class CliResult:
    """What a procedure answers; ``dict`` is already in glusterd's wire order (see
    :func:`glusterd_dict`). GETWD puts its directory in ``op_errstr``'s place: ``text``."""

    op_ret: int = 0
    op_errno: int = 0
    op_errstr: str = ""
    dict: bytes = b""
    text: str = ""

    @classmethod
    def failed(cls, message: str, op_errno: int = 0) -> CliResult:
        return cls(-1, op_errno, message)


def glusterd_dict(pairs: Iterable[tuple[str, DictValue]]) -> bytes:
    """Encode ``pairs`` given in the order glusterd sets them. A glusterd dict prepends each
    new pair and serialises from the head, and the CLI's dict prepends again while reading,
    so the CLI walks (``dict_foreach``: `volume info`'s options) in glusterd's set order
    only if the wire carries the pairs newest first."""
    ordered: dict[str, DictValue] = {}
    for key, value in pairs:
        ordered.pop(key, None)  # dict_set of an existing key replaces it in place
        ordered[key] = value
    return encode_dict(dict(reversed(list(ordered.items()))))


@runtime_checkable
class CliBackend(Protocol):
    """Answers GLUSTER_CLI procedures; raising is a bug (answered op_ret -1, logged)."""

    async def cli_call(self, request: CliRequest) -> CliResult:
        """The result of ``request``; unsupported procedures answer op_ret -1 with why."""


# --- messages ---------------------------------------------------------------------------

@attrs.frozen
class _DictRequest:
    """``gf_cli_req { opaque dict<> }``."""

    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> _DictRequest:
        return cls(u.unpack_opaque())


@attrs.frozen
class _PeerListRequest:
    """``gf1_cli_peer_list_req { int flags; opaque dict<> }``."""

    flags: int = 0
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.flags)
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> _PeerListRequest:
        return cls(u.unpack_int(), u.unpack_opaque())


def _pack_cli_rsp(p: Packer, r: CliResult) -> None:
    """``gf_cli_rsp { int op_ret; int op_errno; string op_errstr<>; opaque dict<> }``."""
    p.pack_int(r.op_ret)
    p.pack_int(r.op_errno)
    p.pack_string(r.op_errstr)
    p.pack_opaque(r.dict)


def _pack_peer_list_rsp(p: Packer, r: CliResult) -> None:
    """``gf1_cli_peer_list_rsp { int op_ret; int op_errno; opaque friends<> }``."""
    p.pack_int(r.op_ret)
    p.pack_int(r.op_errno)
    p.pack_opaque(r.dict)


def _pack_getwd_rsp(p: Packer, r: CliResult) -> None:
    """``gf1_cli_getwd_rsp { int op_ret; int op_errno; string wd<> }``."""
    p.pack_int(r.op_ret)
    p.pack_int(r.op_errno)
    p.pack_string(r.text)


def _pack_fsm_log_rsp(p: Packer, r: CliResult) -> None:
    """``gf1_cli_fsm_log_rsp { int op_ret; int op_errno; string op_errstr<>; opaque fsm_log<> }``."""
    _pack_cli_rsp(p, r)


#: ``gf1_cli_mount_rsp { int op_ret; int op_errno; string path<> }``: getwd's layout.
_pack_mount_rsp = _pack_getwd_rsp


def _pack_umount_rsp(p: Packer, r: CliResult) -> None:
    """``gf1_cli_umount_rsp { int op_ret; int op_errno }``."""
    p.pack_int(r.op_ret)
    p.pack_int(r.op_errno)


def _pack_getspec_rsp(p: Packer, r: CliResult) -> None:
    pg.GetspecReply(r.op_ret, r.op_errno).pack(p)


def _pack_pmap_rsp(p: Packer, r: CliResult) -> None:
    pg.PortByBrickReply(r.op_ret, r.op_errno).pack(p)


#: Reply layout per procedure; every other one answers ``gf_cli_rsp``.
_REPLY_PACKERS: dict[CliProc, Callable[[Packer, CliResult], None]] = {
    CliProc.LIST_FRIENDS: _pack_peer_list_rsp,
    CliProc.GETWD: _pack_getwd_rsp,
    CliProc.FSM_LOG: _pack_fsm_log_rsp,
    CliProc.MOUNT: _pack_mount_rsp,
    CliProc.UMOUNT: _pack_umount_rsp,
    CliProc.GETSPEC: _pack_getspec_rsp,
    CliProc.PMAP_PORTBYBRICK: _pack_pmap_rsp,
}
#: Procedures whose arguments are a ``gf_cli_req``; the others' arguments are not read.
_NO_DICT = frozenset({CliProc.NULL, CliProc.GETWD, CliProc.FSM_LOG, CliProc.MOUNT, CliProc.UMOUNT,
                      CliProc.GETSPEC, CliProc.PMAP_PORTBYBRICK})


def encode_result(proc: CliProc, result: CliResult) -> bytes:
    p = Packer()
    _REPLY_PACKERS.get(proc, _pack_cli_rsp)(p, result)
    return p.get_buffer()


def _request(proc: CliProc, raw: Any) -> CliRequest:
    if isinstance(raw, _PeerListRequest):
        return CliRequest(proc, decode_dict(raw.dict), raw.flags)
    if isinstance(raw, _DictRequest):
        return CliRequest(proc, decode_dict(raw.dict))
    return CliRequest(proc)


def cli_routes(route: type, backend_of: Callable[[Any], CliBackend],
               on_error: Callable[[CliProc, BaseException], None],
               procedures: Iterable[CliProc] = CliProc) -> dict[tuple[int, int], Any]:
    """Routes of the GLUSTER_CLI ``procedures`` (all by default; :data:`TCP_PROCEDURES` on
    24007) for :class:`.server.MgmtRpcServer`: ``route`` is its route class,
    ``backend_of(connection)`` the backend answering a call. A dict that does not decode is
    answered EINVAL like glusterd, never by closing the connection."""
    served = frozenset(procedures)
    routes: dict[tuple[int, int], Any] = {}
    if CliProc.NULL in served:
        routes[(pg.Program.CLI, CliProc.NULL)] = route(None, lambda conn, args: b"", False)
    for proc in served - {CliProc.NULL}:
        args = (_PeerListRequest if proc is CliProc.LIST_FRIENDS
                else None if proc in _NO_DICT else _DictRequest)

        async def handler(conn: Any, raw: Any, proc: CliProc = proc) -> bytes:
            try:
                request = _request(proc, raw)
            except ValueError:
                return encode_result(proc, CliResult.failed("Unable to decode the request", errno.EINVAL))
            try:
                result = await backend_of(conn).cli_call(request)
            except Exception as exc:  # a bug: still answer, so the CLI never hangs
                on_error(proc, exc)
                result = CliResult.failed(f"internal error in gluster-mgmtd ({proc.name})", errno.EIO)
            if not result.dict and proc not in _REPLY_PACKERS and request.dict:
                # the CLI's dict_unserialize refuses an empty dict and then prints nothing:
                # answer with the request's dict, as glusterd's op context carries it
                result = attrs.evolve(result, dict=encode_dict(request.dict))
            return encode_result(proc, result)

        routes[(pg.Program.CLI, proc)] = route(args, handler, True)
    return routes
