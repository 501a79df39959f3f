"""Management TLS (glusterd's /var/lib/glusterd/secure-access switch) with real TLS, real
certificates made by openssl, and — in the end-to-end test — stock glusterfsd bricks and a
stock FUSE client in a private mount namespace, so the fixed paths stock processes read
(/var/lib/glusterd/secure-access, OPENSSLDIR/glusterfs.*: /usr/lib/ssl on Debian) are never
touched on the host."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.rpc_message import Reply
from gluster_mgmt.mgmt_rpc.tls import (
    DEFAULT_CERT_DEPTH,
    management_tls_context,
    read_cert_depth,
    server_context,
)
from tests.gluster.private_ns import (
    PROBE,
    need_stock_glusterfs,
    read_text,
    run_scenario,
)
from tests.helpers import REPO, child_env
from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread
from tests.pki import Pki

pytestmark = pytest.mark.gluster

ADDRESS = "127.0.0.9"  # the fixed-port tests use 127.0.0.2-4
VOLUME = "tlsvol"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    pki.root("ca")
    pki.issue("node", "ca", cn="tls-test-node")  # the name matches no address: not checked
    pki.issue("client", "ca")
    pki.root("other-ca")
    pki.issue("stranger", "other-ca")
    pki.issue("int1", "ca", ca=True)
    pki.issue("int2", "int1", ca=True)
    pki.issue("leaf1", "int1")  # ca <- int1 <- leaf1
    pki.issue("leaf2", "int2")  # ca <- int1 <- int2 <- leaf2
    return pki


def _client_context(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """Like a stock glusterfs process: verifies the server against the CA, no name check."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cafile=str(pki.dir / "ca.pem"))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def _dump_answered(port: int, context: ssl.SSLContext | None, host: str = "127.0.0.1") -> bool:
    """True when a DUMP call gets its reply; False when the server closes on us (with TLS 1.3
    the client's handshake ends before the server has judged its certificate)."""
    client = RpcClient(port, host)
    try:
        if context is not None:
            client.sock = context.wrap_socket(client.sock)
        reply = client.call(pg.Program.DUMP, 1, pg.DumpProc.DUMP, pg.encode(pg.DumpRequest()))
        return isinstance(reply, Reply)
    except (OSError, ConnectionError):
        return False
    finally:
        client.close()


# ------------------------------------------------------------------ the switch and its files

@pytest.mark.parametrize("content, depth", [
    ("", DEFAULT_CERT_DEPTH),
    ("option transport.socket.ssl-cert-depth 3\n", 3),
    ("# comment\noption transport.socket.ssl-cert-depth   2\n", 2),
    ("option transport.socket.ssl-cert-depth 0\n", DEFAULT_CERT_DEPTH),
    ("option transport.socket.ssl-cert-depth many\n", DEFAULT_CERT_DEPTH),
    ("  option transport.socket.ssl-cert-depth 4\n", DEFAULT_CERT_DEPTH),  # anchored at ^
    ("option transport.socket.ssl-cert-depth 5 # five\n", 5),
])
def test_cert_depth_is_read_from_secure_access_like_glusterfs(tmp_path, content, depth):
    path = tmp_path / "secure-access"
    path.write_text(content)
    assert read_cert_depth(str(path)) == depth


def test_no_secure_access_file_means_plain_tcp(tmp_path):
    assert management_tls_context(str(tmp_path / "secure-access"), "/nonexistent.pem",
                                  "/nonexistent.key", "/nonexistent.ca") is None


def test_switch_on_with_unusable_files_refuses_to_start(tmp_path, pki):
    switch = tmp_path / "secure-access"
    switch.touch()
    with pytest.raises(OSError, match="/nonexistent.ca"):
        management_tls_context(str(switch), str(pki.dir / "node.pem"), str(pki.key("node")),
                               "/nonexistent.ca")
    with pytest.raises(OSError, match="client.key"):  # a key that is not the certificate's
        management_tls_context(str(switch), str(pki.dir / "node.pem"), str(pki.key("client")),
                               str(pki.dir / "ca.pem"))
    context = management_tls_context(str(switch), str(pki.dir / "node.pem"),
                                     str(pki.key("node")), str(pki.dir / "ca.pem"))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_daemon_with_the_switch_on_and_no_certificate_does_not_start(tmp_path, pki):
    """Never plain TCP when TLS was asked for: gluster-mgmtd exits, naming the file."""
    (tmp_path / "secure-access").touch()
    result = subprocess.run(
        [sys.executable, "-m", "gluster_mgmt.daemon.main", "--config", "/nonexistent",
         "--state-dir", str(tmp_path / "state"), "--glusterd-dir", str(tmp_path / "glusterd"),
         "--address", ADDRESS, "--socket", str(tmp_path / "mgmtd.sock"), "--run-dir", str(tmp_path / "run"),
         "--log-dir", str(tmp_path / "log"), "--secure-access", str(tmp_path / "secure-access"),
         "--mgmt-tls-cert", str(tmp_path / "missing.pem"), "--mgmt-tls-key",
         str(pki.key("node")), "--mgmt-tls-ca", str(pki.dir / "ca.pem")],
        capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "cannot start" in result.stderr and "missing.pem does not exist" in result.stderr
    assert not (tmp_path / "mgmtd.sock").exists()


# ------------------------------------------------------------------ the server over TLS

def _tls_server(pki: Pki, depth: int = DEFAULT_CERT_DEPTH) -> ServerThread:
    context = server_context(str(pki.dir / "node.pem"), str(pki.key("node")),
                             str(pki.dir / "ca.pem"), depth)
    return ServerThread(RecordingBackend(), ssl_context=context)


def test_tls_server_requires_a_certificate_from_the_ca(pki):
    with _tls_server(pki) as server:
        port = server.port
        assert _dump_answered(port, _client_context(pki, pki.dir / "client.pem", pki.key("client")))
        assert not _dump_answered(port, None), "plain TCP must be refused"
        assert not _dump_answered(port, _client_context(pki, None, None)), "no client certificate"
        assert not _dump_answered(port, _client_context(pki, pki.dir / "stranger.pem",
                                                        pki.key("stranger"))), "foreign CA"
        # the connection only reaches the protocol once TLS is up: nothing left behind
        assert server.run(lambda: server.server.connection_count) <= 1


def test_plain_tcp_client_gets_no_reply(pki):
    with _tls_server(pki) as server, RpcClient(server.port) as client:
        client.send_call(pg.Program.DUMP, 1, pg.DumpProc.DUMP, pg.encode(pg.DumpRequest()))
        assert client.is_closed_by_peer(10)


@pytest.mark.parametrize("leaf, above, depth, accepted", [
    ("leaf1", ("int1",), 1, True),           # one intermediate: glusterd's default depth
    ("leaf2", ("int2", "int1"), 1, False),    # two intermediates need depth 2
    ("leaf2", ("int2", "int1"), 2, True),
])
def test_verify_depth_matches_openssl(pki, leaf, above, depth, accepted):
    chain = pki.chain(leaf, *above)
    reference = subprocess.run(
        [pki.openssl, "verify", "-verify_depth", str(depth), "-CAfile", str(pki.dir / "ca.pem"),
         "-untrusted", str(pki.chain(*above)), str(pki.dir / f"{leaf}.pem")],
        capture_output=True, text=True, timeout=60)
    assert (reference.returncode == 0) == accepted, reference.stdout + reference.stderr
    with _tls_server(pki, depth) as server:
        assert _dump_answered(server.port, _client_context(pki, chain, pki.key(leaf))) == accepted


# ------------------------------------------------------------------ stock processes, end to end

SCENARIO = '''\
[ -e /var/lib/glusterd/secure-access ] && [ -e "$CERTS/glusterfs.pem" ] && echo SWITCH_ON
"$PY" "$T/probe.py" plain "$ADDR" 24007
"$PY" "$T/probe.py" tls "$ADDR" 24007 "$CERTS/glusterfs.pem" "$CERTS/glusterfs.key" \\
    "$CERTS/glusterfs.ca"

cli volume create "$VOL" replica 3 "$ADDR:$T/bricks/b1" "$ADDR:$T/bricks/b2" \\
    "$ADDR:$T/bricks/b3" force || exit 1
cli volume start "$VOL" || exit 1
echo VOLUME_STARTED
timeout 120 "$PY" "$T/status.py" "$SOCK" "$VOL" 3 || exit 1

# the stock CLI from "another host": it finds the switch and speaks TLS to 24007 ...
remote() {{ timeout 60 /usr/sbin/gluster --mode=script --remote-host="$ADDR" "$@"; }}
remote volume info "$VOL" > "$T/remote-info.txt" 2>&1 \
    && grep -q "^Volume Name: $VOL$" "$T/remote-info.txt" \
    && grep -q "^Status: Started$" "$T/remote-info.txt" && echo REMOTE_INFO_OVER_TLS
[ "$(remote peer status)" = "Number of Peers: 0" ] && echo REMOTE_PEERS_OVER_TLS
# ... and without the switch (a private /var/lib/glusterd of its own) it speaks plain: refused
mkdir -p "$T/plain-glusterd"
unshare --mount --propagation private sh -c \
    'mount --bind "$1/plain-glusterd" /var/lib/glusterd && exec timeout 60 \
     /usr/sbin/gluster --mode=script --remote-host="$2" volume info "$3"' \
    plain "$T" "$ADDR" "$VOL" > "$T/remote-plain.txt" 2>&1
plain=$?
[ $plain -ne 0 ] && [ $plain -ne 124 ] && ! grep -q "Volume Name" "$T/remote-plain.txt" \
    && echo REMOTE_PLAIN_REFUSED

mkdir -p "$T/mnt"
timeout 90 mount -t glusterfs -o log-file="$T/client.log" "$ADDR:/$VOL" "$T/mnt" || exit 1
echo MOUNTED
for i in 1 2 3 4 5 6; do echo "secret payload $i" > "$T/mnt/file$i.txt" || exit 1; done
ok=1
for i in 1 2 3 4 5 6; do
    [ "$(cat "$T/mnt/file$i.txt")" = "secret payload $i" ] || ok=0
done
[ $ok = 1 ] && echo READ_WRITE_OK
echo "ON_BRICKS $(ls "$T/bricks/b1" "$T/bricks/b2" "$T/bricks/b3" | grep -c '^file')"
[ "$(grep -l "SSL support for MGMT is ENABLED" "$T"/log/bricks/*.log | wc -l)" = 3 ] \\
    && echo BRICK_LOGS_MGMT_SSL
grep -q "SSL support for MGMT is ENABLED" "$T/client.log" && echo CLIENT_LOG_MGMT_SSL
# the self-heal daemon of the replica volume: another stock process that finds the switch
for _ in $(seq 60); do
    grep -q "SSL support for MGMT is ENABLED" "$T/log/glustershd.log" 2>/dev/null && break
    sleep 0.5
done
grep -q "SSL support for MGMT is ENABLED" "$T/log/glustershd.log" && echo SHD_LOG_MGMT_SSL
cat "$T"/log/bricks/*.log "$T/log/glustershd.log" "$T/client.log" 2>/dev/null \\
    | grep -q "SSL connect error" || echo NO_SSL_CONNECT_ERRORS
umount "$T/mnt" && echo UNMOUNTED
cli --mode=script volume stop "$VOL" && echo VOLUME_STOPPED
echo SCENARIO_DONE
'''

def test_stock_bricks_and_fuse_client_over_management_tls(tmp_path, pki):
    need_stock_glusterfs()
    tmp = tmp_path
    (tmp / "glusterd").mkdir()
    (tmp / "glusterd" / "secure-access").write_text("")  # glusterd's switch, default depth
    pki.install(tmp / "ssl", "node")
    output, returncode = run_scenario(tmp, SCENARIO, address=ADDRESS, volume=VOLUME,
                                      files={"probe.py": PROBE})
    daemon_log, client_log = (read_text(tmp / name) for name in ("mgmtd.log", "client.log"))
    brick_logs = "".join(read_text(p)[-1500:] for p in sorted((tmp / "log").rglob("*.log")))
    context = (f"--- scenario ---\n{output}\n--- gluster-mgmtd ---\n{daemon_log[-4000:]}\n"
               f"--- client ---\n{client_log[-3000:]}\n--- bricks ---\n{brick_logs}")
    lines = output.splitlines()
    for marker in ("SWITCH_ON", "DAEMON_UP", "PLAIN_REFUSED", "TLS_ANSWERED", "VOLUME_STARTED",
                   "REMOTE_INFO_OVER_TLS", "REMOTE_PEERS_OVER_TLS", "REMOTE_PLAIN_REFUSED",
                   "MOUNTED", "READ_WRITE_OK", "ON_BRICKS 18", "BRICK_LOGS_MGMT_SSL",
                   "CLIENT_LOG_MGMT_SSL", "SHD_LOG_MGMT_SSL", "NO_SSL_CONNECT_ERRORS", "UNMOUNTED", "VOLUME_STOPPED", "SCENARIO_DONE",
                   "CLEANED"):
        assert marker in lines, f"{marker} missing\n{context}"
    assert any(line.startswith("BRICKS_ONLINE ") for line in lines), context
    assert "TLS only" in daemon_log, context
    # the handshakes the daemon refused are the plain-TCP probe's and the plain CLI's: every
    # stock process that found the switch got in
    assert daemon_log.count("mgmt TLS handshake refused") == 2, context
    assert returncode == 0, context
