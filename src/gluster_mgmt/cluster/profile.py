"""`volume profile VOL start|stop|info [...]` and `volume top VOL ...`, with glusterd 10.3's
rules and messages (``glusterd_op_stage_stats_volume``, ``glusterd_op_stats_volume``,
``glusterd_bricks_select_profile_volume``, ``glusterd_profile_volume_brick_rsp``; facts
re-expressed here).

`start`/`stop` are option changes: start sets ``diagnostics.latency-measurement`` and
``diagnostics.count-fop-hits`` to ``on``, stop removes both (profiling is on only while both
are true). `info` and `top` ask each running brick's io-stats xlator with XLATOR_INFO, on the
brick's own host (an Executor step, :data:`BRICK_XLATOR_INFO`, run by
``services.brick_diagnostics``); the answers are numbered 1.. in brick order, each key
prefixed ``N-`` with ``N-brick`` naming the brick, into the dict the stock CLI prints.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt import options
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Volume, VolumeStatus
from gluster_mgmt.rules import TOP_LIST_MAX, TOP_PERF_BYTES_MAX, InfoOp, StatsOp, TopOp

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import OptionChange, VolumeContext, Volumes

#: The Executor step each brick host runs: XLATOR_INFO to its bricks named in the args.
BRICK_XLATOR_INFO = "brick.xlator-info"
#: The options `profile start` sets and `profile stop` removes, in glusterd's order.
PROFILE_OPTIONS = ("diagnostics.latency-measurement", "diagnostics.count-fop-hits")
#: What glusterd answers when a brick host's brick op fails.
BRICK_OPS_FAILED = "Brick ops failed on {host}. Please check log file for details"


@attrs.frozen
class StatsRequest:
    """One `profile` or `top` command, as the stock CLI's dict says it."""

    volume: str
    op: StatsOp
    info_op: InfoOp = InfoOp.NONE
    peek: bool = False
    top_op: TopOp = TopOp.NONE
    clear: bool = False
    list_count: int = TOP_LIST_MAX
    brick: str | None = None
    block_size: int = 0
    block_count: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StatsRequest":
        """From the REST route's parameters (the same names as the attributes)."""
        try:
            op = StatsOp(int(data["op"]))
            info_op = InfoOp(int(data.get("info_op") or 0))
            top_op = TopOp(int(data.get("top_op") or 0))
            list_count = int(data.get("list_count", TOP_LIST_MAX))
            block_size, block_count = int(data.get("block_size") or 0), int(data.get("block_count") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise OperationFailed(f"Invalid profile request: {exc}", errno.EINVAL) from None
        if not 0 <= list_count <= TOP_LIST_MAX:
            raise OperationFailed("list-cnt should be between 0 to 100", errno.EINVAL)
        if block_size < 0 or block_count < 0 or (block_size > 0) != (block_count > 0):
            raise OperationFailed("Need to give both 'bs' and 'count'", errno.EINVAL)
        if block_size * block_count > TOP_PERF_BYTES_MAX:
            raise OperationFailed(f"'bs * count' value {block_size * block_count} is greater "
                                  f"than maximum allowed value of 10GB", errno.EINVAL)
        return cls(str(data["name"]), op, info_op, bool(data.get("peek")), top_op,
                   bool(data.get("clear")), list_count, data.get("brick") or None,
                   block_size, block_count)

    def brick_request(self) -> list[tuple[str, str | int]]:
        """The dict io-stats reads (glusterd forwards the CLI's): info-op and peek, or top-op,
        list-cnt, clear-stats and the perf test's block size and count."""
        pairs: list[tuple[str, str | int]] = [("volname", self.volume), ("op", int(self.op))]
        if self.op is not StatsOp.TOP:  # profile start/stop/info: the CLI's profile words
            return pairs + [("info-op", int(self.info_op)), ("peek", int(self.peek))]
        if self.clear:
            pairs.append(("clear-stats", 1))
        pairs += [("top-op", int(self.top_op))]
        if self.block_size:
            pairs += [("blk-size", self.block_size), ("blk-cnt", self.block_count)]
        if self.brick:
            pairs.append(("brick", self.brick))
        return pairs + [("list-cnt", self.list_count)]


@attrs.frozen
class StatsResult:
    """What `profile`/`top` answers: the request's words and the bricks' merged answers
    (``count``, ``N-brick``, ``N-…``) as glusterd's reply dict holds them."""

    name: str
    op: StatsOp
    request: tuple[tuple[str, str | int], ...]
    output: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": int(self.op), "op_name": self.op.name.lower(),
                "request": [list(p) for p in self.request],
                "output": [list(p) for p in self.output]}


def profiling(volume: Volume) -> bool:
    """``glusterd_is_profile_on``: both options true."""
    def true(key: str) -> bool:
        try:
            return options.parse_bool(volume.options.get(key, "off"))
        except ValueError:
            return False
    return all(true(key) for key in PROFILE_OPTIONS)


class Profile:
    """The profile/top half of the Cluster API (``Cluster.profile``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def run(self, request: StatsRequest) -> StatsResult:
        request_pairs = tuple(request.brick_request())
        if request.op in (StatsOp.START, StatsOp.STOP):
            self._switch(request)
            return StatsResult(request.volume, request.op, request_pairs)
        if request.op not in (StatsOp.INFO, StatsOp.TOP):
            raise OperationFailed(f"Invalid profile op: {int(request.op)}", errno.EINVAL)
        volume, _ = self.volumes.load_existing(request.volume)
        self._stage(volume, request.op)
        positions = self._select(volume, request)
        output = self._ask(volume, request, positions) if positions else []
        return StatsResult(volume.name, request.op, request_pairs, tuple(output))

    def _switch(self, request: StatsRequest) -> None:
        def change(volume: Volume) -> "OptionChange":
            self._stage(volume, request.op)
            if request.op is StatsOp.STOP:
                return (), frozenset(PROFILE_OPTIONS)
            return [(key, "on") for key in PROFILE_OPTIONS], frozenset()
        self.volumes.update_options(request.volume, change)

    @staticmethod
    def _stage(volume: Volume, op: StatsOp) -> None:
        name = volume.name
        on = profiling(volume)
        if op is StatsOp.START and on:
            raise OperationFailed(f"Profile on Volume {name} is already started", errno.EINVAL)
        if op in (StatsOp.STOP, StatsOp.INFO) and not on:
            raise OperationFailed(f"Profile on Volume {name} is not started", errno.EINVAL)
        if op in (StatsOp.TOP, StatsOp.INFO) and volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not started.", errno.EINVAL)

    def _select(self, volume: Volume, request: StatsRequest) -> list[int]:
        """The bricks asked, by position: `top ... brick H:P` that one, else all (the brick
        hosts answer for their running bricks only)."""
        if request.op is StatsOp.TOP and request.brick:
            host, path = self.cluster.parse_brick(request.brick)
            for position, brick in enumerate(volume.bricks):
                if (brick.hostname, brick.path) == (host, path):
                    return [position]
            raise OperationFailed(BRICK_OPS_FAILED.format(host="localhost"), errno.EINVAL)
        return list(range(len(volume.bricks)))

    def _ask(self, volume: Volume, request: StatsRequest,
             positions: Sequence[int]) -> list[tuple[str, str]]:
        hosts = brick_hosts(self.cluster, volume, positions)
        if not hosts:
            return [("count", "0")]
        args = {"volume": volume.name, "positions": list(positions),
                "request": [list(p) for p in request.brick_request()]}
        record = self.cluster.run(f"volume profile {volume.name}",
                                  [Step(BRICK_XLATOR_INFO, tuple(hosts), args)],
                                  locks=[f"volume-{volume.name}"], commit=[])
        return merge_answers(volume, self.cluster.node_uuid, peer_names(self.cluster),
                             answers_of(record, hosts))


def answers_of(record: Any, hosts: Sequence[str]) -> dict[int, Mapping[str, Any]]:
    """The bricks' answers of a one-step transaction (each host's step result lists its
    bricks' ``BrickAnswer`` dicts), by brick position."""
    return {int(answer["position"]): answer for host in hosts
            for answer in record.steps[0].outcomes[host].result or []}


def connected_nodes(cluster: "VolumeContext") -> list[str]:
    """Every connected node, in the peers' order (a glusterd transaction's commit reaches
    each)."""
    return [v.peer.uuid for v in cluster.peers.all() if v.connected]


def brick_hosts(cluster: "VolumeContext", volume: Volume,
                positions: Sequence[int] | None = None) -> list[str]:
    """The connected nodes hosting the bricks at ``positions`` (all: None), in brick order:
    a disconnected node takes no part, as in a glusterd transaction."""
    connected = set(connected_nodes(cluster))
    wanted = range(len(volume.bricks)) if positions is None else positions
    return list(dict.fromkeys(volume.bricks[i].host_uuid for i in wanted
                              if volume.bricks[i].host_uuid in connected))


def peer_names(cluster: "VolumeContext") -> dict[str, str]:
    """Each node's first name, by uuid (what glusterd's failures name a node by)."""
    return {v.peer.uuid: (v.peer.hostnames or (v.peer.uuid,))[0] for v in cluster.peers.all()}


def merge_answers(volume: Volume, node_uuid: str, hostnames: Mapping[str, str],
                  answers: Mapping[int, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``glusterd_profile_volume_brick_rsp`` over the answers in brick order: ``N-brick``
    then the brick's keys as ``N-key``, ``count`` last. A brick that failed fails the
    command with its message (or glusterd's, naming its host)."""
    output: list[tuple[str, str]] = []
    count = 0
    for position, brick in enumerate(volume.bricks):
        answer = answers.get(position)
        if answer is None:
            continue
        if int(answer.get("op_ret", 0)) < 0:
            host = "localhost" if brick.host_uuid == node_uuid else \
                hostnames.get(brick.host_uuid, brick.hostname)
            raise OperationFailed(str(answer.get("op_errstr") or "") or
                                  BRICK_OPS_FAILED.format(host=host), errno.EIO)
        count += 1
        output.append((f"{count}-brick", f"{brick.hostname}:{brick.path}"))
        output += [(f"{count}-{key}", str(value)) for key, value in answer.get("output") or ()]
    output.append(("count", str(count)))
    return output
