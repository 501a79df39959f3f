"""The kazoo edge: client construction (with ZooKeeper 3.6's persistent recursive watches,
which kazoo 2.11 does not speak), a logger that never shows credentials, and the translation of
kazoo's exceptions into gluster_mgmt.errors."""

from __future__ import annotations

import contextlib
import enum
import logging
import struct
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
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
from kazoo.protocol.connection import ConnectionHandler
from kazoo.protocol.serialization import Auth, Watch, write_string
from kazoo.protocol.states import EVENT_TYPE_MAP, Callback, EventType, WatchedEvent

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


class AddWatchMode(enum.IntEnum):
    """The ``mode`` of ZooKeeper's addWatch request (3.6+)."""

    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class WatcherType(enum.IntEnum):
    """The ``type`` of ZooKeeper's removeWatches request (3.5+). ZooKeeper 3.8 has no type of
    its own for persistent watches: ``ANY`` removes them (with any one-shot watch on the path)."""

    CHILDREN = 1
    DATA = 2
    ANY = 3


_INT = struct.Struct(">i")


@attrs.frozen
class _PathRequest:
    """A request of a path and one int (addWatch, removeWatches), whose reply has no body."""

    type: ClassVar[int]
    path: str
    number: int

    def serialize(self) -> bytes:
        return bytes(write_string(self.path)) + _INT.pack(self.number)

    @classmethod
    def deserialize(cls, _buffer: bytes, _offset: int) -> bool:
        return True


class AddWatch(_PathRequest):
    """addWatch: a watch that stays armed, on ``path`` (and, recursive, on every descendant);
    ``number``: its AddWatchMode."""

    type: ClassVar[int] = 106  # ZooKeeper's OpCode.addWatch


class RemoveWatches(_PathRequest):
    """removeWatches: the server forgets this session's watches of one type on ``path``;
    ``number``: that WatcherType."""

    type: ClassVar[int] = 18  # ZooKeeper's OpCode.removeWatches


#: The events a persistent recursive watch delivers (never a child event).
RECURSIVE_EVENTS = frozenset(t for t, kind in EVENT_TYPE_MAP.items()
                             if kind in (EventType.CREATED, EventType.DELETED, EventType.CHANGED))


class _RecursiveWatchConnection(ConnectionHandler):
    """kazoo's connection, which also hands each watch notification to the persistent recursive
    watchers that cover its path (kazoo hands it only to the one-shot watchers of that path)."""

    def _read_watch_event(self, buffer: bytes, offset: int) -> None:
        super()._read_watch_event(buffer, offset)
        self.client._dispatch_recursive(Watch.deserialize(buffer, offset)[0])


class WatchingClient(KazooClient):
    """A KazooClient with persistent recursive watches (ZooKeeper 3.6+).

    The server sends one notification per change and session, whoever watches what: kazoo
    dispatches it to its one-shot watchers, then this client to every recursive watcher whose
    path covers it, both from the reader thread (so in wire order, before the reply to any later
    read). A reconnect (even within the session) loses the server's recursive watches (kazoo's
    SetWatches carries only one-shot ones): their owner re-arms them (``add_recursive_watch_async``
    again), as it must after a session expiry anyway.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connection = _RecursiveWatchConnection(
            self, self._conn_retry.copy(), logger=self.logger, sasl_options=self._connection.sasl_options)
        self._recursive_guard = threading.Lock()
        #: path -> its recursive watchers (callbacks taking a WatchedEvent)
        self._recursive: dict[str, tuple[Callable[[WatchedEvent], None], ...]] = {}

    def add_recursive_watch_async(self, path: str, watcher: Callable[[WatchedEvent], None]) -> Any:
        """Call ``watcher`` for every creation, deletion and data change at or below ``path``
        from now on; (re-)arms the server's watch. The result fails with UnimplementedError on a
        server older than 3.6 (then ``discard_recursive_watch``)."""
        with self._recursive_guard:
            known = self._recursive.get(path, ())
            if watcher not in known:
                self._recursive[path] = (*known, watcher)
        result = self.handler.async_result()
        self._call(AddWatch(self.chroot + path, AddWatchMode.PERSISTENT_RECURSIVE), result)
        return result

    def discard_recursive_watch(self, path: str, watcher: Callable[[WatchedEvent], None]) -> bool:
        """Stop calling ``watcher`` for ``path``: whether it was the path's last watcher (then the
        server's watch should go: ``remove_recursive_watch_async``)."""
        with self._recursive_guard:
            left = tuple(w for w in self._recursive.get(path, ()) if w != watcher)
            if left:
                self._recursive[path] = left
            else:
                self._recursive.pop(path, None)
            return not left

    def remove_recursive_watch_async(self, path: str) -> Any:
        """removeWatches for this session's recursive watch on ``path`` (and any other watch
        of the session on that very path: its owner arms none there)."""
        result = self.handler.async_result()
        self._call(RemoveWatches(self.chroot + path, WatcherType.ANY), result)
        return result

    def _dispatch_recursive(self, watch: Watch) -> None:
        """The reader thread: queue the notification for the recursive watchers covering it."""
        if watch.type not in RECURSIVE_EVENTS or self._stopped.is_set():
            return
        path = self.unchroot(watch.path)
        with self._recursive_guard:
            watchers = [w for root, found in self._recursive.items()
                        if path == root or path.startswith(root.rstrip("/") + "/") for w in found]
        if watchers:
            event = WatchedEvent(EVENT_TYPE_MAP[watch.type], self._state, path)
            for watcher in watchers:
                self.handler.dispatch_callback(Callback("watch", watcher, (event,)))


def new_client(hosts: str, session_timeout: float, auth_data, default_acl, secret: str | None,
               on_session: Callable[[int], None] | None = None) -> WatchingClient:
    return WatchingClient(
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
