"""HANDSHAKE GET_VOLUME_INFO (gfapi's glfs_get_volumeid) with glusterd's answers.

A real libgfapi client asking for it is in tests/gluster/test_data_path.py.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import AcceptStat
from gluster_mgmt.mgmt_rpc.server import VolumeInfoBackend
from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread

VOLUME_ID = "0c3c8c0f-6f1e-4e52-9a2e-8f3a1b2c3d4e"


class KnowsVolumes(RecordingBackend):
    async def volume_id(self, name: str) -> str | None:
        self._record("volume_id", name)
        return VOLUME_ID if name == "gv" else None


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(KnowsVolumes()) as running:
        yield running


def ask(port: int, blob: bytes) -> pg.GetVolumeInfoReply:
    with RpcClient(port) as client:
        reply = client.call(pg.Program.HANDSHAKE, 2, pg.HandshakeProc.GET_VOLUME_INFO,
                            pg.encode(pg.GetVolumeInfoRequest(blob)))
    assert reply.accept_stat == AcceptStat.SUCCESS
    return pg.decode(pg.GetVolumeInfoReply, reply.body)


def test_the_volume_uuid_as_gfapi_asks_for_it(server) -> None:
    assert isinstance(server.server.backend, VolumeInfoBackend)
    reply = ask(server.port, encode_dict({"volname": "gv", "flags": pg.GET_VOLUME_UUID}))
    assert (reply.op_ret, reply.op_errno, reply.op_errstr) == (0, 0, "")
    assert decode_dict(reply.dict) == {"volume_id": f"{VOLUME_ID}\0".encode()}


@pytest.mark.parametrize("request_dict,answer", [
    ({"volname": "gv", "flags": 0}, (0, 0)),              # nothing asked: empty success
    ({"volname": "gv"}, (-1, errno.ENOENT)),               # no flags
    ({"flags": pg.GET_VOLUME_UUID}, (-1, errno.EINVAL)),   # no volume named
    ({"volname": "nope", "flags": pg.GET_VOLUME_UUID}, (-1, errno.EINVAL)),
])
def test_glusterds_answers_to_incomplete_questions(server, request_dict, answer) -> None:
    reply = ask(server.port, encode_dict(request_dict))
    assert (reply.op_ret, reply.op_errno) == answer
    assert reply.dict == b""


def test_a_malformed_dict_is_refused_and_the_server_goes_on(server) -> None:
    assert ask(server.port, b"\x00\x00\x00\x05garbage").op_ret == -1
    assert ask(server.port, encode_dict({"volname": "gv", "flags": 1})).op_ret == 0
