"""Who is in the cluster (peer records) and who is up (leased alive keys).

Joining costs O(1) store writes: the new peer writes its own record and alive key; nobody
tells every other peer (glusterd's N² friend updates are what this replaces).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import Peer, PeerState, Volume
from gluster_mgmt.store.keys import ClusterKeys, last_segment
from gluster_mgmt.store.types import ABSENT, Entry

if TYPE_CHECKING:
    from gluster_mgmt.store.base import Lease, Store


@attrs.frozen
class PeerView:
    """A peer as `peer status` shows it: its record plus whether its daemon is alive."""

    peer: Peer
    connected: bool
    #: host:port of its REST API, from its alive key (None while disconnected).
    api: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.peer.uuid, "hostnames": list(self.peer.hostnames),
                "state": self.peer.state.value, "connected": self.connected}


class Peers:
    """The cluster's peer records and alive keys, seen from node ``node_uuid``."""

    def __init__(self, store: "Store", keys: ClusterKeys, node_uuid: str) -> None:
        self.store = store
        self.keys = keys
        self.node_uuid = node_uuid

    def register(self, uuid: str, hostnames: tuple[str, ...]) -> None:
        """Write (or refresh) this node's own peer record."""
        record = Peer(uuid=uuid, hostnames=hostnames, state=PeerState.CONNECTED)
        current = self.store.get(self.keys.peer(uuid))
        if current is not None and json.loads(current.value) == record.to_dict():
            return
        self.store.put(self.keys.peer(uuid), json.dumps(record.to_dict()).encode())

    def announce(self, uuid: str, api: str, lease: "Lease") -> None:
        """The alive key: present exactly while this node's daemon renews its lease."""
        self.store.put(self.keys.alive(uuid), json.dumps({"api": api}).encode(), lease=lease)

    def all(self) -> list[PeerView]:
        """Every peer in the order they joined (their records' creation), as glusterd lists
        its peers: in the order it came to know them (``pool list``, ``peer status``)."""
        peers = sorted(self.store.list(self.keys.peers), key=lambda e: (e.created, e.key))
        alive = {last_segment(e.key): json.loads(e.value)
                 for e in self.store.list(self.keys.alive_prefix)}
        views = []
        for entry in peers:
            peer = Peer.from_dict(json.loads(entry.value))
            info = alive.get(peer.uuid)
            views.append(PeerView(peer, info is not None, info.get("api") if info else None))
        return views

    def others(self) -> list[PeerView]:
        return [v for v in self.all() if v.peer.uuid != self.node_uuid]

    def hostname_map(self, records: Iterable[Entry] | None = None) -> dict[str, str]:
        """hostname → peer uuid, for every name any peer is known by (the peer records
        alone: whether a peer is up is not asked, a read saved per brick-taking command).
        ``records``: the peer records as the caller read them (else they are listed)."""
        if records is None:
            records = self.store.list(self.keys.peers)
        peers = (Peer.from_dict(json.loads(e.value)) for e in
                 sorted(records, key=lambda e: (e.created, e.key)))
        return {name: peer.uuid for peer in peers for name in peer.hostnames}

    def find(self, host: str) -> PeerView | None:
        return next((v for v in self.all() if host in v.peer.hostnames), None)

    def add_hostname(self, uuid: str, hostname: str) -> None:
        entry = self.store.get(self.keys.peer(uuid))
        if entry is None:
            return
        peer = Peer.from_dict(json.loads(entry.value))
        if hostname not in peer.hostnames:
            peer = attrs.evolve(peer, hostnames=peer.hostnames + (hostname,))
            self.store.put(self.keys.peer(uuid), json.dumps(peer.to_dict()).encode(), entry.revision)

    def remove(self, uuid: str) -> None:
        """The peer leaves the pool; if it was a glusterd node waiting to be taken over,
        nothing waits for it any more."""
        self.store.delete(self.keys.peer(uuid))
        self.taken_over(uuid)

    def taken_over(self, uuid: str) -> None:
        """Node ``uuid`` runs gluster-mgmtd now (or left): no longer a glusterd node."""
        self.store.delete(self.keys.glusterd_node(uuid))

    def leave(self, uuid: str) -> None:
        """A node leaves: its alive key and its record go."""
        self.store.delete(self.keys.alive(uuid))
        self.remove(uuid)

    @staticmethod
    def check_detachable(host: str, view: PeerView, volumes: Iterable[Volume]) -> None:
        """glusterd refuses to detach a peer that hosts a brick of any volume."""
        for volume in volumes:
            if any(b.host_uuid == view.peer.uuid for b in volume.bricks):
                raise OperationFailed(f"Brick(s) with the peer {host} exist in cluster", errno.EBUSY)

    def create_cluster_record(self, info: dict[str, Any]) -> None:
        self.store.put(self.keys.info, json.dumps(info).encode(), ABSENT)
