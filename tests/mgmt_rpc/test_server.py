"""The server over real loopback TCP: procedures, RPC errors, callbacks, hostile peers."""

from __future__ import annotations

import errno
import socket
import struct
import threading

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import encode_record
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import (
    AcceptStat,
    AuthFlavor,
    AuthStat,
    Call,
    RejectStat,
    ReplyStat,
    encode_call,
)
from gluster_mgmt.mgmt_rpc.server import VolfileReply
from tests.helpers import wait_for
from tests.mgmt_rpc.wire import (
    V2_CRED,
    RecordingBackend,
    RpcClient,
    ServerThread,
)

P, D, H, M = pg.Program, pg.DumpProc, pg.HandshakeProc, pg.PortmapProc


def dump(client: RpcClient) -> pg.DumpReply:
    reply = client.call(P.DUMP, 1, D.DUMP, pg.encode(pg.DumpRequest()))
    assert reply.accept_stat == AcceptStat.SUCCESS
    return pg.decode(pg.DumpReply, reply.body)


def getspec(client: RpcClient, key: str, flags: int = 1) -> pg.GetspecReply:
    reply = client.call(P.HANDSHAKE, 2, H.GETSPEC, pg.encode(pg.GetspecRequest(key, flags)))
    assert reply.accept_stat == AcceptStat.SUCCESS
    return pg.decode(pg.GetspecReply, reply.body)


def test_dump_lists_portmap_so_clients_know_they_talk_to_glusterd(server: ServerThread) -> None:
    with RpcClient(server.port) as client:
        rsp = dump(client)
    assert (rsp.gfs_id, rsp.op_ret, rsp.op_errno) == (0, 0, 0)
    assert [(p.number, p.version) for p in rsp.programs] == [
        (P.DUMP, 1), (P.PORTMAP, 1), (P.HANDSHAKE, 2)]


def test_ping_and_null(server: ServerThread) -> None:
    with RpcClient(server.port) as client:
        ping = client.call(P.DUMP, 1, D.PING)
        assert pg.decode(pg.CommonReply, ping.body) == pg.CommonReply(0, 0, b"")
        for prog, vers in ((P.DUMP, 1), (P.HANDSHAKE, 2), (P.PORTMAP, 1)):
            null = client.call(prog, vers, 0)
            assert (null.accept_stat, null.body) == (AcceptStat.SUCCESS, b"")


@pytest.mark.parametrize("key", ["v1", "/v1", "/v1.tcp", "v1.rdma"])
def test_getspec_found_has_op_ret_equal_to_length(server: ServerThread, backend, key) -> None:
    with RpcClient(server.port) as client:
        rsp = getspec(client, key)
    spec = backend.volfiles["v1"]
    assert rsp == pg.GetspecReply(len(spec), 0, spec, b"")
    assert backend.calls[0][:2] == ("getspec", key)  # the backend sees the key verbatim


def test_getspec_failures_carry_a_nonzero_errno(server: ServerThread, backend) -> None:
    with RpcClient(server.port) as client:
        assert getspec(client, "nosuchvol") == pg.GetspecReply(-1, errno.ENOENT, b"", b"")
        backend.fail.add("getspec")
        assert getspec(client, "v1") == pg.GetspecReply(-1, errno.EIO, b"", b"")
        assert dump(client).op_ret == 0  # connection still fine


def test_backend_returning_nonsense_is_system_err(server: ServerThread, backend) -> None:
    backend.volfiles["v1"] = 42  # type: ignore[assignment]
    with RpcClient(server.port) as client:
        reply = client.call(P.HANDSHAKE, 2, H.GETSPEC, pg.encode(pg.GetspecRequest("v1")))
        assert reply.accept_stat == AcceptStat.SYSTEM_ERR
        assert dump(client).op_ret == 0


def test_getspec_xdata_from_backend(server: ServerThread, backend) -> None:
    backend.volfiles["shd/v1"] = VolfileReply(b"volume x\nend-volume\n", {"pidfile": "/run/shd.pid"})
    with RpcClient(server.port) as client:
        rsp = getspec(client, "shd/v1", 0)
    assert rsp.op_ret == len(rsp.spec) and decode_dict(rsp.xdata) == {"pidfile": b"/run/shd.pid\0"}


def test_portmap_signin_lookup_signout(server: ServerThread, backend) -> None:
    with RpcClient(server.port) as brick, RpcClient(server.port) as client:
        def port_of(name: str) -> pg.PortByBrickReply:
            r = client.call(P.PORTMAP, 1, M.PORTBYBRICK, pg.encode(pg.PortByBrickRequest(name)))
            return pg.decode(pg.PortByBrickReply, r.body)

        assert port_of("/bricks/nope") == pg.PortByBrickReply(-1, 0, 0, 0)
        signin = brick.call(P.PORTMAP, 1, M.SIGNIN, pg.encode(pg.SigninRequest("/b/x", 50001, 77)))
        assert pg.decode(pg.SigninReply, signin.body) == pg.SigninReply(0, 0)
        assert port_of("/b/x") == pg.PortByBrickReply(0, 0, 0, 50001)
        out = brick.call(P.PORTMAP, 1, M.SIGNOUT, pg.encode(pg.SignoutRequest("/b/x", 50001)))
        assert pg.decode(pg.SignoutReply, out.body) == pg.SignoutReply(0, 0)
        assert port_of("/b/x").op_ret == -1
        conn_ids = {c[-1] for c in backend.calls if c[0] in ("signin", "signout")}
        assert len(conn_ids) == 1
        bbp = client.call(P.PORTMAP, 1, M.BRICKBYPORT, pg.encode(pg.BrickByPortRequest(50001)))
        assert pg.decode(pg.BrickByPortReply, bbp.body).op_ret == -1


def test_port_zero_from_backend_is_reported_as_not_found(server, backend) -> None:
    backend.ports["/z"] = 0
    with RpcClient(server.port) as client:
        r = client.call(P.PORTMAP, 1, M.PORTBYBRICK, pg.encode(pg.PortByBrickRequest("/z")))
    assert pg.decode(pg.PortByBrickReply, r.body).op_ret == -1


def test_backend_signin_failure_is_op_ret_minus_one(server, backend) -> None:
    backend.fail.add("signin")
    with RpcClient(server.port) as brick:
        r = brick.call(P.PORTMAP, 1, M.SIGNIN, pg.encode(pg.SigninRequest("/b", 1, 1)))
    assert pg.decode(pg.SigninReply, r.body) == pg.SigninReply(-1, errno.EIO)


def test_closing_a_connection_tells_the_backend(server: ServerThread, backend) -> None:
    with RpcClient(server.port) as brick:
        brick.call(P.PORTMAP, 1, M.SIGNIN, pg.encode(pg.SigninRequest("/b/y", 50002, 78)))
    conn_id = next(c[-1] for c in backend.calls if c[0] == "signin")
    assert wait_for(lambda: ("connection_closed", conn_id) in backend.calls, 5, 0.01)
    assert "/b/y" not in backend.signed_in


def test_event_notify_is_acknowledged(server: ServerThread) -> None:
    with RpcClient(server.port) as client:
        r = client.call(P.HANDSHAKE, 2, H.EVENT_NOTIFY, pg.encode(pg.EventNotifyRequest(0)))
    assert pg.decode(pg.EventNotifyReply, r.body) == pg.EventNotifyReply(0, 0, b"")


@pytest.mark.parametrize(("prog", "vers", "proc", "args", "stat"), [
    (999999, 1, 0, b"", AcceptStat.PROG_UNAVAIL),
    (P.CALLBACK, 1, 1, b"", AcceptStat.PROG_UNAVAIL),  # a program we call, not serve
    (P.HANDSHAKE, 2, H.SETVOLUME, b"", AcceptStat.PROC_UNAVAIL),
    (P.HANDSHAKE, 2, 99, b"", AcceptStat.PROC_UNAVAIL),
    (P.PORTMAP, 1, M.SIGNUP, b"", AcceptStat.PROC_UNAVAIL),
    (P.HANDSHAKE, 2, H.GETSPEC, b"abc", AcceptStat.GARBAGE_ARGS),
    (P.PORTMAP, 1, M.SIGNIN, bytes.fromhex("7fffffff") + b"abcd", AcceptStat.GARBAGE_ARGS),
    (P.DUMP, 1, D.DUMP, b"\0\0\0", AcceptStat.GARBAGE_ARGS),
])
def test_rpc_errors_as_stock_glusterd(server, prog, vers, proc, args, stat) -> None:
    with RpcClient(server.port) as client:
        reply = client.call(prog, vers, proc, args)
        assert (reply.reply_stat, reply.accept_stat) == (ReplyStat.MSG_ACCEPTED, stat)
        assert dump(client).op_ret == 0


def test_other_version_of_a_known_program_is_prog_mismatch_0_0(server) -> None:
    with RpcClient(server.port) as client:
        reply = client.call(P.PORTMAP, 2, M.PORTBYBRICK)
    assert (reply.accept_stat, reply.low, reply.high) == (AcceptStat.PROG_MISMATCH, 0, 0)


def test_rpc_version_other_than_2_is_denied(server) -> None:
    with RpcClient(server.port) as client:
        raw = bytearray(encode_call(9, P.DUMP, 1, D.PING))
        raw[8:12] = struct.pack(">I", 3)
        client.sock.sendall(encode_record(bytes(raw)))
        reply = client.recv_message()
    assert (reply.xid, reply.reply_stat, reply.reject_stat, reply.low, reply.high) == (
        9, ReplyStat.MSG_DENIED, RejectStat.RPC_MISMATCH, 2, 2)


@pytest.mark.parametrize("flavor", [int(f) for f in AuthFlavor])
def test_documented_auth_flavours_are_accepted(server, flavor) -> None:
    cred = V2_CRED if flavor != AuthFlavor.AUTH_NULL else b""
    with RpcClient(server.port) as client:
        assert client.call(P.DUMP, 1, D.PING, flavor=flavor, cred=cred).accept_stat == 0


def test_unknown_auth_flavour_is_rejected(server) -> None:
    with RpcClient(server.port) as client:
        reply = client.call(P.DUMP, 1, D.PING, flavor=6, cred=b"")
    assert (reply.reply_stat, reply.reject_stat, reply.auth_stat) == (
        ReplyStat.MSG_DENIED, RejectStat.AUTH_ERROR, AuthStat.AUTH_REJECTEDCRED)


def test_pipelined_calls_are_answered_by_xid(server, backend) -> None:
    backend.getspec_delay = 0.2  # a slow backend must not hold up DUMP/PING
    with RpcClient(server.port) as client:
        calls = [
            encode_call(10, P.HANDSHAKE, 2, H.GETSPEC, pg.encode(pg.GetspecRequest("v1"))),
            encode_call(11, P.DUMP, 1, D.DUMP, pg.encode(pg.DumpRequest())),
            encode_call(12, P.DUMP, 1, D.PING),
            encode_call(13, P.PORTMAP, 1, M.PORTBYBRICK,
                        pg.encode(pg.PortByBrickRequest("/bricks/b1"))),
        ]
        client.sock.sendall(b"".join(encode_record(c) for c in calls))
        xids = [client.recv_message().xid for _ in calls]
    assert sorted(xids) == [10, 11, 12, 13]
    assert xids[:2] == [11, 12]  # answered while GETSPEC was still in the backend
    assert xids.index(10) < xids.index(13)  # backend calls keep their order


def test_multi_fragment_request(server) -> None:
    call = encode_call(5, P.DUMP, 1, D.DUMP, pg.encode(pg.DumpRequest()))
    frags = (struct.pack(">I", 10) + call[:10]
             + struct.pack(">I", 0x80000000 | (len(call) - 10)) + call[10:])
    with RpcClient(server.port) as client:
        client.sock.sendall(frags)
        assert client.recv_message().xid == 5


def test_fetchspec_goes_only_to_connections_that_fetched_the_volfile(server, backend) -> None:
    backend.volfiles["v2"] = b"volume v2\nend-volume\n"
    with RpcClient(server.port) as c1, RpcClient(server.port) as c2, RpcClient(server.port) as c3:
        getspec(c1, "/v1")
        getspec(c2, "v2.tcp")
        dump(c3)
        assert server.run(lambda: server.server.notify_volfile_changed(["v2"])) == 1
        cbk = c2.recv_message()
        assert isinstance(cbk, Call)
        assert (cbk.prog, cbk.vers, cbk.proc, cbk.cred_flavor, cbk.args) == (
            P.CALLBACK, 1, pg.CallbackProc.FETCHSPEC, 0, b"")
        # the client's reply to our callback is accepted and ignored
        c2.sock.sendall(encode_record(struct.pack(">6I", cbk.xid, 1, 0, 0, 0, 0)))
        assert getspec(c2, "v2.tcp").op_ret > 0
        # a second change gets the next xid; thread-safe entry point
        assert server.server.notify_threadsafe(["/v1", "v2"]).result(5) == 2
        assert c1.recv_message().xid == 1
        assert c2.recv_message().xid == cbk.xid + 1
        c3.sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            c3.recv_record()


@pytest.mark.parametrize("garbage", [
    bytes.fromhex("ffffffff"),                     # 2 GiB fragment announced
    bytes.fromhex("80200000"),                     # 2 MiB record, over the 1 MiB cap
    encode_record(b"\0\0\0\1"),                    # record too short for an RPC header
    encode_record(struct.pack(">II", 1, 7)),       # neither CALL nor REPLY
    encode_record(struct.pack(">9I", 1, 0, 2, P.DUMP, 1, 2, 1, 0x7FFFFFFF, 0)),  # cred past end
])
def test_hostile_input_closes_only_that_connection(server, garbage) -> None:
    with RpcClient(server.port) as victim, RpcClient(server.port) as bystander:
        victim.sock.sendall(garbage)
        assert victim.is_closed_by_peer()
        assert dump(bystander).op_ret == 0
    with RpcClient(server.port) as fresh:
        assert dump(fresh).op_ret == 0


def test_truncated_record_just_waits(server) -> None:
    with RpcClient(server.port) as client:
        call = encode_record(encode_call(3, P.DUMP, 1, D.PING))
        client.sock.sendall(call[:-3])
        assert not client.is_closed_by_peer(0.2)
        client.sock.sendall(call[-3:])
        assert client.recv_message().xid == 3


def test_a_peer_that_never_reads_does_not_starve_others(server) -> None:
    ping = encode_record(encode_call(1, P.DUMP, 1, D.PING)) * 4096
    greedy = socket.create_connection(("127.0.0.1", server.port))
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    greedy.settimeout(0.5)
    stop = threading.Event()

    def flood() -> None:
        try:
            while not stop.is_set():
                greedy.sendall(ping)
        except OSError:
            pass

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        with RpcClient(server.port) as other:
            for _ in range(20):
                assert dump(other).op_ret == 0
    finally:
        stop.set()
        greedy.close()
        thread.join(5)


def test_many_concurrent_connections(server) -> None:
    clients = [RpcClient(server.port) for _ in range(200)]
    try:
        for c in clients:
            c.send_call(P.DUMP, 1, D.DUMP, pg.encode(pg.DumpRequest()))
        for c in clients:
            assert c.recv_message().accept_stat == AcceptStat.SUCCESS
        assert server.run(lambda: server.server.connection_count) == 200
    finally:
        for c in clients:
            c.close()


def test_close_with_live_connections_tells_the_backend() -> None:
    backend = RecordingBackend()
    with ServerThread(backend) as running:
        client = RpcClient(running.port)
        dump(client)
    assert [c[0] for c in backend.calls] == ["connection_closed"]
    assert client.is_closed_by_peer(1)
    client.close()
