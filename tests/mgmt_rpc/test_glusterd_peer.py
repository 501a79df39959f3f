"""The part of glusterd's peer protocol a taken-over node answers (mgmt_rpc/glusterd_peer.py):
the op-version handshake and friend add succeed, every mgmt_v3 lock is refused. The layouts
are those of glusterfs 10.3's XDR files; real glusterd 10.3 against it:
tests/multihost/test_takeover.py ("Locking failed on HOST")."""

from __future__ import annotations

import errno
import uuid

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict, value_text
from gluster_mgmt.mgmt_rpc.glusterd_peer import (
    MGMT_HANDSHAKE,
    MGMT_V3,
    PEER,
    glusterd_peer_programs,
)
from gluster_mgmt.mgmt_rpc.server import Route
from gluster_mgmt.mgmt_rpc.xdr import Packer, Unpacker
from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread

NODE = "2a17f7f0-4393-48d6-9f76-8db4e14a2772"


def _server() -> ServerThread:
    thread = ServerThread(RecordingBackend())
    for detail, routes in glusterd_peer_programs(Route, NODE, "h1"):
        thread.server.add_program(detail, routes)
    return thread


def test_glusterd_is_handshaken_befriended_and_refused_its_lock() -> None:
    with _server() as server, RpcClient(server.port) as client:
        dump = pg.decode(pg.DumpReply, client.call(pg.Program.DUMP, 1, pg.DumpProc.DUMP,
                                                   pg.encode(pg.DumpRequest())).body)
        listed = {(p.number, p.version) for p in dump.programs}
        assert {(d.number, d.version) for d in (MGMT_HANDSHAKE, PEER, MGMT_V3)} <= listed

        request = Packer()
        request.pack_opaque(encode_dict({"operating-version": 100000}))
        body = Unpacker(client.call(MGMT_HANDSHAKE.number, 1, 1, request.get_buffer()).body)
        assert (body.unpack_int(), body.unpack_int()) == (0, 0)
        versions = {k: value_text(v) for k, v in decode_dict(body.unpack_opaque()).items()}
        assert versions == {"operating-version": "100000", "minimum-operating-version": "1",
                            "maximum-operating-version": "100000"}

        body = Unpacker(client.call(PEER.number, 2, 2, b"").body)  # friend add: ACC as us
        assert body.unpack_fopaque(16) == uuid.UUID(NODE).bytes
        assert (body.unpack_string(), body.unpack_int()) == ("h1", 0)

        txn = uuid.uuid4().bytes
        lock = Packer()
        lock.pack_fopaque(uuid.uuid4().bytes)
        lock.pack_fopaque(txn)
        lock.pack_int(11)
        lock.pack_opaque(b"")
        body = Unpacker(client.call(MGMT_V3.number, 3, 1, lock.get_buffer()).body)
        assert (body.unpack_fopaque(16), body.unpack_fopaque(16)) == (uuid.UUID(NODE).bytes, txn)
        body.unpack_opaque()
        assert (body.unpack_int(), body.unpack_int()) == (-1, errno.EBUSY)
