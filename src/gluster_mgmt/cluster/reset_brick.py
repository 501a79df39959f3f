"""`volume reset-brick VOL SRC start` and `reset-brick VOL SRC SRC commit [force]`: take a
brick out of service and bring the same brick back (after its disk was replaced or
reformatted), with glusterd 10.3's rules and messages (``glusterd_reset_brick_prevalidate``,
``glusterd_op_reset_brick``; facts re-expressed here).

`start` marks the brick :attr:`~gluster_mgmt.model.Brick.reset`: its host's reconciler stops
it and keeps it stopped. `commit force` clears the mark: the reconciler starts it again (and
makes the directory servable first, volume-id and all), and the replica's self-heal brings
the brick's data back. Then, as glusterd's commit does on every node (glusterd_svcs_stop and
glusterd_svcs_manager), each connected node restarts its services for the volume: quotad,
and the volume's self-heal graph (detached and attached again; a new self-heal process
when the volume was its only one). Only the same brick can come back: a new one is
`replace-brick`'s.
"""

from __future__ import annotations

import enum
import errno
from typing import TYPE_CHECKING

import attrs

from gluster_mgmt.cluster.profile import connected_nodes
from gluster_mgmt.errors import OperationFailed, ValidationError
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Volume, VolumeStatus

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor step each connected node runs after `commit`: its services restarted.
RESTART_SERVICES = "node.restart-services"

NEW_BRICK = ("When destination brick is new, please use gluster volume replace-brick "
             "<volname> <src-brick> <dst-brick> commit force")
NOT_STOPPED = ("Source brick must be stopped. Please use gluster volume reset-brick "
               "<volname> <dst-brick> start.")
NEEDS_FORCE = ("Brick not available.It may be containing or be contained by an existing "
               "brick.Use 'force' option to override this.")


class ResetOp(str, enum.Enum):
    """The CLI's ``operation`` (``GF_RESET_OP_*``) and the REST route's word."""

    START = "start"
    COMMIT = "commit"
    COMMIT_FORCE = "commit-force"

    @property
    def success(self) -> str:
        """What the stock CLI prints on success (its own words, not glusterd's)."""
        return f"reset-brick {self.value.replace('-', ' ')} operation successful"


class ResetBrick:
    """The reset-brick half of the Cluster API (``Cluster.reset_brick``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def reset_brick(self, name: str, source: str, op: ResetOp | str,
                    destination: str | None = None) -> Volume:
        op = ResetOp(op)
        volume, _ = self.volumes.load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"volume: {name} is not started", errno.EINVAL)
        index = self._position(volume, source)
        brick = volume.bricks[index]
        if op is ResetOp.START:
            if brick.reset:  # already out of service: glusterd succeeds again
                return volume
            return self._mark(volume, index, True)
        if destination is None or not self._same(brick.name, destination):
            raise OperationFailed(NEW_BRICK, errno.EINVAL)
        if not brick.reset:
            raise OperationFailed(NOT_STOPPED, errno.EBUSY)
        if op is ResetOp.COMMIT:  # the brick is the volume's own: glusterd needs force
            raise OperationFailed(NEEDS_FORCE, errno.EEXIST)
        updated = self._mark(volume, index, False)
        self.cluster.run(f"volume reset-brick {name}",
                         [Step(RESTART_SERVICES, tuple(connected_nodes(self.cluster)),
                               {"volume": name})],
                         locks=[f"volume-{name}"], commit=[])
        return updated

    def _position(self, volume: Volume, spec: str) -> int:
        try:
            host, path = self.cluster.parse_brick(spec)
        except ValidationError:
            host, path = None, None
        for index, brick in enumerate(volume.bricks):
            if (brick.hostname, brick.path) == (host, path):
                return index
        raise OperationFailed(f"brick: {spec} does not exist in volume: {volume.name}",
                              errno.EINVAL)

    def _same(self, name: str, spec: str) -> bool:
        try:
            host, path = self.cluster.parse_brick(spec)
        except ValidationError:
            return False
        return f"{host}:{path}" == name

    def _mark(self, volume: Volume, index: int, reset: bool) -> Volume:
        bricks = list(volume.bricks)
        bricks[index] = attrs.evolve(bricks[index], reset=reset)
        updated = volume.evolve(bricks=tuple(bricks))
        self.volumes.commit_change(volume, updated, [])
        return updated
