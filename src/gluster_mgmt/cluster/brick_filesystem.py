"""`volume status … detail`: the file system a brick lives on, as seen on the brick's own host.

glusterd 10.3 (``glusterd_add_brick_detail_to_dict``) gathers these facts on the node that
hosts the brick, so only that node may answer for it: the file system's sizes from
``statvfs`` of the brick path, its device, type and mount options from the mount table entry
of the file system's root, and the inode size from the file system's own tool
(``tune2fs -l`` for ext3/ext4, ``xfs_info`` for xfs; btrfs and zfs have none). A fact that
cannot be had is left out, as glusterd leaves its key out, and the CLI prints ``N/A``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import attrs

#: glusterd reads ``_PATH_MOUNTED`` (/etc/mtab, on Linux a link to the kernel's table).
MOUNT_TABLE = "/proc/self/mounts"
#: Where the inode-size tools live when the daemon's PATH lacks the sbin directories.
_SBIN = "/usr/sbin:/sbin"
#: How long an inode-size tool may take.
TOOL_TIMEOUT = 10.0


@attrs.frozen
class InodeSizeTool:
    """The command that tells a file system's inode size, and the text its number follows."""

    argv: tuple[str, ...]
    pattern: str


#: glusterd's table of file systems with an inode-size tool (the device is appended).
INODE_SIZE_TOOLS: dict[str, InodeSizeTool] = {
    "xfs": InodeSizeTool(("xfs_info",), "isize="),
    "ext3": InodeSizeTool(("tune2fs", "-l"), "Inode size:"),
    "ext4": InodeSizeTool(("tune2fs", "-l"), "Inode size:"),
}
#: File systems whose inodes have no fixed size: glusterd says so instead of asking a tool.
DYNAMIC_INODES = frozenset({"btrfs", "zfs"})
DYNAMIC_INODE_SIZE = "N/A"


@attrs.frozen
class BrickFilesystem:
    """What `volume status detail` shows of one brick; None where the fact is unknown.
    Field names are the REST API's (gluster_mgmt.cli.client, ``volume/status``)."""

    block_size: int | None = None
    size_free: int | None = None
    size_total: int | None = None
    #: statvfs reports 0 inodes on file systems without a fixed count: left out then.
    inodes_total: int | None = None
    inodes_free: int | None = None
    device: str | None = None
    fs_name: str | None = None
    mnt_options: str | None = None
    inode_size: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BrickFilesystem":
        """From a peer's answer: known fields of the right type only."""
        known: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name)
            wanted = str if field.name in _TEXT_FIELDS else int
            if isinstance(value, wanted) and not isinstance(value, bool):
                known[field.name] = value
        return cls(**known)


_TEXT_FIELDS = frozenset({"device", "fs_name", "mnt_options", "inode_size"})


@attrs.frozen
class MountEntry:
    device: str
    mount_point: str
    fs_type: str
    options: str


_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """The mount table writes space, tab, newline and backslash as octal escapes."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_entries(table: str = MOUNT_TABLE) -> Iterator[MountEntry]:
    with open(table, encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            fields = line.split()
            if len(fields) >= 4:
                yield MountEntry(*(_unescape(f) for f in fields[:4]))


def file_system_root(path: str) -> str:
    """The highest directory above ``path`` (or ``path`` itself) on the same device: the
    mount point of the brick's file system, found as glusterd finds it."""
    device = os.stat(path).st_dev
    root = os.path.abspath(path)
    while root != "/":
        parent = os.path.dirname(root)
        if os.stat(parent).st_dev != device:
            break
        root = parent
    return root


def mount_entry(path: str, table: str = MOUNT_TABLE) -> MountEntry | None:
    """The first mount table entry of the file system ``path`` is on (not ``rootfs``)."""
    root = os.path.realpath(file_system_root(path))
    return next((e for e in mount_entries(table)
                 if e.mount_point == root and e.fs_type != "rootfs"), None)


def parse_inode_size(output: str, pattern: str) -> str | None:
    """The number after ``pattern`` in the tool's first line that has it."""
    for line in output.splitlines():
        at = line.find(pattern)
        if at >= 0:
            return re.match(r"\s*(\d*)", line[at + len(pattern):]).group(1)
    return None


class InodeSizes:
    """Inode sizes by device, each asked of its tool once it answered (glusterd caches
    successes only: a tool that failed is asked again next time)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def of(self, device: str, fs_name: str) -> str | None:
        if fs_name in DYNAMIC_INODES:
            return DYNAMIC_INODE_SIZE
        with self._lock:
            if device in self._known:
                return self._known[device]
        tool = INODE_SIZE_TOOLS.get(fs_name)
        if tool is None:
            return None
        program = shutil.which(tool.argv[0], path=f"{os.environ.get('PATH', '')}:{_SBIN}")
        if program is None:
            return None
        try:
            run = subprocess.run([program, *tool.argv[1:], device], capture_output=True,
                                 text=True, errors="replace", timeout=TOOL_TIMEOUT,
                                 stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        size = parse_inode_size(run.stdout, tool.pattern) if run.returncode == 0 else None
        if size:
            with self._lock:
                self._known[device] = size
        return size


def brick_filesystem(path: str, inode_sizes: InodeSizes, table: str = MOUNT_TABLE) -> BrickFilesystem:
    """The facts of the local brick directory ``path``; what fails is left out, and the
    rest stops where glusterd's gathering stops (no mount entry: no inode size)."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return BrickFilesystem()
    facts = BrickFilesystem(
        block_size=stat.f_bsize, size_free=stat.f_bfree * stat.f_bsize,
        size_total=stat.f_blocks * stat.f_bsize, inodes_total=stat.f_files or None,
        inodes_free=stat.f_ffree or None)
    try:
        entry = mount_entry(path, table)
    except OSError:
        return facts
    if entry is None:
        return facts
    return attrs.evolve(facts, device=entry.device, fs_name=entry.fs_type,
                        mnt_options=entry.options,
                        inode_size=inode_sizes.of(entry.device, entry.fs_type))
