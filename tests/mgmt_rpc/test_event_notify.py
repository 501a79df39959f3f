"""HANDSHAKE EVENT_NOTIFY reaching the backend: a rebalance process's final report.

The stock round trip (a real rebalance process sending it) is in test_stock_defrag.py.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.gluster_dict import encode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import AcceptStat
from gluster_mgmt.mgmt_rpc.server import EventNotifyBackend, MgmtBackend, PeerInfo
from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread

P, H = pg.Program, pg.HandshakeProc

#: what a stock 10.3 rebalance process sends when it finished (values as serialised)
FINAL_REPORT = {"volname": "rebalance/rv", "time-left": 0, "skipped": 0, "failures": 0,
                "run-time": 0, "status": 3, "lookups": 50, "size": 50000, "files": 50}


class NotifiedBackend(RecordingBackend):
    async def event_notify(self, op: int, items: dict[str, bytes], peer: PeerInfo) -> None:
        self._record("event_notify", op, items, peer)


@pytest.fixture
def notified() -> Iterator[tuple[NotifiedBackend, ServerThread]]:
    backend = NotifiedBackend()
    with ServerThread(backend) as running:
        yield backend, running


def notify(client: RpcClient, op: int, blob: bytes) -> pg.EventNotifyReply:
    reply = client.call(P.HANDSHAKE, 2, H.EVENT_NOTIFY, pg.encode(pg.EventNotifyRequest(op, blob)))
    assert reply.accept_stat == AcceptStat.SUCCESS
    return pg.decode(pg.EventNotifyReply, reply.body)


def still_serving(client: RpcClient) -> bool:
    reply = client.call(P.DUMP, 1, pg.DumpProc.DUMP, pg.encode(pg.DumpRequest()))
    return pg.decode(pg.DumpReply, reply.body).op_ret == 0


def test_the_report_reaches_the_backend_decoded(notified) -> None:
    backend, server = notified
    with RpcClient(server.port) as client:
        assert notify(client, 0, encode_dict(FINAL_REPORT)) == pg.EventNotifyReply(0, 0, b"")
    (name, op, items, peer), = [c for c in backend.calls if c[0] == "event_notify"]
    assert op == pg.EventNotifyOp.DEFRAG_STATUS
    assert items == {k: f"{v}\0".encode() for k, v in FINAL_REPORT.items()}
    assert peer.host == "127.0.0.1"


def test_malformed_dict_is_op_ret_minus_one_and_the_server_goes_on(notified, caplog) -> None:
    backend, server = notified
    caplog.set_level(logging.WARNING, logger="gluster_mgmt.mgmt_rpc.server")
    with RpcClient(server.port) as client:
        for blob in (b"\0\0\0\x05", b"\0\0\0\x01\0\0\0\x03\0\0\0\x01ab", b"\xff\xff\xff\xff"):
            assert notify(client, 0, blob) == pg.EventNotifyReply(-1, errno.EINVAL, b"")
        assert still_serving(client)
        assert notify(client, 0, encode_dict(FINAL_REPORT)).op_ret == 0
    assert [c[0] for c in backend.calls].count("event_notify") == 1
    assert "malformed dict of 4 bytes" in caplog.text and "answered op_ret -1" in caplog.text


def test_a_failing_backend_is_op_ret_minus_one(notified) -> None:
    backend, server = notified
    backend.fail.add("event_notify")
    with RpcClient(server.port) as client:
        assert notify(client, 0, encode_dict(FINAL_REPORT)) == pg.EventNotifyReply(-1, errno.EIO)
        assert still_serving(client)


def test_unknown_op_is_refused_as_glusterd_does(notified) -> None:
    backend, server = notified
    with RpcClient(server.port) as client:
        assert notify(client, 1, encode_dict(FINAL_REPORT)).op_ret == -1
    assert "event_notify" not in backend.names()


def test_empty_dict_is_acknowledged_without_bothering_the_backend(notified) -> None:
    backend, server = notified
    with RpcClient(server.port) as client:
        assert notify(client, 0, b"") == pg.EventNotifyReply(0, 0, b"")
    assert "event_notify" not in backend.names()


def test_backend_without_event_notify_is_tolerated(server: ServerThread, backend) -> None:
    assert not hasattr(backend, "event_notify")
    with RpcClient(server.port) as client:
        assert notify(client, 0, encode_dict(FINAL_REPORT)) == pg.EventNotifyReply(0, 0, b"")
        assert still_serving(client)


def test_undecodable_args_are_garbage_args(notified) -> None:
    _, server = notified
    with RpcClient(server.port) as client:
        reply = client.call(P.HANDSHAKE, 2, H.EVENT_NOTIFY, b"\0\0")
        assert reply.accept_stat == AcceptStat.GARBAGE_ARGS
        assert still_serving(client)


def test_the_optional_method_does_not_change_what_a_backend_is() -> None:
    assert isinstance(RecordingBackend(), MgmtBackend)
    assert not isinstance(RecordingBackend(), EventNotifyBackend)
    assert isinstance(NotifiedBackend(), MgmtBackend)
    assert isinstance(NotifiedBackend(), EventNotifyBackend)
