"""This node's part of `volume log VOL rotate [BRICK]`: for each of its bricks named, the
brick's log renamed to ``LOG.KEY`` and the brick process told to reopen it (SIGHUP), as
glusterd does (``glusterd_op_log_rotate``: the pid from the brick's pidfile)."""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import Volume
from gluster_mgmt.services.process_specs import BrickSpecs


def rotate_local_logs(specs: BrickSpecs, volume: Volume, args: dict[str, Any]) -> dict[str, Any]:
    """The Executor step ``brick.log-rotate`` on this node: ``{"rotated": [new log paths]}``.
    A brick whose pidfile cannot be read fails the step (glusterd's rule); a log that is
    not there is not renamed, but the brick is still told to reopen it."""
    wanted = {b["uuid"] for b in args["bricks"] if b["host_uuid"] == specs.node_uuid}
    rotated = []
    for brick in volume.bricks:
        if brick.uuid not in wanted:
            continue
        pidfile = specs.brick_pidfile(volume.name, brick)
        try:
            with open(pidfile, encoding="ascii") as file:
                pid = int(file.read().split()[0])
        except (OSError, ValueError, IndexError):
            raise OperationFailed(f"Unable to read pidfile: {pidfile}", errno.ENOENT) from None
        log = specs.brick_logfile(brick)
        target = f"{log}.{int(args['key'])}"
        try:
            os.rename(log, target)
            rotated.append(target)
        except OSError:
            pass  # glusterd goes on to the signal when the rename fails
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError as exc:
            raise OperationFailed(f"Unable to SIGHUP to {pid}", exc.errno or errno.ESRCH) from None
    return {"rotated": rotated}
