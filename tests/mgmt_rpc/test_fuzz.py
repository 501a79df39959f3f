"""Hostile input, generated: decoders only ever raise their documented errors, and a live
server fed random or mutated frames keeps answering a valid DUMP on a fresh connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, RecordTooLarge, encode_record
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import AcceptStat, decode_message
from gluster_mgmt.mgmt_rpc.xdr import XdrError
from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread, exchanges

VALID_CALLS = sorted({call.raw for call, _ in exchanges()})
LIVE = [HealthCheck.function_scoped_fixture]  # the module-scoped server is meant to be shared
MESSAGE_CLASSES = [
    pg.DumpRequest, pg.DumpReply, pg.CommonReply, pg.GetspecRequest, pg.GetspecReply,
    pg.EventNotifyRequest, pg.EventNotifyReply, pg.PortByBrickRequest, pg.PortByBrickReply,
    pg.BrickByPortRequest, pg.BrickByPortReply, pg.SigninRequest, pg.SigninReply,
    pg.SignoutRequest,
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A captured call with bytes flipped, cut, inserted or its lengths blown up."""
    data = bytearray(draw(st.sampled_from(VALID_CALLS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "word"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "word" and len(data) >= pos + 4:
            data[pos:pos + 4] = draw(st.sampled_from(
                [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x10\x00\x00", b"\0\0\0\0"]))
    return bytes(data)


@given(st.binary(max_size=2048), st.integers(1, 64))
def test_record_decoder_on_random_bytes(data: bytes, chunk: int) -> None:
    decoder = RecordDecoder(max_record_size=1024)
    try:
        for i in range(0, len(data), chunk):
            decoder.feed(data[i:i + chunk])
            assert decoder.buffered <= 1024 + chunk + 4
    except RecordTooLarge:
        pass


@given(st.one_of(st.binary(max_size=512), mutated()))
def test_message_and_argument_decoders_only_raise_xdr_error(data: bytes) -> None:
    for decode in [decode_message, decode_dict,
                   *[lambda d, c=c: pg.decode(c, d) for c in MESSAGE_CLASSES]]:
        try:
            decode(data)
        except XdrError:
            pass


@pytest.fixture(scope="module")
def live_server() -> Iterator[ServerThread]:
    backend = RecordingBackend(volfiles={"v1": b"volume v1\nend-volume\n"},
                               ports={"/bricks/b1": 49152})
    with ServerThread(backend, max_record_size=64 * 1024) as running:
        yield running


def _dump_still_answered(port: int) -> None:
    with RpcClient(port) as client:
        reply = client.call(pg.Program.DUMP, 1, pg.DumpProc.DUMP, pg.encode(pg.DumpRequest()))
        assert reply.accept_stat == AcceptStat.SUCCESS


def _blast(port: int, data: bytes) -> None:
    """Send, then read whatever comes back until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0.3)
            while sock.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=LIVE)
@given(data=st.binary(max_size=4096))
def test_live_server_survives_random_bytes(live_server: ServerThread, data: bytes) -> None:
    _blast(live_server.port, data)
    _dump_still_answered(live_server.port)


@settings(max_examples=300, deadline=None, suppress_health_check=LIVE)
@given(frames=st.lists(mutated(), min_size=1, max_size=5), framed=st.booleans())
def test_live_server_survives_mutated_frames(live_server: ServerThread, frames: list[bytes],
                                             framed: bool) -> None:
    # framed: mutations inside well-formed records; otherwise the record marker is fuzzed too
    data = b"".join(encode_record(f) if framed else encode_record(f)[:2] + f for f in frames)
    _blast(live_server.port, data)
    _dump_still_answered(live_server.port)
