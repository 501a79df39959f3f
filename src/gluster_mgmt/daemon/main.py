"""`gluster-mgmtd`: run one node's daemon until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading

from gluster_mgmt.daemon.config import load_config
from gluster_mgmt.daemon.node import Daemon
from gluster_mgmt.daemon.rest import Api, TcpApiServer, UnixApiServer, serve_in_thread
from gluster_mgmt.daemon.routes import OPEN_ROUTES, build_routes
from gluster_mgmt.errors import GlusterMgmtError

log = logging.getLogger("gluster_mgmt.daemon")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: structured logs that log shippers read as they are."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                 "msg": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def main(argv: list[str] | None = None) -> int:
    config = load_config(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=config.log_level.upper(), handlers=[handler])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    daemon = Daemon(config)
    try:
        daemon.start()
    except (GlusterMgmtError, OSError) as exc:  # store unreachable, port taken...
        log.error("cannot start: %s", exc)
        daemon.stop()
        return 1
    api = Api(build_routes(daemon), daemon.secret, OPEN_ROUTES)
    servers = [UnixApiServer(config.socket, api), TcpApiServer(config.address, config.api_port, api)]
    for server in servers:
        serve_in_thread(server, type(server).__name__)
    log.info("gluster-mgmtd ready: node %s, socket %s, api %s:%d", daemon.uuid, config.socket,
             config.address, config.api_port)
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    for server in servers:
        server.shutdown()
        server.server_close()
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
