"""The portmap registry: which TCP port each brick of a host listens on.

glusterd keeps this table in memory, filled by the bricks' PMAP SIGNIN; we keep it in the
store, one record per brick at ``keys.port(host_uuid, brick_path)``, bound to the host's
lease (a host that dies takes its records with it). A record is JSON::

    {"port": 49152, "brick": "/bricks/b1", "pid": 1234, "volume": "v1"}

``pid`` is 0 while the port is only reserved (allocated, brick not signed in yet, or signed
out); ``port_by_brick`` answers only for bricks that signed in, as glusterd's PORTBYBRICK does.

Ports come from glusterd's range: ``base-port`` 49152 (IANA dynamic ports start) up to
``max-port`` 60999 (Debian's glusterd.vol; the compiled-in maximum is 65535). A port is handed
out only when nothing on this machine listens on it (a bind probe, as glusterd does) and no
port record in the cluster holds it: several daemons on one machine (test clusters on
loopback addresses) see each other's reservations before their bricks are even started. Two
daemons reserving one port at the same moment are told apart by the store's revisions: the
older record wins, the newer one retries.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import random
import socket
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from gluster_mgmt.errors import ConflictError, OperationFailed
from gluster_mgmt.store.base import Lease, LeaseSource, Store
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.store.types import ABSENT, Entry

log = logging.getLogger(__name__)

#: glusterd's ``base-port`` (GF_IANA_PRIV_PORTS_START).
BASE_PORT = 49152
#: glusterd's ``max-port`` as Debian's /etc/glusterfs/glusterd.vol sets it.
MAX_PORT = 60999

_ATTEMPTS = 64


def decode_record(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("port"), int):
        raise ValueError("not a port record")
    return data


def encode_record(port: int, brick: str, pid: int, volume: str) -> bytes:
    return json.dumps({"port": port, "brick": brick, "pid": pid, "volume": volume},
                      sort_keys=True, separators=(",", ":")).encode()


def port_free(port: int, addresses: Iterable[str] = ("",)) -> bool:
    """True when a TCP listener could bind ``port`` on each of ``addresses`` right now.

    No SO_REUSEADDR: a port another socket listens on (on any address, for the wildcard)
    or still holds in TIME_WAIT as a listener counts as taken, as it would for the brick.
    """
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


class KeyReader(Protocol):
    """What a port record is read from: the store, or a node's last known copy of it."""

    def get(self, key: str) -> Entry | None: ...


def brick_record(store: KeyReader, keys: ClusterKeys, host_uuid: str,
                 brick: str) -> dict[str, Any] | None:
    """The port record of ``brick`` (a brick path) on host ``host_uuid``, if any."""
    entry = store.get(keys.port(host_uuid, brick))
    if entry is None:
        return None
    try:
        return decode_record(entry.value)
    except ValueError:
        return None


def port_by_brick(store: Store, keys: ClusterKeys, host_uuid: str, brick: str) -> int | None:
    """The port ``brick`` (a brick path, as signed in) of host ``host_uuid`` serves on, or None
    when it has not signed in (PORTBYBRICK's miss)."""
    record = brick_record(store, keys, host_uuid, brick)
    return record["port"] if record and record.get("pid") else None


class PortRegistry:
    """The port records of one host (this daemon's node).

    ``lease`` gives the host's current lease at each write (the node session's): after a
    renewal, the records bound to the lost lease are gone, and the reconciler re-records its
    bricks' ports (``claim``) on its next pass.
    """

    def __init__(self, store: Store, keys: ClusterKeys, host_uuid: str,
                 lease: LeaseSource | None, *,
                 address: str = "", base_port: int = BASE_PORT, max_port: int = MAX_PORT) -> None:
        if not 0 < base_port <= max_port < 65536:
            raise ValueError(f"bad port range {base_port}-{max_port}")
        self.store = store
        self.keys = keys
        self.host_uuid = host_uuid
        self.lease = lease
        #: The daemon's own address; bricks listen on every address, so the wildcard is
        #: probed as well.
        self.address = "" if address in ("0.0.0.0", "*") else address
        self.base_port = base_port
        self.max_port = max_port
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ reading
    def _key(self, brick_path: str) -> str:
        return self.keys.port(self.host_uuid, brick_path)

    def record(self, brick_path: str) -> dict[str, Any] | None:
        return brick_record(self.store, self.keys, self.host_uuid, brick_path)

    def port_of(self, brick_path: str) -> int | None:
        """The port reserved for ``brick_path`` on this host, signed in or not."""
        record = self.record(brick_path)
        return record["port"] if record else None

    def records(self) -> dict[str, dict[str, Any]]:
        """This host's records by brick path."""
        found = {}
        for entry in self.store.list(self.keys.ports(self.host_uuid)):
            with contextlib.suppress(ValueError):
                record = decode_record(entry.value)
                found[record.get("brick") or entry.key] = record
        return found

    def _ports_in_use(self) -> dict[int, Entry]:
        """Every port held by a record of any host, with the oldest record holding it."""
        held: dict[int, Entry] = {}
        for entry in self.store.list(self.keys.all_ports):
            try:
                port = decode_record(entry.value)["port"]
            except ValueError:
                continue
            if port not in held or entry.created < held[port].created:
                held[port] = entry
        return held

    # ------------------------------------------------------------------ reserving
    def _probe_addresses(self) -> tuple[str, ...]:
        return ("",) if not self.address else ("", self.address)

    def _lease_id(self) -> Lease | None:
        lease = self.lease() if self.lease is not None else None
        return lease if lease is not None and lease.alive else None

    def allocate(self, volume: str, brick_path: str) -> int:
        """Reserve a port for ``brick_path`` (or return the one it already has)."""
        with self._lock:
            existing = self.port_of(brick_path)
            if existing is not None:
                return existing
            span = self.max_port - self.base_port + 1
            tried: set[int] = set()
            for _ in range(_ATTEMPTS):
                held = self._ports_in_use()
                # glusterd 10 hands out ports at random within the range; scan from a random
                # point so concurrent allocators rarely pick the same one.
                start = random.randrange(span)
                port = None
                for offset in range(span):
                    candidate = self.base_port + (start + offset) % span
                    if candidate in held or candidate in tried:
                        continue
                    if port_free(candidate, self._probe_addresses()):
                        port = candidate
                        break
                    tried.add(candidate)
                if port is None:
                    break
                tried.add(port)
                if self._reserve(volume, brick_path, port):
                    return port
                existing = self.port_of(brick_path)  # somebody recorded this brick meanwhile
                if existing is not None:
                    return existing
            raise OperationFailed(
                f"no free port between {self.base_port} and {self.max_port} for brick "
                f"{brick_path}", errno.EADDRINUSE)

    def _reserve(self, volume: str, brick_path: str, port: int) -> bool:
        key = self._key(brick_path)
        try:
            revision = self.store.put(key, encode_record(port, brick_path, 0, volume), ABSENT,
                                      lease=self._lease_id())
        except ConflictError:
            return False
        holder = self._ports_in_use().get(port)
        if holder is not None and holder.key != key and holder.created < revision:
            # Another host (another daemon on this machine) reserved it first.
            with contextlib.suppress(ConflictError):
                self.store.delete(key, revision)
            return False
        return True

    def claim(self, volume: str, brick_path: str, port: int, pid: int = 0) -> None:
        """Record ``port`` for ``brick_path`` as is, without probing: the brick already runs
        on it (a re-adopted brick, a record lost with an old lease)."""
        with self._lock:
            key = self._key(brick_path)
            for _ in range(_ATTEMPTS):
                entry = self.store.get(key)
                if entry is None:
                    expect: Any = ABSENT
                    current: dict[str, Any] = {}
                else:
                    expect = entry.revision
                    with contextlib.suppress(ValueError):
                        current = decode_record(entry.value)
                    lease = self._lease_id()
                    if (current.get("port") == port and current.get("volume") == volume
                            and (current.get("pid") == pid or not pid)
                            and entry.lease == (lease.id if lease is not None else None)):
                        return
                new_pid = pid or (current.get("pid", 0) if current.get("port") == port else 0)
                try:
                    self.store.put(key, encode_record(port, brick_path, new_pid, volume), expect,
                                   lease=self._lease_id())
                    return
                except ConflictError:
                    continue

    # ------------------------------------------------------------------ PMAP SIGNIN / SIGNOUT
    def sign_in(self, brick: str, port: int, pid: int) -> None:
        """A brick process signed in: ``brick`` (its path) serves on ``port``. The record
        follows what the brick says, even if it differs from the reservation."""
        with self._lock:
            key = self._key(brick)
            for _ in range(_ATTEMPTS):
                entry = self.store.get(key)
                volume = ""
                if entry is not None:
                    with contextlib.suppress(ValueError):
                        volume = decode_record(entry.value).get("volume", "")
                try:
                    self.store.put(key, encode_record(port, brick, pid, volume),
                                   ABSENT if entry is None else entry.revision,
                                   lease=self._lease_id())
                    return
                except ConflictError:
                    continue
            log.warning("could not record the sign-in of %s on port %d", brick, port)

    def sign_out(self, brick: str, port: int) -> None:
        """The brick process stopped serving: keep the reservation (a restart reuses the
        port) but answer no PORTBYBRICK for it. Nothing happens for an unknown brick."""
        with self._lock:
            key = self._key(brick)
            for _ in range(_ATTEMPTS):
                entry = self.store.get(key)
                if entry is None:
                    return
                try:
                    record = decode_record(entry.value)
                except ValueError:
                    return
                if (port and record["port"] != port) or not record.get("pid"):
                    return
                try:
                    self.store.put(key, encode_record(record["port"], brick, 0,
                                                      record.get("volume", "")),
                                   entry.revision, lease=self._lease_id())
                    return
                except ConflictError:
                    continue

    def release(self, brick_path: str) -> None:
        """Forget the brick's port (its brick is stopped for good)."""
        with self._lock:
            self.store.delete(self._key(brick_path))
