"""What every output format shows, derived once from the daemon's reply: the outcome type,
gluster's names and codes (volume types, peer and task states), counts, sizes and the
arbiter bricks of a volume dict. ``render_human`` and ``render_xml`` format these.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any


#: gluster's vol_type_str, indexed by the type code `volume info --xml` prints.
VOLUME_TYPE_NAMES = {
    0: "Distribute", 2: "Replicate", 4: "Disperse", 7: "Distributed-Replicate",
    9: "Distributed-Disperse",
}
_BASE_TYPE_CODES = {"distribute": 0, "replicate": 2, "disperse": 4}
_STATUS_CODES = {"Created": 0, "Started": 1, "Stopped": 2}
_TRANSPORT_CODES = {"tcp": 0, "rdma": 1, "tcp,rdma": 2}
#: glusterd's friend state machine names, by state id.
PEER_STATE_NAMES = (
    "Establishing Connection", "Probe Sent to Peer", "Probe Received from Peer",
    "Peer in Cluster", "Accepted peer request", "Sent and Received peer request",
    "Peer Rejected", "Peer detach in progress", "Probe Received from peer",
    "Connected to Peer", "Peer is connected and Accepted", "Invalid State",
)
_PEER_STATE_ALIASES = {"Detaching": "Peer detach in progress"}


class Outcome:
    """What to print on stdout and stderr, and the exit code."""

    __slots__ = ("code", "err", "out")

    def __init__(self, out: str = "", err: str = "", code: int = 0) -> None:
        self.out = out
        self.err = err
        self.code = code

    def __repr__(self) -> str:
        return f"Outcome(out={self.out!r}, err={self.err!r}, code={self.code})"


# -- what gluster shows, derived from the model's dicts ------------------------------------

class VolumeFacts:
    """The numbers `volume info` prints for one volume dict (Volume.to_dict())."""

    def __init__(self, volume: dict[str, Any]) -> None:
        self.volume = volume
        self.name: str = volume["name"]
        self.uuid: str = volume.get("uuid") or volume.get("id") or ""
        self.bricks: list[dict[str, Any]] = list(volume.get("bricks") or [])
        self.brick_count = len(self.bricks)
        kind = str(volume.get("type") or "distribute").lower()
        self.base_type = _BASE_TYPE_CODES.get(kind, 0)
        self.replica_count = int(volume.get("replica_count") or 1)
        self.arbiter_count = int(volume.get("arbiter_count") or 0)
        self.disperse_count = int(volume.get("disperse_count") or 0)
        self.redundancy_count = int(volume.get("redundancy_count") or 0)
        if self.base_type == 2:
            size = self.replica_count
        elif self.base_type == 4:
            size = self.disperse_count or self.brick_count or 1
        else:
            size = 1
        self.subvolume_size = max(size, 1)
        self.dist_count = self.brick_count // self.subvolume_size
        if self.base_type <= 0 or self.dist_count <= 1 or self.dist_count >= self.brick_count:
            self.type_code = self.base_type
        else:
            self.type_code = self.base_type + 5
        self.type_name = VOLUME_TYPE_NAMES.get(self.type_code, "Distribute")
        self.status_name = str(volume.get("status") or "Created")
        self.status_code = _STATUS_CODES.get(self.status_name, 0)
        self.transport = str(volume.get("transport") or "tcp")
        self.transport_code = _TRANSPORT_CODES.get(self.transport, 0)
        self.snap_count = int(volume.get("snap_count") or 0)
        self.options: list[tuple[str, str]] = list((volume.get("options") or {}).items())

    def brick_name(self, brick: dict[str, Any]) -> str:
        return brick.get("name") or f"{brick['hostname']}:{brick['path']}"

    def is_arbiter(self, index: int) -> bool:
        """glusterd makes the last brick of every replica set the arbiter."""
        return (self.base_type == 2 and self.arbiter_count > 0
                and (index + 1) % self.replica_count == 0)

    def number_of_bricks(self) -> str:
        if self.base_type == 0:
            return f"{self.brick_count}"
        if self.base_type == 4:
            return (f"{self.dist_count} x ({self.disperse_count - self.redundancy_count} + "
                    f"{self.redundancy_count}) = {self.brick_count}")
        if self.arbiter_count == 0:
            return f"{self.dist_count} x {self.replica_count} = {self.brick_count}"
        return (f"{self.dist_count} x ({self.replica_count - self.arbiter_count} + "
                f"{self.arbiter_count}) = {self.brick_count}")


def peer_state(state: str | None) -> tuple[int | None, str]:
    """(glusterd state id, state text) for a peer's state text."""
    text = _PEER_STATE_ALIASES.get(state or "", state or "Peer in Cluster")
    try:
        return PEER_STATE_NAMES.index(text), text
    except ValueError:
        return None, text


def is_local_peer(peer: dict[str, Any]) -> bool:
    if "local" in peer:
        return bool(peer["local"])
    return list(peer.get("hostnames") or []) == ["localhost"]


def pool_order(peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """glusterd lists the other peers first and the local node last."""
    return [p for p in peers if not is_local_peer(p)] + [p for p in peers if is_local_peer(p)]


def option_value(entry: list[Any] | tuple[Any, ...]) -> str:
    """The value column of `volume get`: glusterd's text, with (DEFAULT) when default."""
    value = entry[1] if len(entry) > 1 else None
    text = "(null)" if value is None else str(value)
    if len(entry) > 2 and entry[2] and not text.endswith("(DEFAULT)"):
        text += " (DEFAULT)"
    return text


def human_size(n: int) -> str:
    """gluster's gf_uint64_2human_readable."""
    for unit, size in (("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20),
                       ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}Bytes"


# -- JSON ------------------------------------------------------------------------------


#: glusterd's cli_vol_task_status_str, indexed by gf_defrag_status_t; the last is the clamp.
TASK_STATUS_NAMES = (
    "not started", "in progress", "stopped", "completed", "failed", "fix-layout in progress",
    "fix-layout stopped", "fix-layout completed", "fix-layout failed",
    "reset due to replace-brick", "reset due to reset-brick", "unknown",
)


def task_status_name(code: Any) -> str:
    """The CLI's label for a gf_defrag_status_t; out-of-range codes read "unknown"."""
    try:
        index = int(code)
    except (TypeError, ValueError):
        index = len(TASK_STATUS_NAMES) - 1
    if not 0 <= index < len(TASK_STATUS_NAMES):
        index = len(TASK_STATUS_NAMES) - 1
    return TASK_STATUS_NAMES[index]


def task_label(task: dict[str, Any]) -> str:
    """The CLI derives the label from the code; a task without one keeps the daemon's text."""
    if task.get("status_code") is None:
        return str(task.get("status", ""))
    return task_status_name(task["status_code"])
