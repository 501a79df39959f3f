"""The daemon's side of the Gluster mgmt protocol: volfiles from the store through volgen,
portmap through the store's port registry, and FETCHSPEC pushed when a watched volume's
volfile changes — whichever peer made the change."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from gluster_mgmt import volgen
from gluster_mgmt.cluster.migration_progress import MigrationRecords, Progress
from gluster_mgmt.cluster.volumes import DecodedVolumes, decode_volume
from gluster_mgmt.errors import StoreError
from gluster_mgmt.log_safety import untrusted
from gluster_mgmt.membership.peers import Peers
from gluster_mgmt.mgmt_rpc.defrag_client import DefragProtocolError, parse_defrag_status
from gluster_mgmt.mgmt_rpc.gluster_dict import value_text
from gluster_mgmt.mgmt_rpc.programs import normalize_volfile_id
from gluster_mgmt.mgmt_rpc.server import SHD_VOLFILE_PREFIX, PeerInfo, VolfileReply
from gluster_mgmt.model import MigrationStatus, Volume
from gluster_mgmt.daemon.last_known import LastKnownState, StoreHealth
from gluster_mgmt.portmap import PortRegistry
from gluster_mgmt.store.follow import Update
from gluster_mgmt.store.keys import ClusterKeys, last_segment

if TYPE_CHECKING:
    from gluster_mgmt.mgmt_rpc.server import MgmtRpcServer
    from gluster_mgmt.services.process_specs import BrickSpecs
    from gluster_mgmt.store.base import Store

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(host: str) -> IPAddress | None:
    """A peer address as the socket gives it (``fe80::1%eth0``, ``::ffff:10.0.0.1``) -> one
    comparable address; None for anything that is not an IP address."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_fib_trie(text: str) -> set[IPAddress]:
    """IPv4 addresses the kernel delivers locally: the ``/32 host LOCAL`` leaves of
    /proc/net/fib_trie (each follows the ``|-- ADDRESS`` line it belongs to)."""
    found: set[IPAddress] = set()
    leaf = ""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "|--":
            leaf = words[1]
        elif words[:1] == ["/32"] and words[-1:] == ["LOCAL"] and leaf:
            address = parse_address(leaf)
            if address is not None:
                found.add(address)
    return found


def parse_if_inet6(text: str) -> set[IPAddress]:
    """IPv6 addresses of this host's interfaces: the first column of /proc/net/if_inet6."""
    found: set[IPAddress] = set()
    for line in text.splitlines():
        words = line.split()
        if words and len(words[0]) == 32:
            found.add(ipaddress.IPv6Address(int(words[0], 16)))
    return found


def local_addresses() -> set[IPAddress]:
    """This host's addresses in the daemon's network namespace (what glusterd's
    gf_is_local_addr compares with), read from the kernel's tables on every call so an
    address added or removed since start counts at once."""
    found: set[IPAddress] = set()
    for path, parse in (("/proc/net/fib_trie", parse_fib_trie),
                        ("/proc/net/if_inet6", parse_if_inet6)):
        try:
            with open(path, encoding="ascii", errors="replace") as file:
                found |= parse(file.read())
        except OSError:
            continue  # no IPv6 (or no procfs): those addresses are simply not local
    return found


def resolve(name: str) -> set[IPAddress]:
    """Every address ``name`` resolves to (nothing when it does not resolve)."""
    address = parse_address(name.strip("[]"))
    if address is not None:
        return {address}
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return set()
    return {a for a in (parse_address(str(info[4][0])) for info in infos) if a is not None}


def is_local(host: str) -> bool:
    """Whether ``host`` is this machine: no IP address (a unix socket), loopback, or one of
    its own addresses."""
    if not host:
        return True
    address = parse_address(host)
    return address is not None and (address.is_loopback or address in local_addresses())


def _check_local(peer: PeerInfo, what: str) -> None:
    """Bricks run on this host: a portmap entry may be written only from here, or anyone
    who reaches port 24007 could point this host's bricks at a port of their choosing."""
    if not is_local(peer.host):
        raise PermissionError(f"only processes on this host may {what} bricks")


def volfile_ids(volume: Volume) -> list[str]:
    """Every volfile id a process may fetch for ``volume``."""
    return [volume.name, f"shd/{volume.name}", f"rebalance/{volume.name}"] + [
        b.volfile_id(volume.name) for b in volume.bricks]


def _volfile_or_none(volumes: dict[str, Volume], vid: str) -> str | None:
    """For change detection only: a volume volgen refuses to write (a control character in
    an option) must not stop the watch that keeps every other volume's volfiles current."""
    try:
        return volgen.volfile_for_id(volumes, vid)
    except volgen.VolfileError as exc:
        log.error("no volfile %s: %s", vid, exc)
        return None


class StoreMgmtBackend:
    """MgmtBackend over the store. Volumes are cached from a watch, so GETSPEC costs no store
    round trip; the same watch drives FETCHSPEC. PORTBYBRICK answers from memory, as glusterd
    does (the bricks' own SIGNINs, else the last port record seen): a store outage must not
    stop a client from mounting a volume whose bricks run."""

    def __init__(self, store: "Store", keys: ClusterKeys, node_uuid: str, ports: PortRegistry,
                 specs: "BrickSpecs", health: StoreHealth | None = None,
                 on_volumes: "Callable[[Update], None] | None" = None,
                 decoded: DecodedVolumes | None = None) -> None:
        """``on_volumes``: also told of every change of the volumes (the reconciler), so a
        node follows ``volumes/`` once; ``decoded``: the records decoded, shared with it."""
        self.store = store
        self.decoded = decoded or DecodedVolumes()
        self._also_on_volumes = on_volumes
        self.keys = keys
        self.node_uuid = node_uuid
        self.ports = ports
        self.specs = specs
        self.server: MgmtRpcServer | None = None
        self._volumes: dict[str, Volume] = {}
        self._signed_in: dict[int, set[tuple[str, int]]] = {}
        #: brick path -> port, as this host's bricks signed in (and have not signed out).
        self._serving: dict[str, int] = {}
        self.health = health or StoreHealth()
        self.last_known = LastKnownState(store, keys, self.health, self._on_volumes)

    def start(self, server: "MgmtRpcServer | None") -> None:
        """Follow the store; ``server`` (None: no listener, as in benchmarks/scale.py's
        agents) is told which volfiles changed."""
        self.server = server
        self.last_known.start(30)

    def stop(self) -> None:
        self.last_known.stop()

    # ------------------------------------------------------------------ volume cache + FETCHSPEC
    def _on_volumes(self, update: Update) -> None:
        try:
            self._cache_volumes(update)
        finally:  # a record this node cannot decode must not keep the reconciler from the rest
            if self._also_on_volumes is not None:
                self._also_on_volumes(update)

    def _cache_volumes(self, update: Update) -> None:
        if update.relisted or update.removed:
            self.decoded.keep_only(update.entries)
        if update.relisted:
            volumes = {}
        else:
            volumes = dict(self._volumes)
            for key in update.removed:
                volumes.pop(last_segment(key), None)
        for key in update.changed:
            volumes[last_segment(key)] = self.decoded.of(update.entries[key])
        self._apply(volumes)

    def _apply(self, volumes: dict[str, Volume]) -> None:
        """Take ``volumes`` in; FETCHSPEC to the connections that fetched a volfile it
        changed. Only volfiles some connection fetched are generated to compare (most
        nodes serve a volume's volfiles to nobody: regenerating all of them on every node
        for every change was most of a change's CPU): GETSPEC records the fetch before it
        reads ``_volumes``, which is replaced before the fetched ids are read, so a fetch
        either saw the new volumes or is compared here."""
        old_volumes, self._volumes = self._volumes, volumes
        fetched = self.server.fetched_ids() if self.server is not None else frozenset()
        if not fetched:
            return
        any_shd = any(f.startswith(SHD_VOLFILE_PREFIX) for f in fetched)

        def watched(vid: str) -> bool:
            vid = normalize_volfile_id(vid)
            return vid in fetched or (any_shd and vid.startswith(SHD_VOLFILE_PREFIX))

        changed = []
        for name in set(old_volumes) | set(volumes):
            old, new = old_volumes.get(name), volumes.get(name)
            if old is None or new is None or old == new:
                continue
            for vid in set(volfile_ids(old)) | set(volfile_ids(new)):
                if watched(vid) and (_volfile_or_none(old_volumes, vid)
                                     != _volfile_or_none(volumes, vid)):
                    changed.append(vid)
        if changed and self.server is not None:
            self.server.notify_threadsafe(changed)

    # ------------------------------------------------------------------ MgmtBackend
    async def getspec(self, volfile_id: str, peer: PeerInfo) -> bytes | VolfileReply | None:
        """glusterd's rule: the volfiles holding the bricks' ``auth.login`` credentials only
        for this host's processes and its peers; anyone else gets the plain client volfile,
        so ``auth.allow`` / ``auth.reject`` decide whether it may reach the bricks."""
        key = normalize_volfile_id(volfile_id)
        trusted = await self.is_trusted(peer.host)
        text = volgen.volfile_for_id(self._volumes, key, trusted=trusted)
        if text is None:
            if not trusted and volgen.volfile_for_id(self._volumes, key) is not None:
                log.warning("GETSPEC %s from %s refused: it holds the bricks' credentials, "
                            "served only to this host and its peers", untrusted(key), peer.host)
            return None
        if not trusted:
            log.info("GETSPEC %s from %s (neither local nor a peer): plain client volfile",
                     untrusted(key), peer.host)
        if key.startswith("shd/"):
            # glusterfs --process-name glustershd attaches its graph only with this xdata.
            return VolfileReply(text.encode(), {"pidfile": self.specs.shd_pidfile(key[4:])})
        return text.encode()

    async def is_trusted(self, host: str) -> bool:
        """Whether a caller at ``host`` may have credentials: no IP address at all (glusterd
        trusts those, e.g. a unix socket), an address of this host, or one a peer record's
        name resolves to (read and resolved per call: rare, and never stale)."""
        if is_local(host):
            return True
        address = parse_address(host)
        if address is None:
            return False
        try:
            return address in await asyncio.to_thread(self._peer_addresses)
        except StoreError as exc:
            log.warning("cannot read the peers to check %s (treated as not a peer): %s",
                        host, exc)
            return False

    def _peer_addresses(self) -> set[IPAddress]:
        names: set[str] = set()
        for view in Peers(self.store, self.keys, self.node_uuid).all():
            names.update(view.peer.hostnames)
            if view.api:
                names.add(view.api.rpartition(":")[0])
        return {address for name in names if name for address in resolve(name)}

    async def volume_id(self, name: str) -> str | None:
        volume = self._volumes.get(name)
        return volume.uuid if volume is not None else None

    async def signin(self, brick: str, port: int, pid: int, peer: PeerInfo) -> None:
        _check_local(peer, "sign in")
        self._signed_in.setdefault(peer.conn_id, set()).add((brick, port))
        self._serving[brick] = port
        try:
            await asyncio.to_thread(self.ports.sign_in, brick, port, pid)
        except StoreError as exc:  # the reconciler records it once the store is back
            log.warning("sign-in of %s kept in memory only: %s", untrusted(brick), exc)

    async def signout(self, brick: str, port: int, peer: PeerInfo) -> None:
        _check_local(peer, "sign out")
        self._signed_in.get(peer.conn_id, set()).discard((brick, port))
        self._forget(brick, port)
        await asyncio.to_thread(self.ports.sign_out, brick, port)

    def _forget(self, brick: str, port: int) -> None:
        if not port or self._serving.get(brick) == port:
            self._serving.pop(brick, None)

    async def port_by_brick(self, brick: str) -> int | None:
        """From memory, never a store read: the brick's own SIGNIN, else the last record of
        it (a brick re-adopted after a daemon restart, signed in before it)."""
        port = self._serving.get(brick)
        if port is not None:
            return port
        record = self.last_known.last_port(self.node_uuid, brick)
        return record["port"] if record and record.get("pid") else None

    async def event_notify(self, op: int, items: dict[str, bytes], peer: PeerInfo) -> None:
        """A rebalance process's final report (GF_EN_DEFRAG_STATUS): this node's migration
        record becomes final, which `remove-brick status` and `commit` read. (The server
        passes only op GF_EN_DEFRAG_STATUS.)"""
        volfile_id = value_text(items.get("volname", b""))
        name = volfile_id.removeprefix("rebalance/")
        # read, not cached: a short task may report before our watch has even seen it
        entry = await asyncio.to_thread(self.store.get, self.keys.volume(name)) if (
            name != volfile_id and name in self._volumes) else None
        volume = decode_volume(entry.value) if entry is not None else None
        if volume is None or volume.task is None:
            log.info("defrag status for %s from %s: no migration (stopped?)", untrusted(volfile_id),
                     peer.host)
            return
        try:
            report = parse_defrag_status(items)
        except DefragProtocolError as exc:
            # counted failed rather than lost: commit then asks for force
            log.error("unreadable defrag status for %s from %s: %s", volume.name, peer.host, exc)
            report = {"status": MigrationStatus.FAILED}
        progress = Progress.from_report(self.node_uuid, volume.task.id, report)
        log.info("migration of %s on this node: %s", volume.name, progress.status.label)
        await asyncio.to_thread(MigrationRecords(self.store, self.keys).write, volume.name,
                                progress)

    async def connection_closed(self, conn_id: int) -> None:
        """A SIGKILLed brick sends no SIGNOUT: its mgmt connection closing is the signal."""
        for brick, port in self._signed_in.pop(conn_id, set()):
            self._forget(brick, port)
            try:
                await asyncio.to_thread(self.ports.sign_out, brick, port)
            except StoreError as exc:
                log.warning("could not sign out %s: %s", brick, exc)
