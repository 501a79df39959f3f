"""Daemon configuration: defaults < config file < environment < command-line flags."""

from __future__ import annotations

import argparse
import configparser
import os
import socket

import attrs

from gluster_mgmt.rules import MGMT_PORT
from gluster_mgmt.store.loader import DEFAULT_STATE_DIR, embedded_store_url

DEFAULT_SOCKET = "/run/gluster-mgmt/mgmtd.sock"
DEFAULT_CONFIG = "/etc/gluster-mgmt/mgmtd.conf"
#: TCP port of the REST API that peers (and remote tools proving the secret) use.
DEFAULT_API_PORT = 24012


@attrs.frozen
class DaemonConfig:
    state_dir: str = DEFAULT_STATE_DIR
    #: None: keep the store recorded at join time, else the embedded store in state_dir.
    store_url: str | None = None
    address: str = "0.0.0.0"
    #: The name peers and bricks know this node by (default: address, else the hostname).
    hostname: str = ""
    api_port: int = DEFAULT_API_PORT
    mgmt_port: int = MGMT_PORT
    socket: str = DEFAULT_SOCKET
    lease_ttl: float = 10.0
    #: Where brick pidfiles/sockets and brick logs go (glusterd's places by default).
    run_dir: str = "/var/run/gluster"
    log_dir: str = "/var/log/glusterfs"
    #: ServiceManager plugin (stevedore namespace gluster_mgmt.service_managers).
    service_manager: str = "process"
    #: When set, an unjoined daemon accepts only probes carrying this token.
    join_token: str | None = attrs.field(default=None, repr=False)
    log_level: str = "INFO"

    @property
    def advertised_hostname(self) -> str:
        if self.hostname:
            return self.hostname
        if self.address not in ("0.0.0.0", "::", ""):
            return self.address
        return socket.gethostname()

    @property
    def default_store_url(self) -> str:
        return embedded_store_url(self.state_dir)


_ENV = {
    "state_dir": "GLUSTER_MGMT_STATE_DIR", "store_url": "GLUSTER_MGMT_STORE_URL",
    "address": "GLUSTER_MGMT_ADDRESS", "hostname": "GLUSTER_MGMT_HOSTNAME",
    "api_port": "GLUSTER_MGMT_API_PORT", "mgmt_port": "GLUSTER_MGMT_MGMT_PORT",
    "socket": "GLUSTER_MGMT_SOCKET", "lease_ttl": "GLUSTER_MGMT_LEASE_TTL",
    "join_token": "GLUSTER_MGMT_JOIN_TOKEN", "log_level": "GLUSTER_MGMT_LOG_LEVEL",
    "run_dir": "GLUSTER_MGMT_RUN_DIR", "log_dir": "GLUSTER_MGMT_LOG_DIR",
    "service_manager": "GLUSTER_MGMT_SERVICE_MANAGER",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gluster-mgmtd", description="gluster_mgmt daemon")
    parser.add_argument("--config", default=None, help=f"INI file (default {DEFAULT_CONFIG})")
    for field in attrs.fields(DaemonConfig):
        parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None)
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
    for name, env in _ENV.items():
        if os.environ.get(env):
            values[name] = os.environ[env]
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
    return DaemonConfig(**converted)
