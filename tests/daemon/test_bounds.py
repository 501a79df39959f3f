"""Attacks from anyone on the network against a real gluster-mgmtd, each bounded: memory held
for half-sent RPC records, connections and open files on 24007, threads and time held by slow
REST clients, and the size of the log. Attackers connect from 127.0.0.9, legitimate callers
from elsewhere, as they would from other hosts."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import LAST_FRAGMENT, encode_record
from gluster_mgmt.mgmt_rpc.rpc_message import AcceptStat, encode_call
from tests.helpers import wait_for
from tests.mgmt_rpc.wire import RpcClient

ATTACKER = "127.0.0.9"
MIB = 1 << 20


def status_field(pid: int, field: str) -> int:
    """A number from /proc/PID/status (VmRSS in KiB, Threads...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def log_size(daemon) -> int:
    return daemon.log_path.stat().st_size


def getspec(daemon, key: str) -> pg.GetspecReply:
    client = RpcClient(daemon.mgmt_port, daemon.address, timeout=10)
    try:
        reply = client.call(pg.Program.HANDSHAKE, 2, pg.HandshakeProc.GETSPEC,
                            pg.encode(pg.GetspecRequest(key, 0)))
    finally:
        client.close()
    assert reply.accept_stat == AcceptStat.SUCCESS
    return pg.decode(pg.GetspecReply, reply.body)


def connect_many(address: str, port: int, count: int) -> list[socket.socket]:
    """``count`` connections from ATTACKER, connected without waiting for the server (a
    server that stopped accepting would otherwise stall the test)."""
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((ATTACKER, 0))
        sock.connect_ex((address, port))
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (non-blocking; whatever it said first is read)."""
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


@contextlib.contextmanager
def closing_all(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture(autouse=True)
def enough_files_for_the_attacker() -> None:
    """This process opens over a thousand sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"open-file hard limit {hard} is too low to attack with")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))


def assert_log_is_json_lines(daemon) -> None:
    for number, line in enumerate(daemon.log_path.read_text(errors="replace").splitlines(), 1):
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            pytest.fail(f"log line {number} is not one JSON object: {line[:300]!r}")


def create_volume(daemon, tmp_path: Path, name: str) -> None:
    result = daemon.cli("volume", "create", name, f"{daemon.address}:{tmp_path}/{name}", "force")
    assert result.returncode == 0, result.stdout + result.stderr + daemon.log_tail()


def test_partial_records_share_one_bounded_budget(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    create_volume(daemon, tmp_path, "bv")
    pid = daemon.proc.pid
    rss_before = status_field(pid, "VmRSS")
    # each announces a record of almost 1 MiB (under the per-record cap) and sends 960 KiB
    header = struct.pack(">I", LAST_FRAGMENT | (1_000_000))
    chunk = b"\0" * (960 * 1024)
    socks = []
    with closing_all(socks):
        for _ in range(300):
            sock = socket.socket()
            sock.bind((ATTACKER, 0))
            sock.settimeout(5)
            sock.connect((daemon.address, daemon.mgmt_port))
            socks.append(sock)
            with contextlib.suppress(OSError):
                sock.sendall(header + chunk)
        time.sleep(2)  # let the daemon read what is in flight
        grown = (status_field(pid, "VmRSS") - rss_before) // 1024
        assert grown < 100, f"daemon RSS grew by {grown} MiB for half-sent records"
        for sock in socks:
            sock.setblocking(False)
        closed = sum(closed_by_server(s) for s in socks)
        assert closed > 200, f"only {closed} of 300 hoarding connections were dropped"
        assert getspec(daemon, "bv").op_ret > 0
        assert daemon.cli("volume", "list").stdout.split() == ["bv"]
    assert_log_is_json_lines(daemon)


@pytest.mark.parametrize("limit", ["soft", "hard"])
def test_idle_connections_under_a_1024_file_limit(make_daemons, tmp_path, limit):
    """``soft``: started with a soft limit of 1024 (the daemon raises it to the hard one);
    ``hard``: both limits 1024, so the connection limit itself must keep files free."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        (daemon,) = make_daemons(1)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    pid = daemon.proc.pid
    daemon_soft = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    if limit == "soft":
        assert daemon_soft == hard, "the daemon did not raise its open-file limit"
    else:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (1024, 1024))
    create_volume(daemon, tmp_path, "iv")
    size_before = log_size(daemon)
    with closing_all(connect_many(daemon.address, daemon.mgmt_port, 1100)):
        time.sleep(3)  # the daemon accepts (or refuses) them
        assert getspec(daemon, "iv").op_ret > 0
        started = time.monotonic()
        create_volume(daemon, tmp_path, "iv2")
        assert time.monotonic() - started < 30
        assert daemon.cli("volume", "list").stdout.split() == ["iv", "iv2"]
        assert getspec(daemon, "iv2").op_ret > 0
        grown = log_size(daemon) - size_before
        assert grown < 64 * 1024, f"log grew by {grown} bytes:\n{daemon.log_tail(10)}"
    assert_log_is_json_lines(daemon)


def test_connections_that_send_nothing_are_closed(make_daemons, monkeypatch):
    """Stock clients send their first call at once, then may stay silent for days: only a
    connection that never completed a record is timed out."""
    monkeypatch.setenv("GLUSTER_MGMT_MGMT_IDLE_TIMEOUT", "2")
    (daemon,) = make_daemons(1)
    quiet_client = RpcClient(daemon.mgmt_port, daemon.address)
    try:
        assert quiet_client.call(pg.Program.DUMP, 1, pg.DumpProc.PING).accept_stat == \
            AcceptStat.SUCCESS
        with closing_all(connect_many(daemon.address, daemon.mgmt_port, 20)) as idle:
            half = idle[0]
            time.sleep(0.2)  # connected
            half.setblocking(True)
            half.sendall(encode_record(encode_call(7, pg.Program.DUMP, 1, pg.DumpProc.PING))[:-2])
            half.setblocking(False)
            assert wait_for(lambda: all(closed_by_server(s) for s in idle), 10)
        assert not quiet_client.is_closed_by_peer(1)
        assert quiet_client.call(pg.Program.DUMP, 1, pg.DumpProc.PING).accept_stat == \
            AcceptStat.SUCCESS
    finally:
        quiet_client.close()


def test_getspec_with_huge_ids_keeps_the_log_small(make_daemons):
    (daemon,) = make_daemons(1)
    size_before = log_size(daemon)
    client = RpcClient(daemon.mgmt_port, daemon.address, timeout=10)
    try:
        for index in range(100):
            key = f"{index:03d}" + "x" * 1_000_000
            reply = client.call(pg.Program.HANDSHAKE, 2, pg.HandshakeProc.GETSPEC,
                                pg.encode(pg.GetspecRequest(key, 0)))
            assert pg.decode(pg.GetspecReply, reply.body).op_ret == -1
    finally:
        client.close()
    grown = log_size(daemon) - size_before
    assert grown < 32 * 1024, f"log grew by {grown} bytes"
    assert_log_is_json_lines(daemon)


def http_post(address: str, port: int, raw: bytes, source: str = "127.0.0.1",
              timeout: float = 5) -> bytes:
    with socket.create_connection((address, port), timeout, source_address=(source, 0)) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_slow_rest_clients_hold_neither_threads_nor_others(make_daemons):
    (daemon,) = make_daemons(1)
    pid = daemon.proc.pid
    threads_before = status_field(pid, "Threads")
    request = b"POST /v1/volume/list HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    stop = threading.Event()
    slow: list[socket.socket] = []

    def drip() -> None:  # slowloris: a byte of header per second, never finishing
        while not stop.wait(1):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"X")

    with closing_all(slow):
        for _ in range(300):
            sock = socket.create_connection((daemon.address, daemon.api_port), 5,
                                            source_address=(ATTACKER, 0))
            sock.sendall(b"POST /v1/volume/list HTTP/1.1\r\nX-Slow: ")
            slow.append(sock)
        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            time.sleep(1)
            started = time.monotonic()
            answer = http_post(daemon.address, daemon.api_port, request)
            assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
            assert time.monotonic() - started < 2
            assert daemon.cli("volume", "list").returncode == 0
            assert status_field(pid, "Threads") < threads_before + 40
            for sock in slow:
                sock.setblocking(False)
            assert wait_for(lambda: all(closed_by_server(s) for s in slow), 20), \
                "slow clients were not cut off"
        finally:
            stop.set()
            dripper.join(5)
    assert_log_is_json_lines(daemon)


def test_clients_hanging_up_leave_one_json_line_each(make_daemons):
    (daemon,) = make_daemons(1)
    request = b"POST /v1/volume/list HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    for _ in range(20):
        sock = socket.create_connection((daemon.address, daemon.api_port), 5)
        sock.sendall(request)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the daemon's reply or its next read fails
    with socket.socket(socket.AF_UNIX) as sock:  # the same on the CLI's socket
        sock.connect(str(daemon.socket))
        sock.sendall(request)
        sock.close()
    time.sleep(1)
    assert daemon.cli("volume", "list").returncode == 0
    assert_log_is_json_lines(daemon)
    assert os.path.getsize(daemon.log_path) < 64 * 1024
