"""The command lines, pidfiles, logs and sockets glusterd 10.3 gives a node's bricks and its
self-heal daemon: one home for them, shared by the reconciler (which starts and adopts the
processes), the self-heal daemon's attach logic, and the node-local brick operations (status
dumps, log rotation) that must find the same files."""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from gluster_mgmt.model import Brick, Volume, VolumeType, path_with_dashes
from gluster_mgmt.rules import MGMT_PORT
from gluster_mgmt.services import ServiceSpec, glusterd_sockets, volfile_server_port_args

GLUSTERFSD = "/usr/sbin/glusterfsd"
GLUSTERFS = "/usr/sbin/glusterfs"
DEFAULT_RUN_DIR = "/var/run/gluster"
DEFAULT_LOG_DIR = "/var/log/glusterfs"
#: The supervisor's name for the node's self-heal daemon (one whatever the volumes).
SHD_SERVICE = "shd"
#: glusterd's --process-name for it; glusterfsd multiplexes graphs only under this name.
SHD_PROCESS_NAME = "glustershd"
#: The client pid glusterd gives the self-heal daemon (GF_CLIENT_PID_SELF_HEALD).
SHD_CLIENT_PID = -6


@attrs.frozen
class BrickSpecs:
    """Builds the ServiceSpecs of one node's bricks and self-heal daemons."""

    node_uuid: str
    run_dir: str = DEFAULT_RUN_DIR
    log_dir: str = DEFAULT_LOG_DIR
    mgmt_port: int = MGMT_PORT
    glusterfsd: str = GLUSTERFSD
    glusterfs: str = GLUSTERFS

    # -- bricks
    @staticmethod
    def brick_service(volume: str, brick: Brick) -> str:
        return f"brick:{volume}:{brick.hostname}:{brick.path}"

    def brick_pidfile(self, volume: str, brick: Brick) -> str:
        return os.path.join(self.run_dir, "vols", volume,
                            f"{brick.hostname}-{path_with_dashes(brick.path)}.pid")

    def brick_logfile(self, brick: Brick) -> str:
        return os.path.join(self.log_dir, "bricks", f"{path_with_dashes(brick.path)}.log")

    def brick_socket(self, volume: str, brick: Brick) -> str:
        """glusterd's name for it: glusterd handed the node back reaches the brick there."""
        return glusterd_sockets.brick_socket(self.run_dir, volume, brick.hostname, brick.path)

    def brick_spec(self, volume: Volume | str, brick: Brick, port: int) -> ServiceSpec:
        name = volume if isinstance(volume, str) else volume.name
        pidfile = self.brick_pidfile(name, brick)
        logfile = self.brick_logfile(brick)
        argv = [
            self.glusterfsd, "-s", brick.hostname, *volfile_server_port_args(self.mgmt_port),
            "--volfile-id", brick.volfile_id(name),
            "-p", pidfile,
            "-S", self.brick_socket(name, brick),
            "--brick-name", brick.path,
            "-l", logfile,
            "--xlator-option", f"*-posix.glusterd-uuid={self.node_uuid}",
            "--process-name", "brick",
            "--brick-port", str(port),
            "--xlator-option", f"{name}-server.listen-port={port}",
        ]
        return ServiceSpec(self.brick_service(name, brick), argv, pidfile, logfile, daemonizes=True)

    # -- the self-heal daemon
    def shd_pidfile(self, volume: str) -> str:
        return os.path.join(self.run_dir, "shd", volume, f"{volume}-shd.pid")

    def shd_logfile(self) -> str:
        return os.path.join(self.log_dir, "glustershd.log")

    def shd_socket(self, volume: str) -> str:
        """The self-heal daemon's ``-S`` socket: where SVC_ATTACH and XLATOR_OP (`volume
        heal`) reach it; glusterd's name after the volume the process was started for (one
        process per node), so a self-heal daemon adopted from glusterd is reached too."""
        return glusterd_sockets.shd_socket(self.run_dir, volume, self.node_uuid)

    def shd_spec(self, volume: Volume, server: str) -> ServiceSpec:
        pidfile = self.shd_pidfile(volume.name)
        logfile = self.shd_logfile()
        argv = [
            self.glusterfs, "-s", server, *volfile_server_port_args(self.mgmt_port),
            "--volfile-id", f"shd/{volume.name}",
            "-p", pidfile,
            "-l", logfile,
            "-S", self.shd_socket(volume.name),
            "--xlator-option", f"*replicate*.node-uuid={self.node_uuid}",
        ]
        if volume.type is VolumeType.DISPERSE:
            # ours: disperse's heal also keys on node-uuid
            argv += ["--xlator-option", f"*disperse*.node-uuid={self.node_uuid}"]
        argv += ["--process-name", SHD_PROCESS_NAME, f"--client-pid={SHD_CLIENT_PID}"]
        return ServiceSpec(SHD_SERVICE, argv, pidfile, logfile, daemonizes=True)


def brick_port_in(argv: Sequence[str]) -> int | None:
    """The ``--brick-port`` a brick process was started with (glusterd's command line)."""
    for index, arg in enumerate(argv):
        value = None
        if arg == "--brick-port" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--brick-port="):
            value = arg.split("=", 1)[1]
        if value is not None:
            first = value.split(",", 1)[0]
            return int(first) if first.isdigit() else None
    return None
