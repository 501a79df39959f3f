"""Progress of a volume's data migration (`remove-brick start`), one record per node.

glusterd keeps a node's rebalance counters in vols/VOL/node_state.info and gathers them from
every node on `remove-brick status`. Here each node that runs a rebalance process writes its
own record under ``migrations/VOL/NODE``; `status` reads them all in one listing. Records carry
the task id, so a record left by an earlier task never passes for the current one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt.model import REMOVE_BRICK, MigrationStatus, Task, Volume
from gluster_mgmt.store.types import ABSENT

if TYPE_CHECKING:
    from gluster_mgmt.store.base import Store
    from gluster_mgmt.store.keys import ClusterKeys


@attrs.frozen
class Progress:
    """One node's migration counters, in the units the rebalance process reports."""

    host_uuid: str
    task_id: str
    status: MigrationStatus = attrs.field(converter=MigrationStatus)
    files: int = 0
    size: int = 0
    lookups: int = 0
    failures: int = 0
    skipped: int = 0
    run_time: float = 0.0
    time_left: int = 0

    @classmethod
    def from_report(cls, host_uuid: str, task_id: str, report: Mapping[str, Any]) -> Progress:
        """From the rebalance process's numbers (see mgmt_rpc.defrag_client.parse_defrag_status)."""
        status = int(report.get("status", MigrationStatus.STARTED))
        if status not in MigrationStatus._value2member_map_:
            status = MigrationStatus.FAILED  # tier or glusterd-only states: not a process's
        return cls(host_uuid, task_id, status, int(report.get("files", 0)),
                   int(report.get("size", 0)), int(report.get("lookups", 0)),
                   int(report.get("failures", 0)), int(report.get("skipped", 0)),
                   float(report.get("run_time", 0.0)), int(report.get("time_left", 0)))

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["status"] = int(self.status)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Progress:
        return cls(**{f.name: data[f.name] for f in attrs.fields(cls) if f.name in data})

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


def migrating_hosts(volume: Volume) -> tuple[str, ...]:
    """Nodes that run a rebalance process for the volume's task, in brick order (glusterd's
    gd_should_i_start_rebalance): for remove-brick those hosting a brick being removed, for
    a rebalance every node with a brick of the volume."""
    if volume.task is None:
        return ()
    bricks = volume.decommissioned if volume.task.kind == REMOVE_BRICK else volume.bricks
    return tuple(dict.fromkeys(b.host_uuid for b in bricks))


def overall_status(nodes: list[Progress]) -> MigrationStatus:
    """A task's status over its nodes, as `volume status` shows it: in progress while any node
    runs, failed if any failed, stopped if any stopped, else completed."""
    for test in ("running", "failed", "stopped"):
        found = [n.status for n in nodes if getattr(n.status, test)]
        if found:
            return found[0]
    return nodes[0].status if nodes else MigrationStatus.NOT_STARTED


def in_progress(records: "MigrationRecords", volume: Volume) -> bool:
    """glusterd's "defrag is on": the volume's task still moves data somewhere."""
    return volume.task is not None and overall_status(records.report(volume)).running


def _decode(raw: bytes) -> Progress | None:
    try:
        return Progress.from_dict(json.loads(raw))
    except (ValueError, TypeError, KeyError):
        return None


class MigrationRecords:
    """The per-node progress records of the volumes of one cluster."""

    def __init__(self, store: "Store", keys: "ClusterKeys") -> None:
        self.store = store
        self.keys = keys

    def read(self, volume: str, task: Task) -> dict[str, Progress]:
        """The current task's records by node; a node that has not reported yet is absent."""
        prefix = self.keys.migrations(volume)
        found: dict[str, Progress] = {}
        for entry in self.store.list(prefix):
            progress = _decode(entry.value)  # unreadable: as if not reported
            if progress is not None and progress.task_id == task.id:
                found[progress.host_uuid] = progress
        return found

    def get(self, volume: str, host_uuid: str) -> Progress | None:
        entry = self.store.get(self.keys.migration(volume, host_uuid))
        return _decode(entry.value) if entry is not None else None

    def write(self, volume: str, progress: Progress) -> None:
        """Only the node itself writes its record, so no compare-and-swap is needed."""
        self.store.put(self.keys.migration(volume, progress.host_uuid), progress.encode())

    def write_running(self, volume: str, progress: Progress) -> None:
        """Record counters polled from a running process, never over a final record of the
        same task: the process's own final report may land between the poll and this write
        (then the compare-and-swap fails with ConflictError)."""
        key = self.keys.migration(volume, progress.host_uuid)
        entry = self.store.get(key)
        current = _decode(entry.value) if entry is not None else None
        if current == progress or (current is not None and current.task_id == progress.task_id
                                   and current.status.finished):
            return
        self.store.put(key, progress.encode(), entry.revision if entry is not None else ABSENT)

    def report(self, volume: Volume) -> list[Progress]:
        """Every migrating node's progress for the volume's task, a node that has not
        reported yet counted as just started (glusterd marks them started at once)."""
        task = volume.task
        if task is None:
            return []
        records = self.read(volume.name, task)
        return [records.get(host) or Progress(host, task.id, MigrationStatus.STARTED)
                for host in migrating_hosts(volume)]
