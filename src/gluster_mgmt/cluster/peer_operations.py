"""glusterd's friend operations: probe, the join a probe asks for, detach, and the leave a
detach asks for.

A fresh daemon is a one-node cluster of its own (as glusterd is), in the store its
administrator configured; ``peer probe`` from another cluster's daemon makes it switch to that
cluster — if it has nothing of its own yet and the cluster is in the same store. The probe
carries only the cluster id and the probed name, signed with the cluster secret; the probed
node finds the cluster and its secret in its own store and never opens a store a request
names (docs/security.md).
Joining costs O(1) store writes (the node's own record and alive key): nobody tells every
other peer, which is what glusterd's N² friend updates did.

The rules live here; the daemon lends the mechanics of moving between stores
(``MemberNode.activate``/``deactivate``).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
import uuid as uuid_module
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from gluster_mgmt.errors import OperationFailed, StoreError
from gluster_mgmt.membership.identity import Membership
from gluster_mgmt.membership.peer_calls import call_peer
from gluster_mgmt.membership.peers import Peers
from gluster_mgmt.rules import LOCALHOST_NAMES, SYNC_FROM_LOCALHOST
from gluster_mgmt.store import open_store
from gluster_mgmt.store.keys import ClusterKeys

if TYPE_CHECKING:
    from gluster_mgmt.cluster.api import Cluster

log = logging.getLogger(__name__)

#: glusterd_probe_errno of a probe that succeeds doing nothing (its op_errno, shown by --xml)
PROBE_LOCALHOST = 1
PROBE_FRIEND = 2


class NodeSettings(Protocol):
    """The daemon settings membership needs (``DaemonConfig`` has them)."""

    state_dir: str
    store_url: str | None
    api_port: int
    mgmt_port: int

    @property
    def default_store_url(self) -> str: ...

    @property
    def effective_join_token(self) -> str | None: ...


class MemberNode(Protocol):
    """What the daemon lends membership: who it is, its cluster, and the means to move."""

    uuid: str
    hostname: str
    config: NodeSettings
    membership: Membership | None
    #: Held while the node switches clusters, so requests never see half a switch.
    switching: threading.RLock
    #: TLS for calls to peers' REST API (``TlsFiles.client_context``); None: plain HTTP
    peer_tls: ssl.SSLContext | None

    def active(self) -> "Cluster": ...
    def activate(self, membership: Membership) -> None: ...
    def deactivate(self) -> None: ...
    def local_names(self) -> set[str]: ...


def create_cluster(store_url: str, state_dir: str) -> Membership:
    """A one-node cluster of our own in ``store_url`` (a fresh glusterd's state)."""
    membership = Membership.new(store_url)
    keys = ClusterKeys.for_cluster(membership.cluster_id)
    with open_store(membership.store_url) as store:
        Peers(store, keys, "").create_cluster_record(
            {"id": membership.cluster_id, "created": time.time()})
        store.put(keys.secret, membership.secret.encode())
    membership.save(state_dir)
    log.info("created cluster %s", membership.cluster_id)
    return membership


def own_hostnames(cluster: "Cluster", node_uuid: str, hostname: str) -> tuple[str, ...]:
    """Every name this node is known by in its peer record, its own hostname included."""
    entry = cluster.store.get(cluster.keys.peer(node_uuid))
    names = tuple(json.loads(entry.value)["hostnames"]) if entry else ()
    return names if hostname in names else names + (hostname,)


def token_proof(token: str, cluster_id: str, hostname: str) -> str:
    """What a probe carries instead of the join token itself (which never travels)."""
    return hmac.new(token.encode(), f"join\n{cluster_id}\n{hostname}".encode(),
                    hashlib.sha256).hexdigest()


@attrs.frozen
class JoinRequest:
    """``cluster/join``'s parameters, checked: what a probe carries (and nothing else counts:
    a store URL or a secret in the request is ignored)."""

    cluster_id: str
    hostname: str = ""
    token_proof: str = ""
    #: The UUID the cluster's peer list already knows ``hostname`` by (a peer recorded by
    #: an import from glusterd): only the node of that UUID may join as it.
    peer_uuid: str = ""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "JoinRequest":
        cluster_id = params.get("cluster_id")
        hostname = params.get("hostname") or ""
        proof = params.get("token_proof") or ""
        peer_uuid = params.get("peer_uuid") or ""
        if not isinstance(cluster_id, str) or not isinstance(hostname, str) \
                or not isinstance(proof, str) or not isinstance(peer_uuid, str):
            raise OperationFailed("malformed join request: cluster_id (a cluster UUID) is "
                                  "required; hostname, token_proof and peer_uuid are strings",
                                  errno.EINVAL)
        try:
            cluster_id = str(uuid_module.UUID(cluster_id))
        except ValueError:
            raise OperationFailed("malformed join request: cluster_id is not a UUID",
                                  errno.EINVAL) from None
        return cls(cluster_id, hostname, proof, peer_uuid)


class PeerOperations:
    """``peer probe``/``peer detach`` as the CLI asks them, and the ``cluster/join`` and
    ``cluster/leave`` requests one daemon sends another."""

    def __init__(self, node: MemberNode) -> None:
        self.node = node

    def _is_self(self, cluster: "Cluster", host: str) -> bool:
        node = self.node
        return host in node.local_names() or host in own_hostnames(cluster, node.uuid, node.hostname)

    def probe(self, host: str) -> dict[str, Any]:
        node = self.node
        cluster = node.active()
        if self._is_self(cluster, host):
            return {"message": "Probe on localhost not needed", "errno": PROBE_LOCALHOST}
        known = cluster.peers.find(host)
        already = {"message": f"Host {host} port {node.config.mgmt_port} already in peer list",
                   "errno": PROBE_FRIEND}
        if known is not None and known.connected:
            return already
        membership = node.membership
        token = self._join_token()
        params: dict[str, Any] = {"cluster_id": membership.cluster_id, "hostname": host}
        if token:
            params["token_proof"] = token_proof(token, membership.cluster_id, host)
        if known is not None:
            # a peer recorded but never seen (imported from glusterd, or down): its node
            # joins as that peer, under that UUID, when it runs gluster-mgmtd
            params["peer_uuid"] = known.peer.uuid
        members = {view.peer.uuid for view in cluster.peers.others()}  # before the join adds one
        try:
            data = call_peer(host, node.config.api_port, "cluster/join", params,
                             secret=membership.secret, tls=node.peer_tls)
        except OperationFailed as exc:
            if known is not None and exc.errno == errno.ENOTCONN:
                return already  # a known peer that is down: glusterd's answer
            raise
        uuid = data.get("uuid")
        if uuid == node.uuid:
            return {"message": "Probe on localhost not needed", "errno": PROBE_LOCALHOST}
        if uuid in members and known is None:
            # a known peer by another of its addresses: glusterd adds it to the peer's names
            cluster.peers.add_hostname(uuid, host)
            return {"uuid": uuid, "errno": PROBE_FRIEND,
                    "message": f"Host {host} port {node.config.mgmt_port} already in peer list"}
        return {"uuid": uuid, "message": ""}

    def sync(self, host: str, name: str | None) -> None:
        """`volume sync HOST [VOL]`: glusterd copies HOST's volume definitions over its own.
        Every node here reads the one store, so there is nothing to copy: glusterd's checks
        (__glusterd_handle_sync_volume, glusterd_op_stage_sync_volume), then success."""
        node = self.node
        cluster = node.active()
        if host in LOCALHOST_NAMES or self._is_self(cluster, host):
            raise OperationFailed(SYNC_FROM_LOCALHOST, errno.EINVAL)
        view = cluster.peers.find(host)
        if view is None:
            raise OperationFailed(f"{host}, is not a friend", errno.ENOENT)
        if not view.connected:
            raise OperationFailed(f"{host}, is not connected at the moment", errno.ENOTCONN)
        if name is not None and name not in cluster.volumes.names():
            # the check HOST's glusterd makes when it stages the sync
            raise OperationFailed(f"Staging failed on {host}. Error: Volume {name} does not "
                                  "exist", errno.ENOENT)

    def _join_token(self) -> str | None:
        """The configured join token; an unreadable token file refuses (never admits)."""
        try:
            return self.node.config.effective_join_token
        except (OSError, ValueError) as exc:
            log.error("cannot read the join token file: %s", exc)
            raise OperationFailed("cannot read this node's join token file; see its log",
                                  errno.EACCES) from None

    def join_secret(self, params: dict[str, Any]) -> str:
        """The secret a join request must be signed with: that of the cluster it names, as
        our own store keeps it. A cluster our store does not hold is refused here, before
        anything else: no request makes us open another store."""
        request = JoinRequest.from_params(params)
        secret = self._stored_secret(request.cluster_id)
        if secret is None:
            raise OperationFailed(
                f"probe refused: cluster {request.cluster_id} is not in this node's "
                "configuration store", errno.EACCES)
        return secret

    def member_names(self, cluster_id: str | None = None) -> frozenset[str]:
        """Every name the peers of ``cluster_id`` (default: our cluster) are known by in our
        store: their hostnames and the host of their API address. A TLS client of the REST
        API must present a certificate naming one of them."""
        cluster = self.node.active()
        keys = cluster.keys if cluster_id is None else ClusterKeys.for_cluster(cluster_id)
        names: set[str] = set()
        for view in Peers(cluster.store, keys, "").all():
            names.update(view.peer.hostnames)
            if view.api:
                names.add(view.api.rpartition(":")[0].strip("[]"))
        return frozenset(names)

    def join_names(self, params: dict[str, Any]) -> frozenset[str]:
        """The names a prober's TLS certificate may carry: those of the members of the
        cluster the join names, in our store (the prober is one of them, not yet ours)."""
        return self.member_names(JoinRequest.from_params(params).cluster_id)

    def _stored_secret(self, cluster_id: str) -> str | None:
        cluster = self.node.active()
        keys = ClusterKeys.for_cluster(cluster_id)
        if cluster.store.get(keys.info) is None:
            return None
        stored = cluster.store.get(keys.secret)
        return stored.value.decode() if stored is not None else None

    def join(self, params: dict[str, Any]) -> dict[str, Any]:
        """Another daemon of our store probed us: switch to its cluster (glusterd's friend
        add). The caller's signature was checked with ``join_secret`` (on TCP)."""
        node = self.node
        request = JoinRequest.from_params(params)
        with node.switching:
            cluster = node.active()
            if request.peer_uuid and request.peer_uuid != node.uuid:
                raise OperationFailed(
                    f"probe refused: the peer list knows {request.hostname} as "
                    f"{request.peer_uuid}, but this node is {node.uuid}", errno.EEXIST)
            if node.membership.cluster_id == request.cluster_id:
                return {"uuid": node.uuid}
            token = self._join_token()
            if token and not hmac.compare_digest(
                    token_proof(token, request.cluster_id, request.hostname),
                    request.token_proof):
                raise OperationFailed("probe refused: wrong or missing join token", errno.EACCES)
            if cluster.peers.others() or cluster.volumes.names():
                raise OperationFailed(
                    f"{request.hostname or node.hostname} is either already part of another "
                    "cluster or having volumes configured", errno.EEXIST)
            secret = self._stored_secret(request.cluster_id)
            if secret is None:
                raise OperationFailed(
                    f"probe refused: cluster {request.cluster_id} is not in this node's "
                    "configuration store", errno.EACCES)
            old = node.membership
            joining = Membership(request.cluster_id, old.store_url, secret)
            self._forget_own_cluster(cluster)
            node.deactivate()
            joining.save(node.config.state_dir)
            try:
                node.activate(joining)
                peers = node.active().peers
                peers.add_hostname(node.uuid, request.hostname or node.hostname)
                peers.taken_over(node.uuid)
            except Exception:
                log.exception("joining cluster %s failed; going back", joining.cluster_id)
                old.save(node.config.state_dir)
                node.activate(old)
                raise
            log.info("joined cluster %s", joining.cluster_id)
            return {"uuid": node.uuid}

    def _forget_own_cluster(self, cluster: "Cluster") -> None:
        for key in (cluster.keys.peer(self.node.uuid), cluster.keys.info, cluster.keys.secret):
            try:
                cluster.store.delete(key)
            except StoreError:
                pass

    def detach(self, host: str, force: bool = False) -> dict[str, Any]:
        node = self.node
        cluster = node.active()
        if self._is_self(cluster, host):
            raise OperationFailed(f"{host} is localhost", errno.EINVAL)
        view = cluster.peers.find(host)
        if view is None:
            raise OperationFailed(f"{host} is not part of cluster", errno.ENOENT)
        cluster.peers.check_detachable(host, view, cluster.volumes.all())
        if view.connected and view.api:
            api_host, _, port = view.api.rpartition(":")
            try:
                call_peer(api_host, int(port), "cluster/leave", {"uuid": view.peer.uuid},
                          secret=node.membership.secret, tls=node.peer_tls)
            except OperationFailed:
                if not force:
                    raise
        cluster.peers.remove(view.peer.uuid)
        return {}

    def leave(self, params: dict[str, Any]) -> dict[str, Any]:
        """We were detached: become a one-node cluster of our own again."""
        node = self.node
        if params.get("uuid") != node.uuid:
            raise OperationFailed("detach request names another node", errno.EINVAL)
        with node.switching:
            node.active().peers.leave(node.uuid)
            node.deactivate()
            node.activate(create_cluster(node.config.store_url or node.config.default_store_url,
                                         node.config.state_dir))
        return {}
