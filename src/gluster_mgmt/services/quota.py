"""This node's part of quota, as glusterd 10.3 does it on each node (facts from
``glusterd-quota.c``, ``glusterd-quotad-svc.c``, ``glusterd-store.c``; re-expressed here):

- **quotad**, one per node while a started volume has quota on: ``glusterfs -s SERVER
  --volfile-id gluster/quotad -p RUN/quotad/quotad.pid -l LOG/quotad.log -S RUN/<hash>.socket
  --process-name quotad``. It listens on ``/var/run/gluster/quotad.socket`` (a path fixed in
  glusterfs: the bricks' quota xlator and the stock CLI's `quota list` connect there) and is
  restarted when its graph changes.
- **quota.conf** and **quota.cksum** in ``GLUSTERD_DIR/vols/VOL/``, which the stock CLI reads
  itself for `quota list` (``GLUSTERD_DEFAULT_WORKDIR/vols/VOL/quota.conf``): a text header,
  then 17 bytes a limit (the directory's gfid, its kind). Written from the store on every
  node, removed when quota is turned off.
- **auxiliary mounts**: a limit is an xattr of the directory, set through a FUSE mount of the
  volume (``RUN/VOL_quota_limit/``, client pid -5); `quota list PATH` reads limits and usage
  through ``RUN/VOL_quota_list/``, which the stock CLI reads and then unmounts itself.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import struct
import subprocess
import threading
import uuid as uuid_module
from collections.abc import Iterable
from typing import Any

import attrs

from gluster_mgmt.cluster.quota import AuxMount
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import QuotaKind, Volume, quota_cksum, quota_conf
from gluster_mgmt.quota_values import GFID_MISSING
from gluster_mgmt.services import (
    ServiceManager,
    ServiceSpec,
    short_hash,
    volfile_server_port_args,
)
from gluster_mgmt.volgen import QUOTAD_VOLFILE_ID, build_quotad_graph, quota_enabled

log = logging.getLogger(__name__)

#: The directory's limit of each kind: two big-endian int64, hard limit and soft limit
#: percent (-1: the volume's default-soft-limit)
LIMIT_KEYS = {QuotaKind.USAGE: "trusted.glusterfs.quota.limit-set",
              QuotaKind.OBJECTS: "trusted.glusterfs.quota.limit-objects"}
#: A directory's usage as the quota xlators aggregate it: size, files, directories (int64 BE)
SIZE_KEY = "trusted.glusterfs.quota.size"
#: The FUSE client's virtual xattr with an inode's gfid as text
GFID_STRING_KEY = "glusterfs.gfid.string"
#: glusterd's run directory as glusterfs names it in its messages and fixed paths
GLUSTERD_RUN_DIR = "/var/run/gluster"
QUOTAD_SOCKET = f"{GLUSTERD_RUN_DIR}/quotad.socket"
CONF_FILE = "quota.conf"
CKSUM_FILE = "quota.cksum"
#: The client pid glusterd gives its auxiliary mounts (GF_CLIENT_PID_QUOTA_MOUNT)
QUOTA_MOUNT_CLIENT_PID = -5
MOUNT_TIMEOUT = 60.0
#: How `volume status` names quotad
QUOTAD_STATUS_NAME = "Quota Daemon"
_LIMIT = struct.Struct(">qq")
_SIZE = struct.Struct(">qqq")


def _write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class QuotaFiles:
    """quota.conf and quota.cksum of the volumes with quota on, in glusterd's directory.
    Only the files of volumes the store knows (or this daemon wrote) are touched: glusterd's
    own state there, before an import, is not this daemon's to change."""

    def __init__(self, glusterd_dir: str) -> None:
        self.glusterd_dir = glusterd_dir
        self._written: set[str] = set()

    def volume_dir(self, name: str) -> str:
        return os.path.join(self.glusterd_dir, "vols", name)

    def sync(self, volumes: Iterable[Volume]) -> None:
        volumes = list(volumes)
        wanted = {v.name: v for v in volumes if quota_enabled(v)}
        for volume in wanted.values():
            directory = self.volume_dir(volume.name)
            os.makedirs(directory, mode=0o755, exist_ok=True)
            self._written.add(volume.name)
            conf = quota_conf(volume.quota_limits)
            path = os.path.join(directory, CONF_FILE)
            if _read(path) != conf:
                _write_atomically(path, conf)
            cksum = quota_cksum(volume).encode()
            path = os.path.join(directory, CKSUM_FILE)
            if _read(path) != cksum:
                _write_atomically(path, cksum)
        known = {v.name for v in volumes}
        unwanted = (known | self._written) - set(wanted)
        self._written -= unwanted
        # only the directories there (one listing, not 4 system calls per volume each pass)
        for name in unwanted & self._present():
            self.remove(name)

    def _present(self) -> set[str]:
        """The volume directories in vols/."""
        try:
            return set(os.listdir(os.path.join(self.glusterd_dir, "vols")))
        except OSError:
            return set()

    def remove(self, name: str) -> None:
        """A volume's quota files go (quota off, volume deleted); so does its directory and
        vols/ when nothing else is left there (an export wants them empty)."""
        directory = self.volume_dir(name)
        for file in (CONF_FILE, CKSUM_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, file))
        for empty in (directory, os.path.dirname(directory)):
            with contextlib.suppress(OSError):
                os.rmdir(empty)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


@attrs.frozen
class QuotadSpecs:
    """quotad's command line, glusterd's (``glusterd_quotadsvc_start``)."""

    node_uuid: str
    run_dir: str
    log_dir: str
    mgmt_port: int
    glusterfs: str

    SERVICE = "quotad"

    def pidfile(self) -> str:
        return os.path.join(self.run_dir, "quotad", "quotad.pid")

    def socket(self) -> str:
        """quotad's ``-S`` socket (where `volume status VOL quotad WHAT` asks it)."""
        return os.path.join(self.run_dir, f"{short_hash(f'{self.node_uuid}:quotad')}.socket")

    def spec(self, server: str) -> ServiceSpec:
        pidfile = self.pidfile()
        logfile = os.path.join(self.log_dir, "quotad.log")
        socket = self.socket()
        argv = [self.glusterfs, "-s", server, *volfile_server_port_args(self.mgmt_port),
                "--volfile-id", QUOTAD_VOLFILE_ID, "-p", pidfile, "-l", logfile, "-S", socket,
                "--process-name", "quotad"]
        return ServiceSpec(self.SERVICE, argv, pidfile, logfile, daemonizes=True)


class QuotaNode:
    """Converges this node's quota part on each reconcile pass: the quota files, and quotad
    running (restarted on a new graph) while any started volume has quota on."""

    def __init__(self, services: ServiceManager, specs: QuotadSpecs, server: str,
                 files: QuotaFiles | None) -> None:
        self.services = services
        self.specs = specs
        self.server = server
        self.files = files
        #: digest of the graph quotad was started with
        self._graph: str | None = None

    def converge(self, volumes: Iterable[Volume]) -> None:
        volumes = list(volumes)
        if self.files is not None:
            try:
                self.files.sync(volumes)
            except OSError as exc:
                log.error("cannot write the quota files: %s", exc)
        graph = build_quotad_graph(sorted(volumes, key=lambda v: v.name))
        digest = hashlib.sha256(graph.text().encode()).hexdigest() if graph else None
        running = any(s.running for s in self.services.status([self.specs.SERVICE]))
        if digest == self._graph and (running or digest is None):
            return
        if self._graph is not None or digest is None:
            self.services.stop(self.specs.SERVICE)
        else:  # a quotad an earlier daemon left: its graph is unknown, start it afresh
            process = self.services.find(self.specs.pidfile(), self.specs.glusterfs)
            if process is not None:
                self.services.kill(process.pid)
        self._graph = None
        if digest is None:
            return
        self.services.start(self.specs.spec(self.server))
        self._graph = digest

    def stop(self) -> None:
        self.services.stop(self.specs.SERVICE)
        self._graph = None

    def runtime(self, node_uuid: str, hostname: str) -> dict[str, Any]:
        """This node's quotad as `volume status` lists it ("Quota Daemon on HOST")."""
        states = self.services.status([self.specs.SERVICE])
        pid = states[0].pid if states and states[0].running else None
        if pid is None:
            process = self.services.find(self.specs.pidfile(), self.specs.glusterfs)
            pid = process.pid if process is not None else None
        return {"name": QUOTAD_STATUS_NAME, "host_uuid": node_uuid, "hostname": hostname,
                "port": None, "rdma_port": 0, "online": pid is not None, "pid": pid}


# -- the auxiliary mounts ------------------------------------------------------------------

@attrs.frozen
class QuotaMounts:
    """The auxiliary FUSE mounts glusterd makes on the node a quota command reaches."""

    run_dir: str
    log_dir: str
    server: str
    mgmt_port: int
    glusterfs: str = "/usr/sbin/glusterfs"

    def mount_dir(self, volume: str, kind: AuxMount) -> str:
        return os.path.join(self.run_dir, f"{volume}_quota_{kind.value}")

    def shown_dir(self, volume: str, kind: AuxMount) -> str:
        """The mount's directory as glusterd's messages name it."""
        return f"{GLUSTERD_RUN_DIR}/{volume}_quota_{kind.value}"

    def pidfile(self, volume: str, kind: AuxMount) -> str:
        return os.path.join(self.run_dir, f"{volume}_quota_{kind.value}.pid")

    def mount(self, volume: str, kind: AuxMount) -> str:
        """Mount the volume at its auxiliary directory (a stale mount is dropped first) and
        wait until it answers; its directory."""
        directory = self.mount_dir(volume, kind)
        pidfile = self.pidfile(volume, kind)
        if os.path.exists(pidfile) or os.path.ismount(directory):
            self.unmount(volume, kind)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        logfile = os.path.join(self.log_dir, f"quota-mount-{volume}.log")
        argv = [self.glusterfs, "--volfile-server", self.server,
                *(["--volfile-server-port", str(self.mgmt_port)] if self.mgmt_port != 24007 else []),
                "--volfile-id", volume, "-l", logfile, "-p", pidfile,
                "--client-pid", str(QUOTA_MOUNT_CLIENT_PID), directory]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=MOUNT_TIMEOUT, check=False)
            if done.returncode == 0:
                os.stat(directory)
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = None
            log.error("quota mount of %s at %s: %s", volume, directory, exc)
        if done is None or done.returncode != 0 or not os.path.ismount(directory):
            self.unmount(volume, kind)
            raise OperationFailed(f"Failed to mount glusterfs client. Please check the log "
                                  f"file {logfile} for more details", errno.EIO)
        return directory

    def unmount(self, volume: str, kind: AuxMount) -> None:
        directory = self.mount_dir(volume, kind)
        subprocess.run(["umount", "-l", directory], capture_output=True, timeout=MOUNT_TIMEOUT,
                       check=False)
        with contextlib.suppress(OSError):
            os.unlink(self.pidfile(volume, kind))
        with contextlib.suppress(OSError):
            os.rmdir(directory)

    @contextlib.contextmanager
    def mounted(self, volume: str, kind: AuxMount):
        directory = self.mount(volume, kind)
        try:
            yield directory
        finally:
            self.unmount(volume, kind)

    # -- cluster.quota.NodeQuota: the quota xattrs of a directory seen through a mount --

    def crawl(self, volume: str) -> threading.Thread:
        """glusterd's crawl after `quota enable`: a lookup of every entry, so the marker accounts
        the data already there; in the background, on a mount of its own."""

        def walk() -> None:
            try:
                with self.mounted(volume, AuxMount.CRAWL) as root:
                    for top, dirs, files in os.walk(root):
                        for name in (*dirs, *files):
                            with contextlib.suppress(OSError):
                                os.lstat(os.path.join(top, name))
            except (OperationFailed, OSError) as exc:
                log.warning("quota crawl of %s: %s", volume, exc)

        thread = threading.Thread(target=walk, name=f"quota-crawl-{volume}", daemon=True)
        thread.start()
        return thread

    def directory_gfid(self, root: str, path: str) -> str:
        """The gfid of ``path`` (a directory, relative to the volume) on a mount at ``root``;
        glusterd's stage message when it is missing (op_ret -ENOENT: the CLI adds a hint)."""
        target = inside(root, path)
        try:
            os.lstat(target)
            raw = os.getxattr(target, GFID_STRING_KEY, follow_symlinks=False)
        except OSError as exc:
            raise OperationFailed(f"{GFID_MISSING}{path}. Reason : {_reason(exc)}",
                                  exc.errno or errno.EIO) from None
        return str(uuid_module.UUID(raw.decode().strip("\0")))

    def read_limit(self, root: str, path: str, kind: QuotaKind) -> tuple[int, int] | None:
        return _limit_at(inside(root, path), kind)

    def set_limit(self, root: str, shown_root: str, path: str, kind: QuotaKind, hard: int,
                  soft_percent: float | None) -> None:
        """glusterd_set_quota_limit: without a soft limit, the one already set stays (-1, the
        default, if none)."""
        target = inside(root, path)
        shown = inside(shown_root, path)
        if not os.path.isdir(target):
            raise OperationFailed(f"Failed to find the directory {shown}. Reason : "
                                  f"{os.strerror(errno.ENOENT)}", errno.ENOENT)
        if soft_percent is None:
            existing = _limit_at(target, kind)
            soft = existing[1] if existing else -1
        else:
            soft = int(soft_percent)
        try:
            os.setxattr(target, LIMIT_KEYS[kind], _LIMIT.pack(hard, soft), follow_symlinks=False)
        except OSError as exc:
            raise OperationFailed(f"setxattr of {LIMIT_KEYS[kind]} failed on {shown}. Reason : "
                                  f"{_reason(exc)}", exc.errno or errno.EIO) from None

    def remove_limit(self, root: str, shown_root: str, path: str, kind: QuotaKind) -> None:
        target = inside(root, path)
        try:
            os.removexattr(target, LIMIT_KEYS[kind], follow_symlinks=False)
        except OSError as exc:
            raise OperationFailed(f"removexattr failed on {inside(shown_root, path)}. Reason : "
                                  f"{_reason(exc)}", exc.errno or errno.EIO) from None

    def drop_limit(self, root: str, path: str, kind: QuotaKind) -> None:
        """Remove the limit's xattr, whatever is there (`disable`'s clean-up)."""
        with contextlib.suppress(OSError):
            os.removexattr(inside(root, path), LIMIT_KEYS[kind])

    def read_usage(self, root: str, path: str, kind: QuotaKind) -> dict[str, Any]:
        """What the stock CLI reads for one path of `quota list`: the limit (None: none) and
        the usage (size, files, directories; None when the quota xlators report none)."""
        target = inside(root, path)
        limit = _limit_at(target, kind)
        try:
            raw = os.getxattr(target, SIZE_KEY, follow_symlinks=False)
        except OSError:
            raw = b""
        if len(raw) >= _SIZE.size:
            usage = list(_SIZE.unpack(raw[:_SIZE.size]))
        elif len(raw) >= 8:
            usage = [struct.unpack(">q", raw[:8])[0], 0, 0]
        else:
            usage = None
        return {"path": path, "limit": list(limit) if limit else None, "usage": usage}


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def inside(root: str, path: str) -> str:
    """``path`` (relative to the volume) on a mount of it at ``root``."""
    return os.path.join(root, path.lstrip("/")) if path.strip("/") else root


def _limit_at(target: str, kind: QuotaKind) -> tuple[int, int] | None:
    """(hard limit, soft limit percent or -1) of a directory; None when it has none."""
    try:
        raw = os.getxattr(target, LIMIT_KEYS[kind], follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise
    return _LIMIT.unpack(raw[:_LIMIT.size])
