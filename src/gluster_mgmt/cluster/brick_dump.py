"""`volume status VOL [BRICK] clients|client-list|fd|inode|callpool|mem`: what each running
brick says of itself, asked on the brick's own host, with glusterd 10.3's rules and messages
(``glusterd_op_stage_status_volume``, ``glusterd_bricks_select_status_volume``,
``glusterd_status_volume_brick_rsp``, ``glusterd_status_volume_client_list``; facts
re-expressed here).

The brick answers a GD_BRICK STATUS (``services.brick_dump``) from its server xlator's dump
ops: the pairs are the brick's own (``clientcount``, ``client0.hostname``..., ``conncount``,
``callpool.*``, ``mallinfo.*``...); glusterd files each under ``brickN.`` (N the brick's
position in the volume) except for client-list, whose answers it counts by process name.
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gluster_mgmt.cluster.heal import self_heal_enabled
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import VolumeType
from gluster_mgmt.rules import BRICK_DUMPS
from gluster_mgmt.volgen import quota_enabled

#: the brick's answer: its dict's pairs, as text, in the order it sent them
Pairs = list[tuple[str, str]]


class BrickDump(enum.IntEnum):
    """``gf_cli_status_type``'s sub-commands a brick answers (bits from ``rules.BRICK_DUMPS``,
    which the CLI parses with)."""

    MEM = BRICK_DUMPS["mem"]
    CLIENTS = BRICK_DUMPS["clients"]
    INODE = BRICK_DUMPS["inode"]
    FD = BRICK_DUMPS["fd"]
    CALLPOOL = BRICK_DUMPS["callpool"]
    CLIENT_LIST = BRICK_DUMPS["client-list"]

    @property
    def word(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_word(cls, word: str) -> "BrickDump":
        """The sub-command ``word`` names; a clear error for any other word."""
        if word not in BRICK_DUMPS:
            raise OperationFailed(f"{word} is not a status a brick answers (one of "
                                  f"{', '.join(BRICK_DUMPS)})", errno.EINVAL)
        return cls(BRICK_DUMPS[word])


def no_brick(brick: str, volume: str) -> OperationFailed:
    """glusterd's staging answer for a brick not in the volume (the CLI takes any word after
    the volume's name that is not a status word for a brick: `status VOL detail clients`)."""
    return OperationFailed(f"No brick {brick} in volume {volume}", errno.EINVAL)


#: the process names client-list counts (``glusterd_status_volume_client_list``): a name
#: starting with the first two counts for it, the others must match whole
_COUNTED_PREFIXES = ("fuse", "gfapi")
_COUNTED_NAMES = ("rebalance", "glustershd", "quotad", "snapd")


def client_list_pairs(answers: Iterable[Pairs]) -> Pairs:
    """What glusterd's op context holds after the client-list answers: each brick's answer
    overwrites the previous one's (the last brick's list is the one the CLI prints)."""
    merged: dict[str, Any] = {}
    for pairs in answers:
        answer = dict(pairs)
        count = int(answer.get("clientcount") or 0)
        merged["client-count"] = count
        counts = dict.fromkeys((*_COUNTED_PREFIXES, *_COUNTED_NAMES), 0)
        for i in range(count):
            name = answer.get(f"client{i}.name")
            if name is None:
                break
            merged[f"client{i}.name"] = name
            kind = next((p for p in _COUNTED_PREFIXES if name.startswith(p)), None) or \
                (name if name in _COUNTED_NAMES else None)
            if kind is not None:
                counts[kind] += 1
        for kind, number in counts.items():
            if number:
                merged[f"{kind}-count"] = number
    return list(merged.items())


def brick_pairs(answers: Mapping[int, Pairs]) -> Pairs:
    """The pairs glusterd adds to `status`'s dict from the bricks' answers (by brick
    position): ``brickN.KEY`` each (the last brick's first, as its brick-op phase adds them)."""
    return [(f"brick{position}.{key}", value)
            for position in sorted(answers, reverse=True) for key, value in answers[position]]


def node_count(kind: BrickDump, listed: int, answered: int) -> int:
    """glusterd's ``count``: the bricks listed, plus one for each brick answer after the
    first (``glusterd_status_volume_brick_rsp`` counts from an unset ``count``, the commit
    then adds its own); client-list answers leave it alone."""
    if kind is BrickDump.CLIENT_LIST or answered == 0:
        return listed
    return listed + answered - 1


def answer_pairs(output: Sequence[Sequence[str]]) -> Pairs:
    return [(str(k), str(v)) for k, v in output]


def dump_summary(kind: BrickDump, bricks: Sequence[Any], answers: Mapping[str, Sequence[Sequence[str]]]
                 ) -> dict[str, Any]:
    """What `volume/status` adds for a brick dump besides each brick's answer: the kind,
    glusterd's node count and, for client-list, the merged counts (by brick uuid, in the
    volume's brick order)."""
    ordered = [answer_pairs(answers[b.uuid]) for b in bricks if b.uuid in answers]
    summary: dict[str, Any] = {"dump": kind.word,
                               "node_count": node_count(kind, len(bricks), len(ordered))}
    if kind is BrickDump.CLIENT_LIST:
        summary["client_list"] = [list(pair) for pair in client_list_pairs(ordered)]
    return summary


class StatusDaemon(enum.Enum):
    """`volume status VOL shd|quotad|nfs [WHAT]`: the daemon the CLI names instead of a brick
    (``GF_CLI_STATUS_SHD``/``_QUOTAD``/``_NFS``). glusterd 10.3 is built without gNFS: it
    takes `nfs` for the whole volume (its dumps are the bricks'), without the tasks."""

    SHD = "shd"
    QUOTAD = "quotad"
    NFS = "nfs"

    @classmethod
    def from_word(cls, word: str, volume: str | None) -> "StatusDaemon":
        """The daemon ``word`` names for ``volume``; a clear error for any other word or
        without a volume (`status all shd` is no command)."""
        if word not in {d.value for d in cls}:
            raise OperationFailed(f"{word} is not a daemon `volume status` lists (one of "
                                  f"{', '.join(d.value for d in cls)})", errno.EINVAL)
        if not volume:
            raise OperationFailed(f"the status of {word} is a volume's: name the volume",
                                  errno.EINVAL)
        return cls(word)

    @property
    def label(self) -> str:
        """The name glusterd files the daemon under (``brickN.hostname``)."""
        return {StatusDaemon.SHD: "Self-heal Daemon", StatusDaemon.QUOTAD: "Quota Daemon",
                StatusDaemon.NFS: "NFS Server"}[self]


def daemon_refusal(daemon: StatusDaemon, volume: Any) -> OperationFailed | None:
    """``glusterd_op_stage_status_volume``'s refusal of `status VOL shd|quotad` (after the
    volume is found started), or None."""
    if daemon is StatusDaemon.SHD:
        if volume.type not in (VolumeType.REPLICATE, VolumeType.DISPERSE):
            return OperationFailed(f"Volume {volume.name} is not Self-heal compatible",
                                   errno.EINVAL)
        if not self_heal_enabled(volume):
            return OperationFailed(f"Self-heal Daemon is disabled for volume {volume.name}",
                                   errno.EINVAL)
    if daemon is StatusDaemon.QUOTAD and not quota_enabled(volume):
        return OperationFailed(f"Volume {volume.name} does not have quota enabled", errno.EINVAL)
    return None


def daemon_not_running(daemon: StatusDaemon) -> OperationFailed:
    """`status VOL shd|quotad WHAT` when this node's daemon is not running (glusterd fails
    its brick-op phase without a message then; these are the words of its log)."""
    what = "Self-heal daemon" if daemon is StatusDaemon.SHD else "Quotad"
    return OperationFailed(f"{what} is not running", errno.ENOTCONN)
