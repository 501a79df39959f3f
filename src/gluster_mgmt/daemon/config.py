"""Daemon configuration: defaults < config file < environment < command-line flags."""

from __future__ import annotations

import argparse
import configparser
import os
import socket
from typing import Any

import attrs

from gluster_mgmt.mgmt_rpc import tls
from gluster_mgmt.rules import MGMT_PORT
from gluster_mgmt.store.loader import DEFAULT_STATE_DIR, embedded_store_url
from gluster_mgmt.volgen import GLUSTERD_WORKDIR
from gluster_mgmt.tls import TlsFiles

DEFAULT_SOCKET = "/run/gluster-mgmt/mgmtd.sock"
#: glusterd's CLI socket (the stock CLI's and gfapi's default volfile server)
DEFAULT_GLUSTERD_SOCKET = "/var/run/glusterd.socket"
DEFAULT_CONFIG = "/etc/gluster-mgmt/mgmtd.conf"
#: TCP port of the REST API that peers (and remote tools proving the secret) use.
DEFAULT_API_PORT = 24012


def _setting(default: object, help: str, secret: bool = False) -> Any:
    """A setting with the text ``gluster-mgmtd --help`` shows for it."""
    return attrs.field(default=default, repr=not secret, metadata={"help": help})


@attrs.frozen
class DaemonConfig:
    """Every setting of the daemon; each is also ``--name-with-dashes`` on the command line,
    ``name`` in the config file's ``[mgmtd]`` section and ``GLUSTER_MGMT_NAME`` in the
    environment."""

    state_dir: str = _setting(DEFAULT_STATE_DIR, "where the node keeps its cluster "
                              "membership (0600) and, by default, the embedded store")
    glusterd_dir: str = _setting(
        GLUSTERD_WORKDIR, "glusterd's working directory: the node's UUID is the UUID of "
        "its glusterd.info (a node that ran glusterd keeps glusterd's); without one, a new "
        "UUID is written there in glusterd's format")
    store_url: str | None = _setting(
        None, "configuration store of a new cluster: etcd://, consul://, zookeeper:// or "
        "local:// (default: the embedded store in --state-dir); a node that joined a cluster "
        "keeps that cluster's store")
    address: str = _setting("0.0.0.0", "address the mgmt RPC and the REST API listen on")
    hostname: str = _setting("", "the name peers and bricks know this node by (default: "
                             "--address unless it is a wildcard, else the host name)")
    api_port: int = _setting(DEFAULT_API_PORT, "TCP port of the REST API peers use")
    mgmt_port: int = _setting(MGMT_PORT, "Gluster mgmt RPC port bricks and clients use "
                              "(glusterd's 24007)")
    secure_access: str = _setting(
        tls.SECURE_ACCESS_FILE, "glusterd's management TLS switch: when this file exists at "
        "start, the mgmt RPC port speaks only TLS with client certificates required (a line "
        "'option transport.socket.ssl-cert-depth N' sets the verify depth). Stock bricks, "
        "self-heal daemons and clients read glusterd's fixed path themselves, so change it "
        "only for tests")
    mgmt_tls_cert: str = _setting(tls.CERT_FILE, "certificate (chain) of the node for "
                                  "management TLS; stock glusterfs processes read the fixed "
                                  "OPENSSLDIR/glusterfs.pem of their build")
    mgmt_tls_key: str = _setting(tls.KEY_FILE, "private key of --mgmt-tls-cert")
    mgmt_tls_ca: str = _setting(tls.CA_FILE, "CA bundle that peers' certificates on the "
                                "mgmt RPC port must verify against")
    api_tls_cert: str | None = _setting(
        None, "certificate (chain, PEM) of this node for the peer REST API, signed by the "
        "cluster CA and naming (SAN DNS or IP) every address peers dial this node at; with "
        "--api-tls-key and --api-tls-ca the API port speaks only mutual TLS (default: plain "
        "HTTP, requests still signed)")
    api_tls_key: str | None = _setting(None, "private key (PEM, unencrypted) of "
                                       "--api-tls-cert")
    api_tls_ca: str | None = _setting(None, "the cluster CA (PEM bundle) that peers' REST API "
                                      "certificates must verify against, in both directions")
    socket: str = _setting(DEFAULT_SOCKET, "unix socket of the REST API the CLI uses (0600)")
    glusterd_socket: str = _setting(
        DEFAULT_GLUSTERD_SOCKET, "unix socket of glusterd's CLI program (0600), where the stock "
        "gluster binary and glfsheal connect by default; empty: not served")
    lease_ttl: float = _setting(10.0, "seconds the store keeps this node alive without hearing "
                                "from it (its alive key, port records and transaction claims)")
    run_dir: str = _setting("/var/run/gluster", "brick and daemon pidfiles and sockets "
                            "(glusterd's place)")
    log_dir: str = _setting("/var/log/glusterfs", "brick, self-heal and rebalance logs "
                            "(glusterd's place)")
    service_manager: str = _setting("process", "ServiceManager plugin that runs the processes "
                                    "(stevedore namespace gluster_mgmt.service_managers)")
    join_token: str | None = _setting(None, "when set, an unjoined node accepts only probes "
                                      "proving this token (the token itself never travels); "
                                      "prefer --join-token-file", secret=True)
    join_token_file: str | None = _setting(None, "file holding the join token (first line), "
                                           "so that it does not show in the process list; "
                                           "read at each probe")
    log_level: str = _setting("INFO", "DEBUG, INFO, WARNING or ERROR (JSON lines on stderr)")
    mgmt_max_connections: int = _setting(
        16384, "connections the mgmt RPC port accepts at once (each brick, self-heal daemon, "
        "mount and gfapi process holds one); kept 256 below the open-file limit, which the "
        "daemon raises to its hard limit at start")
    mgmt_max_connections_per_host: int = _setting(
        1024, "connections the mgmt RPC port accepts at once from one source address")
    mgmt_idle_timeout: float = _setting(
        30.0, "seconds a mgmt RPC connection may take to send its first complete request, or "
        "to finish one it began; connected processes that stay silent are never cut")
    mgmt_max_buffered: int = _setting(
        32 << 20, "bytes of half-received mgmt RPC requests held for all connections together; "
        "a connection that would exceed it is closed")

    @property
    def advertised_hostname(self) -> str:
        if self.hostname:
            return self.hostname
        if self.address not in ("0.0.0.0", "::", ""):
            return self.address
        return socket.gethostname()

    @property
    def api_tls(self) -> TlsFiles | None:
        """The peer REST API's TLS files; None: plain HTTP. Only some of them set raises:
        a node must not fall back to plain HTTP because one setting is missing."""
        files = (self.api_tls_cert, self.api_tls_key, self.api_tls_ca)
        if not any(files):
            return None
        if not all(files):
            raise ValueError("api_tls_cert, api_tls_key and api_tls_ca go together: set all "
                             "three for TLS on the REST API, or none")
        return TlsFiles(self.api_tls_cert, self.api_tls_key, self.api_tls_ca, "REST API TLS")

    @property
    def default_store_url(self) -> str:
        return embedded_store_url(self.state_dir)

    @property
    def effective_join_token(self) -> str | None:
        """The join token from --join-token or --join-token-file (None: no token needed).
        An unreadable or empty file raises: a node must not fall back to accepting anyone."""
        if self.join_token:
            return self.join_token
        if not self.join_token_file:
            return None
        with open(self.join_token_file, encoding="utf-8") as f:
            token = f.readline().strip()
        if not token:
            raise ValueError(f"join token file {self.join_token_file} is empty")
        return token


def environment_variable(setting: str) -> str:
    return f"GLUSTER_MGMT_{setting.upper()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gluster-mgmtd",
        description="The GlusterFS management daemon of gluster_mgmt: peer membership, volume "
                    "operations and the Gluster mgmt protocol on a consistent store.",
        epilog="Settings come from (later wins): defaults, the config file's [mgmtd] section, "
               "GLUSTER_MGMT_<SETTING> environment variables, then these flags.")
    parser.add_argument("--config", default=None,
                        help=f"INI file (default {DEFAULT_CONFIG}, or $GLUSTER_MGMT_CONFIG)")
    for field in attrs.fields(DaemonConfig):
        default = "" if field.default in (None, "") or not field.repr else \
            f" (default: {field.default})"
        parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None,
                            metavar=field.name.upper(),
                            help=f"{field.metadata['help']}{default}; "
                                 f"${environment_variable(field.name)}")
    return parser


def load_config(argv: list[str] | None = None) -> DaemonConfig:
    args = build_parser().parse_args(argv)
    values: dict[str, object] = {}
    path = args.config or os.environ.get("GLUSTER_MGMT_CONFIG") or DEFAULT_CONFIG
    if os.path.exists(path):
        ini = configparser.ConfigParser()
        ini.read(path)
        if ini.has_section("mgmtd"):
            values.update({k.replace("-", "_"): v for k, v in ini.items("mgmtd")})
    for field in attrs.fields(DaemonConfig):
        env = environment_variable(field.name)
        if os.environ.get(env):
            values[field.name] = os.environ[env]
    for field in attrs.fields(DaemonConfig):
        if getattr(args, field.name) is not None:
            values[field.name] = getattr(args, field.name)
    converted: dict[str, object] = {}
    for field in attrs.fields(DaemonConfig):
        if field.name in values:
            raw = values[field.name]
            kind = type(field.default) if field.default is not None else str
            try:
                converted[field.name] = kind(raw) if kind in (int, float) else raw
            except ValueError:
                raise SystemExit(f"gluster-mgmtd: invalid {field.name}: {raw!r}") from None
    config = DaemonConfig(**converted)
    if config.join_token and config.join_token_file:
        raise SystemExit("gluster-mgmtd: set join_token or join_token_file, not both")
    try:
        config.api_tls
    except ValueError as exc:
        raise SystemExit(f"gluster-mgmtd: {exc}") from None
    try:
        config.effective_join_token
    except (OSError, ValueError) as exc:
        raise SystemExit(f"gluster-mgmtd: cannot read the join token: {exc}") from None
    return config
