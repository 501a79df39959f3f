"""Mutual TLS on the peer REST API (port 24012, the ``api_tls_*`` settings), on real daemons
with a throw-away cluster CA (openssl): a TLS cluster probes, detaches and runs volume
commands, its probe is encrypted on the wire; certificates of another CA, certificates that
do not name the dialled address or the caller, plain HTTP and clients without a certificate
are refused, each with a clear error and never a hang; unusable files stop the start."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.membership.peer_calls import call_peer
from gluster_mgmt.tls import TlsFiles
from tests.daemon.test_security import membership, raw_post
from tests.helpers import REPO, capture_loopback, child_env, wait_for
from tests.pki import Pki

API_PORT = 24012
NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("rest-pki"))
    pki.root("ca")
    for address in NODES:
        pki.issue(address, "ca", names=(address,))
    pki.root("other-ca")
    pki.issue("foreign", "other-ca", names=("127.0.0.3",))  # the right name, the wrong CA
    pki.issue("misnamed", "ca", names=("127.0.0.9", "elsewhere.example"))
    return pki


def tls_args(pki: Pki, name: str, ca: str = "ca") -> tuple[str, ...]:
    return ("--api-tls-cert", str(pki.dir / f"{name}.pem"), "--api-tls-key", str(pki.key(name)),
            "--api-tls-ca", str(pki.dir / f"{ca}.pem"))


def client_context(pki: Pki, name: str | None) -> ssl.SSLContext:
    """What a peer's daemon uses (``TlsFiles.client_context``), or a client with the CA but
    no certificate of its own."""
    if name is not None:
        return TlsFiles(str(pki.dir / f"{name}.pem"), str(pki.key(name)),
                        str(pki.dir / "ca.pem")).client_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki.dir / "ca.pem"))
    return context


def cli_output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


# ---------------------------------------------------------------- a TLS cluster works


def test_a_tls_cluster_probes_runs_volumes_and_detaches(start_daemon, pki, tmp_path):
    d1, d2, d3 = (start_daemon("a", *tls_args(pki, address), address=address)
                  for address in NODES[:3])
    capture = tmp_path / "probe.pcapng"
    with capture_loopback(capture, API_PORT):
        d1.cli("peer", "probe", d2.address, check=True)
        # TLS records (application data, type 0x17) from both sides reached the capture
        assert wait_for(lambda: capture.exists() and capture.read_bytes().count(b"\x17\x03\x03")
                        >= 2, 15, 0.2)
    wire = capture.read_bytes()
    assert membership(d2)["cluster_id"] == membership(d1)["cluster_id"]
    for plaintext in (b"POST /v1", b"cluster/join", b"cluster_id", b"op_ret", b"HTTP/1.1",
                      b"X-Gluster-Mgmt-Auth", membership(d1)["cluster_id"].encode()):
        assert plaintext not in wire, plaintext
    d1.cli("peer", "probe", d3.address, check=True)
    assert d3.cli("pool", "list", check=True).stdout.count("Connected") == 3

    bricks = [f"{d.address}:{tmp_path}/b-{d.address}" for d in (d1, d2, d3)]
    d2.cli("volume", "create", "tv", "replica", "3", *bricks, "force", check=True)
    d3.cli("volume", "set", "tv", "performance.quick-read", "off", check=True)
    assert "performance.quick-read: off" in d1.cli("volume", "info", "tv", check=True).stdout
    d1.cli("--mode=script", "volume", "delete", "tv", check=True)
    assert "tv" not in d2.cli("volume", "list", check=True).stdout.split()

    # signing stays: a TLS client with a peer's certificate still needs the secret
    with pytest.raises(OperationFailed, match="does not prove the cluster secret"):
        call_peer(d2.address, API_PORT, "volume/list", {}, secret=None,
                  tls=client_context(pki, d1.address))
    assert call_peer(d2.address, API_PORT, "volume/list", {}, secret=membership(d1)["secret"],
                     tls=client_context(pki, d1.address)) == {"volumes": []}

    # detach sends cluster/leave over TLS to the recorded address
    d1.cli("--mode=script", "peer", "detach", d3.address, check=True)
    assert wait_for(lambda: membership(d3)["cluster_id"] != membership(d1)["cluster_id"], 15)
    assert d1.cli("pool", "list", check=True).stdout.count("Connected") == 2


# ---------------------------------------------------------------- refusals


def test_a_certificate_of_another_ca_is_refused_both_ways(start_daemon, pki):
    good = start_daemon("a", *tls_args(pki, NODES[0]), address=NODES[0])
    # right name, wrong CA; it trusts the cluster CA, so only its own certificate is wrong
    foreign = start_daemon("a", *tls_args(pki, "foreign"), address="127.0.0.3")
    own = membership(good)["cluster_id"]

    result = foreign.cli("peer", "probe", good.address)  # good refuses the client certificate
    assert result.returncode == 1
    assert f"TLS with {good.address}:{API_PORT} failed" in cli_output(result), cli_output(result)
    refusal = "REST TLS handshake from 127.0.0.1 refused: unable to get local issuer"
    assert wait_for(lambda: refusal in good.log_path.read_text(), 10)
    result = good.cli("peer", "probe", foreign.address)  # good refuses the server certificate
    assert result.returncode == 1
    assert "certificate" in cli_output(result) and \
        f"TLS with {foreign.address}:{API_PORT} failed" in cli_output(result)
    assert membership(good)["cluster_id"] == own
    assert membership(foreign)["cluster_id"] != own


def test_a_certificate_not_naming_the_address_is_refused(start_daemon, pki):
    good = start_daemon("a", *tls_args(pki, NODES[0]), address=NODES[0])
    misnamed = start_daemon("a", *tls_args(pki, "misnamed"), address="127.0.0.3")

    # the server's name is checked against the address dialled
    result = good.cli("peer", "probe", misnamed.address)
    assert result.returncode == 1
    assert "IP address mismatch" in cli_output(result), cli_output(result)
    # the client's name is checked against the members of the cluster its probe names
    result = misnamed.cli("peer", "probe", good.address)
    assert result.returncode == 1
    assert "client certificate names no peer of this cluster" in cli_output(result)
    assert membership(good)["cluster_id"] != membership(misnamed)["cluster_id"]
    # a CA-signed certificate naming someone else cannot speak for a member either
    with pytest.raises(OperationFailed, match="client certificate names no peer"):
        call_peer(good.address, API_PORT, "volume/list", {}, secret=membership(good)["secret"],
                  tls=client_context(pki, NODES[3]))


def test_plain_http_and_clients_without_a_certificate_are_refused(start_daemon, pki):
    good = start_daemon("a", *tls_args(pki, NODES[0]), address=NODES[0])
    plain = start_daemon("a", address="127.0.0.3")

    status, reply = raw_post(good, "/v1/volume/list", b"{}")  # plain HTTP on the TLS port
    assert status == 400 and "speaks only TLS" in reply["op_errstr"]
    result = plain.cli("peer", "probe", good.address)
    assert result.returncode == 1 and "speaks only TLS" in cli_output(result)
    started = time.monotonic()
    result = good.cli("peer", "probe", plain.address)  # TLS to a plain port: fails, in time
    assert result.returncode == 1 and "Transport endpoint is not connected" in cli_output(result)
    assert time.monotonic() - started < 30
    assert membership(good)["cluster_id"] != membership(plain)["cluster_id"]

    connection = http.client.HTTPSConnection(good.address, API_PORT, timeout=10,
                                             context=client_context(pki, None))
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            connection.request("POST", "/v1/volume/list", b"{}")
            connection.getresponse().read()
    finally:
        connection.close()
    assert wait_for(lambda: "REST TLS handshake from" in good.log_path.read_text(), 10)


# ---------------------------------------------------------------- unusable files


def _start_fails(tmp_path: Path, *args: str) -> str:
    """Start a daemon that must refuse to start; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "gluster_mgmt.daemon.main", "--config", "/nonexistent",
         "--state-dir", str(tmp_path / "state"), "--address", "127.0.0.9",
         "--socket", str(tmp_path / "mgmtd.sock"), "--run-dir", str(tmp_path / "run"),
         "--log-dir", str(tmp_path / "log"), "--secure-access", str(tmp_path / "no-switch"),
         *args], capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=120)
    assert result.returncode != 0, result.stderr
    assert not (tmp_path / "mgmtd.sock").exists()
    return result.stdout + result.stderr


def test_an_unusable_certificate_stops_the_start(tmp_path, pki):
    cert, key, ca = (str(pki.dir / f"{NODES[0]}.pem"), str(pki.key(NODES[0])),
                     str(pki.dir / "ca.pem"))
    key_body = Path(key).read_text().splitlines()[1]
    missing = _start_fails(tmp_path, "--api-tls-cert", str(tmp_path / "missing.pem"),
                           "--api-tls-key", key, "--api-tls-ca", ca)
    assert "cannot start" in missing and "missing.pem does not exist" in missing
    not_a_cert = _start_fails(tmp_path, "--api-tls-cert", key, "--api-tls-key", key,
                              "--api-tls-ca", ca)
    assert f"REST API TLS: cannot use certificate {key}" in not_a_cert
    other_key = _start_fails(tmp_path, "--api-tls-cert", cert, "--api-tls-key",
                             str(pki.key("misnamed")), "--api-tls-ca", ca)
    assert f"cannot use certificate {cert} with key {pki.key('misnamed')}" in other_key
    bad_ca = tmp_path / "bad-ca.pem"
    bad_ca.write_text("not a certificate\n")
    not_a_ca = _start_fails(tmp_path, "--api-tls-cert", cert, "--api-tls-key", key,
                            "--api-tls-ca", str(bad_ca))
    assert f"cannot load CA bundle {bad_ca}" in not_a_ca
    partial = _start_fails(tmp_path, "--api-tls-cert", cert)
    assert "api_tls_cert, api_tls_key and api_tls_ca go together" in partial
    for output in (missing, not_a_cert, other_key, not_a_ca, partial):
        assert key_body not in output and "PRIVATE KEY" not in output
    assert all("Traceback" not in output for output in (missing, not_a_cert, other_key))
