"""GD_BRICK messages, the defrag client against a scripted unix-socket peer, and the
parsing of defrag counters. The same client against stock processes: test_stock_defrag.py."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gluster_mgmt.errors import GlusterMgmtError
from gluster_mgmt.mgmt_rpc import defrag_client as dc
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import (
    AcceptStat,
    AuthFlavor,
    AuthStat,
    Call,
    decode_message,
    encode_accepted_reply,
    encode_auth_error,
    encode_call,
    encode_rpc_mismatch,
)
from tests.mgmt_rpc.wire import V2_CRED

# --- message vectors -------------------------------------------------------------------

#: gd1_mgmt_brick_op_req for "status of VOL", laid out by hand from glusterd1-xdr.x
STATUS_REQUEST = bytes.fromhex(
    "00000007" "564f4c2d646874" "00"          # name "VOL-dht" + pad
    "00000006"                                # op = GLUSTERD_BRICK_XLATOR_DEFRAG
    "00000034"                                # input<52>: a dict of two entries
    "00000002"
    "00000011" "00000002" + b"rebalance-command\0".hex() + "3300"
    "00000007" "00000004" + b"volname\0".hex() + b"VOL\0".hex() +
    "00000000"                                # dict<0>
)
#: what stock glusterfs 10.3 answered to STATUS_REQUEST when its dht has no rebalance
#: running (captured from /usr/sbin/glusterfs, see test_stock_defrag.py)
STOCK_NO_DEFRAG_REPLY = bytes.fromhex("ffffffff" "00000000" "00000004" "00000000" "00000000")


def test_brick_op_request_vector() -> None:
    request = pg.BrickOpRequest("VOL-dht", pg.BrickProc.XLATOR_DEFRAG,
                                encode_dict({"rebalance-command": 3, "volname": "VOL"}))
    assert pg.encode(request) == STATUS_REQUEST
    assert pg.decode(pg.BrickOpRequest, STATUS_REQUEST) == request


def test_brick_op_reply_vectors() -> None:
    stock = pg.decode(pg.BrickOpReply, STOCK_NO_DEFRAG_REPLY)
    assert stock == pg.BrickOpReply(-1, 0, b"\0\0\0\0", "")
    assert decode_dict(stock.output) == {}  # an empty dict serialises as its count alone
    assert pg.encode(stock) == STOCK_NO_DEFRAG_REPLY
    failed = pg.BrickOpReply(-1, 22, b"", "xlator x is not loaded")
    raw = pg.encode(failed)
    assert raw == bytes.fromhex("ffffffff" "00000016" "00000000" "00000016") + \
        b"xlator x is not loaded" + b"\0\0"
    assert pg.decode(pg.BrickOpReply, raw) == failed


def test_brick_program_constants() -> None:
    assert (pg.Program.BRICK, pg.PROGRAM_VERSIONS[pg.Program.BRICK]) == (4867634, 2)
    assert (pg.BrickProc.XLATOR_DEFRAG, pg.BrickProc.SVC_DETACH) == (6, 15)
    assert pg.EventNotifyOp.DEFRAG_STATUS == 0
    assert (dc.DefragCommand.STOP, dc.DefragCommand.STATUS, dc.DefragCommand.START_FORCE) == (2, 3, 5)


@pytest.mark.parametrize("blob", [b"", b"\0\0\0\x05abc", STOCK_NO_DEFRAG_REPLY[:-1]])
def test_truncated_brick_op_reply_is_an_xdr_error(blob: bytes) -> None:
    with pytest.raises(ValueError):
        pg.decode(pg.BrickOpReply, blob)


# --- a scripted peer on a unix socket --------------------------------------------------

Responder = Callable[[Call], bytes | None]
#: responder result: write nothing and wait for the client to hang up
SILENT = None
#: responder result: close the connection without a word
HANG_UP = b""


class ScriptedSocket:
    """Listens on a unix socket; answers each connection's first CALL with the raw bytes
    ``respond(call)`` gives (already record-marked, so framing faults can be scripted)."""

    def __init__(self, path: str, respond: Responder) -> None:
        self.path = path
        self.respond = respond
        self.calls: list[Call] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                decoder = RecordDecoder()
                records: list[bytes] = []
                while not records:
                    data = conn.recv(65536)
                    if not data:
                        break
                    records = decoder.feed(data)
                if not records:
                    continue
                call = decode_message(records[0])
                assert isinstance(call, Call)
                self.calls.append(call)
                out = self.respond(call)
                if out is SILENT:
                    while not self._stop.is_set():  # until the client gives up
                        try:
                            if not conn.recv(1):
                                break
                        except TimeoutError:
                            continue
                        except OSError:
                            break
                elif out:
                    for i in range(0, len(out), 7):  # trickle: replies arrive in pieces
                        conn.sendall(out[i:i + 7])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.listener.close()


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Callable[[Responder], ScriptedSocket]]:
    peers: list[ScriptedSocket] = []

    def start(respond: Responder) -> ScriptedSocket:
        peers.append(ScriptedSocket(str(tmp_path / f"peer{len(peers)}.sock"), respond))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()


def answer(reply: pg.BrickOpReply) -> Responder:
    return lambda call: encode_record(
        encode_accepted_reply(call.xid, AcceptStat.SUCCESS, pg.encode(reply)))


RUNNING = {"files": 7, "size": 7000, "lookups": 50, "status": 1, "run-time": 2,
           "failures": 0, "skipped": 1, "time-left": 9}


def test_status_sends_what_glusterd_sends_and_returns_the_output(scripted) -> None:
    peer = scripted(answer(pg.BrickOpReply(0, 0, encode_dict(RUNNING))))
    output = dc.defrag_command(peer.path, "VOL", dc.DefragCommand.STATUS)
    assert output == {k: f"{v}\0".encode() for k, v in RUNNING.items()}
    (call,) = peer.calls
    assert (call.prog, call.vers, call.proc) == (4867634, 2, 6)
    assert (call.cred_flavor, call.cred_body) == (AuthFlavor.AUTH_GLUSTERFS_V2, V2_CRED)
    assert (call.verf_flavor, call.verf_body) == (AuthFlavor.AUTH_NULL, b"")
    assert call.args == STATUS_REQUEST


def test_stop_names_the_volume_xlator_and_command(scripted) -> None:
    peer = scripted(answer(pg.BrickOpReply(0, 0, encode_dict({"status": 2}))))
    assert dc.defrag_command(peer.path, "v-2", dc.DefragCommand.STOP) == {"status": b"2\0"}
    request = pg.decode(pg.BrickOpRequest, peer.calls[0].args)
    assert request.name == "v-2-dht"
    assert decode_dict(request.input)["rebalance-command"] == b"2\0"


def test_multi_fragment_reply(scripted) -> None:
    def respond(call: Call) -> bytes:
        raw = encode_accepted_reply(call.xid, AcceptStat.SUCCESS,
                                    pg.encode(pg.BrickOpReply(0, 0, encode_dict(RUNNING))))
        head, tail = raw[:10], raw[10:]
        return struct.pack(">I", len(head)) + head + encode_record(tail)

    assert dc.defrag_command(scripted(respond).path, "VOL", 3)["files"] == b"7\0"


def test_empty_output_is_an_empty_dict(scripted) -> None:
    peer = scripted(answer(pg.BrickOpReply(0, 0, b"\0\0\0\0")))
    assert dc.defrag_command(peer.path, "VOL", 3) == {}


def test_op_ret_minus_one_carries_op_errstr(scripted) -> None:
    peer = scripted(answer(pg.BrickOpReply(-1, 22, b"", "xlator VOL-dht is not loaded")))
    with pytest.raises(dc.DefragOpError, match="xlator VOL-dht is not loaded") as caught:
        dc.defrag_command(peer.path, "VOL", 3)
    assert (caught.value.op_ret, caught.value.op_errno) == (-1, 22)
    assert "STATUS failed (op_ret -1, op_errno 22)" in str(caught.value)


def test_op_ret_minus_one_without_message_says_so(scripted) -> None:
    peer = scripted(lambda call: encode_record(encode_accepted_reply(
        call.xid, AcceptStat.SUCCESS, STOCK_NO_DEFRAG_REPLY)))
    with pytest.raises(dc.DefragOpError, match="no error message") as caught:
        dc.defrag_command(peer.path, "VOL", 2)
    assert caught.value.op_errstr == "" and caught.value.output == b"\0\0\0\0"


@pytest.mark.parametrize(("respond", "match"), [
    (lambda call: encode_record(encode_auth_error(call.xid, AuthStat.AUTH_REJECTEDCRED)),
     "call denied: credential refused .auth_stat AUTH_REJECTEDCRED"),
    (lambda call: encode_record(encode_auth_error(call.xid, 0)),  # what glusterfsd sends
     "call denied: credential refused .auth_stat AUTH_OK"),
    (lambda call: encode_record(encode_rpc_mismatch(call.xid)),
     "call denied, RPC version mismatch .server speaks 2..2"),
    (lambda call: encode_record(encode_accepted_reply(call.xid, AcceptStat.GARBAGE_ARGS)),
     "call not accepted: GARBAGE_ARGS"),
    (lambda call: encode_record(encode_accepted_reply(call.xid, AcceptStat.PROG_UNAVAIL)),
     "call not accepted: PROG_UNAVAIL"),
    (lambda call: encode_record(encode_accepted_reply(call.xid, 77)),
     "call not accepted: 77"),
], ids=["auth-rejected", "auth-ok-but-denied", "rpc-mismatch", "garbage-args",
        "prog-unavail", "unknown-stat"])
def test_refused_calls(scripted, respond: Responder, match: str) -> None:
    with pytest.raises(dc.DefragRpcError, match=match):
        dc.defrag_command(scripted(respond).path, "VOL", 3)


def _success(body: bytes) -> Responder:
    return lambda call: encode_record(encode_accepted_reply(call.xid, AcceptStat.SUCCESS, body))


@pytest.mark.parametrize(("respond", "match"), [
    (_success(b""), "malformed gd1_mgmt_brick_op_rsp"),
    (_success(STOCK_NO_DEFRAG_REPLY[:-2]), "malformed gd1_mgmt_brick_op_rsp"),
    (_success(pg.encode(pg.BrickOpReply(0, 0, b"\0\0\0\x09junk"))), "malformed output dict"),
    (lambda call: encode_record(encode_accepted_reply(call.xid + 1)), "got the reply to xid"),
    (lambda call: encode_record(encode_call(call.xid, 1, 1, 1)), "got a CALL"),
    (lambda call: encode_record(b"\0\0\0\1"), "undecodable RPC reply"),
    (lambda call: struct.pack(">I", 0x80000000 | (64 << 20)), "exceeds"),
], ids=["empty-body", "truncated-body", "garbage-dict", "wrong-xid", "call", "short-header",
        "huge-record"])
def test_malformed_replies(scripted, respond: Responder, match: str) -> None:
    with pytest.raises(dc.DefragProtocolError, match=match):
        dc.defrag_command(scripted(respond).path, "VOL", 3)


def test_silence_is_a_timeout(scripted) -> None:
    peer = scripted(lambda call: SILENT)
    started = time.monotonic()
    with pytest.raises(dc.DefragTimeout, match="no reply within 0.3s") as caught:
        dc.defrag_command(peer.path, "VOL", 3, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 3
    assert isinstance(caught.value, TimeoutError)


def test_hang_up_without_reply(scripted) -> None:
    with pytest.raises(dc.DefragConnectionError, match="closed by the process before it replied"):
        dc.defrag_command(scripted(lambda call: HANG_UP).path, "VOL", 3)


def test_cannot_connect(tmp_path: Path) -> None:
    with pytest.raises(dc.DefragConnectionError, match="cannot connect: No such file"):
        dc.defrag_command(str(tmp_path / "gone.sock"), "VOL", 3)
    (tmp_path / "stale.sock").write_bytes(b"")
    with pytest.raises(dc.DefragConnectionError, match="cannot connect: Connection refused"):
        dc.defrag_command(str(tmp_path / "stale.sock"), "VOL", 3)


def test_every_error_is_a_gluster_mgmt_error() -> None:
    for cls in (dc.DefragConnectionError, dc.DefragTimeout, dc.DefragRpcError,
                dc.DefragOpError, dc.DefragProtocolError):
        assert issubclass(cls, dc.DefragError) and issubclass(cls, GlusterMgmtError)


def test_socket_files_are_left_alone(scripted) -> None:
    peer = scripted(answer(pg.BrickOpReply(0)))
    dc.defrag_command(peer.path, "VOL", 3)
    assert os.path.exists(peer.path)


# --- parse_defrag_status ---------------------------------------------------------------

ZEROS = {"status": 0, "files": 0, "size": 0, "lookups": 0, "failures": 0, "skipped": 0,
         "run_time": 0.0, "time_left": 0}


def test_parse_a_final_report_as_stock_sends_it() -> None:
    # the EVENT_NOTIFY dict of a stock 10.3 rebalance process that moved 50 files
    items = {"volname": b"rebalance/rv\0", "time-left": b"0\0", "skipped": b"0\0",
             "failures": b"0\0", "run-time": b"0\0", "status": b"3\0", "lookups": b"50\0",
             "size": b"50000\0", "files": b"50\0"}
    assert dc.parse_defrag_status(items) == {**ZEROS, "status": 3, "files": 50, "size": 50000,
                                             "lookups": 50}


def test_parse_types_and_leniency() -> None:
    parsed = dc.parse_defrag_status({"size": b"18446744073709551615\0", "run-time": b"12.500000",
                                     "time-left": b"-1\0"})
    assert parsed == {**ZEROS, "size": 2**64 - 1, "run_time": 12.5, "time_left": -1}
    assert type(parsed["run_time"]) is float and type(parsed["files"]) is int
    assert dc.parse_defrag_status({}) == ZEROS


@pytest.mark.parametrize("value", [
    b"", b"\0", b"abc\0", b"1_000\0", b" 5\0", b"5 \0", b"0x10\0", b"5\0\0", b"1e999\0",
    b"nan\0", b"9" * 5000 + b"\0", b"\xff\0", "5",
])
def test_parse_garbage_is_an_error_naming_the_key(value) -> None:
    with pytest.raises(dc.DefragProtocolError, match="defrag status value files="):
        dc.parse_defrag_status({"files": value})


@pytest.mark.parametrize("value", [b"1.5.2\0", b"inf\0", b"-\0", b".5\0"])
def test_parse_garbage_run_time(value: bytes) -> None:
    with pytest.raises(dc.DefragProtocolError, match="run-time"):
        dc.parse_defrag_status({"run-time": value})
