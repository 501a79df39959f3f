"""Against stock glusterd 10.3: every captured request decodes, every captured reply decodes
and re-encodes to the same bytes, and our server answers each captured request with exactly
the bytes stock glusterd sent (given the same volfiles, ports and program list).

Vectors come from ``vectors/extract.sh``.
"""

from __future__ import annotations

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import encode_record
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict, value_text
from gluster_mgmt.mgmt_rpc.rpc_message import (
    AcceptStat,
    AuthFlavor,
    Call,
    Reply,
    ReplyStat,
    encode_accepted_reply,
    encode_call,
)
from gluster_mgmt.mgmt_rpc.server import VolfileReply
from tests.mgmt_rpc.wire import (
    CAPTURES,
    V2_CRED,
    RecordingBackend,
    RpcClient,
    ServerThread,
    all_records,
    captured_records,
    exchanges,
)

P, D, H, M = pg.Program, pg.DumpProc, pg.HandshakeProc, pg.PortmapProc
REQUESTS: dict[tuple[int, int], type | None] = {
    (P.DUMP, D.DUMP): pg.DumpRequest,
    (P.DUMP, D.PING): None,
    (P.HANDSHAKE, H.GETSPEC): pg.GetspecRequest,
    (P.PORTMAP, M.PORTBYBRICK): pg.PortByBrickRequest,
    (P.PORTMAP, M.SIGNIN): pg.SigninRequest,
}
REPLIES: dict[tuple[int, int], type] = {
    (P.DUMP, D.DUMP): pg.DumpReply,
    (P.DUMP, D.PING): pg.CommonReply,
    (P.HANDSHAKE, H.GETSPEC): pg.GetspecReply,
    (P.PORTMAP, M.PORTBYBRICK): pg.PortByBrickReply,
    (P.PORTMAP, M.SIGNIN): pg.SigninReply,
}
EXCHANGES = exchanges()


def _id(pair: tuple) -> str:
    call = pair[0]
    return f"{call.capture}#{call.frame}"


def test_captures_hold_every_exchange_we_serve() -> None:
    seen = {(c.message.prog, c.message.proc) for c, _ in EXCHANGES}
    assert seen == set(REQUESTS)
    assert all(reply is not None for _, reply in EXCHANGES)


@pytest.mark.parametrize("pair", EXCHANGES, ids=_id)
def test_captured_call_decodes_and_reencodes(pair: tuple) -> None:
    call: Call = pair[0].message
    assert call.rpcvers == 2
    assert call.cred_flavor == AuthFlavor.AUTH_GLUSTERFS_V2 and call.cred_body == V2_CRED
    assert call.verf_flavor == 0 and call.verf_body == b""
    assert call.vers == pg.PROGRAM_VERSIONS[call.prog]
    cls = REQUESTS[(call.prog, call.proc)]
    # the whole record is reproduced by our encoder from the decoded fields
    args = b"" if cls is None else pg.encode(pg.decode(cls, call.args))
    assert encode_call(call.xid, call.prog, call.vers, call.proc, args,
                       cred_flavor=call.cred_flavor, cred_body=call.cred_body) == pair[0].raw


@pytest.mark.parametrize("pair", EXCHANGES, ids=_id)
def test_captured_reply_decodes_and_reencodes(pair: tuple) -> None:
    call: Call = pair[0].message
    reply: Reply = pair[1].message
    assert reply.reply_stat == ReplyStat.MSG_ACCEPTED and reply.accept_stat == AcceptStat.SUCCESS
    result = pg.decode(REPLIES[(call.prog, call.proc)], reply.body)
    assert encode_accepted_reply(reply.xid, AcceptStat.SUCCESS, pg.encode(result)) == pair[1].raw


def test_getspec_requests_carry_the_documented_xdata() -> None:
    getspecs = [pg.decode(pg.GetspecRequest, c.message.args) for c, _ in EXCHANGES
                if (c.message.prog, c.message.proc) == (P.HANDSHAKE, H.GETSPEC)]
    assert getspecs
    for req in getspecs:
        xdata = decode_dict(req.xdata)
        assert encode_dict(xdata) == req.xdata  # byte-exact, order kept
        assert value_text(xdata["min-op-version"]) == "1"
        assert value_text(xdata["max-op-version"]) == "100000"
        is_brick = "brick_name" in xdata
        assert req.flags == (0 if is_brick else pg.GETSPEC_FLAG_SERVERS_LIST)
        if is_brick:  # VOL.HOST.EXP with EXP derived from the brick path
            brick = value_text(xdata["brick_name"])
            assert req.key.endswith("." + brick.lstrip("/").replace("/", "-"))


def test_getspec_op_ret_is_the_spec_length() -> None:
    for call, reply in EXCHANGES:
        if (call.message.prog, call.message.proc) == (P.HANDSHAKE, H.GETSPEC):
            rsp = pg.decode(pg.GetspecReply, reply.message.body)
            assert rsp.op_ret == len(rsp.spec) > 0 and rsp.op_errno == 0
            # xdata is empty on a single node, except the self-heal daemon's pid file
            req = pg.decode(pg.GetspecRequest, call.message.args)
            expected = {"pidfile"} if req.key.startswith("shd/") else set()
            assert set(decode_dict(rsp.xdata)) == expected


def _backend_and_programs(capture: str) -> tuple[RecordingBackend, tuple[pg.ProgDetail, ...]]:
    """What stock glusterd knew, read back from its replies."""
    backend = RecordingBackend()
    program_list: tuple[pg.ProgDetail, ...] = pg.DEFAULT_PROGRAMS
    for call, reply in EXCHANGES:
        if call.capture != capture:
            continue
        key = (call.message.prog, call.message.proc)
        if key == (P.HANDSHAKE, H.GETSPEC):
            req = pg.decode(pg.GetspecRequest, call.message.args)
            rsp = pg.decode(pg.GetspecReply, reply.message.body)
            backend.volfiles[pg.normalize_volfile_id(req.key)] = (
                VolfileReply(rsp.spec, decode_dict(rsp.xdata)) if rsp.xdata else rsp.spec)
        elif key == (P.PORTMAP, M.PORTBYBRICK):
            brick = pg.decode(pg.PortByBrickRequest, call.message.args).brick
            backend.ports[brick] = pg.decode(pg.PortByBrickReply, reply.message.body).port
        elif key == (P.DUMP, D.DUMP):
            program_list = pg.decode(pg.DumpReply, reply.message.body).programs
    return backend, program_list


@pytest.mark.parametrize("capture", CAPTURES)
def test_our_replies_are_byte_identical_to_stock(capture: str) -> None:
    backend, program_list = _backend_and_programs(capture)
    assert len(program_list) == 8  # stock glusterd's full list, replayed verbatim
    streams: dict[int, list[tuple]] = {}
    for pair in EXCHANGES:
        if pair[0].capture == capture:
            streams.setdefault(pair[0].stream, []).append(pair)
    with ServerThread(backend, programs=program_list) as server:
        for pairs in streams.values():
            with RpcClient(server.port) as client:
                # pipelined, as protocol/client does with DUMP + PING
                client.sock.sendall(b"".join(encode_record(call.raw) for call, _ in pairs))
                ours = sorted(client.recv_record() for _ in pairs)
                assert ours == sorted(reply.raw for _, reply in pairs)


def test_fetchspec_callback_is_byte_identical_to_stock() -> None:
    stock = [r for r in captured_records("volume-set-live-client")
             if not r.to_glusterd and isinstance(r.message, Call)]
    assert len(stock) == 3 and all(r.message.prog == P.CALLBACK for r in stock)
    backend = RecordingBackend(volfiles={"v1": b"volume v1\nend-volume\n"})
    with ServerThread(backend) as server, RpcClient(server.port) as client:
        client.call(P.HANDSHAKE, 2, H.GETSPEC, pg.encode(pg.GetspecRequest("/v1", 1)))
        assert server.server.notify_threadsafe(["v1"]).result(5) == 1
        ours = client.recv_record()
    assert all(ours == r.raw for r in stock)


def test_every_captured_record_is_an_rpc_message() -> None:
    records = list(all_records())
    assert len(records) > 90
    assert {type(r.message) for r in records} == {Call, Reply}
