"""`gluster-mgmtd`: run one node's daemon until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
import threading
from types import TracebackType

from gluster_mgmt.daemon.config import load_config
from gluster_mgmt.daemon.node import Daemon
from gluster_mgmt.daemon.rest import Api, TcpApiServer, UnixApiServer, serve_in_thread
from gluster_mgmt.daemon.routes import OPEN_ROUTES, build_routes
from gluster_mgmt.errors import GlusterMgmtError, IdentityError

log = logging.getLogger("gluster_mgmt.daemon")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: structured logs that log shippers read as they are.

    Always one line (JSON escapes newlines, tracebacks go in ``exc``/``stack``), even for a
    call whose arguments do not match its format, which logging would otherwise report as a
    raw traceback on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 (a bad log call must not break the log)
            message = f"{record.msg!r} % {record.args!r} (unformattable: {exc})"
        entry = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                 "msg": message}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def route_stray_output_to_log() -> None:
    """Uncaught exceptions (main and other threads) and warnings print raw multi-line text to
    stderr by default; send them through logging so the log stays one JSON object per line."""
    def uncaught(kind: type[BaseException], value: BaseException,
                 tb: TracebackType | None) -> None:
        log.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_uncaught(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        log.error("uncaught exception in thread %s", name,
                  exc_info=(args.exc_type, args.exc_value or args.exc_type(),
                            args.exc_traceback))

    sys.excepthook = uncaught
    threading.excepthook = thread_uncaught
    logging.captureWarnings(True)
    logging.raiseExceptions = False  # a failing stderr cannot be told about on stderr


def raise_open_file_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit, as glusterd does: each brick, client and
    peer holds a socket, and a common soft limit of 1024 runs out long before memory does.
    Returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


def main(argv: list[str] | None = None) -> int:
    config = load_config(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=config.log_level.upper(), handlers=[handler])
    route_stray_output_to_log()
    before, after = raise_open_file_limit()
    log.info("open-file limit %d%s", after, f" (raised from {before})" if after != before else "")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    try:
        daemon = Daemon(config)
    except (IdentityError, OSError) as exc:  # no identity, or a wrong one: never start
        log.error("cannot start: %s", exc)
        return 1
    try:
        daemon.start()
    except (GlusterMgmtError, OSError) as exc:  # store unreachable, port taken...
        log.error("cannot start: %s", exc)
        daemon.stop()
        return 1
    api = Api(build_routes(daemon), daemon.secret, OPEN_ROUTES, daemon.peer_operations.member_names)
    daemon.serve_cli(api)  # before the REST socket appears: callers wait for that one
    servers = [UnixApiServer(config.socket, api),
               TcpApiServer(config.address, config.api_port, api, daemon.api_server_tls)]
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
