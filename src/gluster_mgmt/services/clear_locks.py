"""`volume clear-locks VOL PATH kind {blocked|granted|all} {inode|entry|posix} [ARGS]` on the
serving node, as glusterd does it (glusterd-volume-ops.c, glusterd_op_clearlocks_volume): a
maintenance FUSE mount of the volume in a fresh /tmp/VOL.XXXXXX (self-heal off), one
getxattr of the virtual key ``glusterfs.clrlk.tTYPE.kKIND[.ARGS]`` on PATH, which the
locks translators of the bricks answer by clearing the locks and summing them up, then the
mount is taken down. Recorded by benchmarks/record_clear_locks.py."""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import os
import subprocess
import tempfile

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.services import volfile_server_port_args

#: GF_XATTR_CLRLK_CMD
CLRLK_XATTR = "glusterfs.clrlk"
#: glusterd's options for the maintenance client: it must not heal what it looks at.
NO_SELF_HEAL = ("*replicate*.data-self-heal=off", "*replicate*.metadata-self-heal=off",
                "*replicate*.entry-self-heal=off")
#: The answer is at most PATH_MAX bytes (glusterd's buffer).
SUMMARY_MAX = 4096
_LIBC = ctypes.CDLL(None, use_errno=True)
MOUNT_TIMEOUT = 60.0
#: glusterd's refusals (its op_errstr).
NO_LOCAL_PORTS = "Couldn't get port numbers of local bricks"
NO_MOUNT_DIR = "Creating mount directory for clear-locks failed."
NO_MOUNT = "Failed to mount clear-locks maintenance client."


class LockKind(str, enum.Enum):
    """Which locks: waiting ones, held ones, or both."""

    BLOCKED = "blocked"
    GRANTED = "granted"
    ALL = "all"


class LockType(str, enum.Enum):
    """Which locks translator table: inodelk, entrylk or POSIX (fcntl) locks."""

    INODE = "inode"
    ENTRY = "entry"
    POSIX = "posix"


def clrlk_key(kind: LockKind, lock_type: LockType, args: str | None) -> str:
    """The virtual xattr the locks translators answer (``.ARGS``: a range or a basename)."""
    key = f"{CLRLK_XATTR}.t{lock_type.value}.k{kind.value}"
    return f"{key}.{args}" if args else key


def clear_locks(volume: str, path: str, kind: LockKind, lock_type: LockType,
                args: str | None, *, server: str, mgmt_port: int, log_dir: str,
                glusterfs: str = "/usr/sbin/glusterfs") -> str:
    """Clear the locks on ``path`` of ``volume`` through a maintenance mount fetching its
    volfile from ``server``; the locks translators' summary."""
    try:
        mount_point = tempfile.mkdtemp(prefix=f"{volume}.", dir="/tmp")
    except OSError:
        raise OperationFailed(NO_MOUNT_DIR, errno.EIO) from None
    try:
        argv = [glusterfs, "-s", server, *volfile_server_port_args(mgmt_port),
                "--volfile-id", volume, "-l",
                os.path.join(log_dir, f"{volume}-clearlocks-mnt.log")]
        for option in NO_SELF_HEAL:
            argv += ["--xlator-option", option]
        try:
            mounted = subprocess.run([*argv, mount_point], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     timeout=MOUNT_TIMEOUT, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            mounted = False
        if not mounted:
            raise OperationFailed(NO_MOUNT, errno.EIO)
        try:
            target = os.path.join(mount_point, path.lstrip("/"))
            return _clear_once(target, clrlk_key(kind, lock_type, args))
        finally:
            subprocess.run(["umount", "-f", mount_point], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=MOUNT_TIMEOUT, check=False)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(mount_point)


def _clear_once(path: str, key: str) -> str:
    """One lgetxattr into a PATH_MAX buffer, as glusterd asks. Never os.getxattr: it asks
    again with a larger buffer when the answer does not fit its first one, and the second
    question finds the locks the first one cleared gone ("No locks cleared.")."""
    buffer = ctypes.create_string_buffer(SUMMARY_MAX)
    size = _LIBC.lgetxattr(os.fsencode(path), key.encode(), buffer, SUMMARY_MAX)
    if size < 0:
        code = ctypes.get_errno() or errno.EIO
        raise OperationFailed("clear-locks getxattr command failed. Reason: "
                              f"{os.strerror(code)}", code)
    return buffer.raw[:size].split(b"\0", 1)[0].decode("utf-8", "replace")
