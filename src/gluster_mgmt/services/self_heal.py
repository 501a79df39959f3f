"""This node's part of `volume heal`: one GD_BRICK XLATOR_OP to its self-heal daemon, as
glusterd sends it (``glusterd_brick_op_build_payload``: empty name, the op dict naming the
subvolumes to ask as ``xl-N`` with each one's index, ``xl-op`` the heal op). The reply dict
is AFR's (``afr_xl_op``), keyed ``SUBVOL-CHILD-what``; ``cluster.heal`` merges the nodes'."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from gluster_mgmt.cluster.heal import SHD_OFFLINE
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.defrag_client import DefragConnectionError, DefragError, brick_op
from gluster_mgmt.mgmt_rpc.gluster_dict import DictValue, decode_dict, encode_dict, value_text
from gluster_mgmt.services.reconciler import BrickSpecs

#: Seconds a self-heal daemon has to answer; heal-count walks the bricks' index directories.
XLATOR_OP_TIMEOUT = 60.0


def xlator_op(specs: BrickSpecs, node_uuid: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The Executor step ``shd.xlator-op`` on this node: ``{op_ret, op_errstr, output}``
    with output AFR's pairs as text. A self-heal daemon that is not there fails the step
    with glusterd's message."""
    subvolumes = [(str(name), int(index)) for name, index in args["xlators"].get(node_uuid, [])]
    op = int(args["op"])
    request: dict[str, DictValue] = {"volname": args["volume"], "heal-op": op, "xl-op": op,
                                     "count": len(subvolumes)}
    for position, (name, index) in enumerate(subvolumes):
        request[f"xl-{position}"] = name
        request[name] = index
    if args.get("replica"):
        request["per-replica-cmd-hostname"], request["per-replica-cmd-path"] = args["replica"]
    try:
        reply = brick_op(specs.shd_socket(args["volume"]),
                         pg.BrickOpRequest("", pg.BrickProc.XLATOR_OP, encode_dict(request)),
                         pg.BrickProc.XLATOR_OP, XLATOR_OP_TIMEOUT, what="self-heal daemon")
    except DefragConnectionError:
        raise OperationFailed(SHD_OFFLINE, errno.ENOTCONN) from None
    except DefragError as exc:
        raise OperationFailed(f"{SHD_OFFLINE} ({exc})", errno.EIO) from None
    output = decode_dict(reply.output) if reply.output else {}
    return {"op_ret": reply.op_ret, "op_errstr": reply.op_errstr,
            "output": [[key, value_text(value)] for key, value in output.items()]}
