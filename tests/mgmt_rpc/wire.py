"""Test helpers: a blocking RPC client, a recording backend, a server in its own thread,
and the reference capture vectors."""

from __future__ import annotations

import asyncio
import csv
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
from gluster_mgmt.mgmt_rpc.rpc_message import (
    AuthFlavor,
    Call,
    Reply,
    decode_message,
    encode_call,
)
from gluster_mgmt.mgmt_rpc.server import MgmtRpcServer, PeerInfo, VolfileReply

VECTORS = Path(__file__).parent / "vectors"
GLUSTERD_PORT = 24007
#: the AUTH_GLUSTERFS_v2 body mgmt calls carry (pid 0, uid 0, gid 0, no groups, 4-byte lk_owner)
V2_CRED = bytes.fromhex("00000000" * 4 + "00000004" + "00000000")


class RecordingBackend:
    """A backend over two dicts that records every call it gets."""

    def __init__(self, volfiles: dict[str, bytes | VolfileReply] | None = None,
                 ports: dict[str, int] | None = None) -> None:
        self.volfiles: dict[str, bytes | VolfileReply] = dict(volfiles or {})
        self.ports = dict(ports or {})
        self.signed_in: dict[str, tuple[int, int]] = {}  # brick -> (port, conn_id)
        self.calls: list[tuple[Any, ...]] = []
        self.getspec_delay = 0.0
        self.fail: set[str] = set()  # method names that raise

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        if call[0] in self.fail:
            raise RuntimeError(f"{call[0]} failing on purpose")

    async def getspec(self, volfile_id: str, peer: PeerInfo) -> bytes | VolfileReply | None:
        self._record("getspec", volfile_id, peer)
        if self.getspec_delay:
            await asyncio.sleep(self.getspec_delay)
        from gluster_mgmt.mgmt_rpc import normalize_volfile_id
        return self.volfiles.get(normalize_volfile_id(volfile_id))

    async def signin(self, brick: str, port: int, pid: int, peer: PeerInfo) -> None:
        self._record("signin", brick, port, pid, peer.conn_id)
        self.signed_in[brick] = (port, peer.conn_id)

    async def signout(self, brick: str, port: int, peer: PeerInfo) -> None:
        self._record("signout", brick, port, peer.conn_id)
        self.signed_in.pop(brick, None)

    async def port_by_brick(self, brick: str) -> int | None:
        self._record("port_by_brick", brick)
        if brick in self.signed_in:
            return self.signed_in[brick][0]
        return self.ports.get(brick)

    async def connection_closed(self, conn_id: int) -> None:
        self._record("connection_closed", conn_id)
        for brick, (_, owner) in list(self.signed_in.items()):
            if owner == conn_id:
                del self.signed_in[brick]

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


class ServerThread:
    """Runs an :class:`MgmtRpcServer` on its own event loop thread, for blocking tests."""

    def __init__(self, backend: Any, host: str = "127.0.0.1", port: int = 0,
                 **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = MgmtRpcServer(backend, host, port, **kwargs)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    @property
    def port(self) -> int:
        return self.server.port

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop thread and return its result."""
        async def call() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)


class RpcClient:
    """A blocking RPC-over-TCP client speaking like a glusterfs process."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.decoder = RecordDecoder(1 << 24)
        self.pending: list[bytes] = []
        self.xid = 1

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_call(self, prog: int, vers: int, proc: int, args: bytes = b"", *,
                  xid: int | None = None, flavor: int = AuthFlavor.AUTH_GLUSTERFS_V2,
                  cred: bytes = V2_CRED) -> int:
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.sock.sendall(encode_record(encode_call(xid, prog, vers, proc, args,
                                                    cred_flavor=flavor, cred_body=cred)))
        return xid

    def recv_record(self) -> bytes:
        """The next record; raises ConnectionError on EOF, socket.timeout on silence."""
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def recv_message(self) -> Call | Reply:
        return decode_message(self.recv_record())

    def call(self, prog: int, vers: int, proc: int, args: bytes = b"", **kw: Any) -> Reply:
        xid = self.send_call(prog, vers, proc, args, **kw)
        reply = self.recv_message()
        assert isinstance(reply, Reply) and reply.xid == xid, reply
        return reply

    def is_closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True once the server closes (EOF or reset) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


@attrs.frozen
class CapturedRecord:
    capture: str
    frame: int  # frame of the segment completing the record
    stream: int
    to_glusterd: bool
    raw: bytes  # record payload without the record marker
    message: Call | Reply


def captured_records(capture: str) -> list[CapturedRecord]:
    """Records of one capture, rebuilt per stream direction with our record decoder."""
    decoders: dict[tuple[int, bool], RecordDecoder] = {}
    records = []
    with open(VECTORS / f"{capture}.tsv", newline="") as f:
        for frame, stream, _src, dst, payload in csv.reader(f, delimiter="\t"):
            to_glusterd = int(dst) == GLUSTERD_PORT
            decoder = decoders.setdefault((int(stream), to_glusterd), RecordDecoder())
            for raw in decoder.feed(bytes.fromhex(payload)):
                records.append(CapturedRecord(capture, int(frame), int(stream), to_glusterd,
                                              raw, decode_message(raw)))
    return records


CAPTURES = ("distribute-start-and-mount", "replicate3-start-and-mount", "volume-set-live-client")


def all_records() -> Iterator[CapturedRecord]:
    for capture in CAPTURES:
        yield from captured_records(capture)


def exchanges() -> list[tuple[CapturedRecord, CapturedRecord | None]]:
    """Each captured call with glusterd's reply to it (None if the reply is not captured)."""
    result = []
    for capture in CAPTURES:
        records = captured_records(capture)
        replies = {(r.stream, r.message.xid): r for r in records
                   if not r.to_glusterd and isinstance(r.message, Reply)}
        for r in records:
            if r.to_glusterd and isinstance(r.message, Call):
                result.append((r, replies.get((r.stream, r.message.xid))))
    return result


def u32(data: bytes, index: int) -> int:
    return struct.unpack_from(">I", data, 4 * index)[0]


def minimal_brick_volfile(brick: Path, port: int, volume: str,
                          node_uuid: str | None = None) -> str:
    """The minimal brick graph docs/protocol.md 9.1 verified, export named after the brick path.
    ``node_uuid`` sets posix's glusterd-uuid, which a rebalance process needs: it finds its
    local bricks by asking them for trusted.glusterfs.node-uuid."""
    uuid_option = f"\n    option glusterd-uuid {node_uuid}" if node_uuid else ""
    return f"""volume {volume}-posix
    type storage/posix
    option directory {brick}{uuid_option}
end-volume

volume {volume}-locks
    type features/locks
    subvolumes {volume}-posix
end-volume

volume {volume}-io-threads
    type performance/io-threads
    subvolumes {volume}-locks
end-volume

volume {brick}
    type debug/io-stats
    subvolumes {volume}-io-threads
end-volume

volume {volume}-server
    type protocol/server
    option transport-type tcp
    option transport.socket.listen-port {port}
    option auth-path {brick}
    option auth.addr.{brick}.allow *
    subvolumes {brick}
end-volume
"""
