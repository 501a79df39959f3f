"""What a node run by gluster-mgmtd answers the glusterd 10.3 peers of a cluster half taken
over (or half handed back), so that glusterd refuses configuration changes too.

A glusterd connects to each of its peers on 24007. Without these programs our DUMP reply
lacks glusterd's op-version handshake, glusterd drops the connection ("does not support
required op-version"), counts the peer as disconnected and goes ahead with a `volume set`
on the peers it still sees. With them, the peer handshake succeeds (op-versions exchanged,
the friend add acknowledged: glusterd keeps us a connected member of its cluster) and the
first step of every glusterd transaction, the mgmt_v3 lock it asks of each connected peer,
is refused: glusterd fails the operation with its own "Locking failed on HOST" and changes
nothing. Nothing else of glusterd's peer protocol is served: we never lock, so glusterd
never sends the later phases.
"""

from __future__ import annotations

import errno
import logging
import uuid as uuid_module
from collections.abc import Callable, Mapping

import attrs

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.gluster_dict import encode_dict
from gluster_mgmt.mgmt_rpc.xdr import Packer, Unpacker

log = logging.getLogger(__name__)

# glusterd's program numbers and versions (rpc/rpc-lib/src/protocol-common.h)
MGMT_HANDSHAKE = pg.ProgDetail("Gluster MGMT Handshake", 1239873, 1)
PEER = pg.ProgDetail("GlusterD svc peer", 1238437, 2)
MGMT_V3 = pg.ProgDetail("GlusterD svc mgmt v3", 1238433, 3)

HANDSHAKE_VERSIONS, HANDSHAKE_VERSIONS_ACK = 1, 2
FRIEND_ADD, FRIEND_UPDATE = 2, 4
V3_LOCK, V3_UNLOCK = 1, 6

#: The op-versions a glusterd 10.3 announces (globals.h: GD_OP_VERSION_MIN is 1, the
#: maximum and the running one 10.0's 100000).
OP_VERSIONS = {"operating-version": 100000, "minimum-operating-version": 1,
               "maximum-operating-version": 100000}

REFUSAL = ("taking over from glusterd: configuration changes are refused until every node "
           "runs the same management daemon")


@attrs.frozen
class HandshakeReply:
    """``gf_mgmt_hndsk_rsp``."""

    op_ret: int = 0
    op_errno: int = 0
    hndsk: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_opaque(self.hndsk)


@attrs.frozen
class FriendReply:
    """``gd1_mgmt_friend_rsp``: the friend add acknowledged (ACC) under our UUID."""

    uuid: bytes
    hostname: str
    op_ret: int = 0
    op_errno: int = 0
    port: int = 0

    def pack(self, p: Packer) -> None:
        p.pack_fopaque(self.uuid)
        p.pack_string(self.hostname)
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)
        p.pack_int(self.port)


@attrs.frozen
class FriendUpdateReply:
    """``gd1_mgmt_friend_update_rsp``."""

    uuid: bytes
    op: int = 0
    op_ret: int = 0
    op_errno: int = 0

    def pack(self, p: Packer) -> None:
        p.pack_fopaque(self.uuid)
        p.pack_int(self.op)
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)


@attrs.frozen
class LockRequest:
    """``gd1_mgmt_v3_lock_req`` (also the layout of the unlock request)."""

    uuid: bytes
    txn_id: bytes
    op: int
    dict: bytes

    @classmethod
    def unpack(cls, u: Unpacker) -> "LockRequest":
        return cls(u.unpack_fopaque(16), u.unpack_fopaque(16), u.unpack_int(), u.unpack_opaque())


@attrs.frozen
class LockReply:
    """``gd1_mgmt_v3_lock_rsp`` (and the unlock reply, same layout)."""

    uuid: bytes
    txn_id: bytes
    op_ret: int = 0
    op_errno: int = 0
    dict: bytes = b""

    def pack(self, p: Packer) -> None:
        p.pack_fopaque(self.uuid)
        p.pack_fopaque(self.txn_id)
        p.pack_opaque(self.dict)
        p.pack_int(self.op_ret)
        p.pack_int(self.op_errno)


def glusterd_peer_programs(route: Callable[..., object], node_uuid: str,
                           hostname: str) -> list[tuple[pg.ProgDetail, Mapping[tuple[int, int], object]]]:
    """(program, routes) pairs for :meth:`MgmtRpcServer.add_program`; ``route`` is the
    server's ``Route`` class, ``node_uuid`` and ``hostname`` this node's (glusterd finds its
    peer by them in our replies)."""
    own = uuid_module.UUID(node_uuid).bytes
    versions = pg.encode(HandshakeReply(hndsk=encode_dict(OP_VERSIONS)))
    acknowledged = pg.encode(HandshakeReply())

    def friend_add(conn, args) -> bytes:
        log.info("glusterd at %s connected as a peer: its configuration changes are refused "
                 "while it runs beside gluster-mgmtd", conn.peer.host)
        return pg.encode(FriendReply(own, hostname))

    def lock(conn, request: LockRequest) -> bytes:
        log.warning("refused glusterd's lock for op %d from %s (transaction %s): %s",
                    request.op, conn.peer.host, uuid_module.UUID(bytes=request.txn_id), REFUSAL)
        return pg.encode(LockReply(own, request.txn_id, -1, errno.EBUSY))

    def unlock(conn, request: LockRequest) -> bytes:
        return pg.encode(LockReply(own, request.txn_id))

    def null(conn, args) -> bytes:
        return b""

    def number(detail: pg.ProgDetail, proc: int) -> tuple[int, int]:
        return detail.number, proc

    return [
        (MGMT_HANDSHAKE, {
            number(MGMT_HANDSHAKE, 0): route(None, null, False),
            number(MGMT_HANDSHAKE, HANDSHAKE_VERSIONS): route(None, lambda c, a: versions, False),
            number(MGMT_HANDSHAKE, HANDSHAKE_VERSIONS_ACK):
                route(None, lambda c, a: acknowledged, False)}),
        (PEER, {
            number(PEER, 0): route(None, null, False),
            number(PEER, FRIEND_ADD): route(None, friend_add, False),
            number(PEER, FRIEND_UPDATE):
                route(None, lambda c, a: pg.encode(FriendUpdateReply(own)), False)}),
        (MGMT_V3, {
            number(MGMT_V3, 0): route(None, null, False),
            number(MGMT_V3, V3_LOCK): route(LockRequest, lock, False),
            number(MGMT_V3, V3_UNLOCK): route(LockRequest, unlock, False)}),
    ]
