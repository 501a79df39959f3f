"""Attacks on the management plane, each against real daemons (docs/security.md lists them):
joining a node to a store its administrator did not choose, reading the secret off the wire,
replaying a signed request, malformed requests, state file modes, the join token."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import uuid
from pathlib import Path

import pytest

from gluster_mgmt.membership.peer_calls import AUTH_HEADER, call_peer
from tests.daemon.cluster_fixture import DaemonProcess
from tests.helpers import capture_loopback, wait_for

API_PORT = 24012


def membership(daemon: DaemonProcess) -> dict:
    return json.loads((daemon.state_dir / "cluster.json").read_text())


def raw_post(daemon: DaemonProcess, path: str, body: bytes, headers: dict[str, str] | None = None,
             raw_headers: bytes = b"") -> tuple[int, dict]:
    """POST exactly these bytes to the daemon's TCP API; (status, JSON reply). A dropped
    connection or a non-JSON reply fails the test."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {daemon.address}:{API_PORT}",
             "Content-Type: application/json", "Connection: close"]
    if headers is None or "Content-Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n").encode("latin-1") + raw_headers + b"\r\n" + body
    with socket.create_connection((daemon.address, API_PORT), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def record_call(monkeypatch) -> list[tuple[str, bytes, dict[str, str]]]:
    """Every request call_peer sends from this process, as sent: (path, body, headers)."""
    sent: list[tuple[str, bytes, dict[str, str]]] = []
    original = http.client.HTTPConnection.request

    def request(self, method, url, body=None, headers=None, **kwargs):
        sent.append((url, body, dict(headers or {})))
        return original(self, method, url, body, headers or {}, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", request)
    return sent


# ---------------------------------------------------------------- joining without trust


def test_a_join_naming_another_store_is_refused(start_daemon, tmp_path):
    node_a = start_daemon("a")
    node_b = start_daemon("b")
    own = membership(node_a)["cluster_id"]
    b = membership(node_b)
    # the attacker holds cluster B entirely (its id, store URL, secret): the old join request
    body = {"cluster_id": b["cluster_id"], "store_url": b["store_url"], "secret": b["secret"],
            "hostname": node_a.address}
    status, reply = raw_post(node_a, "/v1/cluster/join", json.dumps(body).encode())
    assert (status, reply["op_ret"]) == (403, -1)
    assert "is not in this node's configuration store" in reply["op_errstr"]
    assert b["secret"] not in reply["op_errstr"]
    # the same through `peer probe` from B's daemon: refused, both stay where they were
    result = node_b.cli("peer", "probe", node_a.address)
    assert result.returncode == 1
    assert "is not in this node's configuration store" in result.stdout + result.stderr
    assert membership(node_a)["cluster_id"] == own
    assert membership(node_a)["store_url"] == node_a.store_url
    assert node_a.cli("pool", "list", check=True).stdout.count("Connected") == 1


def test_a_join_never_opens_a_path_it_names(start_daemon, tmp_path):
    node = start_daemon("a")
    evil = tmp_path / "x" / "evil.db"
    body = json.dumps({"cluster_id": str(uuid.uuid4()), "store_url": f"local://{evil}",
                       "secret": "0" * 64, "hostname": node.address}).encode()
    status, reply = raw_post(node, "/v1/cluster/join", body)
    assert status == 403 and reply["op_ret"] == -1
    assert not evil.exists() and not evil.parent.exists()
    assert membership(node)["store_url"] == node.store_url


def test_malformed_join_parameters_are_a_clear_400(start_daemon):
    node = start_daemon("a")
    for params in ({}, {"cluster_id": 7}, {"cluster_id": "not-a-uuid"}, []):
        status, reply = raw_post(node, "/v1/cluster/join", json.dumps(params).encode())
        assert status == 400, (params, reply)
        assert reply["op_errno"] == 22 and reply["op_errstr"]


def test_a_probe_carries_neither_the_secret_nor_the_store_url(start_daemon, tmp_path):
    d1 = start_daemon("a")
    d2 = start_daemon("a")
    capture = tmp_path / "probe.pcapng"
    with capture_loopback(capture, API_PORT):
        d1.cli("peer", "probe", d2.address, check=True)
        assert wait_for(lambda: capture.exists() and b"cluster/join" in capture.read_bytes(),
                        15, 0.2)
    wire = capture.read_bytes()
    secret = membership(d1)["secret"]
    assert membership(d2)["secret"] == secret  # the probe worked: d2 found the secret itself
    assert secret.encode() not in wire
    assert d1.store_url.encode() not in wire
    assert b"store_url" not in wire and b"secret" not in wire


# ---------------------------------------------------------------- replay-proof signatures


def test_a_replayed_signed_request_is_refused(start_daemon, tmp_path, monkeypatch):
    d1, d2, d3 = start_daemon("a"), start_daemon("a"), start_daemon("a")
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("peer", "probe", d3.address, check=True)
    d1.cli("volume", "create", "rv", f"{d1.address}:{tmp_path}/r1", "force", check=True)
    secret = membership(d1)["secret"]
    sent = record_call(monkeypatch)
    call_peer(d2.address, API_PORT, "volume/set",
              {"name": "rv", "options": [["performance.quick-read", "off"]]}, secret=secret)
    path, body, headers = sent[-1]
    assert "performance.quick-read: off" in d1.cli("volume", "info", "rv", check=True).stdout
    d1.cli("volume", "set", "rv", "performance.quick-read", "on", check=True)
    # the captured request, sent again byte for byte: refused, nothing changes
    status, reply = raw_post(d2, path, body, headers)
    assert (status, reply["op_errno"]) == (403, 13)
    assert "replay" in reply["op_errstr"]
    assert "performance.quick-read: on" in d1.cli("volume", "info", "rv", check=True).stdout
    # a request signed for d3 (accepted there), sent to d2: refused
    call_peer(d3.address, API_PORT, "volume/set",
              {"name": "rv", "options": [["performance.quick-read", "off"]]}, secret=secret)
    path, body, headers = sent[-1]
    d1.cli("volume", "set", "rv", "performance.quick-read", "on", check=True)
    status, reply = raw_post(d2, path, body, headers)
    assert (status, reply["op_errno"]) == (403, 13)
    assert "signed for another node" in reply["op_errstr"]
    assert "performance.quick-read: on" in d1.cli("volume", "info", "rv", check=True).stdout


# ---------------------------------------------------------------- malformed requests


@pytest.mark.parametrize("header", [
    pytest.param("١٢٣:" + "0" * 64, id="non-ascii-digits"),
    pytest.param("9" * 5000 + ":" + "0" * 64, id="5000-digit-stamp"),
    pytest.param("1:" + "a" * 32 + ":127.0.0.2:24012:" + "zz" * 32, id="not-hex"),
])
def test_a_malformed_auth_header_is_a_clear_400(start_daemon, header):
    node = start_daemon("a")
    status, reply = raw_post(node, "/v1/volume/list", b"{}",
                             raw_headers=f"{AUTH_HEADER}: {header}\r\n".encode("utf-8"))
    assert (status, reply["op_errno"]) == (400, 22)
    assert "malformed X-Gluster-Mgmt-Auth header" in reply["op_errstr"]


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "99999999999999999999"])
def test_a_malformed_content_length_is_a_clear_400(start_daemon, length):
    node = start_daemon("a")
    status, reply = raw_post(node, "/v1/volume/list", b"{}", {"Content-Length": length})
    assert (status, reply["op_errno"]) == (400, 22)
    assert reply["op_errstr"].startswith("malformed Content-Length header"), reply


# ---------------------------------------------------------------- state files, join token


def test_state_files_are_private_whatever_the_directory(start_daemon, tmp_path):
    open_dir = tmp_path / "world-readable"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o755)
    old = os.umask(0o022)
    try:
        node = start_daemon("a", store_url=f"local://{open_dir}/store.db")
    finally:
        os.umask(old)
    node.cli("pool", "list", check=True)
    files = [open_dir / name for name in ("store.db", "store.db-wal", "store.db-shm")
             if (open_dir / name).exists()]
    files += [node.state_dir / "cluster.json", node.glusterd_dir / "glusterd.info"]
    assert open_dir / "store.db" in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_join_token_comes_from_a_file_and_never_travels(start_daemon, tmp_path):
    token_file = tmp_path / "join-token"
    token_file.write_text("tok-7d1f-not-in-ps\n")
    os.chmod(token_file, 0o600)
    guarded = start_daemon("a", "--join-token-file", str(token_file))
    stranger = start_daemon("a")
    friend = start_daemon("a", "--join-token-file", str(token_file))
    for daemon in (guarded, friend):
        cmdline = Path(f"/proc/{daemon.proc.pid}/cmdline").read_bytes()
        assert b"tok-7d1f" not in cmdline
    refused = stranger.cli("peer", "probe", guarded.address)
    assert refused.returncode == 1
    assert "wrong or missing join token" in refused.stdout + refused.stderr
    assert membership(guarded)["cluster_id"] != membership(stranger)["cluster_id"]
    friend.cli("peer", "probe", guarded.address, check=True)
    assert membership(guarded)["cluster_id"] == membership(friend)["cluster_id"]
    assert "tok-7d1f" not in guarded.log_path.read_text() + friend.log_path.read_text()
