"""`volume statedump VOL [OPTION...]` and `volume barrier VOL enable|disable`, with glusterd
10.3's rules and messages (``glusterd_op_stage_statedump_volume``,
``glusterd_op_statedump_volume``, ``glusterd_op_stage_barrier``, ``glusterd_op_barrier``;
facts re-expressed here).

Both act on every brick on the brick's own host (Executor steps run by
``services.brick_diagnostics``): statedump writes the options file and signals each running
brick (a brick that fails is passed over, as glusterd does); barrier sends BRICK_BARRIER to
each running brick, then stores ``features.barrier`` as given (``enable``/``disable``), as
glusterd stores it, so that a restarted brick keeps it.
"""

from __future__ import annotations

import enum
import errno
from typing import TYPE_CHECKING

from gluster_mgmt.cluster.profile import merge_answers
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Volume, VolumeStatus
from gluster_mgmt.rules import STATEDUMP_OPTIONS

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor steps each brick host runs.
BRICK_STATEDUMP = "brick.statedump"
BRICK_BARRIER = "brick.barrier"
#: The option `volume barrier` stores.
BARRIER_OPTION = "features.barrier"


class BarrierCommand(str, enum.Enum):
    ENABLE = "enable"
    DISABLE = "disable"


class BrickSignals:
    """Statedump and barrier (``Cluster.brick_signals``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def statedump(self, name: str, words: list[str]) -> None:
        """Dump the state of every running brick of volume ``name`` into its
        ``server.statedump-path``; ``words`` limit what is dumped."""
        unknown = [w for w in words if w not in STATEDUMP_OPTIONS]
        if unknown:
            raise OperationFailed(f"Invalid statedump option {unknown[0]}: one or more of "
                                  f"{', '.join(STATEDUMP_OPTIONS)}", errno.EINVAL)
        volume, _ = self.volumes.load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not in the started state", errno.EINVAL)
        hosts = self._brick_hosts(volume)
        if hosts:  # a brick that cannot be signalled is passed over (glusterd logs it)
            self.cluster.run(f"volume statedump {name}",
                             [Step(BRICK_STATEDUMP, tuple(hosts),
                                   {"volume": name, "options": list(words)})],
                             locks=[f"volume-{name}"], commit=[])

    def barrier(self, name: str, command: str) -> None:
        """Enable or disable the barrier of every running brick of ``name``."""
        try:
            command = BarrierCommand(command).value
        except ValueError:
            raise OperationFailed(f"Invalid barrier command {command!r}: enable or disable",
                                  errno.EINVAL) from None
        volume, _ = self.volumes.load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not started", errno.EINVAL)
        hosts = self._brick_hosts(volume)
        if hosts:
            record = self.cluster.run(f"volume barrier {name}",
                                      [Step(BRICK_BARRIER, tuple(hosts),
                                            {"volume": name, "barrier": command})],
                                      locks=[f"volume-{name}"], commit=[])
            answers = {int(a["position"]): a for host in hosts
                       for a in record.steps[0].outcomes[host].result or []}
            hostnames = {v.peer.uuid: (v.peer.hostnames or (v.peer.uuid,))[0]
                         for v in self.cluster.peers.all()}
            merge_answers(volume, self.cluster.node_uuid, hostnames, answers)  # raises on failure
        self.volumes.update_options(name, lambda _: ([(BARRIER_OPTION, command)], frozenset()))

    def _brick_hosts(self, volume: Volume) -> list[str]:
        connected = {v.peer.uuid for v in self.cluster.peers.all() if v.connected}
        return [h for h in dict.fromkeys(b.host_uuid for b in volume.bricks) if h in connected]
