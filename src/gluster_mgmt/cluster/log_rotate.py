"""`volume log VOL rotate [BRICK]`, with glusterd 10.3's rules and messages
(``glusterd_op_stage_log_rotate``, ``glusterd_op_log_rotate``; facts re-expressed here).

glusterd stamps the request with the time (``rotate-key``, seconds since the epoch); each
node hosting one of the bricks renames the brick's log to ``LOG.KEY`` and sends the brick
SIGHUP, on which glusterfsd reopens its log file (the Executor step :data:`LOG_ROTATE_STEP`,
run by ``services.log_rotate`` on the brick's host).
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

import attrs

from gluster_mgmt.errors import OperationFailed, ValidationError
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Brick, Volume, VolumeStatus

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor step each brick host runs.
LOG_ROTATE_STEP = "brick.log-rotate"


@attrs.frozen
class Rotation:
    """What a rotation did: the key its renamed logs end with, and the bricks."""

    volume: str
    key: int
    bricks: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"volume": self.volume, "rotate_key": self.key, "bricks": list(self.bricks)}


class LogRotate:
    """The log-rotate half of the Cluster API (``Cluster.log_rotate``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def rotate(self, name: str, brick: str | None = None) -> Rotation:
        volume, _ = self.volumes.load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} needs to be started before log rotate.",
                                  errno.EINVAL)
        bricks = [self._brick(volume, brick)] if brick else list(volume.bricks)
        key = int(time.time())
        hosts = tuple(dict.fromkeys(b.host_uuid for b in bricks))
        args = {"volume": volume.name, "key": key,
                "bricks": [{"host_uuid": b.host_uuid, "uuid": b.uuid} for b in bricks]}
        self.cluster.run(f"volume log {volume.name} rotate", [Step(LOG_ROTATE_STEP, hosts, args)],
                         locks=[f"volume-{volume.name}"], commit=[])
        return Rotation(volume.name, key, tuple(b.name for b in bricks))

    def _brick(self, volume: Volume, spec: str) -> Brick:
        try:
            host, path = self.cluster.parse_brick(spec)
        except ValidationError:
            host, path = None, None
        found = volume.brick_by_path(host, path) if host else None
        if found is None:
            raise OperationFailed(f"Incorrect brick {spec} for volume {volume.name}", errno.EINVAL)
        return found
