"""This node's rebalance processes: the data movers of `remove-brick start` and `rebalance`.

A node with a brick the volume's task concerns (a decommissioned brick for remove-brick, any
brick for rebalance) runs glusterd 10.3's rebalance command line

    glusterfs -s HOST --volfile-id rebalance/VOL --xlator-option *dht.use-readdirp=no
        --xlator-option *dht.lookup-unhashed=yes --xlator-option *dht.assert-no-child-down=yes
        --xlator-option *dht.readdir-optimize=on --process-name rebalance
        --xlator-option *dht.rebalance-cmd=CMD --xlator-option *dht.node-uuid=UUID
        --xlator-option *dht.commit-hash=HASH --socket-file SOCK --pid-file PID -l LOGDIR/VOL-rebalance.log

The process moves the files of this node's bricks where the layout wants them, answers
progress queries on SOCK (mgmt_rpc.defrag_client), reports its final counters with HANDSHAKE
EVENT_NOTIFY (daemon.mgmt_backend) and exits. Progress goes to the store as this node's
migration record (cluster.migration_progress), which `status` reads.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import time
from collections.abc import Mapping

import attrs

from gluster_mgmt.cluster.migration_progress import (
    MigrationRecords,
    Progress,
    migrating_hosts,
)
from gluster_mgmt.errors import GlusterMgmtError, StoreError
from gluster_mgmt.mgmt_rpc import defrag_client
from gluster_mgmt.mgmt_rpc.defrag_client import DefragCommand
from gluster_mgmt.model import (
    FIX_LAYOUT,
    REMOVE_BRICK,
    MigrationStatus,
    Task,
    Volume,
    VolumeStatus,
)
from gluster_mgmt.services import (
    ServiceManager,
    ServiceSpec,
    short_hash,
    volfile_server_port_args,
)

log = logging.getLogger(__name__)

#: Seconds between progress queries while a migration runs.
POLL_INTERVAL = 2.0
#: A process that ended without reporting is counted failed after this many seconds (its
#: EVENT_NOTIFY may still be on the way when we notice the exit).
REPORT_GRACE = 5.0


def defrag_command(task: Task) -> DefragCommand:
    """The rebalance-cmd glusterd gives the process: remove-brick and `rebalance start force`
    move files even onto fuller bricks, a plain rebalance does not, fix-layout moves none."""
    if task.kind == FIX_LAYOUT:
        return DefragCommand.START_LAYOUT_FIX
    if task.kind == REMOVE_BRICK or task.force:
        return DefragCommand.START_FORCE
    return DefragCommand.START


#: The line a rebalance process logs when it ends (dht-rebalance.c, MSGID 109028).
_FINAL_LINE = re.compile(
    r"\[MSGID: 109028\].*Rebalance is (?P<status>not started|in progress|stopped|completed|failed)"
    r"\. Time taken is (?P<run_time>\d+) secs Files migrated: (?P<files>\d+), size: "
    r"(?P<size>\d+), lookups: (?P<lookups>\d+), failures: (?P<failures>\d+), skipped: "
    r"(?P<skipped>\d+)")
_LOGGED_STATUS = {"not started": 0, "in progress": 1, "stopped": 2, "completed": 3, "failed": 4}


def logged_final_report(logfile: str, offset: int) -> dict[str, int] | None:
    """The final counters a rebalance process logged after ``offset`` of its log, if any."""
    try:
        with open(logfile, "rb") as f:
            f.seek(offset)
            text = f.read(4 << 20).decode(errors="replace")
    except OSError:
        return None
    found = None
    for found in _FINAL_LINE.finditer(text):
        pass
    if found is None:
        return None
    report = {k: int(v) for k, v in found.groupdict().items() if k != "status"}
    report["status"] = _LOGGED_STATUS[found["status"]]
    return report


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


@attrs.define
class _Run:
    volume: str
    task_id: str
    spec: ServiceSpec
    #: Where its log stood when it started: its final line comes after.
    log_offset: int = 0
    ended_at: float | None = None


class MigrationRunner:
    """Starts, watches and stops this node's rebalance processes; see the module docstring."""

    def __init__(self, records: MigrationRecords, services: ServiceManager, node_uuid: str,
                 server: str, specs: "RebalanceSpecs") -> None:
        self.records = records
        self.services = services
        self.node_uuid = node_uuid
        self.server = server
        self.specs = specs
        self._runs: dict[str, _Run] = {}

    def wanted(self, volume: Volume) -> bool:
        return (volume.status is VolumeStatus.STARTED
                and self.node_uuid in migrating_hosts(volume))

    def converge(self, volumes: Mapping[str, Volume]) -> bool:
        """One pass; True while a migration runs here (the caller then polls sooner)."""
        busy = False
        for name in [n for n, run in self._runs.items()
                     if n not in volumes or not self.wanted(volumes[n])
                     or volumes[n].task.id != run.task_id]:
            self._stop(name)
        for volume in volumes.values():
            if self.wanted(volume):
                try:
                    busy |= self._drive(volume)
                except (GlusterMgmtError, OSError) as exc:
                    log.error("migration of %s: %s", volume.name, exc)
        self._sweep_orphans(set(self._runs))
        return busy

    def stop_all(self) -> None:
        for name in list(self._runs):
            self._stop(name)

    # ------------------------------------------------------------------ one volume
    def _drive(self, volume: Volume) -> bool:
        task = volume.task
        assert task is not None
        progress = self.records.get(volume.name, self.node_uuid)
        if progress is not None and progress.task_id == task.id and progress.status.finished:
            self._runs.pop(volume.name, None)
            return False
        run = self._runs.get(volume.name)
        spec = self.specs.spec(volume.name, self.node_uuid, self.server, defrag_command(task),
                               task.commit_hash)
        if self.services.find(spec.pidfile, spec.argv[0]) is not None:
            if run is None:  # a daemon restart: adopt the process still migrating
                self._runs[volume.name] = run = _Run(volume.name, task.id, spec,
                                                     _size(spec.logfile))
                self.services.start(spec)
            self._poll(volume.name, task.id, spec)
            return True
        if run is None:
            self._begin(volume, task, spec, progress)
            return True
        # it ended: its EVENT_NOTIFY normally made the record final already
        run.ended_at = run.ended_at or time.monotonic()
        if time.monotonic() - run.ended_at < REPORT_GRACE:
            return True
        # The process sends its report and SIGTERMs itself at once, so the report is
        # sometimes lost; the same final counters are the last line it logged.
        final = logged_final_report(spec.logfile, run.log_offset)
        if final is None:
            log.error("rebalance process of %s ended without reporting; see %s", volume.name,
                      spec.logfile)
            last = progress if progress is not None and progress.task_id == task.id else None
            final = attrs.evolve(last, status=MigrationStatus.FAILED) if last else Progress(
                self.node_uuid, task.id, MigrationStatus.FAILED)
        else:
            final = Progress.from_report(self.node_uuid, task.id, final)
        self.records.write(volume.name, final)
        self._runs.pop(volume.name, None)
        return False

    def _begin(self, volume: Volume, task: Task, spec: ServiceSpec,
               progress: Progress | None) -> None:
        task_id = task.id
        if progress is None or progress.task_id != task_id:
            self.records.write(volume.name, Progress(self.node_uuid, task_id, MigrationStatus.STARTED))
        log.info("starting data migration of %s (task %s)", volume.name, task_id)
        self._runs[volume.name] = _Run(volume.name, task_id, spec, _size(spec.logfile))
        self.services.start(spec)

    def _poll(self, volume: str, task_id: str, spec: ServiceSpec) -> None:
        """Copy the process's counters into this node's record."""
        try:
            report = defrag_client.parse_defrag_status(defrag_client.defrag_command(
                self.specs.socket(volume, self.node_uuid), volume,
                DefragCommand.STATUS, timeout=POLL_INTERVAL))
        except GlusterMgmtError as exc:
            log.debug("progress query of %s failed: %s", volume, exc)
            return
        if int(report.get("status", 0)) == MigrationStatus.NOT_STARTED:
            return  # exiting, or not crawling yet: nothing new
        try:
            self.records.write_running(volume, Progress.from_report(self.node_uuid, task_id, report))
        except StoreError as exc:  # ConflictError included: a final report won the race
            log.debug("progress of %s not recorded: %s", volume, exc)

    def _stop(self, volume: str) -> None:
        """Ask the process to stop between files (glusterd's GF_DEFRAG_CMD_STOP), then make
        sure it is gone."""
        run = self._runs.pop(volume, None)
        if run is None:
            return
        if self.services.find(run.spec.pidfile, run.spec.argv[0]) is not None:
            with contextlib.suppress(GlusterMgmtError):
                defrag_client.defrag_command(self.specs.socket(volume, self.node_uuid), volume,
                                             DefragCommand.STOP, timeout=POLL_INTERVAL)
        log.info("stopping data migration of %s", volume)
        self.services.stop(run.spec.name)

    def _sweep_orphans(self, keep: set[str]) -> None:
        """Rebalance processes of this node nothing wants (left by an earlier daemon)."""
        run_dir = glob.escape(self.specs.run_dir)
        kept = frozenset(self.specs.pidfile(volume, self.node_uuid) for volume in keep)
        self.services.stop_orphans(os.path.join(run_dir, "rebalance", "*", "*.pid"),
                                   self.specs.glusterfs, f"*dht.node-uuid={self.node_uuid}", kept)


@attrs.frozen
class RebalanceSpecs:
    """Where a node's rebalance process keeps its pidfile, socket and log."""

    run_dir: str
    log_dir: str
    mgmt_port: int
    glusterfs: str

    @staticmethod
    def service(volume: str) -> str:
        return f"rebalance:{volume}"

    def pidfile(self, volume: str, node_uuid: str) -> str:
        return os.path.join(self.run_dir, "rebalance", volume, f"{node_uuid}.pid")

    def socket(self, volume: str, node_uuid: str) -> str:
        return os.path.join(self.run_dir, f"{short_hash(f'{node_uuid}:rebalance:{volume}')}.socket")

    def logfile(self, volume: str) -> str:
        return os.path.join(self.log_dir, f"{volume}-rebalance.log")

    def spec(self, name: str, node_uuid: str, server: str,
             command: int = DefragCommand.START_FORCE, commit_hash: int = 0) -> ServiceSpec:
        """The process of volume ``name`` on node ``node_uuid``, fetching from ``server``;
        ``command`` is the dht rebalance-cmd (see :func:`defrag_command`)."""
        argv = [self.glusterfs, "-s", server, *volfile_server_port_args(self.mgmt_port), "--volfile-id", f"rebalance/{name}"]
        for option in ("*dht.use-readdirp=no", "*dht.lookup-unhashed=yes",
                       "*dht.assert-no-child-down=yes", "*dht.readdir-optimize=on"):
            argv += ["--xlator-option", option]
        argv += ["--process-name", "rebalance",
                 "--xlator-option", f"*dht.rebalance-cmd={int(command)}",
                 "--xlator-option", f"*dht.node-uuid={node_uuid}",
                 "--xlator-option", f"*dht.commit-hash={commit_hash}",
                 "--socket-file", self.socket(name, node_uuid),
                 "--pid-file", self.pidfile(name, node_uuid),
                 "-l", self.logfile(name)]
        return ServiceSpec(self.service(name), argv, self.pidfile(name, node_uuid),
                           self.logfile(name), daemonizes=True, restart=False)
