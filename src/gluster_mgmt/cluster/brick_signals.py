"""`volume statedump VOL [nfs|quotad] [OPTION...]`, `volume statedump VOL client HOST:PID`
and `volume barrier VOL enable|disable`, with glusterd 10.3's rules and messages
(``glusterd_op_stage_statedump_volume``, ``glusterd_op_statedump_volume``,
``glusterd_quotad_statedump``, ``glusterd_client_statedump``, ``glusterd_op_stage_barrier``,
``glusterd_op_barrier``; facts re-expressed here).

All act through Executor steps run by ``services.brick_diagnostics`` on the nodes concerned:

* bricks (no target word, or ``nfs``: Debian's glusterd 10.3 is built without gNFS, so
  ``nfs`` is one more word of the bricks' options file): the options file and SIGUSR1 to
  each running brick, on its host (a brick that fails is passed over, as glusterd does);
* ``quotad`` (first word; the volume must have quota on): each node's quotad likewise;
* ``client HOST PID``: each node sends CALLBACK STATEDUMP PID on the mgmt connections from
  HOST that fetched the volume's volfile; the client with that pid dumps its state (a gfapi
  client; the FUSE client ignores the callback, under glusterd as here).

Barrier sends BRICK_BARRIER to each running brick, then stores ``features.barrier`` as given
(``enable``/``disable``), as glusterd stores it, so that a restarted brick keeps it.
"""

from __future__ import annotations

import enum
import errno
import re
from typing import TYPE_CHECKING

from gluster_mgmt.cluster.profile import (
    answers_of,
    brick_hosts,
    connected_nodes,
    merge_answers,
    peer_names,
)
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import Step
from gluster_mgmt.model import VolumeStatus
from gluster_mgmt.rules import STATEDUMP_OPTIONS
from gluster_mgmt.volgen import quota_enabled

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import VolumeContext, Volumes

#: The Executor steps each brick host runs.
BRICK_STATEDUMP = "brick.statedump"
BRICK_BARRIER = "brick.barrier"
#: The Executor steps every connected node runs: its quotad's statedump, its clients'.
QUOTAD_STATEDUMP = "quotad.statedump"
CLIENT_STATEDUMP = "client.statedump"
#: The words that name what is dumped instead of the bricks (the CLI's ``nfs`` is a
#: bricks' option word here: no NFS server in glusterd 10.3 as Debian builds it).
QUOTAD, CLIENT, NFS = "quotad", "client", "nfs"
#: The option `volume barrier` stores.
BARRIER_OPTION = "features.barrier"


class BarrierCommand(str, enum.Enum):
    """`volume barrier`'s word: sent to the bricks and stored in ``features.barrier`` as
    given, as glusterd stores it."""

    ENABLE = "enable"
    DISABLE = "disable"


def client_target(words: list[str]) -> dict[str, object]:
    """``client HOST PID``'s host and pid, with glusterd's messages when one is missing
    (the stock CLI always sends both)."""
    if len(words) < 2:
        raise OperationFailed("ip address not specified", errno.EINVAL)
    if len(words) < 3:
        raise OperationFailed("pid not specified", errno.EINVAL)
    digits = re.match(r"\s*\+?(\d+)", words[2])  # glusterd's strtol: leading digits
    if digits is None or int(digits[1]) <= 0:
        raise OperationFailed(f"Invalid pid {words[2]}: a process id greater than zero",
                              errno.EINVAL)
    return {"host": words[1], "pid": int(digits[1])}


class BrickSignals:
    """Statedump and barrier (``Cluster.brick_signals``)."""

    def __init__(self, cluster: "VolumeContext", volumes: "Volumes") -> None:
        self.cluster = cluster
        self.volumes = volumes

    def statedump(self, name: str, words: list[str]) -> None:
        """Dump the state of every running brick of volume ``name`` into its
        ``server.statedump-path`` (``words`` limit what is dumped), or of each node's quotad
        (``quotad`` first), or ask the client ``client HOST PID`` to dump its own."""
        words = [str(w) for w in words]
        client = words[:1] == [CLIENT]
        if not client:
            unknown = [w for w in words if w not in (*STATEDUMP_OPTIONS, NFS, QUOTAD)]
            if unknown:
                raise OperationFailed(f"Invalid statedump option {unknown[0]}: one or more of "
                                      f"{', '.join((NFS, QUOTAD, *STATEDUMP_OPTIONS))}",
                                      errno.EINVAL)
        volume, _ = self.volumes.load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not in the started state", errno.EINVAL)
        if QUOTAD in words:
            if not quota_enabled(volume):
                raise OperationFailed(f"Quota is not enabled on volume {name}", errno.EINVAL)
            if words[0] != QUOTAD:
                raise OperationFailed("for quotad statedump, options should be after the key "
                                      "'quotad'", errno.EINVAL)
            step = Step(QUOTAD_STATEDUMP, tuple(connected_nodes(self.cluster)),
                        {"options": words})
        elif client:
            step = Step(CLIENT_STATEDUMP, tuple(connected_nodes(self.cluster)),
                        {"volume": name, **client_target(words)})
        else:
            hosts = brick_hosts(self.cluster, volume)
            if not hosts:
                return
            # a brick that cannot be signalled is passed over (glusterd logs it)
            step = Step(BRICK_STATEDUMP, tuple(hosts), {"volume": name, "options": words})
        self.cluster.run(f"volume statedump {name}", [step], locks=[f"volume-{name}"],
                         commit=[])

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
