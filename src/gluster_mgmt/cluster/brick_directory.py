"""A brick's directory on its own host: the checks glusterd makes before a path becomes a
brick, its preparation at ``volume create`` (the ``brick.prepare`` step and its undo), and
what glusterfsd needs of it at every start.

These run on the host that owns the brick (handed there by the Executor, or by its
reconciler), because only that host can see its filesystems.
"""

from __future__ import annotations

import errno
import os
import uuid as uuid_module

from gluster_mgmt.errors import OperationFailed

VOLUME_ID_XATTR = "trusted.glusterfs.volume-id"
GFID_XATTR = "trusted.gfid"
_PROBE_XATTR = "trusted.glusterfs.test"
#: glusterd creates a brick's .glusterfs directory readable by root only (drw-------).
GLUSTERFS_DIR_MODE = 0o600


class BrickDirError(OperationFailed):
    """A brick directory cannot be served (missing, or marked for another volume)."""


def _has_xattr(path: str, name: str) -> bool:
    try:
        os.getxattr(path, name, follow_symlinks=False)
        return True
    except OSError:
        return False


def _first_existing_ancestor(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def check_brick(hostname: str, path: str, force: bool) -> None:
    """Refuse a brick path as glusterd does (messages are glusterd's)."""
    brick = f"{hostname}:{path}"
    # Path, or any directory above it, already serving a volume.
    probe = path
    while True:
        if os.path.exists(probe) and (_has_xattr(probe, VOLUME_ID_XATTR) or _has_xattr(probe, GFID_XATTR)):
            if probe == path:
                raise OperationFailed(f"{path} is already part of a volume", errno.EEXIST)
            raise OperationFailed(f"{path} or a prefix of it is already part of a volume", errno.EEXIST)
        if probe == "/":
            break
        probe = os.path.dirname(probe)
    if force:
        return
    existing = _first_existing_ancestor(path)
    if os.path.exists(path) and os.path.ismount(path):
        raise OperationFailed(
            f"The brick {brick} is a mount point. Please create a sub-directory under the mount "
            "point and use that as the brick directory. Or use 'force' at the end of the command "
            "if you want to override this behavior.")
    parent = existing if existing != path else os.path.dirname(path)
    if os.stat(parent).st_dev == os.stat("/").st_dev:
        raise OperationFailed(root_partition_refusal(brick))


def root_partition_refusal(brick: str) -> str:
    """glusterd's refusal (without force) of a brick ``HOST:PATH`` on the root filesystem."""
    return (f"The brick {brick} is being created in the root partition. It is recommended that "
            "you don't use the system's root partition for storage backend. Or use 'force' at "
            "the end of the command if you want to override this behavior.")


def prepare_brick(hostname: str, path: str, volume_id: str, force: bool) -> dict[str, bool]:
    """Create the directory if needed and mark it with the volume id; returns what was done so
    ``unprepare_brick`` can undo exactly that."""
    check_brick(hostname, path, force)
    created = False
    if not os.path.isdir(path):
        try:
            os.makedirs(path, mode=0o755)
            created = True
        except OSError as exc:
            raise OperationFailed(
                f"Failed to create brick directory for brick {hostname}:{path}. Reason : "
                f"{os.strerror(exc.errno or 0)} ", exc.errno or 0) from exc
    try:
        os.setxattr(path, _PROBE_XATTR, b"working")
        os.removexattr(path, _PROBE_XATTR)
        os.setxattr(path, VOLUME_ID_XATTR, uuid_module.UUID(volume_id).bytes, os.XATTR_CREATE)
    except OSError as exc:
        if created:
            os.rmdir(path)
        raise OperationFailed(
            f"Glusterfs is not supported on brick: {hostname}:{path}.\nSetting extended "
            f"attributes failed, reason: {os.strerror(exc.errno or 0)}.", exc.errno or 0) from exc
    return {"created": created}


def unprepare_brick(path: str, volume_id: str, created: bool) -> None:
    """Undo ``prepare_brick``: drop our volume-id mark, and the directory if we made it."""
    try:
        if os.getxattr(path, VOLUME_ID_XATTR) == uuid_module.UUID(volume_id).bytes:
            os.removexattr(path, VOLUME_ID_XATTR)
    except OSError:
        pass
    if created:
        try:
            os.rmdir(path)
        except OSError:
            pass


def prepare_local_bricks(node_uuid: str, args: dict) -> dict:
    """The ``brick.prepare`` step on one host: prepare the bricks it owns, all or none."""
    done: list[dict] = []
    try:
        for brick in args["bricks"]:
            if brick["host_uuid"] == node_uuid:
                done.append({"path": brick["path"],
                             **prepare_brick(brick["hostname"], brick["path"], args["volume_id"], args["force"])})
    except BaseException:
        unprepare_local_bricks(node_uuid, args, {"prepared": done})
        raise
    return {"prepared": done}


def unprepare_local_bricks(node_uuid: str, args: dict, result: dict | None) -> None:
    """Undo of ``brick.prepare``. Without a result (the do was cut short by a crash) only our
    volume-id marks are removed: whether we created a directory is unknown, so it stays."""
    if result is not None:
        for brick in result["prepared"]:
            unprepare_brick(brick["path"], args["volume_id"], brick["created"])
        return
    for brick in args["bricks"]:
        if brick["host_uuid"] == node_uuid:
            unprepare_brick(brick["path"], args["volume_id"], created=False)


def make_servable(path: str, volume_uuid: str) -> None:
    """Make ``path`` servable by glusterfsd for volume ``volume_uuid`` before each start: its
    ``.glusterfs`` directory and the ``trusted.glusterfs.volume-id`` xattr (16 raw uuid bytes).

    The directory itself must exist: a missing brick directory usually means its filesystem
    is not mounted, and serving the empty mount point would write into the wrong filesystem.
    """
    if not os.path.isdir(path):
        raise BrickDirError(f"brick directory {path} does not exist (is its filesystem "
                            "mounted?)", errno.ENOENT)
    wanted = uuid_module.UUID(volume_uuid).bytes
    try:
        current = os.getxattr(path, VOLUME_ID_XATTR)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA)):
            raise BrickDirError(f"cannot read {VOLUME_ID_XATTR} of {path}: {exc.strerror}",
                                exc.errno or errno.EIO) from exc
        current = None
    if current is None:
        try:
            os.setxattr(path, VOLUME_ID_XATTR, wanted)
        except OSError as exc:
            raise BrickDirError(f"cannot set {VOLUME_ID_XATTR} on {path}: {exc.strerror}",
                                exc.errno or errno.EIO) from exc
    elif current != wanted:
        raise BrickDirError(f"{path} belongs to another volume ({VOLUME_ID_XATTR} differs)",
                            errno.EEXIST)
    gdir = os.path.join(path, ".glusterfs")
    if not os.path.isdir(gdir):
        os.mkdir(gdir, GLUSTERFS_DIR_MODE)
        os.chmod(gdir, GLUSTERFS_DIR_MODE)  # mkdir's mode is filtered by the umask


def check_startable(volume: str, volume_uuid: str, path: str) -> None:
    """glusterd's staging of `volume start` for one brick of this host (skipped with force):
    its directory exists and, when marked, is marked for this volume."""
    try:
        os.stat(path)
    except OSError as exc:
        raise OperationFailed(f"Failed to find brick directory {path} for volume {volume}. "
                              f"Reason : {exc.strerror}", exc.errno or errno.ENOENT) from None
    try:
        current = os.getxattr(path, VOLUME_ID_XATTR)
    except OSError:
        return  # unmarked: the reconciler marks it before the brick starts
    wanted = uuid_module.UUID(volume_uuid)
    if len(current) == 16 and uuid_module.UUID(bytes=current) != wanted:
        raise OperationFailed(f"Volume id mismatch for brick {path}. Expected volume id "
                              f"{wanted}, volume id {uuid_module.UUID(bytes=current)} found",
                              errno.EINVAL)


def check_local_bricks_startable(node_uuid: str, args: dict) -> None:
    """The ``brick.start-check`` step on one host: every brick it owns can start."""
    for brick in args["bricks"]:
        if brick["host_uuid"] == node_uuid:
            check_startable(args["volume"], args["volume_id"], brick["path"])
