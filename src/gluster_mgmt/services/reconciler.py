"""Brick processes and self-heal daemons of one node, converged towards the store.

Command lines are glusterd 10.3's (see tests/data/glusterd-10.3/cli/process-command-lines.txt),
so operators, monitoring and scripts find the same processes, pidfiles, sockets and logs:

    glusterfsd -s HOST --volfile-id VOL.HOST.EXP -p RUNDIR/vols/VOL/HOST-EXP.pid
        -S RUNDIR/<hash>.socket --brick-name PATH -l LOGDIR/bricks/EXP.log
        --xlator-option *-posix.glusterd-uuid=UUID --process-name brick
        --brick-port PORT --xlator-option VOL-server.listen-port=PORT
    glusterfs -s HOST --volfile-id shd/VOL -p RUNDIR/shd/VOL/VOL-shd.pid
        -l LOGDIR/glustershd.log -S RUNDIR/<hash>.socket
        --xlator-option *replicate*.node-uuid=UUID --process-name glustershd --client-pid=-6

(``EXP`` is the brick path without its leading '/' and with '/' as '-'.) Both fetch their
volfile from our mgmt RPC server; ``--volfile-server-port`` is added when it does not listen
on glusterd's 24007.

Self-heal daemon: one process per node, as glusterd 10.3 runs it, started with the command
line of the first volume that needs it; the graphs of further volumes are attached to it over
its ``-S`` socket (services.self_heal_daemon).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from gluster_mgmt.cluster.brick_directory import make_servable
from gluster_mgmt.cluster.migration_progress import MigrationRecords
from gluster_mgmt.cluster.service_report import ServiceReport
from gluster_mgmt.cluster.volumes import DecodedVolumes, decode_volume
from gluster_mgmt.errors import GlusterMgmtError, StoreError
from gluster_mgmt.model import Brick, Volume, VolumeStatus, VolumeType
from gluster_mgmt.portmap import PortRegistry
from gluster_mgmt.rules import MGMT_PORT
from gluster_mgmt.services import ServiceManager, ServiceSpec
from gluster_mgmt.services.process_specs import (
    DEFAULT_LOG_DIR,
    DEFAULT_RUN_DIR,
    GLUSTERFS,
    GLUSTERFSD,
    BrickSpecs,
    brick_port_in,
)
from gluster_mgmt.services.quota import QuotadSpecs, QuotaFiles, QuotaNode
from gluster_mgmt.services.rebalance import POLL_INTERVAL as MIGRATION_POLL
from gluster_mgmt.services.rebalance import MigrationRunner, RebalanceSpecs
from gluster_mgmt.services.self_heal_daemon import SelfHealDaemon
from gluster_mgmt.store.base import LeaseSource, Store
from gluster_mgmt.store.follow import Follow, Update
from gluster_mgmt.store.keys import ClusterKeys
from gluster_mgmt.volgen import quota_enabled

log = logging.getLogger(__name__)

#: Seconds between full passes (the watch makes most passes happen sooner).
RECONCILE_INTERVAL = 10.0
#: bricks of one pass launched at once (each launch is a thread waiting on glusterfsd)
MAX_PARALLEL_STARTS = 8


@attrs.define
class _Running:
    kind: str  # "brick"
    volume: str
    volume_uuid: str
    brick: Brick | None = None
    port: int | None = None
    spec: ServiceSpec | None = None


def _entries(directory: str) -> frozenset[str]:
    """The names in ``directory`` (none when it does not exist)."""
    try:
        return frozenset(os.listdir(directory))
    except OSError:
        return frozenset()


class Reconciler:
    """Converges this node's brick and self-heal processes towards the store.

    Bricks of Started volumes hosted here run; bricks of stopped or deleted volumes, and
    removed bricks, are stopped and their ports released; a replicate/disperse volume with a
    brick here gets a self-heal daemon while started, and a rebalance process while a brick
    here is being emptied (services.rebalance); the node's one self-heal daemon serves
    them all (services.self_heal_daemon). A watch on the volumes prefix wakes a
    pass on every change; a periodic pass heals anything missed, and the first pass after a
    daemon restart re-adopts the processes still running (keeping their ports).
    """

    def __init__(self, store: Store, keys: ClusterKeys, node_uuid: str, hostname: str,
                 service_manager: ServiceManager, ports: PortRegistry,
                 run_dir: str = DEFAULT_RUN_DIR, log_dir: str = DEFAULT_LOG_DIR,
                 mgmt_port: int = MGMT_PORT, *, interval: float = RECONCILE_INTERVAL,
                 shd_server: str | None = None, glusterfsd: str = GLUSTERFSD,
                 glusterfs: str = GLUSTERFS, lease: LeaseSource | None = None,
                 follow_volumes: bool = True, glusterd_dir: str | None = None,
                 decoded: DecodedVolumes | None = None) -> None:
        """``follow_volumes``: watch ``volumes/`` itself; False when the owner already follows
        it and hands each change to ``volumes_changed`` (the daemon's volfile follower).
        ``glusterd_dir``: where glusterd's quota.conf files go (None: nowhere).
        ``decoded``: volume records decoded once per revision, shared with that follower."""
        self.store = store
        self.keys = keys
        self.node_uuid = node_uuid
        self.hostname = hostname
        self.services = service_manager
        self.ports = ports
        self.specs = BrickSpecs(node_uuid, run_dir, log_dir, mgmt_port, glusterfsd, glusterfs)
        self.interval = interval
        #: Where the self-heal and rebalance processes fetch their volfiles (glusterd uses
        #: "localhost"; our daemon may listen on one address only, so its hostname by default).
        self.shd_server = shd_server or hostname
        self.migrations = MigrationRunner(
            MigrationRecords(store, keys), service_manager, node_uuid, self.shd_server,
            RebalanceSpecs(run_dir, log_dir, mgmt_port, glusterfs))
        #: quotad and the quota files (services.quota)
        self.quota = QuotaNode(service_manager,
                               QuotadSpecs(node_uuid, run_dir, log_dir, mgmt_port, glusterfs),
                               self.shd_server, QuotaFiles(glusterd_dir) if glusterd_dir else None)
        self.shd = SelfHealDaemon(self.specs, service_manager, self.shd_server)
        #: True while a rebalance process runs here: passes come every POLL_INTERVAL.
        self._migrating = False
        self._running: dict[str, _Running] = {}
        self._errors: dict[str, str] = {}
        self._pass_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Wakes a pass on every change of the volumes (the state at each listing included);
        #: the pass acts on the follow's entries, so a change costs this node the change's
        #: bytes, not a listing of every volume (benchmarks/scale.py).
        self._volumes = (Follow(store, keys.volumes, self.volumes_changed, name="reconciler-watch")
                         if follow_volumes else None)
        self._latest: Update | None = None
        self.decoded = decoded or DecodedVolumes()
        #: the volumes the last pass acted on, by key
        self._acted: dict[str, Volume] = {}
        #: Revision of the volumes listing the last pass acted on.
        self.revision = 0
        #: The node's lease, which the service report is bound to.
        self.lease = lease
        #: The report last written, and under which lease id.
        self._reported: tuple[ServiceReport, int | None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._wake.set()
        thread = threading.Thread(target=self._work_loop, name="reconciler", daemon=True)
        thread.start()
        self._threads.append(thread)
        if self._volumes is not None:
            self._volumes.start()

    def stop(self, stop_services: bool = False) -> None:
        """Stop reconciling. Processes keep running (a restarted daemon re-adopts them)
        unless ``stop_services``."""
        self._stop.set()
        self._wake.set()
        if self._volumes is not None:
            self._volumes.stop()
        for thread in self._threads:
            thread.join(30)
        self._threads = []
        if stop_services:
            with self._pass_lock:
                for name in list(self._running):
                    self._stop_service(name)
                self.shd.stop({})
                self.migrations.stop_all()
                self.quota.stop()

    def volumes_changed(self, update: Update) -> None:
        """The volumes changed (``update``: all of them now): a pass soon, on that state,
        unless the change cannot concern this node (see ``concerns_node``): of 100 nodes,
        a `volume set` concerns the 3 with its bricks, and a pass of each of the others
        (listing its port records, sweeping pidfiles) is CPU the change waits for. The
        timed pass still runs every ``interval``."""
        self._latest = update
        if update.relisted or self._concerns_node(update):
            self._wake.set()

    def _concerns_node(self, update: Update) -> bool:
        """Whether a changed or removed volume, as the last pass saw it or as it is now,
        has a brick here or quota on (quotad and quota.conf are on every node)."""
        for key in (*update.changed, *update.removed):
            versions = [self._acted.get(key)]
            entry = update.entries.get(key)
            if entry is not None:
                try:
                    versions.append(self.decoded.of(entry))
                except Exception:  # noqa: BLE001 (the pass logs a record it cannot decode)
                    return True
            if any(v is not None and self.concerns_node(v) for v in versions):
                return True
        return False

    def concerns_node(self, volume: Volume) -> bool:
        """Whether this node runs anything for ``volume``, or may: bricks, self-heal and
        rebalance processes are for volumes with a brick here; quotad and quota.conf for
        every volume with quota on."""
        return quota_enabled(volume) or any(b.host_uuid == self.node_uuid for b in volume.bricks)

    def wake(self) -> None:
        """Ask for a pass soon (e.g. after a SIGNOUT or a lease renewal)."""
        self._wake.set()

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(MIGRATION_POLL if self._migrating else self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            latest = self._latest
            try:
                # woken by a change: the follow's state; a timed pass (the safety net) lists
                self.reconcile_once(latest if woken and latest is not None
                                    and latest.revision >= self.revision else None)
            except StoreError as exc:
                log.warning("reconcile pass failed (store): %s", exc)
                self._stop.wait(1.0)
            except Exception:
                log.exception("reconcile pass failed")
                self._stop.wait(1.0)

    # ------------------------------------------------------------------ one pass
    def desired(self, volumes: Iterable[Volume]) -> dict[str, _Running]:
        """Bricks this node should run for ``volumes``, by service name."""
        wanted: dict[str, _Running] = {}
        for volume in volumes:
            if volume.status is not VolumeStatus.STARTED:
                continue
            local = [b for b in volume.bricks if b.host_uuid == self.node_uuid]
            for brick in (b for b in local if not b.reset):  # reset-brick holds it stopped
                wanted[self.specs.brick_service(volume.name, brick)] = _Running(
                    "brick", volume.name, volume.uuid, brick)
        return wanted

    def needs_shd(self, volume: Volume) -> bool:
        """A started replicate/disperse volume with a brick here is attached to the node's
        self-heal daemon."""
        return (volume.status is VolumeStatus.STARTED
                and volume.type in (VolumeType.REPLICATE, VolumeType.DISPERSE)
                and any(b.host_uuid == self.node_uuid for b in volume.bricks))

    def reconcile_once(self, state: Update | None = None) -> int:
        """One full pass on ``state`` (the volumes as the follow last saw them; default: a
        fresh listing); returns the revision of the volumes it acted on."""
        with self._pass_lock:
            if state is None:
                listing = self.store.list(self.keys.volumes)
                entries, revision = list(listing), listing.revision
            else:
                entries, revision = list(state.entries.values()), state.revision
            volumes: dict[str, Volume] = {}
            acted: dict[str, Volume] = {}
            for entry in entries:
                try:
                    volume = self.decoded.of(entry)
                except Exception as exc:  # one bad record must not stop the node's bricks
                    log.error("cannot decode %s: %s", entry.key, exc)
                    continue
                acted[entry.key] = volume
                volumes[volume.name] = volume
            self._acted = acted
            self.decoded.keep_only(acted)  # a key decoded since is only decoded again
            wanted = self.desired(volumes.values())

            # stop what is no longer wanted (before starting: a moved brick frees its port)
            for name in [n for n in self._running if n not in wanted]:
                self._stop_service(name)
            for name, item in wanted.items():
                current = self._running.get(name)
                if current is not None and current.volume_uuid != item.volume_uuid:
                    self._stop_service(name)  # a volume deleted and re-created with this name
            self._sweep_orphans(wanted, volumes)

            to_start: list[tuple[str, _Running, ServiceSpec]] = []
            for name, item in wanted.items():
                try:
                    spec = self._ensure_brick(name, item, volumes[item.volume])
                except (GlusterMgmtError, OSError) as exc:
                    self._failed(name, exc)
                    continue
                if spec is None:
                    self._errors.pop(name, None)
                else:
                    to_start.append((name, item, spec))
            for (name, item, spec), error in zip(to_start, self._start_all(to_start)):
                if error is None:
                    item.spec = spec
                    self._errors.pop(name, None)
                else:
                    self._failed(name, error)
            # after the bricks, as glusterd starts it
            served = self.shd.converge(volumes, [v.name for v in volumes.values()
                                                 if self.needs_shd(v)])
            self._release_stale_ports(wanted)
            self._migrating = self.migrations.converge(volumes)
            try:
                self.quota.converge(volumes.values())
                self._errors.pop(QuotadSpecs.SERVICE, None)
            except (GlusterMgmtError, OSError) as exc:
                self._failed(QuotadSpecs.SERVICE, exc)
            self.revision = revision
            self._report(wanted, served, revision)
            return revision

    def restart_services(self, name: str) -> int:
        """What glusterd does to a node's services when a brick of volume ``name`` comes back
        (`reset-brick ... commit`: glusterd_svcs_stop, then glusterd_svcs_manager): quotad
        stopped and the volume's self-heal graph released, then a pass that starts them
        again (a new quotad, the graph attached anew: a new self-heal process when it was
        the only one)."""
        with self._pass_lock:
            volumes = {volume.name: volume for volume in self._acted.values()}
            self.shd.release(name, volumes)
            self.quota.stop()
        return self.reconcile_once()

    def _failed(self, name: str, exc: Exception) -> None:
        if self._errors.get(name) != str(exc):
            log.error("cannot run %s: %s", name, exc)
        self._errors[name] = str(exc)

    def _start_all(self, to_start: Sequence[tuple[str, _Running, ServiceSpec]]
                   ) -> list[Exception | None]:
        """Start the bricks of a pass; the error of each, None for a started one. They
        start at once, each in a thread of its own (a launch waits for glusterfsd to
        daemonize, ~0.1-0.2 s: one after the other, a volume's start would wait for the sum)."""

        def start(spec: ServiceSpec) -> Exception | None:
            try:
                self.services.start(spec)
                return None
            except (GlusterMgmtError, OSError) as exc:
                return exc

        specs = [spec for _, _, spec in to_start]
        if len(specs) <= 1:
            return [start(spec) for spec in specs]
        with ThreadPoolExecutor(min(len(specs), MAX_PARALLEL_STARTS),
                                thread_name_prefix="brick-start") as pool:
            return list(pool.map(start, specs))

    def _report(self, wanted: dict[str, _Running], served: frozenset[str], revision: int) -> None:
        """Write this node's service report (cluster.service_report) when what it says changed,
        when it names failures (so their revision is the current one) or the lease changed.
        ``served``: the volumes the self-heal daemon serves."""
        failed_bricks = {}
        for name, error in self._errors.items():
            item = wanted.get(name)
            if item is not None and item.brick is not None:
                failed_bricks[(item.volume, item.brick.path)] = error
        failed_shd = dict(self.shd.errors)
        report = ServiceReport(revision, served, failed_bricks, failed_shd)
        lease = self.lease() if self.lease is not None else None
        lease = lease if lease is not None and lease.alive else None
        lease_id = lease.id if lease is not None else None
        if self._reported is not None:
            last, last_lease = self._reported
            if (last_lease == lease_id and report.same_services(last)
                    and not (failed_bricks or failed_shd)):
                return
        try:
            self.store.put(self.keys.service_report(self.node_uuid), report.encode(),
                           lease=lease)
        except StoreError as exc:
            log.warning("cannot write the service report: %s", exc)
            return
        self._reported = (report, lease_id)

    def _ensure_brick(self, name: str, item: _Running, volume: Volume) -> ServiceSpec | None:
        """Port and directory of a brick this node runs; the spec to start (None: running)."""
        brick = item.brick
        assert brick is not None
        pidfile = self.specs.brick_pidfile(volume.name, brick)
        process = self.services.find(pidfile, self.specs.glusterfsd)
        running_port = brick_port_in(process.argv) if process is not None else None
        port = running_port or self.ports.port_of(brick.path)
        current = self._running.get(name)
        if port is None and current is not None:
            port = current.port  # record lost with the lease: keep the port we gave it
        if port is None:
            port = self.ports.allocate(volume.name, brick.path)
        pid = process.pid if process is not None and running_port else 0
        self.ports.claim(volume.name, brick.path, port, pid or 0)
        item.port = port
        self._running[name] = item  # from now on, a stop must release its port
        spec = self.specs.brick_spec(volume, brick, port)
        if self._supervised(name, spec, current):
            item.spec = spec
            return None
        if running_port is None:
            make_servable(brick.path, volume.uuid)
        return spec

    def _supervised(self, name: str, spec: ServiceSpec, current: _Running | None) -> bool:
        """True when the service manager already keeps ``spec`` running (it restarts it
        with its own back-off if it dies: a pass must not bypass that)."""
        return (current is not None and current.spec == spec
                and bool(self.services.status([name])))

    def _stop_service(self, name: str) -> None:
        item = self._running.pop(name, None)
        try:
            self.services.stop(name)
        except GlusterMgmtError as exc:
            log.error("cannot stop %s: %s", name, exc)
        if item is not None and item.kind == "brick" and item.brick is not None:
            with contextlib.suppress(StoreError):
                self.ports.release(item.brick.path)
        self._errors.pop(name, None)

    def _sweep_orphans(self, wanted: dict[str, _Running], known: Mapping[str, Volume]) -> None:
        """Stop brick processes of this node that nothing wants, found by their pidfiles (left
        by a previous daemon that went away before their volume was stopped). Only processes
        of volumes the store knows: the processes of a volume it has never seen are not ours
        to stop (glusterd's, which a takeover adopts once their volume is imported). The
        self-heal daemon sweeps its own (services.self_heal_daemon)."""
        keep = frozenset(self.specs.brick_pidfile(item.volume, item.brick)
                         for item in wanted.values())
        run_dir = glob.escape(self.specs.run_dir)
        # one listing, not a glob per known volume each pass (1,000 volumes: 1,000 globs)
        with_pidfiles = _entries(os.path.join(self.specs.run_dir, "vols"))
        for volume in map(glob.escape, (v for v in known if v in with_pidfiles)):
            self.services.stop_orphans(os.path.join(run_dir, "vols", volume, "*.pid"),
                                       self.specs.glusterfsd,
                                       f"*-posix.glusterd-uuid={self.node_uuid}", keep)

    def _release_stale_ports(self, wanted: dict[str, _Running]) -> None:
        keep = {item.brick.path for item in wanted.values() if item.kind == "brick"}
        for path in self.ports.records():
            if path not in keep:
                with contextlib.suppress(StoreError):
                    self.ports.release(path)

    # ------------------------------------------------------------------ status
    def _volume(self, volume: Volume | str) -> Volume | None:
        if isinstance(volume, Volume):
            return volume
        entry = self.store.get(self.keys.volume(volume))
        return decode_volume(entry.value) if entry else None

    def brick_status(self, volume: Volume | str) -> dict[str, dict[str, Any]]:
        """``{brick_uuid: {"port", "rdma_port", "online", "pid"}}`` for this node's bricks of
        ``volume`` (port and pid are None when the brick is not running)."""
        vol = self._volume(volume)
        if vol is None:
            return {}
        records: dict[str, dict[str, Any]] | None = None
        result = {}
        for brick in vol.bricks:
            if brick.host_uuid != self.node_uuid:
                continue
            name = self.specs.brick_service(vol.name, brick)
            states = self.services.status([name])
            pid = states[0].pid if states and states[0].running else None
            process = self.services.find(self.specs.brick_pidfile(vol.name, brick),
                                         self.specs.glusterfsd)
            if pid is None and process is not None:  # not supervised (yet): the pidfile's
                pid = process.pid
            port = None
            if pid is not None:  # the process says its port; the record only if it does not
                port = brick_port_in(process.argv) if process is not None else None
                if port is None:
                    records = self.ports.records() if records is None else records
                    port = (records.get(brick.path) or {}).get("port")
            result[brick.uuid] = {"port": port, "rdma_port": 0, "online": pid is not None,
                                  "pid": pid}
        return result

    def shd_status(self, volume: Volume | str) -> list[dict[str, Any]]:
        """This node's self-heal daemon for ``volume`` (empty when it needs none here)."""
        vol = self._volume(volume)
        if vol is None or vol.type not in (VolumeType.REPLICATE, VolumeType.DISPERSE):
            return []
        if not any(b.host_uuid == self.node_uuid for b in vol.bricks):
            return []
        # glusterd's test: the volume's pidfile names a live process (the shared one)
        process = self.services.find(self.specs.shd_pidfile(vol.name), self.specs.glusterfs)
        pid = process.pid if process is not None else None
        return [{"name": "Self-heal Daemon", "host_uuid": self.node_uuid,
                 "hostname": self.hostname, "port": None, "rdma_port": 0,
                 "online": pid is not None, "pid": pid}]

    def errors(self) -> dict[str, str]:
        """The last start failure of each service that is not running as wanted."""
        return dict(self._errors)
