"""One node's daemon: it composes the node's components on its cluster's store and moves
them when the node changes clusters (cluster.peer_operations decides when).

Threads: the mgmt RPC event loop (24007), the executor's agent and recoverer, the volfile
cache's follow, the reconciler and its follow, the lease keep-alive; the REST servers
(daemon.main) call in from their own threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gluster_mgmt.cluster import Cluster
from gluster_mgmt.cluster.brick_directory import (
    check_local_bricks_startable,
    prepare_local_bricks,
    unprepare_local_bricks,
)
from gluster_mgmt.cluster.brick_dump import BrickDump, StatusDaemon, daemon_not_running
from gluster_mgmt.cluster.brick_filesystem import BrickFilesystem, InodeSizes, brick_filesystem
from gluster_mgmt.cluster.heal import SHD_XLATOR_OP
from gluster_mgmt.cluster.log_rotate import LOG_ROTATE_STEP
from gluster_mgmt.cluster.reset_brick import RESTART_SERVICES
from gluster_mgmt.cluster.volumes import BRICK_PREPARE, BRICK_START_CHECK
from gluster_mgmt.daemon.cli_backend import CliBackend
from gluster_mgmt.daemon.config import DaemonConfig
from gluster_mgmt.daemon.last_known import StoreHealth, StoreProbe
from gluster_mgmt.daemon.mgmt_backend import StoreMgmtBackend
from gluster_mgmt.errors import IdentityError, OperationFailed, ValidationError
from gluster_mgmt.executor import StepRegistry, StoreExecutor
from gluster_mgmt.membership.identity import Membership, NodeIdentity
from gluster_mgmt.cluster.peer_operations import (
    PeerOperations,
    create_cluster,
    own_hostnames,
)
from gluster_mgmt.membership.peer_calls import call_peer
from gluster_mgmt.membership.session import NodeSession
from gluster_mgmt.mgmt_rpc.cli_program import TCP_PROCEDURES, cli_routes
from gluster_mgmt.mgmt_rpc.glusterd_peer import glusterd_peer_programs
from gluster_mgmt.mgmt_rpc.programs import (
    DEFAULT_PROGRAMS,
    PROGRAM_VERSIONS,
    ProgDetail,
    Program,
)
from gluster_mgmt.mgmt_rpc.server import ConnectionLimits, MgmtRpcServer, Route
from gluster_mgmt.mgmt_rpc.tls import management_tls_context
from gluster_mgmt.model import VolumeStatus, VolumeType
from gluster_mgmt.rules import LOCALHOST_NAMES
from gluster_mgmt.portmap import PortRegistry
from gluster_mgmt.rules import MGMT_PORT
from gluster_mgmt.services import ServiceManager, load_service_manager
from gluster_mgmt.services import self_heal
from gluster_mgmt.services.quota import QUOTAD_STATUS_NAME
from gluster_mgmt.services.brick_dump import BRICK_STATUS_TIMEOUT, brick_dump, daemon_dump
from gluster_mgmt.services.log_rotate import rotate_local_logs
from gluster_mgmt.services.brick_diagnostics import LocalBrickSteps
from gluster_mgmt.services.reconciler import Reconciler
from gluster_mgmt.volgen import quota_enabled
from gluster_mgmt.store import open_store
from gluster_mgmt.store.base import Store
from gluster_mgmt.store.lock import release_stale_locks

if TYPE_CHECKING:
    from gluster_mgmt.daemon.rest import Api

log = logging.getLogger(__name__)

#: what DUMP lists on glusterd's CLI socket besides the mgmt programs
CLI_PROGRAM = ProgDetail("GlusterD svc cli", Program.CLI, PROGRAM_VERSIONS[Program.CLI])
#: and on 24007, where only the :data:`TCP_PROCEDURES` of that program are served
CLI_TCP_PROGRAM = ProgDetail("GlusterD svc cli read-only", Program.CLI, PROGRAM_VERSIONS[Program.CLI])


def _log_cli_error(proc: Any, exc: BaseException) -> None:
    log.error("GLUSTER_CLI %s failed", proc.name, exc_info=exc)


#: How long `volume status` waits for a brick of another node to accept a connection.
BRICK_PROBE_TIMEOUT = 1.0
#: How long `volume status` waits for another node's daemon to report its self-heal daemon.
PEER_STATUS_TIMEOUT = 2.0


def accepts(host: str, port: int, timeout: float) -> bool:
    """Whether a brick at ``host:port`` accepts connections: whether it serves, whatever
    the store says of it."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Daemon:
    """``services`` and ``store_opener`` default to the configured service manager plugin
    and the store plugins; a benchmark passes a manager that starts no process and a store
    that counts its reads and writes (benchmarks/scale.py)."""

    def __init__(self, config: DaemonConfig, *, services: ServiceManager | None = None,
                 store_opener: Callable[[str], Store] = open_store) -> None:
        self.config = config
        self._open_store = store_opener
        self.identity = NodeIdentity.load_or_create(config.glusterd_dir, config.state_dir)
        self.uuid = self.identity.uuid
        self.hostname = config.advertised_hostname
        self.membership: Membership | None = None
        self.store: Store | None = None
        self.session: NodeSession | None = None
        self.cluster: Cluster | None = None
        self.executor: StoreExecutor | None = None
        self.ports: PortRegistry | None = None
        self.reconciler: Reconciler | None = None
        self.mgmt_backend: StoreMgmtBackend | None = None
        #: Since when the store fails to answer this node (reads go stale, changes refused).
        self.health = StoreHealth()
        self.probe: StoreProbe | None = None
        self.services: ServiceManager = (services if services is not None
                                         else load_service_manager(config.service_manager))
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="mgmt-rpc", daemon=True)
        self.mgmt_server: MgmtRpcServer | None = None
        self.cli_server: MgmtRpcServer | None = None  # glusterd's CLI socket (serve_cli)
        #: Held while the node switches clusters, so requests never see half a switch.
        self.switching = threading.RLock()
        #: the REST API's TLS (``api_tls_*``): the TCP server's context and the one for
        #: calls to peers; both None for plain HTTP
        self.api_server_tls: ssl.SSLContext | None = None
        self.peer_tls: ssl.SSLContext | None = None
        self.peer_operations = PeerOperations(self)
        #: the inode sizes of this node's brick file systems, once their tool told them
        self.inode_sizes = InodeSizes()
        self.steps = StepRegistry()
        self.steps.register(BRICK_PREPARE, lambda args: prepare_local_bricks(self.uuid, args),
                            lambda args, result: unprepare_local_bricks(self.uuid, args, result))
        self.steps.register(BRICK_START_CHECK,
                            lambda args: check_local_bricks_startable(self.uuid, args))
        self.steps.register(SHD_XLATOR_OP, self._shd_xlator_op)
        self.steps.register(RESTART_SERVICES, self._restart_services)
        self.steps.register(LOG_ROTATE_STEP, lambda args: rotate_local_logs(
            self.reconciler.specs, self.known().volumes.info(args["volume"])[0], args))
        LocalBrickSteps(self.uuid, lambda: self.reconciler,
                        lambda name: self.known().volumes.info(name)[0],
                        lambda: self.mgmt_server).register(self.steps)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        mgmt_tls = self._management_tls()  # unusable certificates: fail before touching the store
        self._rest_api_tls()
        membership = Membership.load(self.config.state_dir)
        if membership is None:
            membership = create_cluster(self.config.store_url or self.config.default_store_url,
                                        self.config.state_dir)
        elif self.config.store_url and self.config.store_url != membership.store_url:
            log.warning("keeping the store this node joined; ignoring the configured store URL")
        self.activate(membership, restarted=True)
        self._start_mgmt_server(mgmt_tls)

    def _management_tls(self) -> ssl.SSLContext | None:
        """glusterd's switch, read once at start as glusterd does: TLS on 24007 when the
        secure-access file exists. The processes we launch find the file themselves."""
        c = self.config
        context = management_tls_context(c.secure_access, c.mgmt_tls_cert, c.mgmt_tls_key,
                                         c.mgmt_tls_ca)
        if context is not None and c.mgmt_port != MGMT_PORT:
            log.warning("management TLS with mgmt port %d: stock clients use TLS for portmap "
                        "lookups only on port %d, so theirs will fail", c.mgmt_port, MGMT_PORT)
        return context

    def _rest_api_tls(self) -> None:
        """Mutual TLS on the peer REST API when the ``api_tls_*`` settings are given; an
        unusable file refuses the start (OSError naming it), never falls back to plain."""
        try:
            files = self.config.api_tls
        except ValueError as exc:
            raise OSError(str(exc)) from None
        if files is None:
            return
        self.api_server_tls = files.server_context()
        self.peer_tls = files.client_context()
        log.info("REST API TLS on: certificate %s, CA %s (client certificates required)",
                 files.cert, files.ca)

    def _start_mgmt_server(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """The Gluster mgmt RPC listener (glusterd's 24007): one per daemon, whose backend
        follows the node from cluster to cluster."""
        self._loop_thread.start()
        c = self.config
        limits = ConnectionLimits(max_connections=c.mgmt_max_connections,
                                  max_per_host=c.mgmt_max_connections_per_host,
                                  idle_timeout=c.mgmt_idle_timeout, max_buffered=c.mgmt_max_buffered)
        self.mgmt_server = MgmtRpcServer(self.mgmt_backend, c.address, c.mgmt_port, limits=limits,
                                         ssl_context=ssl_context)
        # glusterd peers of a half taken-over cluster: their configuration changes refused
        for detail, routes in glusterd_peer_programs(Route, self.uuid, c.address):
            self.mgmt_server.add_program(detail, routes)
        asyncio.run_coroutine_threadsafe(self.mgmt_server.start(), self._loop).result(30)
        self.mgmt_backend.start(self.mgmt_server)

    def serve_cli(self, api: "Api") -> None:
        """glusterd's CLI program, answered through ``api``'s routes: its read-only part on
        24007 (`gluster --remote-host`, over management TLS when that is on), all of it on
        glusterd's CLI socket, plus DUMP/GETSPEC/PORTMAP as on 24007. A socket that cannot
        be bound (another daemon's) is logged, not fatal: the REST API and 24007 still serve."""
        backend = CliBackend(self, api)
        if self.mgmt_server is not None:
            self.mgmt_server.add_program(CLI_TCP_PROGRAM, cli_routes(
                Route, lambda conn: backend, _log_cli_error, TCP_PROCEDURES))
        path = self.config.glusterd_socket
        if not path:
            return
        server = MgmtRpcServer(
            backend, unix_path=path, programs=(*DEFAULT_PROGRAMS, CLI_PROGRAM),
            extra_routes=cli_routes(Route, lambda conn: conn.server.backend, _log_cli_error),
            extra_versions={Program.CLI: PROGRAM_VERSIONS[Program.CLI]})
        try:
            asyncio.run_coroutine_threadsafe(server.start(), self._loop).result(30)
        except OSError as exc:
            log.error("not serving glusterd's CLI socket %s: %s", path, exc)
            return
        self.cli_server = server

    def stop(self) -> None:
        with self.switching:
            if self.cli_server is not None:
                asyncio.run_coroutine_threadsafe(self.cli_server.close(), self._loop).result(30)
            if self.mgmt_server is not None:
                asyncio.run_coroutine_threadsafe(self.mgmt_server.close(), self._loop).result(30)
                self._loop.call_soon_threadsafe(self._loop.stop)
            self.deactivate()
            self.services.close()

    def activate(self, membership: Membership, restarted: bool = False) -> None:
        """Compose the node's components on ``membership``'s store and start them.
        ``restarted``: the process just started, so whatever this node held in the store
        under another lease belongs to a dead earlier process and is released at once."""
        store = self._open_store(membership.store_url)
        session = None
        try:
            cluster = Cluster(store, membership.cluster_id, self.uuid, executor=None)
            cluster.peers.register(self.uuid, own_hostnames(cluster, self.uuid, self.hostname))
            session = NodeSession(store, cluster.peers, self.uuid,
                                  f"{self.hostname}:{self.config.api_port}", self.config.lease_ttl,
                                  on_renewed=self._lease_renewed).open()
            executor = StoreExecutor(store, cluster.keys.prefix, self.uuid, self.steps,
                                     lease=session.current)
            cluster.executor = executor
            if restarted:
                self._release_earlier_life(store, executor, session)
            executor.start()
            ports = PortRegistry(store, cluster.keys, self.uuid, session.current,
                                 address=self.config.address)
            reconciler = Reconciler(store, cluster.keys, self.uuid, self.hostname, self.services,
                                    ports, self.config.run_dir, self.config.log_dir,
                                    self.config.mgmt_port, lease=session.current,
                                    follow_volumes=False, glusterd_dir=self.config.glusterd_dir,
                                    decoded=cluster.volumes.decoded)
            # one follow of volumes/ per node: the volfile follower's, which tells the
            # reconciler, and one decode of each record for both and the Cluster API's reads
            backend = StoreMgmtBackend(store, cluster.keys, self.uuid, ports, reconciler.specs,
                                       self.health, on_volumes=reconciler.volumes_changed,
                                       decoded=reconciler.decoded)
            reconciler.start()
            probe = StoreProbe(store, cluster.keys, self.health).start()
        except BaseException:
            if session is not None:
                session.close()
            store.close()
            raise
        self.membership, self.store, self.session = membership, store, session
        self.executor, self.cluster = executor, cluster
        self.ports, self.reconciler, self.probe = ports, reconciler, probe
        if self.mgmt_server is not None:  # switching clusters: the listener stays, its data moves
            self.mgmt_backend.stop()
            self.mgmt_server.backend = backend
            backend.start(self.mgmt_server)
        self.mgmt_backend = backend
        log.info("node %s active in cluster %s", self.uuid, membership.cluster_id)

    def _release_earlier_life(self, store: Store, executor: StoreExecutor,
                              session: NodeSession) -> None:
        """A daemon killed mid-operation left locks and driver keys bound to its dead lease:
        release them now (the recoverer then rolls its transactions back at once) rather than
        block those volumes until the dead lease expires."""
        lease = session.current()
        live = lease.id if lease is not None else None
        locks = release_stale_locks(store, self.uuid, frozenset({live} - {None}))
        txns = executor.release_earlier_life(live)
        if locks or txns:
            log.warning("released what this node held before it restarted: locks %s, "
                        "transactions %s", sorted(locks), sorted(txns))

    def deactivate(self) -> None:
        """Stop the node's components and leave the store (bricks keep running)."""
        if self.probe is not None:
            self.probe.stop()
        if self.mgmt_backend is not None:
            self.mgmt_backend.stop()  # its follows, before their store closes (the cache stays)
        if self.reconciler is not None:
            self.reconciler.stop()
        if self.executor is not None:
            self.executor.stop()
        if self.session is not None:
            self.session.close()
        if self.store is not None:
            self.store.close()
        self.store = self.session = self.cluster = self.executor = None
        self.ports = self.reconciler = self.probe = None

    def _lease_renewed(self) -> None:
        """Records bound to the lost lease are gone: the reconciler writes its ports again."""
        reconciler = self.reconciler
        if reconciler is not None:
            reconciler.wake()

    def local_names(self) -> set[str]:
        names = {self.hostname, self.config.address}
        if self.config.address in ("0.0.0.0", "::", *LOCALHOST_NAMES):
            names |= LOCALHOST_NAMES
        return names

    def confirm_store(self) -> bool:
        """Whether the store answers now (quickly): a change's precondition."""
        probe = self.probe
        return probe.confirm() if probe is not None else True

    def secret(self) -> str | None:
        return self.membership.secret if self.membership else None

    def active(self) -> Cluster:
        cluster = self.cluster
        if cluster is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        return cluster

    # ------------------------------------------------------------------ runtime and import
    def brick_runtime(self, volume) -> dict[str, dict[str, Any]]:
        """Port, pid and liveness of each brick by brick uuid.

        This node's bricks: their processes say it. Other nodes' bricks: their port record
        (signed in by pid) as last seen; a record its host's lease took away (the daemon
        there is dead or cut off) still counts when the brick itself accepts connections."""
        status = self.reconciler.brick_status(volume)
        known = self.mgmt_backend.last_known
        for brick in volume.bricks:
            if brick.uuid in status and brick.host_uuid == self.uuid:
                continue
            record = known.port_record(brick.host_uuid, brick.path)
            online = bool(record and record.get("pid"))
            if not online:
                record = known.last_port(brick.host_uuid, brick.path)
                online = bool(record and record.get("pid")) and accepts(
                    brick.hostname, record["port"], BRICK_PROBE_TIMEOUT)
            status[brick.uuid] = {"port": record.get("port") if online else None, "rdma_port": 0,
                                  "online": online, "pid": record.get("pid") if online else None}
        return status

    def self_heal_runtime(self, volume) -> list[dict[str, Any]]:
        """Every node's self-heal daemon, as glusterd lists them: this node's from its
        process, the others' from their daemons (not answering: listed offline)."""
        if volume.type not in (VolumeType.REPLICATE, VolumeType.DISPERSE):
            return []
        own = self.reconciler.shd_status(volume)
        result = list(own)
        names = {b.host_uuid: b.hostname for b in volume.bricks}
        replies = self._ask_brick_hosts(volume, "volume/self-heal-local")
        for host_uuid, hostname in names.items():
            if host_uuid == self.uuid:
                continue
            shd = {"name": "Self-heal Daemon", "host_uuid": host_uuid, "hostname": hostname,
                   "port": None, "rdma_port": 0, "online": False, "pid": None}
            shd.update(next(iter((replies.get(host_uuid) or {}).get("self_heal", [])), {}))
            result.append(shd)
        return result

    def other_services(self, volume) -> list[dict[str, Any]]:
        """`volume status`'s lines after the bricks, node by node as glusterd gathers them
        (this node first): its self-heal daemon, then its quotad while the volume has quota
        on (glusterd runs quotad on every node, bricks or not; a node that does not answer
        is listed offline)."""
        shds = self.self_heal_runtime(volume)
        if not quota_enabled(volume) or volume.status is not VolumeStatus.STARTED:
            return shds
        peers = {v.peer.uuid: (v.peer.hostnames or (v.peer.uuid,))[0]
                 for v in self.known().peers.all()}
        order = list(dict.fromkeys([self.uuid, *(s["host_uuid"] for s in shds), *peers]))
        replies = self._ask_peers(volume, "volume/quotad-local", [u for u in order
                                                                  if u != self.uuid])
        result = []
        for host_uuid in order:
            result += [s for s in shds if s["host_uuid"] == host_uuid]
            if host_uuid == self.uuid:
                result.append(self.reconciler.quota.runtime(self.uuid, self.hostname))
                continue
            quotad = {"name": QUOTAD_STATUS_NAME, "host_uuid": host_uuid,
                      "hostname": peers.get(host_uuid, host_uuid), "port": None,
                      "rdma_port": 0, "online": False, "pid": None}
            quotad.update((replies.get(host_uuid) or {}).get("quotad") or {})
            result.append(quotad)
        return result

    def local_quotad(self) -> dict[str, Any]:
        """This node's quotad (what a peer's `volume status` asks)."""
        return self.reconciler.quota.runtime(self.uuid, self.hostname)

    def _restart_services(self, args: dict[str, Any]) -> int:
        """`reset-brick ... commit`'s step on this node: its quotad and self-heal graph of
        the volume restarted, as glusterd restarts them."""
        reconciler = self.reconciler
        if reconciler is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        return reconciler.restart_services(str(args["volume"]))

    def _shd_xlator_op(self, args: dict[str, Any]) -> dict[str, Any]:
        """`volume heal`'s step on this node: ask this node's self-heal daemon."""
        reconciler = self.reconciler
        if reconciler is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        return self_heal.xlator_op(reconciler.shd.socket, self.uuid, args)

    def local_self_heal(self, name: str) -> list[dict[str, Any]]:
        """This node's self-heal daemon of volume ``name`` (what a peer's status asks)."""
        volume = self.known().volumes.info(name)[0]
        return self.reconciler.shd_status(volume)

    def brick_filesystems(self, volume) -> dict[str, dict[str, Any]]:
        """`volume status detail`'s facts of each brick by brick uuid, each from the node
        that hosts the brick (a node that does not answer: its bricks' facts are unknown)."""
        replies = self._ask_brick_hosts(volume, "volume/brick-filesystems-local")
        facts: dict[str, dict[str, Any]] = {}
        for brick in volume.bricks:
            if brick.host_uuid == self.uuid:
                facts[brick.uuid] = brick_filesystem(brick.path, self.inode_sizes).to_dict()
            else:
                found = ((replies.get(brick.host_uuid) or {}).get("bricks") or {}).get(brick.path)
                if isinstance(found, dict):
                    facts[brick.uuid] = BrickFilesystem.from_dict(found).to_dict()
        return facts

    def local_brick_filesystems(self, name: str) -> dict[str, dict[str, Any]]:
        """The facts of this node's bricks of volume ``name``, by path (what a peer's
        `volume status detail` asks): never another node's brick path."""
        volume = self.known().volumes.info(name)[0]
        return {b.path: brick_filesystem(b.path, self.inode_sizes).to_dict()
                for b in volume.bricks if b.host_uuid == self.uuid}

    def brick_dumps(self, volume, kind: BrickDump, bricks) -> dict[str, list[list[str]]]:
        """`volume status ... clients|fd|...`: each of ``bricks``' answer by brick uuid, each
        asked on its own host (a brick or node that does not answer has none)."""
        replies = self._ask_brick_hosts(volume, "volume/brick-dump-local", bricks,
                                        {"kind": kind.word, "paths": [b.path for b in bricks]},
                                        BRICK_STATUS_TIMEOUT + PEER_STATUS_TIMEOUT)
        answers: dict[str, list[list[str]]] = {}
        for brick in bricks:
            if brick.host_uuid == self.uuid:
                try:
                    answers[brick.uuid] = brick_dump(self.reconciler.specs, volume.name, brick, kind)
                except OperationFailed as exc:
                    log.info("status %s of %s: %s", kind.word, brick.path, exc)
                continue
            found = ((replies.get(brick.host_uuid) or {}).get("bricks") or {}).get(brick.path)
            if isinstance(found, list):
                answers[brick.uuid] = found
        return answers

    def daemon_dump(self, volume, daemon: StatusDaemon, kind: BrickDump) -> dict[str, Any]:
        """`volume status VOL shd|quotad WHAT`: this node's daemon and its answer, as
        glusterd asks it (the node taking the command only: ``glusterd_bricks_select_status
        _volume`` picks its own daemon); glusterd names it by this node's uuid."""
        reconciler = self.reconciler
        if daemon is StatusDaemon.SHD:
            process = next(iter(reconciler.shd_status(volume)), None)
            socket = reconciler.shd.socket
        else:
            process = reconciler.quota.runtime(self.uuid, self.hostname)
            socket = reconciler.quota.specs.socket()
        if process is None or not process.get("online"):
            raise daemon_not_running(daemon)
        op_errstr, pairs = daemon_dump(socket, volume.name, daemon, kind)
        return {**process, "hostname": self.uuid, "dump": pairs, "op_errstr": op_errstr}

    def local_brick_dumps(self, name: str, kind: str, paths: list[str]) -> dict[str, list[list[str]]]:
        """This node's bricks' answers by path (what a peer's `volume status ... clients`
        asks): never another node's brick."""
        volume = self.known().volumes.info(name)[0]
        answers = {}
        for brick in volume.bricks:
            if brick.host_uuid == self.uuid and brick.path in paths:
                try:
                    answers[brick.path] = brick_dump(self.reconciler.specs, name, brick,
                                                     BrickDump.from_word(kind))
                except OperationFailed as exc:
                    log.info("status %s of %s: %s", kind, brick.path, exc)
        return answers

    def _ask_brick_hosts(self, volume, route: str, bricks=None,
                         params: dict[str, Any] | None = None,
                         timeout: float = PEER_STATUS_TIMEOUT) -> dict[str, dict[str, Any] | None]:
        """``route`` of each other node hosting one of ``bricks`` (all of ``volume``'s by
        default), by node uuid (None: not connected or no answer within ``timeout``)."""
        hosts = [b.host_uuid for b in (volume.bricks if bricks is None else bricks)]
        return self._ask_peers(volume, route, hosts, params, timeout)

    def _ask_peers(self, volume, route: str, nodes, params: dict[str, Any] | None = None,
                   timeout: float = PEER_STATUS_TIMEOUT) -> dict[str, dict[str, Any] | None]:
        """``route`` of each other node of ``nodes``, by node uuid (as _ask_brick_hosts)."""
        peers = self.known().peers.all()
        apis = {v.peer.uuid: v.api for v in peers}
        names = {v.peer.uuid: (v.peer.hostnames or (v.peer.uuid,))[0] for v in peers}
        replies: dict[str, dict[str, Any] | None] = {}
        for host_uuid in dict.fromkeys(nodes):
            hostname = names.get(host_uuid, host_uuid)
            if host_uuid == self.uuid:
                continue
            replies[host_uuid] = None
            api = apis.get(host_uuid)
            if not api:
                continue
            host, _, port = api.rpartition(":")
            try:
                replies[host_uuid] = call_peer(host, int(port), route,
                                               {"name": volume.name, **(params or {})},
                                               self.secret(), timeout=timeout)
            except (OperationFailed, ValueError) as exc:
                log.info("%s of %s: no answer (%s)", route, hostname, exc)
        return replies

    def known(self) -> Cluster:
        """The cluster as this node last saw it (reads during a store outage)."""
        self.active()
        return Cluster(self.mgmt_backend.last_known, self.membership.cluster_id, self.uuid,
                       executor=None)

    def export_state(self, path: str) -> dict[str, Any]:
        """Write this node's glusterd 10.3 state directory at ``path`` (the hand-back): from
        the store, never from a stale copy, with the ports this node's bricks run on."""
        from gluster_mgmt.glusterd_export import NodeExport, state_files, write_state
        from gluster_mgmt.portmap import port_by_brick

        cluster = self.active()
        volumes = cluster.volumes.all()
        ports = {}
        for volume in volumes:
            for brick in volume.bricks:
                if brick.host_uuid == self.uuid:
                    port = port_by_brick(cluster.store, cluster.keys, self.uuid, brick.path)
                    if port:
                        ports[brick.path] = port
        export = NodeExport(node=self.identity, peers=[v.peer for v in cluster.peers.all()],
                            volumes=volumes, brick_ports=ports)
        try:
            written = write_state(path, state_files(export), self.uuid)
        except OSError as exc:
            raise OperationFailed(f"cannot write glusterd state {path}: {exc.strerror}",
                                  exc.errno or errno.EIO) from exc
        return {"path": path, "files": len(written), "volumes": [v.name for v in volumes],
                "peers": [p.uuid for p in export.peers if p.uuid != self.uuid]}

    def import_state(self, path: str) -> dict[str, Any]:
        from gluster_mgmt.glusterd_import import import_state

        try:
            state = import_state(path)
        except OSError as exc:
            raise OperationFailed(f"cannot read glusterd state {path}: {exc.strerror}",
                                  exc.errno or errno.EIO) from exc
        except (IdentityError, ValidationError) as exc:
            raise OperationFailed(f"cannot import glusterd state {path}: {exc}",
                                  errno.EINVAL) from exc
        if state.node_uuid != self.uuid:
            raise OperationFailed(
                f"{path} is the state of glusterd node {state.node_uuid}, this node is "
                f"{self.uuid}: import a node's glusterd state on that node (gluster-mgmtd "
                "takes its UUID from --glusterd-dir's glusterd.info); the other nodes join "
                "by peer probe", errno.EINVAL)
        return self.active().import_glusterd(state)
