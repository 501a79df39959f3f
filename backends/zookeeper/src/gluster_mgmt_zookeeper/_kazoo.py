"""The kazoo edge: client construction, a logger that never shows credentials, and the
translation of kazoo's exceptions into gluster_mgmt.errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    ConnectionClosedError,
    ConnectionDropped,
    ConnectionLoss,
    KazooException,
    NoAuthError,
    OperationTimeoutError,
    QuotaExceededError,
    RequestTimeoutError,
    SessionExpiredError,
    ZookeeperStoppedError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.serialization import Auth

from gluster_mgmt.errors import (
    AuthError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store.base import translating

log = logging.getLogger("gluster_mgmt_zookeeper")
kazoo_log = logging.getLogger("gluster_mgmt_zookeeper.kazoo")

#: How kazoo reconnects: forever, quickly (a restarted server is found within a second).
CONNECTION_RETRY = {"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0, "max_jitter": 0.2}


class SafeLog:
    """The logger handed to kazoo.

    kazoo logs every request at DEBUG, including ``Auth`` requests whose repr carries the
    digest credential, and session passwords at its BLATHER level. This logger drops
    everything below DEBUG, replaces any argument that is (or shows) a credential, and
    picks the negotiated session timeout out of kazoo's "Session created" message.
    """

    def __init__(self, secret: str | None, on_session: Callable[[int], None] | None = None) -> None:
        self._secret = secret
        self._on_session = on_session

    def _clean(self, arg: object) -> object:
        if isinstance(arg, Auth):
            return "Auth(<redacted>)"
        if self._secret and self._secret in repr(arg):
            return "<redacted>"
        return arg

    def log(self, level: int, msg: str, *args: object, **kwargs: object) -> None:
        if self._on_session is not None and isinstance(msg, str) and msg.startswith("Session created"):
            with contextlib.suppress(Exception):
                self._on_session(int(args[2]))  # negotiated session timeout, in ms
        if level < logging.DEBUG or not kazoo_log.isEnabledFor(level):
            return
        if self._secret and self._secret in str(msg):
            msg = str(msg).replace(self._secret, "***")
        kazoo_log.log(level, msg, *(self._clean(a) for a in args), **kwargs)

    def debug(self, msg: str, *args: object, **kwargs: object) -> None:
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: str, *args: object, **kwargs: object) -> None:
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg: str, *args: object, **kwargs: object) -> None:
        self.log(logging.WARNING, msg, *args, **kwargs)

    warn = warning

    def error(self, msg: str, *args: object, **kwargs: object) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg: str, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("exc_info", True)
        self.log(logging.ERROR, msg, *args, **kwargs)

    def critical(self, msg: str, *args: object, **kwargs: object) -> None:
        self.log(logging.CRITICAL, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's spelling)
        return level >= logging.DEBUG and kazoo_log.isEnabledFor(level)


def new_client(hosts: str, session_timeout: float, auth_data, default_acl, secret: str | None,
               on_session: Callable[[int], None] | None = None) -> KazooClient:
    return KazooClient(
        hosts=hosts,
        timeout=session_timeout,
        auth_data=auth_data,
        default_acl=default_acl,
        connection_retry=dict(CONNECTION_RETRY),
        command_retry={"max_tries": 0},
        logger=SafeLog(secret, on_session),
        randomize_hosts=True,
    )


def stop_client(client: KazooClient) -> None:
    """Stop and free a client, whatever state it is in (never raises)."""
    try:
        client.stop()
    except Exception:  # already stopped, or its writer would not close
        log.debug("stopping a kazoo client failed", exc_info=True)
    try:
        client.close()
    except Exception:
        log.debug("closing a kazoo client failed", exc_info=True)


def translate_exception(exc: BaseException, where: str, what: str) -> StoreError | None:
    """The gluster_mgmt error for a kazoo exception (None if it is not kazoo's)."""
    name = type(exc).__name__
    if isinstance(exc, (KazooTimeoutError, OperationTimeoutError, RequestTimeoutError)):
        return StoreTimeoutError(f"zookeeper {where}: {what} timed out ({name})")
    if isinstance(exc, (ConnectionLoss, SessionExpiredError, ConnectionClosedError,
                        ConnectionDropped, ZookeeperStoppedError)):
        return UnavailableError(f"zookeeper {where} unavailable: {what} failed ({name})")
    if isinstance(exc, (NoAuthError, AuthFailedError)):
        return AuthError(f"zookeeper {where}: {what} refused: not authorized ({name})")
    if isinstance(exc, QuotaExceededError):
        return ValueTooLargeError(f"zookeeper {where}: {what} exceeds a quota ({name})")
    if isinstance(exc, KazooException):
        return StoreError(f"zookeeper {where}: {what} failed ({name})")
    return None


def translate_errors(where: str, what: str) -> contextlib.AbstractContextManager[None]:
    """The kazoo edge: kazoo's exceptions become gluster_mgmt errors."""
    return translating(lambda exc: translate_exception(exc, where, what))
