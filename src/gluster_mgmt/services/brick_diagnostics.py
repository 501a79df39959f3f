"""This node's part of `volume profile info`, `volume top`, `volume barrier` and `volume
statedump`: what glusterd does to each brick on the brick's own host, to its quotad and,
for a client statedump, on its mgmt connections.

* XLATOR_INFO (``glusterd_brick_op_build_payload`` for GD_OP_PROFILE_VOLUME): one GD_BRICK
  call on the brick's unix socket, ``name`` the brick's path, ``input`` the command's dict
  (``info-op``/``peek`` or ``top-op``/``list-cnt``/``blk-size``/``blk-cnt``/``brick``); the
  brick's io-stats xlator answers with its counters as a dict.
* BRICK_BARRIER (GD_OP_BARRIER): likewise, the dict's ``barrier`` ``enable``/``disable``.
* statedump (``glusterd_brick_signal``): the options file
  ``/var/run/gluster/glusterdump.PID.options`` (one ``OPTION=yes`` line each; none written
  without options, nor for the lone word ``nfs``), SIGUSR1 to the brick, a second's wait,
  the file removed. The brick writes its dump into its ``server.statedump-path``; quotad,
  signalled alike (``quotad=yes`` among its options, as glusterd writes them), into
  /var/run/gluster.
* client statedump (``glusterd_client_statedump_submit_req``): CALLBACK STATEDUMP with the
  pid on this node's mgmt connections from the client's address that fetched the volume.

Each brick's answer is reported, never raised: glusterd skips a brick that fails.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt.cluster.brick_signals import (
    BRICK_BARRIER,
    BRICK_STATEDUMP,
    CLIENT_STATEDUMP,
    NFS,
    QUOTAD_STATEDUMP,
)
from gluster_mgmt.cluster.profile import BRICK_XLATOR_INFO
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.defrag_client import DefragError, brick_op
from gluster_mgmt.mgmt_rpc.gluster_dict import DictValue, decode_dict, encode_dict, value_text
from gluster_mgmt.mgmt_rpc.xdr import XdrError
from gluster_mgmt.model import Brick, Volume

if TYPE_CHECKING:
    from gluster_mgmt.executor import StepRegistry
    from gluster_mgmt.mgmt_rpc.server import MgmtRpcServer
    from gluster_mgmt.services.reconciler import Reconciler

#: Seconds a brick has to answer XLATOR_INFO: within the Executor's step deadline (60 s), so
#: that a read-perf/write-perf test too large for it (up to 10 GB) fails with the brick's
#: name rather than the transaction's timeout.
XLATOR_INFO_TIMEOUT = 50.0
#: Seconds a brick has to answer BRICK_BARRIER.
BARRIER_TIMEOUT = 30.0
#: glusterd's DEFAULT_VAR_RUN_DIRECTORY: where a brick looks for its statedump options.
STATEDUMP_OPTIONS_DIR = "/var/run/gluster"
#: glusterd's pause between signalling a brick and removing its options file.
STATEDUMP_PAUSE = 1.0
#: Seconds the mgmt server has to send a client statedump callback.
CALLBACK_TIMEOUT = 10.0


@attrs.frozen
class BrickAnswer:
    """One local brick's answer: its position in the volume, op_ret and the reply dict as
    text pairs in the brick's wire order."""

    position: int
    op_ret: int
    op_errstr: str = ""
    output: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "op_ret": self.op_ret, "op_errstr": self.op_errstr,
                "output": [list(pair) for pair in self.output]}


def local_bricks(volume: Volume, node_uuid: str, positions: Sequence[int]) -> list[tuple[int, Brick]]:
    """The bricks at ``positions`` that this node hosts."""
    return [(i, volume.bricks[i]) for i in positions
            if 0 <= i < len(volume.bricks) and volume.bricks[i].host_uuid == node_uuid]


def brick_call(socket_path: str, brick: Brick, proc: pg.BrickProc,
               request: Mapping[str, DictValue], timeout: float) -> tuple[int, str, list[tuple[str, str]]]:
    """One GD_BRICK call naming the brick's path: (op_ret, op_errstr, reply pairs)."""
    try:
        reply = brick_op(socket_path, pg.BrickOpRequest(brick.path, proc, encode_dict(request)),
                         proc, timeout, what="brick")
        output = decode_dict(reply.output) if reply.output else {}
    except (DefragError, XdrError) as exc:
        return -1, str(exc), []
    return reply.op_ret, reply.op_errstr, [(k, value_text(v)) for k, v in output.items()]


def request_dict(pairs: Sequence[Sequence[Any]]) -> dict[str, DictValue]:
    """The command's dict as the cluster half passed it (``[key, value]`` pairs)."""
    return {str(k): v if isinstance(v, int) and not isinstance(v, bool) else str(v) for k, v in pairs}


def options_file(pid: int, directory: str = STATEDUMP_OPTIONS_DIR) -> str:
    return os.path.join(directory, f"glusterdump.{pid}.options")


def options_text(options: Sequence[str]) -> str:
    """The options file's content: one ``OPTION=yes`` line per option."""
    return "".join(f"{option}=yes\n" for option in options)


def writes_options(options: Sequence[str]) -> bool:
    """Whether glusterd writes an options file for these words (glusterd_set_dump_options):
    not for none, nor for the lone ``nfs``."""
    return bool(options) and list(options) != [NFS]


def addresses_of(host: str) -> list[str]:
    """Every address ``host`` resolves to (glusterd's gf_is_same_address compares those);
    none when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def statedump(pids: Mapping[int, int | None], options: Sequence[str],
              directory: str = STATEDUMP_OPTIONS_DIR) -> list[BrickAnswer]:
    """Signal each local brick (position -> pid, None: not running) to dump its state."""
    answers = []
    written = []
    for position, pid in pids.items():
        if not pid:
            answers.append(BrickAnswer(position, -1, "brick is not running"))
            continue
        path = options_file(pid, directory)
        try:
            if writes_options(options):
                os.makedirs(directory, exist_ok=True)
                with open(path, "w", encoding="utf-8") as out:
                    out.write(options_text(options))
                written.append(path)
            os.kill(pid, signal.SIGUSR1)
        except OSError as exc:
            answers.append(BrickAnswer(position, -1, f"{exc.strerror or exc}"))
            continue
        answers.append(BrickAnswer(position, 0))
    if answers:
        time.sleep(STATEDUMP_PAUSE)  # the brick reads its options file when it dumps
    for path in written:
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
    return answers


class LocalBrickSteps:
    """The Executor steps of profile/top, statedump and barrier on this node, each acting on
    this node's running bricks of the named volume (``reconciler`` gives their sockets and
    pids, and quotad's; ``volume`` the volume as this node last saw it; ``mgmt_server`` the
    node's mgmt RPC server, for client statedumps)."""

    def __init__(self, node_uuid: str, reconciler: Callable[[], "Reconciler | None"],
                 volume: Callable[[str], Volume],
                 mgmt_server: Callable[[], "MgmtRpcServer | None"] = lambda: None) -> None:
        self.node_uuid = node_uuid
        self._reconciler = reconciler
        self._volume = volume
        self._mgmt_server = mgmt_server

    def register(self, steps: "StepRegistry") -> None:
        steps.register(BRICK_XLATOR_INFO, self.xlator_info)
        steps.register(BRICK_STATEDUMP, self.statedump)
        steps.register(BRICK_BARRIER, self.barrier)
        steps.register(QUOTAD_STATEDUMP, self.quotad_statedump)
        steps.register(CLIENT_STATEDUMP, self.client_statedump)

    def _reconciler_now(self) -> "Reconciler":
        reconciler = self._reconciler()
        if reconciler is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        return reconciler

    def _running(self, name: str, positions: Sequence[int] | None = None
                 ) -> tuple["Reconciler", Volume, dict[int, int]]:
        """This node's running bricks of ``name`` among ``positions``: position -> pid."""
        reconciler = self._reconciler_now()
        volume = self._volume(name)
        status = reconciler.brick_status(volume)
        wanted = range(len(volume.bricks)) if positions is None else positions
        pids = {position: int(status[brick.uuid]["pid"])
                for position, brick in local_bricks(volume, self.node_uuid, wanted)
                if (status.get(brick.uuid) or {}).get("pid")}
        return reconciler, volume, pids

    def _brick_op(self, args: Mapping[str, Any], proc: pg.BrickProc,
                  request: Mapping[str, DictValue], timeout: float) -> list[dict[str, Any]]:
        reconciler, volume, pids = self._running(args["volume"], args.get("positions"))
        answers = []
        for position in pids:
            brick = volume.bricks[position]
            op_ret, errstr, output = brick_call(reconciler.specs.brick_socket(volume.name, brick),
                                                brick, proc, request, timeout)
            answers.append(BrickAnswer(position, op_ret, errstr, tuple(output)).to_dict())
        return answers

    def xlator_info(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._brick_op(args, pg.BrickProc.XLATOR_INFO, request_dict(args["request"]),
                              XLATOR_INFO_TIMEOUT)

    def barrier(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        request = {"volname": args["volume"], "barrier": args["barrier"]}
        return self._brick_op(args, pg.BrickProc.BRICK_BARRIER, request, BARRIER_TIMEOUT)

    def statedump(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        _, _, pids = self._running(args["volume"])
        return [a.to_dict() for a in statedump(pids, [str(o) for o in args.get("options") or ()])]

    def quotad_statedump(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        """This node's quotad dumps its state (glusterd fails the commit where none runs)."""
        pid = self._reconciler_now().quota.runtime(self.node_uuid, "")["pid"]
        if not pid:
            raise OperationFailed("Unable to get pid of quotad process: quotad is not running",
                                  errno.ESRCH)
        answer, = statedump({0: int(pid)}, [str(o) for o in args.get("options") or ()])
        if answer.op_ret:
            raise OperationFailed(f"quotad statedump failed: {answer.op_errstr}", errno.EIO)
        return [answer.to_dict()]

    def client_statedump(self, args: Mapping[str, Any]) -> int:
        """CALLBACK STATEDUMP to the client; how many connections were asked (none is no
        failure, as with glusterd)."""
        server = self._mgmt_server()
        addresses = addresses_of(str(args["host"]))
        if server is None or not addresses:
            return 0
        return server.statedump_clients_threadsafe(str(args["volume"]), addresses,
                                                   int(args["pid"])).result(CALLBACK_TIMEOUT)
