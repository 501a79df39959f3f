"""The client's request/response handling, against a stdlib HTTP server on a unix socket
that only records requests and replays canned replies (the real daemon is exercised by the
end-to-end tests)."""

from __future__ import annotations

import http.server
import io
import json
import os
import socketserver
import threading

import pytest

from gluster_mgmt.cli import client as client_module
from gluster_mgmt.cli.client import Client, ConnectionFailed, ProtocolError, socket_path
from gluster_mgmt.cli.main import run


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append({"path": self.path, "body": json.loads(body),
                                 "content_type": self.headers.get("Content-Type")})
        status, raw = self.server.replies.pop(0) if self.server.replies else (
            200, json.dumps({"op_ret": 0, "op_errno": 0, "op_errstr": "", "data": {}}).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = self.socket.accept()
        return request, ("unix", 0)


@pytest.fixture
def daemon(tmp_path):
    path = str(tmp_path / "mgmtd.sock")
    server = _Server(path, _Handler)
    server.seen, server.replies = [], []

    def reply(data=None, op_ret=0, op_errno=0, op_errstr="", status=200, raw=None):
        payload = {"op_ret": op_ret, "op_errno": op_errno, "op_errstr": op_errstr,
                   "data": data or {}}
        server.replies.append((status, raw if raw is not None else json.dumps(payload).encode()))

    server.reply = reply
    server.path = path
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def cli(daemon_path, *argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    code = run([f"--socket={daemon_path}", *argv], io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def test_call_posts_json_and_reads_the_reply(daemon):
    daemon.reply({"volumes": ["v1"]})
    with Client(daemon.path) as client:
        response = client.call("volume/list", {})
        assert (response.op_ret, response.data) == (0, {"volumes": ["v1"]})
        response = client.call("volume/info", {"name": "v1"})  # same connection, kept alive
    assert daemon.seen == [
        {"path": "/v1/volume/list", "body": {}, "content_type": "application/json"},
        {"path": "/v1/volume/info", "body": {"name": "v1"}, "content_type": "application/json"},
    ]


def test_error_replies_whatever_the_http_status(daemon):
    daemon.reply(op_ret=-1, op_errno=2, op_errstr="no such operation: x", status=404)
    response = Client(daemon.path).call("x", {})
    assert (response.ok, response.op_errno, response.op_errstr, response.http_status) == (
        False, 2, "no such operation: x", 404)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"op_ret": "x"}',
                                 b'{"op_ret": 0, "data": []}'])
def test_malformed_replies(daemon, raw):
    daemon.reply(raw=raw)
    with pytest.raises(ProtocolError):
        Client(daemon.path).call("volume/list", {})


def test_no_daemon(tmp_path):
    with pytest.raises(ConnectionFailed):
        Client(str(tmp_path / "absent.sock")).call("volume/list", {})
    code, out, err = cli(str(tmp_path / "absent.sock"), "volume", "list")
    assert (code, out, err) == (1, ("Connection failed. Please check if gluster daemon is "
                                   "operational.\n"), "")


def test_socket_path_precedence(monkeypatch):
    monkeypatch.delenv("GLUSTER_MGMT_SOCKET", raising=False)
    assert socket_path() == "/run/gluster-mgmt/mgmtd.sock"
    monkeypatch.setenv("GLUSTER_MGMT_SOCKET", "/env.sock")
    assert socket_path() == "/env.sock"
    assert socket_path("/flag.sock") == "/flag.sock"


def test_env_socket_is_used(daemon, monkeypatch):
    monkeypatch.setenv("GLUSTER_MGMT_SOCKET", daemon.path)
    daemon.reply({"volumes": ["v1", "v2"]})
    out = io.StringIO()
    assert run(["volume", "list"], io.StringIO(), out, io.StringIO()) == 0
    assert out.getvalue() == "v1\nv2\n"


def test_main_end_to_end_human_xml_json(daemon):
    daemon.reply({"volume": {"uuid": "u1"}})
    assert cli(daemon.path, "volume", "create", "v1", "h:/b1", "h:/b2") == (
        0, "volume create: v1: success: please start the volume to access data\n", "")
    assert daemon.seen[-1]["body"] == {
        "name": "v1", "bricks": ["h:/b1", "h:/b2"], "replica": None, "arbiter": None,
        "disperse": None, "disperse_data": None, "redundancy": None, "transport": "tcp",
        "force": False}
    daemon.reply(op_ret=-1, op_errno=17, op_errstr="Volume v1 already exists")
    assert cli(daemon.path, "volume", "create", "v1", "h:/b1") == (
        1, "", "volume create: v1: failed: Volume v1 already exists\n")
    daemon.reply(op_ret=-1, op_errno=17, op_errstr="Volume v1 already exists")
    code, out, _ = cli(daemon.path, "volume", "create", "v1", "h:/b1", "--xml")
    assert code == 0 and "<opErrno>17</opErrno>" in out  # gluster --xml exits 0
    daemon.reply({"volumes": ["v1"]})
    code, out, _ = cli(daemon.path, "--json", "volume", "list")
    assert code == 0 and json.loads(out)["data"] == {"volumes": ["v1"]}


def test_questions_read_stdin(daemon):
    code, out, err = cli(daemon.path, "volume", "stop", "v1", stdin="n\n")
    assert (code, out, err) == (0, ("Stopping volume will make its data inaccessible. Do you "
                                   "want to continue? (y/n) "), "")
    assert daemon.seen == []  # nothing sent
    daemon.reply({"volume": {"uuid": "u"}})
    code, out, _ = cli(daemon.path, "volume", "stop", "v1", stdin="y\n")
    assert code == 0 and out.endswith("(y/n) volume stop: v1: success\n")
    daemon.reply({"volume": {"uuid": "u"}})
    assert cli(daemon.path, "--mode=script", "volume", "stop", "v1")[1] == (
        "volume stop: v1: success\n")
    assert daemon.seen[-1]["body"] == {"name": "v1", "force": False}


def test_global_options(daemon):
    code, out, _ = cli(daemon.path, "--bogus", "volume", "list")
    assert code == 255 and out.startswith("unrecognized option --bogus\n")
    assert cli(daemon.path, "--mode=quiet", "volume", "list")[0] == 255
    assert cli(daemon.path, "--timeout=0", "volume", "list") == (
        254, "", "timeout value should be a positive integer\n")
    daemon.reply({"volumes": []})
    assert cli(daemon.path, "volume", "--", "list")[0] == 0  # -- ends the options
    code, out, _ = cli(daemon.path, "--version")
    assert code == 0 and out.startswith("gluster-mgmt ")
    out = io.StringIO()
    assert run(["--socket", daemon.path, "--xml", "volume", "list"], io.StringIO(), out,
               io.StringIO()) == 0
    assert "<volList>" in out.getvalue()


def test_usage_error_sends_nothing(daemon):
    code, _, err = cli(daemon.path, "volume", "create", "all", "h:/b")
    assert code == 1 and err.startswith('"all" cannot be the name of a volume.\n\nUsage:')
    assert daemon.seen == []


def test_default_socket_constant():
    assert client_module.DEFAULT_SOCKET == "/run/gluster-mgmt/mgmtd.sock"
    assert os.path.isabs(client_module.DEFAULT_SOCKET)
