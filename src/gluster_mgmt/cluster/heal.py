"""`volume heal VOL [full|statistics [heal-count [replica H:B]]|enable|disable]`, with
glusterd 10.3's rules and messages (``glusterd_op_stage_heal_volume``,
``glusterd_handle_heal_cmd``, ``glusterd_shd_select_brick_xlator``,
``_heal_volume_add_shd_rsp``; facts re-expressed here).

The work is the self-heal daemons': each node whose shd serves the volume gets one
GD_BRICK XLATOR_OP naming its ``VOL-replicate-N`` / ``VOL-disperse-N`` subvolumes (an
Executor step, :data:`SHD_XLATOR_OP`, run by ``services.self_heal`` on that node), and AFR
answers in a dict keyed ``SUBVOL-CHILD-what``; the answers are merged here, renumbered by
brick position as glusterd does, into the dict the stock CLI prints. `enable`/`disable` is a
`volume set` of the self-heal-daemon option. `heal VOL info` is not here: the stock CLI runs
glfsheal, which reads the bricks' indices itself.
"""

from __future__ import annotations

import enum
import errno
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt import options
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Brick, Volume, VolumeStatus, VolumeType

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor step each node runs: one XLATOR_OP to its self-heal daemon.
SHD_XLATOR_OP = "shd.xlator-op"
#: glusterd's answer when a node's self-heal daemon is not there to ask.
SHD_OFFLINE = "Self-heal daemon is not running. Check self-heal daemon log file."
#: glusterd's answer when a self-heal daemon answers op_ret -1.
SHD_OP_FAILED = ("Glusterd Syncop Mgmt brick op 'Heal' failed. Please check glustershd log "
                 "file for details.")


class HealOp(enum.IntEnum):
    """``gf_xl_afr_op_t``: the CLI's ``heal-op``."""

    INVALID = 0
    HEAL_INDEX = 1
    HEAL_FULL = 2
    INDEX_SUMMARY = 3
    HEALED_FILES = 4
    HEAL_FAILED_FILES = 5
    SPLIT_BRAIN_FILES = 6
    STATISTICS = 7
    STATISTICS_HEAL_COUNT = 8
    STATISTICS_HEAL_COUNT_PER_REPLICA = 9
    SBRAIN_HEAL_FROM_BIGGER_FILE = 10
    SBRAIN_HEAL_FROM_BRICK = 11
    HEAL_ENABLE = 12
    HEAL_DISABLE = 13
    SBRAIN_HEAL_FROM_LATEST_MTIME = 14
    GRANULAR_ENTRY_HEAL_ENABLE = 15
    GRANULAR_ENTRY_HEAL_DISABLE = 16
    HEAL_SUMMARY = 17


#: Ops the self-heal daemons answer with per-brick data the CLI prints.
GATHERING = frozenset({HealOp.STATISTICS, HealOp.STATISTICS_HEAL_COUNT,
                       HealOp.STATISTICS_HEAL_COUNT_PER_REPLICA})
#: Ops that are an option set: (value, per volume type the key).
_SWITCHES = {HealOp.HEAL_ENABLE: "enable", HealOp.HEAL_DISABLE: "disable",
             HealOp.GRANULAR_ENTRY_HEAL_ENABLE: "enable",
             HealOp.GRANULAR_ENTRY_HEAL_DISABLE: "disable"}
_SHD_KEYS = {VolumeType.REPLICATE: "cluster.self-heal-daemon",
             VolumeType.DISPERSE: "cluster.disperse-self-heal-daemon"}
#: Ops only glfsheal or a volume set performs: never a self-heal daemon's.
_INVALID = frozenset({HealOp.INVALID, HealOp.HEAL_SUMMARY, HealOp.SBRAIN_HEAL_FROM_BIGGER_FILE,
                      HealOp.SBRAIN_HEAL_FROM_LATEST_MTIME, HealOp.SBRAIN_HEAL_FROM_BRICK,
                      *_SWITCHES})
#: AFR's answer keys: SUBVOL-CHILD-what, and STATISTICS' PREFIX-SUBVOL-CHILD-what
_CHILD_KEY = re.compile(r"(?P<xl>[0-9]+)-(?P<child>[0-9]+)(?P<rest>-.*)", re.S)
_STATS_KEY = re.compile(r"(?P<prefix>[^-]+)-(?P<xl>[0-9]+)-(?P<child>[0-9]+)(?P<rest>-.*)", re.S)


@attrs.frozen
class HealResult:
    """What `volume heal` answers: the bricks (glusterd's ``N-hostname``/``N-path``) and the
    self-heal daemons' merged answer, keyed by brick position as the CLI reads it."""

    name: str
    op: HealOp
    bricks: tuple[tuple[str, str], ...] = ()
    output: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": int(self.op), "op_name": self.op.name.lower(),
                "bricks": [{"hostname": h, "path": p} for h, p in self.bricks],
                "output": [list(pair) for pair in self.output]}


def subvolume_name(volume: Volume, index: int) -> str:
    kind = "disperse" if volume.type is VolumeType.DISPERSE else "replicate"
    return f"{volume.name}-{kind}-{index}"


def self_heal_enabled(volume: Volume) -> bool:
    """``gd_is_self_heal_enabled``: the type's self-heal-daemon option (on by default)."""
    key = _SHD_KEYS.get(volume.type)
    if key is None:
        return False
    try:
        return options.parse_bool(volume.options.get(key, "on"))
    except ValueError:
        return False


class Heal:
    """The heal half of the Cluster API (``Cluster.heal``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def heal(self, name: str, op: HealOp | int, replica: str | None = None) -> HealResult:
        """Run heal ``op`` on volume ``name``; ``replica`` (``HOST:PATH``) names the
        replica set of `statistics heal-count replica`."""
        try:
            op = HealOp(int(op))
        except ValueError:
            raise OperationFailed("Invalid heal-op", errno.EINVAL) from None
        volume, _ = self.volumes.load_existing(name)
        if op in _SWITCHES:
            return self._switch(volume, op)
        self._stage(volume, op)
        bricks = tuple((b.hostname, b.path) for b in volume.bricks)
        picked = self._select(volume, op, replica)
        if not picked:  # glusterd sends nothing when no node has a subvolume to ask
            return HealResult(volume.name, op, bricks)
        args = {"volume": volume.name, "op": int(op),
                "xlators": {node: [[subvolume_name(volume, i), i] for i in indexes]
                            for node, indexes in picked.items()}}
        if replica:
            host, path = self.cluster.parse_brick(replica)
            args["replica"] = [host, path]
        record = self.cluster.run(f"volume heal {volume.name}",
                                  [Step(SHD_XLATOR_OP, tuple(picked), args)],
                                  locks=[f"volume-{volume.name}"], commit=[])
        outcomes = record.steps[0].outcomes
        output: dict[str, str] = {}
        for node in picked:
            answer = outcomes[node].result or {}
            if int(answer.get("op_ret", 0)) < 0 and op not in GATHERING:
                raise OperationFailed(answer.get("op_errstr") or SHD_OP_FAILED, errno.EIO)
            output.update(_renumber(volume, node, op, answer.get("output") or []))
        return HealResult(volume.name, op, bricks, tuple(output.items()))

    # -- glusterd's rules ----------------------------------------------------------------

    def _switch(self, volume: Volume, op: HealOp) -> HealResult:
        """`heal VOL enable|disable` (and granular-entry-heal): a `volume set`."""
        if op in (HealOp.HEAL_ENABLE, HealOp.HEAL_DISABLE):
            key = _SHD_KEYS.get(volume.type)
        else:
            key = "cluster.granular-entry-heal" if volume.type is VolumeType.REPLICATE else None
        if key is None:  # glusterd fails without a message; its handler says this
            raise OperationFailed("operation failed", errno.EINVAL)
        self.volumes.set(volume.name, [(key, _SWITCHES[op])])
        return HealResult(volume.name, op)

    @staticmethod
    def _stage(volume: Volume, op: HealOp) -> None:
        name = volume.name
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not started.", errno.EINVAL)
        if not self_heal_enabled(volume):
            raise OperationFailed(f"Self-heal-daemon is disabled. Heal will not be triggered "
                                  f"on volume {name}", errno.EINVAL)
        if op in _INVALID:
            raise OperationFailed("Invalid heal-op", errno.EINVAL)
        if op in (HealOp.HEALED_FILES, HealOp.HEAL_FAILED_FILES):
            raise OperationFailed(f'Command not supported. Please use "gluster volume heal '
                                  f'{name} info" and logs to find the heal information.',
                                  errno.EOPNOTSUPP)
        if op in GATHERING | {HealOp.INDEX_SUMMARY, HealOp.SPLIT_BRAIN_FILES} and \
                volume.type is not VolumeType.REPLICATE:
            raise OperationFailed(f"This command is supported for only volume of replicated "
                                  f"type. Volume {name} is not of type replicate", errno.EINVAL)

    def _select(self, volume: Volume, op: HealOp, replica: str | None) -> dict[str, list[int]]:
        """Which subvolumes each node's self-heal daemon is asked about, in brick-host order
        (``glusterd_shd_select_brick_xlator``): every node its subvolumes with a local
        brick; `full`, one node per subvolume (a connected host, the highest UUID, as
        glusterd's candidate choice); `heal-count replica H:B`, the node of that brick.
        Disconnected nodes are left out."""
        sets = volume.subvolumes()
        picked: dict[str, list[int]] = {}
        if op is HealOp.STATISTICS_HEAL_COUNT_PER_REPLICA:
            if not replica:
                raise OperationFailed("Unable to get the brick of the replica", errno.EINVAL)
            host, path = self.cluster.parse_brick(replica)
            for index, bricks in enumerate(sets):
                for brick in bricks:
                    if (brick.hostname, brick.path) == (host, path):
                        return {brick.host_uuid: [index]}
            raise OperationFailed(f"Brick {host}:{path} does not exist in volume {volume.name}",
                                  errno.EINVAL)
        # a disconnected node takes no part, as in a glusterd transaction
        connected = {v.peer.uuid for v in self.cluster.peers.all() if v.connected}
        if op is HealOp.HEAL_FULL:
            for index, bricks in enumerate(sets):
                hosts = [b.host_uuid for b in bricks if b.host_uuid in connected]
                if hosts:
                    picked.setdefault(max(hosts), []).append(index)
            return _in_host_order(volume, picked)
        for index, bricks in enumerate(sets):
            for host in dict.fromkeys(b.host_uuid for b in bricks if b.host_uuid in connected):
                picked.setdefault(host, []).append(index)
        return _in_host_order(volume, picked)


def _in_host_order(volume: Volume, picked: Mapping[str, list[int]]) -> dict[str, list[int]]:
    hosts = dict.fromkeys(b.host_uuid for b in volume.bricks)
    return {h: picked[h] for h in hosts if h in picked}


def _renumber(volume: Volume, node: str, op: HealOp,
              pairs: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """``_heal_volume_add_shd_rsp``: AFR's ``X-C-what`` becomes ``BRICK-what`` (brick =
    X * set size + C); a ``-status`` only for the node's own bricks; other keys dropped."""
    size = volume.subvolume_size
    bricks: Sequence[Brick] = volume.bricks
    result = []
    for key, value in pairs:
        match = (_STATS_KEY if op is HealOp.STATISTICS else _CHILD_KEY).fullmatch(key)
        if match is None:
            continue
        position = int(match["xl"]) * size + int(match["child"])
        if position >= len(bricks):
            continue
        rest = match["rest"]
        local = bricks[position].host_uuid == node
        if op is HealOp.STATISTICS:
            if local:
                result.append((f"{match['prefix']}-{position}{rest}", value))
        elif rest != "-status" or local:
            result.append((f"{position}{rest}", value))
    return result
