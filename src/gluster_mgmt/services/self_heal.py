"""This node's part of `volume heal`: one GD_BRICK XLATOR_OP to its self-heal daemon, as
glusterd sends it (``glusterd_brick_op_build_payload``: empty name, the op dict naming the
subvolumes to ask as ``xl-N`` with each one's index, ``xl-op`` the heal op). The reply dict
is AFR's (``afr_xl_op``), keyed ``SUBVOL-CHILD-what``; ``cluster.heal`` merges the nodes'."""

from __future__ import annotations

import enum
import errno
import os
import subprocess
from collections.abc import Mapping
from typing import Any

from gluster_mgmt.cluster.heal import SHD_OFFLINE
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.defrag_client import DefragConnectionError, DefragError, brick_op
from gluster_mgmt.mgmt_rpc.gluster_dict import DictValue, decode_dict, encode_dict, value_text

#: Seconds a self-heal daemon has to answer; heal-count walks the bricks' index directories.
XLATOR_OP_TIMEOUT = 60.0


def xlator_op(socket_path: str | None, node_uuid: str, args: Mapping[str, Any]
              ) -> dict[str, Any]:
    """The Executor step ``shd.xlator-op`` on this node, to the self-heal daemon listening
    on ``socket_path`` (None: there is none): ``{op_ret, op_errstr, output}`` with output
    AFR's pairs as text. A self-heal daemon that is not there fails the step with
    glusterd's message."""
    subvolumes = [(str(name), int(index)) for name, index in args["xlators"].get(node_uuid, [])]
    op = int(args["op"])
    request: dict[str, DictValue] = {"volname": args["volume"], "heal-op": op, "xl-op": op,
                                     "count": len(subvolumes)}
    for position, (name, index) in enumerate(subvolumes):
        request[f"xl-{position}"] = name
        request[name] = index
    if args.get("replica"):
        request["per-replica-cmd-hostname"], request["per-replica-cmd-path"] = args["replica"]
    if socket_path is None:
        raise OperationFailed(SHD_OFFLINE, errno.ENOTCONN)
    try:
        reply = brick_op(socket_path,
                         pg.BrickOpRequest("", pg.BrickProc.XLATOR_OP, encode_dict(request)),
                         pg.BrickProc.XLATOR_OP, XLATOR_OP_TIMEOUT, what="self-heal daemon")
    except DefragConnectionError:
        raise OperationFailed(SHD_OFFLINE, errno.ENOTCONN) from None
    except DefragError as exc:
        raise OperationFailed(f"{SHD_OFFLINE} ({exc})", errno.EIO) from None
    output = decode_dict(reply.output) if reply.output else {}
    return {"op_ret": reply.op_ret, "op_errstr": reply.op_errstr,
            "output": [[key, value_text(value)] for key, value in output.items()]}


# -- glfsheal: `heal VOL info [summary|split-brain]` and split-brain resolution -------------

#: Where distributions install glfsheal (glusterfs's GLFSHEAL_PREFIX): Debian's, then
#: Fedora's/upstream's.
GLFSHEAL_PATHS = ("/usr/lib/x86_64-linux-gnu/glusterfs/glfsheal", "/usr/libexec/glusterfs/glfsheal")
#: glfsheal connects to every brick; a frozen one costs it the volume's ping-timeout.
GLFSHEAL_TIMEOUT = 300.0


class GlfshealMode(str, enum.Enum):
    """What glfsheal is asked, and its words (as the stock CLI passes them)."""

    INFO = "info"
    SUMMARY = "summary"
    SPLIT_BRAIN = "split-brain"
    BIGGER_FILE = "bigger-file"
    LATEST_MTIME = "latest-mtime"
    SOURCE_BRICK = "source-brick"

    @property
    def resolves(self) -> bool:
        return self in (GlfshealMode.BIGGER_FILE, GlfshealMode.LATEST_MTIME,
                        GlfshealMode.SOURCE_BRICK)


def glfsheal_argv(binary: str, volume: str, mode: GlfshealMode, xml: bool, socket: str,
                  file: str | None = None, brick: str | None = None) -> list[str]:
    """glfsheal's command line: its words as the stock CLI gives them (``--xml`` last of
    them: glfsheal only counts flags), then the socket to fetch the volfile from."""
    words = {GlfshealMode.INFO: [], GlfshealMode.SUMMARY: ["info-summary"],
             GlfshealMode.SPLIT_BRAIN: ["split-brain-info"]}.get(mode)
    if words is None:
        if mode is GlfshealMode.SOURCE_BRICK:
            if not brick:
                raise OperationFailed("source-brick needs HOSTNAME:BRICKNAME", errno.EINVAL)
            words = ["source-brick", brick, *([file] if file else [])]
        else:
            if not file:
                raise OperationFailed(f"{mode.value} needs a FILE", errno.EINVAL)
            words = [mode.value, file]
    flags = ["--xml"] if xml and not mode.resolves else []
    return [binary, volume, *words, *flags, "glusterd-sock", socket]


def run_glfsheal(volume: str, mode: GlfshealMode, xml: bool, socket: str,
                 file: str | None = None, brick: str | None = None) -> dict[str, Any]:
    """Run glfsheal on this node against ``socket`` (this daemon's glusterd socket):
    ``{rc, output}`` as the stock CLI would print them (its exit status, its stdout)."""
    binary = next((p for p in GLFSHEAL_PATHS if os.access(p, os.X_OK)), None)
    if binary is None:
        raise OperationFailed("glfsheal is not installed (glusterfs's heal tool: "
                              f"{' or '.join(GLFSHEAL_PATHS)})", errno.ENOENT)
    if not socket:
        raise OperationFailed("this daemon serves no glusterd socket (--glusterd-socket), "
                              "which glfsheal needs", errno.EINVAL)
    argv = glfsheal_argv(binary, volume, mode, xml, socket, file, brick)
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, timeout=GLFSHEAL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"glfsheal did not answer within {GLFSHEAL_TIMEOUT:g} s",
                              errno.ETIMEDOUT) from None
    return {"rc": done.returncode & 0xFF, "output": done.stdout.decode("utf-8", "replace")}
