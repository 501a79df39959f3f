"""This node's part of `volume status ... clients|fd|inode|callpool|mem|client-list`: one
GD_BRICK STATUS to a local brick over its ``-S`` socket, as glusterd sends it
(``glusterd_brick_op_build_payload``: empty name, the op dict with ``cmd`` and
``brick-name`` the brick's path, which picks the brick's xlator). The brick answers from its
server xlator's dump ops; ``cluster.brick_dump`` files the pairs under the brick's position.

`volume status VOL shd|quotad mem|inode|callpool...` asks this node's daemon instead: a
GD_BRICK NODE_STATUS (``glusterd_node_op_build_payload``: empty name, the op dict), which
``glusterfs_handle_node_status`` answers from the process's own tables: it finds the
daemon's xlator by ``cmd``'s SHD/QUOTAD bit (``VOL-replicate-0`` under ``glustershd``,
``VOL`` under ``quotad``) and dumps mallinfo, that xlator's inode table or the call pool;
any other op is "Unknown status op" (op_ret -1, which glusterd passes on as op_errstr)."""

from __future__ import annotations

import errno
from typing import Any

from gluster_mgmt.cluster.brick_dump import BrickDump, StatusDaemon, daemon_not_running
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.defrag_client import DefragConnectionError, DefragError, brick_op
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict, value_text
from gluster_mgmt.model import Brick
from gluster_mgmt.services.process_specs import BrickSpecs

#: Seconds a brick has to answer (the inode and mem dumps walk tables).
BRICK_STATUS_TIMEOUT = 10.0
#: StatusFlag.VOL of the ``cmd`` glusterd passes on
_STATUS_VOL = 0x100
#: ``cmd``'s bit naming the daemon (``GF_CLI_STATUS_SHD``, ``GF_CLI_STATUS_QUOTAD``)
_DAEMON_BITS = {StatusDaemon.SHD: 0x1000, StatusDaemon.QUOTAD: 0x2000}


def brick_dump(specs: BrickSpecs, volume: str, brick: Brick, kind: BrickDump) -> list[list[str]]:
    """The brick's answer as ``[key, value]`` text pairs in its order; a brick that cannot
    be asked or refuses fails with the reason."""
    request = {"volname": volume, "cmd": int(kind) | _STATUS_VOL, "brick-name": brick.path}
    try:
        reply = brick_op(specs.brick_socket(volume, brick),
                         pg.BrickOpRequest("", pg.BrickProc.STATUS, encode_dict(request)),
                         pg.BrickProc.STATUS, BRICK_STATUS_TIMEOUT, what="brick")
    except DefragConnectionError as exc:
        raise OperationFailed(f"brick {brick.hostname}:{brick.path} is not running ({exc})",
                              errno.ENOTCONN) from None
    except DefragError as exc:
        raise OperationFailed(f"brick {brick.hostname}:{brick.path}: {exc}", errno.EIO) from None
    if reply.op_ret < 0:
        raise OperationFailed(reply.op_errstr or f"brick {brick.hostname}:{brick.path} could "
                              f"not answer {kind.word}", errno.EIO)
    output: dict[str, Any] = decode_dict(reply.output) if reply.output else {}
    return [[key, value_text(value)] for key, value in output.items()]


def daemon_dump(socket: str | None, volume: str, daemon: StatusDaemon, kind: BrickDump
                ) -> tuple[str, list[list[str]]]:
    """This node's ``daemon``'s answer on ``socket`` (None: not running): its op_errstr
    when it refused the op, and its ``[key, value]`` text pairs in its order."""
    if socket is None:
        raise daemon_not_running(daemon)
    request = {"volname": volume, "cmd": int(kind) | _DAEMON_BITS[daemon]}
    try:
        reply = brick_op(socket, pg.BrickOpRequest("", pg.BrickProc.NODE_STATUS,
                                                   encode_dict(request)),
                         pg.BrickProc.NODE_STATUS, BRICK_STATUS_TIMEOUT, what=daemon.label)
    except DefragConnectionError:
        raise daemon_not_running(daemon) from None
    except DefragError as exc:
        raise OperationFailed(f"{daemon.label}: {exc}", errno.EIO) from None
    output: dict[str, Any] = decode_dict(reply.output) if reply.output else {}
    return (reply.op_errstr if reply.op_ret < 0 else "",
            [[key, value_text(value)] for key, value in output.items()])
