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

from gluster_mgmt.cluster.profile import answers_of, brick_hosts, merge_answers, peer_names
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import Step
from gluster_mgmt.model import VolumeStatus
from gluster_mgmt.rules import STATEDUMP_OPTIONS

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor steps each brick host runs.
BRICK_STATEDUMP = "brick.statedump"
BRICK_BARRIER = "brick.barrier"
#: The option `volume barrier` stores.
BARRIER_OPTION = "features.barrier"


class BarrierCommand(str, enum.Enum):
    """`volume barrier`'s word: sent to the bricks and stored in ``features.barrier`` as
    given, as glusterd stores it."""

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
        hosts = brick_hosts(self.cluster, volume)
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
        hosts = brick_hosts(self.cluster, volume)
        if hosts:
            record = self.cluster.run(f"volume barrier {name}",
                                      [Step(BRICK_BARRIER, tuple(hosts),
                                            {"volume": name, "barrier": command})],
                                      locks=[f"volume-{name}"], commit=[])
            # raises the first brick's failure
            merge_answers(volume, self.cluster.node_uuid, peer_names(self.cluster),
                          answers_of(record, hosts))
        self.volumes.update_options(name, lambda _: ([(BARRIER_OPTION, command)], frozenset()))
