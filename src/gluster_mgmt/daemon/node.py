"""One node's daemon: identity, cluster membership, the store session, and its services.

A fresh daemon is a one-node cluster of its own (as glusterd is); `peer probe` from another
cluster's daemon makes it switch to that cluster's store — if it has nothing of its own yet.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import threading
import time
from typing import Any

from gluster_mgmt.cluster import Cluster
from gluster_mgmt.cluster.bricks import prepare_local_bricks, unprepare_local_bricks
from gluster_mgmt.cluster.volumes import BRICK_PREPARE
from gluster_mgmt.daemon.config import DaemonConfig
from gluster_mgmt.daemon.identity import Membership, node_uuid
from gluster_mgmt.daemon.mgmt_backend import StoreMgmtBackend
from gluster_mgmt.daemon.peer_client import call_peer
from gluster_mgmt.errors import OperationFailed, StoreError
from gluster_mgmt.executor import StepRegistry, StoreExecutor
from gluster_mgmt.mgmt_rpc.server import MgmtRpcServer
from gluster_mgmt.portmap import PortRegistry, brick_record
from gluster_mgmt.services import ServiceManager, load_service_manager
from gluster_mgmt.services.bricks import Reconciler
from gluster_mgmt.store import open_store
from gluster_mgmt.store.base import Lease, Store

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.uuid = node_uuid(config.state_dir)
        self.hostname = config.advertised_hostname
        self.membership: Membership | None = None
        self.store: Store | None = None
        self.lease: Lease | None = None
        self.cluster: Cluster | None = None
        self.executor: StoreExecutor | None = None
        self.ports: PortRegistry | None = None
        self.reconciler: Reconciler | None = None
        self.mgmt_backend: StoreMgmtBackend | None = None
        self.services: ServiceManager = load_service_manager(config.service_manager)
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="mgmt-rpc", daemon=True)
        self.mgmt_server: MgmtRpcServer | None = None
        #: Held while the node switches clusters, so requests never see half a switch.
        self.switching = threading.RLock()
        self.steps = StepRegistry()
        self.steps.register(BRICK_PREPARE, lambda args: prepare_local_bricks(self.uuid, args),
                            lambda args, result: unprepare_local_bricks(self.uuid, args, result))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        membership = Membership.load(self.config.state_dir)
        if membership is None:
            membership = self._new_cluster()
        elif self.config.store_url and self.config.store_url != membership.store_url:
            log.warning("keeping the store this node joined; ignoring the configured store URL")
        self._activate(membership)
        self._start_mgmt_server()

    def _start_mgmt_server(self) -> None:
        """The Gluster mgmt RPC listener (glusterd's 24007): one per daemon, whose backend
        follows the node from cluster to cluster."""
        self._loop_thread.start()
        self.mgmt_server = MgmtRpcServer(self.mgmt_backend, self.config.address, self.config.mgmt_port)
        asyncio.run_coroutine_threadsafe(self.mgmt_server.start(), self._loop).result(30)
        self.mgmt_backend.start(self.mgmt_server)

    def stop(self) -> None:
        with self.switching:
            if self.mgmt_server is not None:
                asyncio.run_coroutine_threadsafe(self.mgmt_server.close(), self._loop).result(30)
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._deactivate()
            self.services.close()

    def _new_cluster(self) -> Membership:
        """A one-node cluster of our own in the configured store (a fresh glusterd's state)."""
        membership = Membership.new(self.config.store_url or self.config.default_store_url)
        with open_store(membership.store_url) as store:
            cluster = Cluster(store, membership.cluster_id, self.uuid, executor=None)
            cluster.peers.create_cluster_record({"id": membership.cluster_id, "created": time.time()})
            store.put(cluster.keys.secret, membership.secret.encode())
        membership.save(self.config.state_dir)
        log.info("created cluster %s", membership.cluster_id)
        return membership

    def _activate(self, membership: Membership) -> None:
        store = open_store(membership.store_url)
        try:
            lease = store.lease(self.config.lease_ttl).keep_alive()
            lease.on_lost(self._lease_lost)
            executor = StoreExecutor(store, f"clusters/{membership.cluster_id}/", self.uuid,
                                     self.steps, lease=lease)
            cluster = Cluster(store, membership.cluster_id, self.uuid, executor)
            cluster.peers.register(self.uuid, self._own_hostnames(cluster))
            cluster.peers.announce(self.uuid, f"{self.hostname}:{self.config.api_port}", lease)
            executor.start()
            ports = PortRegistry(store, cluster.keys, self.uuid, lease, address=self.config.address)
            reconciler = Reconciler(store, cluster.keys, self.uuid, self.hostname, self.services,
                                    ports, self.config.run_dir, self.config.log_dir,
                                    self.config.mgmt_port)
            backend = StoreMgmtBackend(store, cluster.keys, self.uuid, ports, reconciler.specs)
            reconciler.start()
        except BaseException:
            store.close()
            raise
        self.membership, self.store, self.lease = membership, store, lease
        self.executor, self.cluster = executor, cluster
        self.ports, self.reconciler = ports, reconciler
        if self.mgmt_server is not None:  # switching clusters: the listener stays, its data moves
            self.mgmt_backend.stop()
            self.mgmt_server.backend = backend
            backend.start(self.mgmt_server)
        self.mgmt_backend = backend
        log.info("node %s active in cluster %s", self.uuid, membership.cluster_id)

    def _deactivate(self) -> None:
        if self.reconciler is not None:
            self.reconciler.stop()
        if self.executor is not None:
            self.executor.stop()
        if self.lease is not None:
            try:
                self.lease.revoke()
            except StoreError as exc:
                log.warning("could not revoke lease: %s", exc)
        if self.store is not None:
            self.store.close()
        self.store = self.lease = self.cluster = self.executor = None
        self.ports = self.reconciler = None

    def _lease_lost(self, lease: Lease) -> None:
        """The store forgot us (partition, long pause): come back with a new lease."""
        log.warning("lease lost; re-announcing this node")

        def renew() -> None:
            while self.lease is lease:
                try:
                    with self.switching:
                        if self.lease is not lease or self.store is None:
                            return
                        new = self.store.lease(self.config.lease_ttl).keep_alive()
                        new.on_lost(self._lease_lost)
                        self.cluster.peers.announce(self.uuid, f"{self.hostname}:{self.config.api_port}", new)
                        self.lease = new
                        self.executor.lease = new
                        self.ports.lease = new
                        self.reconciler.wake()
                        return
                except StoreError as exc:
                    log.warning("cannot renew lease yet: %s", exc)
                    time.sleep(1)

        threading.Thread(target=renew, name="lease-renew", daemon=True).start()

    def _own_hostnames(self, cluster: Cluster) -> tuple[str, ...]:
        entry = cluster.store.get(cluster.keys.peer(self.uuid))
        names = tuple(json.loads(entry.value)["hostnames"]) if entry else ()
        return names if self.hostname in names else names + (self.hostname,)

    def local_names(self) -> set[str]:
        names = {self.hostname, self.config.address}
        if self.config.address in ("0.0.0.0", "::", "127.0.0.1"):
            names |= {"localhost", "127.0.0.1"}
        return names

    def secret(self) -> str | None:
        return self.membership.secret if self.membership else None

    def active(self) -> Cluster:
        cluster = self.cluster
        if cluster is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        return cluster

    # ------------------------------------------------------------------ membership operations
    def peer_probe(self, host: str) -> dict[str, Any]:
        cluster = self.active()
        if host in self.local_names() or host in self._own_hostnames(cluster):
            return {"message": "Probe on localhost not needed"}
        if cluster.peers.find(host) is not None:
            return {"message": f"Host {host} port {self.config.mgmt_port} already in peer list"}
        data = call_peer(host, self.config.api_port, "cluster/join", {
            "cluster_id": self.membership.cluster_id, "store_url": self.membership.store_url,
            "secret": self.membership.secret, "hostname": host,
            "token": self.config.join_token,
        }, secret=None)
        return {"uuid": data.get("uuid"), "message": ""}

    def join(self, params: dict[str, Any]) -> dict[str, Any]:
        """Another cluster's daemon probed us: move to its store (glusterd's friend add)."""
        with self.switching:
            cluster = self.active()
            membership = Membership(params["cluster_id"], params["store_url"], params["secret"])
            if self.membership.cluster_id == membership.cluster_id:
                return {"uuid": self.uuid}
            if self.config.join_token and params.get("token") != self.config.join_token:
                raise OperationFailed("probe refused: wrong or missing join token", errno.EACCES)
            if cluster.peers.others() or cluster.volumes.names():
                raise OperationFailed(
                    f"{params.get('hostname') or self.hostname} is either already part of another "
                    "cluster or having volumes configured", errno.EEXIST)
            with open_store(membership.store_url) as store:
                probe_cluster = Cluster(store, membership.cluster_id, self.uuid, executor=None)
                stored = store.get(probe_cluster.keys.secret)
                if stored is None or stored.value.decode() != membership.secret:
                    raise OperationFailed("probe refused: the prober's cluster secret does not match "
                                          "its store", errno.EACCES)
            old = self.membership
            self._forget_own_cluster()
            self._deactivate()
            membership.save(self.config.state_dir)
            try:
                self._activate(membership)
                self.cluster.peers.add_hostname(self.uuid, params.get("hostname") or self.hostname)
            except Exception:
                log.exception("joining cluster %s failed; going back", membership.cluster_id)
                old.save(self.config.state_dir)
                self._activate(old)
                raise
            log.info("joined cluster %s", membership.cluster_id)
            return {"uuid": self.uuid}

    def _forget_own_cluster(self) -> None:
        cluster = self.cluster
        for key in (cluster.keys.peer(self.uuid), cluster.keys.info, cluster.keys.secret):
            try:
                cluster.store.delete(key)
            except StoreError:
                pass

    def peer_detach(self, host: str, force: bool = False) -> dict[str, Any]:
        cluster = self.active()
        if host in self.local_names() or host in self._own_hostnames(cluster):
            raise OperationFailed(f"{host} is localhost", errno.EINVAL)
        view = cluster.peers.find(host)
        if view is None:
            raise OperationFailed(f"{host} is not part of cluster", errno.ENOENT)
        cluster.peers.check_detachable(host, view)
        if view.connected and view.api:
            api_host, _, port = view.api.rpartition(":")
            try:
                call_peer(api_host, int(port), "cluster/leave", {"uuid": view.peer.uuid},
                          secret=self.membership.secret)
            except OperationFailed:
                if not force:
                    raise
        cluster.peers.remove(view.peer.uuid)
        return {}

    def leave(self, params: dict[str, Any]) -> dict[str, Any]:
        """We were detached: become a one-node cluster of our own again."""
        if params.get("uuid") != self.uuid:
            raise OperationFailed("detach request names another node", errno.EINVAL)
        with self.switching:
            cluster = self.active()
            cluster.store.delete(cluster.keys.alive(self.uuid))
            cluster.peers.remove(self.uuid)
            self._deactivate()
            self._activate(self._new_cluster())
        return {}

    # ------------------------------------------------------------------ runtime and import
    def brick_runtime(self, volume) -> dict[str, dict[str, Any]]:
        """Port, pid and liveness of each brick by brick uuid.

        Bricks of other nodes: their port records (the ports are signed in by pid) say it."""
        status = self.reconciler.brick_status(volume)
        for brick in volume.bricks:
            if brick.uuid not in status or brick.host_uuid != self.uuid:
                record = brick_record(self.store, self.cluster.keys, brick.host_uuid, brick.path)
                online = bool(record and record.get("pid"))
                status[brick.uuid] = {"port": record.get("port") if online else None, "rdma_port": 0,
                                      "online": online, "pid": record.get("pid") if online else None}
        return status

    def self_heal_runtime(self, volume) -> list[dict[str, Any]]:
        return self.reconciler.shd_status(volume)

    def import_state(self, path: str) -> dict[str, Any]:
        from gluster_mgmt.glusterd_import import import_state

        try:
            state = import_state(path)
        except OSError as exc:
            raise OperationFailed(f"cannot read glusterd state {path}: {exc.strerror}",
                                  exc.errno or errno.EIO) from exc
        return self.active().import_glusterd(state)
