"""Program numbers and message layouts of the mgmt protocol stock GlusterFS 10 speaks.

Numbers come from GlusterFS' ``protocol-common.h``/``xdr-common.h``; layouts from its
``rpc-common-xdr.x``, ``glusterfs3-xdr.x``, ``portmap-xdr.x`` and ``glusterd1-xdr.x``
(facts, re-expressed here).
Every message class has ``pack(Packer)`` and ``unpack(Unpacker)``; :func:`encode` and
:func:`decode` wrap them for whole argument/result blobs.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Protocol, TypeVar

import attrs

from .xdr import Packer, Unpacker, XdrError

__all__ = [
    "BrickByPortReply", "BrickByPortRequest", "BrickOpReply", "BrickOpRequest", "BrickProc",
    "CallbackProc", "CommonReply", "DEFAULT_PROGRAMS", "DumpProc", "DumpReply", "DumpRequest",
    "EventNotifyOp", "EventNotifyReply", "EventNotifyRequest", "GETSPEC_FLAG_SERVERS_LIST",
    "GetspecReply", "GetspecRequest", "HandshakeProc", "PortByBrickReply", "PortByBrickRequest",
    "PortmapProc", "ProgDetail", "Program", "SigninReply", "SigninRequest", "SignoutReply",
    "SignoutRequest", "decode", "encode", "normalize_volfile_id",
]


class Program(enum.IntEnum):
    """Program numbers; :data:`PROGRAM_VERSIONS` gives the version each is served at."""

    DUMP = 123451501         # "GF-DUMP"
    HANDSHAKE = 14398633     # "Gluster Handshake"
    PORTMAP = 34123456       # "Gluster Portmap"
    CALLBACK = 52743234      # "Gluster Callback" (server -> client CALLs)
    BRICK = 4867634          # GD_BRICK_PROGRAM: glusterd -> a process's --socket-file
    CLI = 1238463            # GLUSTER_CLI_PROGRAM: the gluster CLI -> glusterd.socket


PROGRAM_VERSIONS: dict[int, int] = {
    Program.DUMP: 1,
    Program.HANDSHAKE: 2,
    Program.PORTMAP: 1,
    Program.CALLBACK: 1,
    Program.BRICK: 2,
    Program.CLI: 2,
}


class DumpProc(enum.IntEnum):
    NULL = 0
    DUMP = 1
    PING = 2


class HandshakeProc(enum.IntEnum):
    NULL = 0
    SETVOLUME = 1
    GETSPEC = 2
    PING = 3
    SET_LK_VER = 4
    EVENT_NOTIFY = 5
    GET_VOLUME_INFO = 6
    GET_SNAPSHOT_INFO = 7


class PortmapProc(enum.IntEnum):
    NULL = 0
    PORTBYBRICK = 1
    BRICKBYPORT = 2
    SIGNUP = 3  # deprecated, never sent
    SIGNIN = 4
    SIGNOUT = 5


class CallbackProc(enum.IntEnum):
    NULL = 0
    FETCHSPEC = 1
    INO_FLUSH = 2
    EVENT_NOTIFY = 3
    GET_SNAPS = 4
    CACHE_INVALIDATION = 5
    CHILD_UP = 6
    CHILD_DOWN = 7
    RECALL_LEASE = 8
    STATEDUMP = 9
    INODELK_CONTENTION = 10
    ENTRYLK_CONTENTION = 11


class BrickProc(enum.IntEnum):
    """``glusterd_brick_procnum``: what glusterd asks bricks and daemons over their unix socket."""

    NULL = 0
    TERMINATE = 1
    XLATOR_INFO = 2
    XLATOR_OP = 3
    STATUS = 4
    OP = 5
    XLATOR_DEFRAG = 6  # rebalance status/stop, answered by the named dht xlator
    NODE_PROFILE = 7
    NODE_STATUS = 8
    VOLUME_BARRIER_OP = 9
    BRICK_BARRIER = 10
    NODE_BITROT = 11
    BRICK_ATTACH = 12
    DUMP_METRICS = 13
    SVC_ATTACH = 14
    SVC_DETACH = 15


class EventNotifyOp(enum.IntEnum):
    """``gf_hdsk_event_notify_op``: HANDSHAKE EVENT_NOTIFY's ``op``."""

    DEFRAG_STATUS = 0  # a rebalance process's final counters, just before it exits


#: GET_VOLUME_INFO's "flags" bit asking for the volume's UUID (gf_get_volume_info_type)
GET_VOLUME_UUID = 1

#: gf_getspec_req.flags bit clients (not bricks) set: "send me the servers list too"
GETSPEC_FLAG_SERVERS_LIST = 1
#: the gfs_id clients put in DUMP requests
DUMP_GFS_ID = 0xCAED


def normalize_volfile_id(key: str) -> str:
    """The volfile id a GETSPEC key names: one leading ``/`` and a ``.tcp``/``.rdma`` suffix off.

    Clients send what the user typed after ``HOST:`` (``/VOL``, ``VOL``, ``/VOL.tcp``);
    bricks send ``VOL.HOST.EXP``. The result is a volume name or a brick volfile id; mapping
    it to a volume is the backend's business.
    """
    if key.startswith("/"):
        key = key[1:]
    for suffix in (".tcp", ".rdma"):
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


class _Message(Protocol):
    def pack(self, p: Packer) -> None: ...

    @classmethod
    def unpack(cls, u: Unpacker) -> _Message: ...


M = TypeVar("M")


def encode(message: _Message) -> bytes:
    p = Packer()
    message.pack(p)
    return p.get_buffer()


def decode(cls: type[M], data: bytes) -> M:
    """Decode ``data`` as ``cls``; trailing bytes are ignored, as GlusterFS' decoders do."""
    message: M = cls.unpack(Unpacker(data))  # type: ignore[attr-defined]
    return message


# --- GF-DUMP ---------------------------------------------------------------------------

@attrs.frozen
class DumpRequest:
    gfs_id: int = DUMP_GFS_ID

    def pack(self, p: Packer) -> None:
        p.pack_uhyper(self.gfs_id)

    @classmethod
    def unpack(cls, u: Unpacker) -> DumpRequest:
        return cls(u.unpack_uhyper())


@attrs.frozen
class ProgDetail:
    name: str
    number: int
    version: int


@attrs.frozen
class DumpReply:
    """``gf_dump_rsp``; the program list is an XDR optional-pointer linked list."""

    programs: tuple[ProgDetail, ...]
    gfs_id: int = 0
    op_ret: int = 0
    op_errno: int = 0

    # a linked list needs a bound when decoding; real lists have fewer than 20 entries
    MAX_PROGRAMS: ClassVar[int] = 1024

    def pack(self, p: Packer) -> None:
        p.pack_uhyper(self.gfs_id)
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        for prog in self.programs:
            p.pack_bool(True)
            p.pack_string(prog.name)
            p.pack_uhyper(prog.number)
            p.pack_uhyper(prog.version)
        p.pack_bool(False)

    @classmethod
    def unpack(cls, u: Unpacker) -> DumpReply:
        gfs_id = u.unpack_uhyper()
        op_ret = u.unpack_int()
        op_errno = u.unpack_int()
        programs: list[ProgDetail] = []
        while u.unpack_bool():
            if len(programs) >= cls.MAX_PROGRAMS:
                raise XdrError("program list too long")
            programs.append(ProgDetail(u.unpack_string(), u.unpack_uhyper(), u.unpack_uhyper()))
        return cls(tuple(programs), gfs_id, op_ret, op_errno)


#: what we announce: stock order, GF-DUMP first; Portmap v1 is what tells protocol/client
#: it talks to glusterd rather than to a brick.
DEFAULT_PROGRAMS: tuple[ProgDetail, ...] = (
    ProgDetail("GF-DUMP", Program.DUMP, 1),
    ProgDetail("Gluster Portmap", Program.PORTMAP, 1),
    ProgDetail("Gluster Handshake", Program.HANDSHAKE, 2),
)


@attrs.frozen
class CommonReply:
    """``gf_common_rsp``: the PING result."""

    op_ret: int = 0
    op_errno: int = 0
    xdata: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_opaque(self.xdata)

    @classmethod
    def unpack(cls, u: Unpacker) -> CommonReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_opaque())


# --- HANDSHAKE v2 ----------------------------------------------------------------------

@attrs.frozen
class GetspecRequest:
    """``gf_getspec_req``; ``key`` is the --volfile-id verbatim, xdata a dict blob."""

    key: str
    flags: int = 0
    xdata: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_uint(self.flags)
        p.pack_string(self.key)
        p.pack_opaque(self.xdata)

    @classmethod
    def unpack(cls, u: Unpacker) -> GetspecRequest:
        flags = u.unpack_uint()
        key = u.unpack_string()
        return cls(key, flags, u.unpack_opaque())


@attrs.frozen
class GetspecReply:
    """``gf_getspec_rsp``. Clients take the volfile length from ``op_ret``: see :meth:`found`."""

    op_ret: int
    op_errno: int
    spec: bytes = b""
    xdata: bytes = b""

    @classmethod
    def found(cls, spec: bytes, xdata: bytes = b"") -> GetspecReply:
        return cls(len(spec), 0, spec, xdata)

    @classmethod
    def failed(cls, op_errno: int) -> GetspecReply:
        """op_errno must not be 0: a client getting -1/0 on its first fetch hangs forever."""
        return cls(-1, op_errno or 5)

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_opaque(self.spec)
        p.pack_opaque(self.xdata)

    @classmethod
    def unpack(cls, u: Unpacker) -> GetspecReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_opaque(), u.unpack_opaque())


@attrs.frozen
class EventNotifyRequest:
    """``gf_event_notify_req``; only op 0 (GF_EN_DEFRAG_STATUS, from rebalance) exists."""

    op: int
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op)
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> EventNotifyRequest:
        return cls(u.unpack_int(), u.unpack_opaque())


@attrs.frozen
class EventNotifyReply:
    op_ret: int = 0
    op_errno: int = 0
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> EventNotifyReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_opaque())


@attrs.frozen
class StatedumpCallback:
    """``gf_statedump``: the args of CALLBACK STATEDUMP; the client whose pid this is dumps
    its state (a gfapi client does; the FUSE client ignores the callback)."""

    pid: int

    def pack(self, p: Packer) -> None:
        p.pack_uint(self.pid)

    @classmethod
    def unpack(cls, u: Unpacker) -> StatedumpCallback:
        return cls(u.unpack_uint())


# --- GD_BRICK v2 (we are the client) ----------------------------------------------------

@attrs.frozen
class BrickOpRequest:
    """``gd1_mgmt_brick_op_req``: ``name`` picks the xlator, ``input`` is a dict blob.

    glusterd sets ``op`` to the procedure number and leaves ``dict`` empty.
    """

    name: str
    op: int
    input: bytes = b""
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_string(self.name)
        p.pack_int(self.op)
        p.pack_opaque(self.input)
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> BrickOpRequest:
        name = u.unpack_string()
        op = u.unpack_int()
        return cls(name, op, u.unpack_opaque(), u.unpack_opaque())


@attrs.frozen
class BrickOpReply:
    """``gd1_mgmt_brick_op_rsp``; ``output`` is a dict blob, ``op_errstr`` empty on success."""

    op_ret: int
    op_errno: int = 0
    output: bytes = b""
    op_errstr: str = ""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_opaque(self.output)
        p.pack_string(self.op_errstr)

    @classmethod
    def unpack(cls, u: Unpacker) -> BrickOpReply:
        op_ret = u.unpack_int()
        op_errno = u.unpack_int()
        output = u.unpack_opaque()
        return cls(op_ret, op_errno, output, u.unpack_string())


@attrs.frozen
class GetVolumeInfoRequest:
    """``gf_get_volume_info_req``: a dict with int32 ``flags`` and ``volname`` (gfapi's
    glfs_get_volumeid)."""

    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> GetVolumeInfoRequest:
        return cls(u.unpack_opaque())


@attrs.frozen
class GetVolumeInfoReply:
    op_ret: int = 0
    op_errno: int = 0
    op_errstr: str = ""
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_string(self.op_errstr)
        p.pack_opaque(self.dict)

    @classmethod
    def unpack(cls, u: Unpacker) -> GetVolumeInfoReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_string(), u.unpack_opaque())


# --- PORTMAP v1 ------------------------------------------------------------------------

@attrs.frozen
class PortByBrickRequest:
    """``brick`` is the client's remote-subvolume (``.rdma`` appended for rdma)."""

    brick: str

    def pack(self, p: Packer) -> None:
        p.pack_string(self.brick)

    @classmethod
    def unpack(cls, u: Unpacker) -> PortByBrickRequest:
        return cls(u.unpack_string())


@attrs.frozen
class PortByBrickReply:
    """Found: ``0,0,0,port``; not found: ``-1,0,0,0`` (never 0 with port 0: endless retry)."""

    op_ret: int
    op_errno: int = 0
    status: int = 0
    port: int = 0

    def pack(self, p: Packer) -> None:
        for word in (self.op_ret, self.op_errno, self.status, self.port):
            p.pack_int(word)

    @classmethod
    def unpack(cls, u: Unpacker) -> PortByBrickReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_int(), u.unpack_int())


@attrs.frozen
class BrickByPortRequest:
    port: int

    def pack(self, p: Packer) -> None:
        p.pack_int(self.port)

    @classmethod
    def unpack(cls, u: Unpacker) -> BrickByPortRequest:
        return cls(u.unpack_int())


@attrs.frozen
class BrickByPortReply:
    op_ret: int
    op_errno: int = 0
    status: int = 0
    brick: str = ""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_int(self.status)
        p.pack_string(self.brick)

    @classmethod
    def unpack(cls, u: Unpacker) -> BrickByPortReply:
        return cls(u.unpack_int(), u.unpack_int(), u.unpack_int(), u.unpack_string())


@attrs.frozen
class SigninRequest:
    """Sent by glusterfsd per exported child: ``brick`` = the child xlator's name."""

    brick: str
    port: int
    pid: int

    def pack(self, p: Packer) -> None:
        p.pack_string(self.brick)
        p.pack_int(self.port)
        p.pack_int(self.pid)

    @classmethod
    def unpack(cls, u: Unpacker) -> SigninRequest:
        return cls(u.unpack_string(), u.unpack_int(), u.unpack_int())


@attrs.frozen
class SigninReply:
    op_ret: int = 0
    op_errno: int = 0

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)

    @classmethod
    def unpack(cls, u: Unpacker) -> SigninReply:
        return cls(u.unpack_int(), u.unpack_int())


@attrs.frozen
class SignoutRequest:
    """Sent by glusterfsd on clean shutdown with ``brick`` = its --brick-name."""

    brick: str
    port: int
    rdma_port: int = 0

    def pack(self, p: Packer) -> None:
        p.pack_string(self.brick)
        p.pack_int(self.port)
        p.pack_int(self.rdma_port)

    @classmethod
    def unpack(cls, u: Unpacker) -> SignoutRequest:
        return cls(u.unpack_string(), u.unpack_int(), u.unpack_int())


SignoutReply = SigninReply  # same layout: int op_ret; int op_errno
