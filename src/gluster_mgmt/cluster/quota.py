"""`volume quota VOL ...` with glusterd 10.3's rules and messages (``glusterd_op_stage_quota``,
``glusterd_op_quota``, ``glusterd_quota_enable/disable``, ``glusterd_set_quota_limit``,
``glusterd_store_quota_config``; facts re-expressed here).

Where the work happens: `enable`/`disable` and the timeouts are changes of the volume's
record (its options, ``quota_version``; the bricks' quota and marker xlators follow their
volfile); a limit is an xattr of the directory, set through an auxiliary FUSE mount on the
node the command reached (:class:`NodeQuota`, done by ``services.quota.NodeQuota``), and a record in the volume's
``quota_limits`` (quota.conf, which every node writes from the store). Each node runs its
quotad (``services.quota.QuotaNode``). `list` reads the limits and the usage the quota
xlators aggregate through the list mount, as the stock CLI does.
"""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ContextManager, Protocol

import attrs

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import QuotaKind, QuotaLimit, Volume, VolumeStatus
from gluster_mgmt.quota_values import canonical_path, parse_percent, parse_size
from gluster_mgmt.volgen import quota_enabled

if TYPE_CHECKING:
    from gluster_mgmt.cluster.volumes import Volumes


class AuxMount(str, enum.Enum):
    """glusterd's auxiliary mounts of a volume: to set limits, to list them, to crawl."""

    LIMIT = "limit"
    LIST = "list"
    CRAWL = "crawl"


class NodeQuota(Protocol):
    """What a quota command needs of the node it runs on: the volume's auxiliary mounts and
    the quota xattrs of a directory seen through one (``services.quota.NodeQuota``)."""

    def shown_dir(self, volume: str, kind: AuxMount) -> str: ...
    def mount(self, volume: str, kind: AuxMount) -> str: ...
    def mounted(self, volume: str, kind: AuxMount) -> ContextManager[str]: ...
    def crawl(self, volume: str) -> Any: ...
    def directory_gfid(self, root: str, path: str) -> str: ...
    def read_limit(self, root: str, path: str, kind: QuotaKind) -> tuple[int, int] | None: ...
    def set_limit(self, root: str, shown_root: str, path: str, kind: QuotaKind, hard: int,
                  soft_percent: float | None) -> None: ...
    def remove_limit(self, root: str, shown_root: str, path: str, kind: QuotaKind) -> None: ...
    def drop_limit(self, root: str, path: str, kind: QuotaKind) -> None: ...
    def read_usage(self, root: str, path: str, kind: QuotaKind) -> dict[str, Any]: ...


class QuotaOp(enum.IntEnum):
    """``gf_quota_type``: the CLI's ``type``."""

    ENABLE = 1
    DISABLE = 2
    LIMIT_USAGE = 3
    REMOVE = 4
    LIST = 5
    VERSION = 6
    ALERT_TIME = 7
    SOFT_TIMEOUT = 8
    HARD_TIMEOUT = 9
    DEFAULT_SOFT_LIMIT = 10
    USAGE_LIMIT_VERSION = 11
    LIMIT_OBJECTS = 12
    LIST_OBJECTS = 13
    REMOVE_OBJECTS = 14
    ENABLE_OBJECTS = 15
    UPGRADE = 16

    @property
    def kind(self) -> QuotaKind:
        """The limits it works on: object counts for the `-objects` ops."""
        objects = (QuotaOp.LIMIT_OBJECTS, QuotaOp.LIST_OBJECTS, QuotaOp.REMOVE_OBJECTS)
        return QuotaKind.OBJECTS if self in objects else QuotaKind.USAGE


LISTS = frozenset({QuotaOp.LIST, QuotaOp.LIST_OBJECTS})
LIMITS = frozenset({QuotaOp.LIMIT_USAGE, QuotaOp.LIMIT_OBJECTS})
REMOVES = frozenset({QuotaOp.REMOVE, QuotaOp.REMOVE_OBJECTS})
#: The volume option each setting op writes (glusterd's gd_quota_op_list)
SETTINGS = {QuotaOp.ALERT_TIME: "features.alert-time",
            QuotaOp.SOFT_TIMEOUT: "features.soft-timeout",
            QuotaOp.HARD_TIMEOUT: "features.hard-timeout",
            QuotaOp.DEFAULT_SOFT_LIMIT: "features.default-soft-limit"}
#: What `enable` turns on, in the order glusterd sets them
ENABLED = (("features.quota", "on"), ("features.inode-quota", "on"),
           ("features.quota-deem-statfs", "on"))
#: What `disable` turns off and what it drops (glusterd_quota_disable)
DISABLED = (("features.quota", "off"), ("features.inode-quota", "off"))
DROPPED = ("features.soft-timeout", "features.hard-timeout", "features.alert-time",
           "features.default-soft-limit", "features.quota-deem-statfs",
           "features.quota-timeout")
DEFAULT_SOFT_LIMIT = "80%"
QUOTA_DISABLED = "Quota is disabled, please enable quota"


@attrs.frozen
class QuotaResult:
    """What `volume quota` answers: for `list`, the volume's default soft limit and what
    each path's limit and usage are (in the stock CLI's order)."""

    name: str
    op: QuotaOp
    default_soft_limit: str = ""
    #: `list` without paths on a volume with no limit of that kind
    unconfigured: bool = False
    rows: tuple[dict[str, Any], ...] = ()
    paths: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": int(self.op), "op_name": self.op.name.lower(),
                "default_soft_limit": self.default_soft_limit, "unconfigured": self.unconfigured,
                "limits": list(self.rows), "paths": list(self.paths)}


class Quota:
    """The quota half of the Cluster API (``Cluster.quota``). Limits and usage go through
    auxiliary mounts on the node running the command (``run``'s ``mounts``): a client
    attached to the store only (no node of its own) can turn quota on and off, not set
    limits."""

    def __init__(self, volumes: "Volumes") -> None:
        self.volumes = volumes

    def run(self, name: str, op: QuotaOp | int, *, path: str | None = None,
            hard_limit: str | None = None, soft_limit: str | None = None,
            value: str | None = None, paths: Sequence[str] = (),
            mounts: NodeQuota | None = None, read: bool = True) -> QuotaResult:
        """One `volume quota` command. ``read=False`` for `list`: only glusterd's part (its
        checks, the default soft limit and the list mount; the stock CLI reads the rest)."""
        try:
            op = QuotaOp(int(op))
        except ValueError:
            raise OperationFailed("Quota command failed. Invalid opcode", errno.EINVAL) from None
        volume, _ = self.volumes.load_existing(name)
        self._stage(volume, op)
        if op is QuotaOp.ENABLE:
            self.volumes.replace(name, _enable)
            if mounts is not None:
                mounts.crawl(name)
            return QuotaResult(name, op)
        if op is QuotaOp.DISABLE:
            if mounts is not None:
                _drop_limits(volume, mounts)
            self.volumes.replace(name, _disable)
            return QuotaResult(name, op)
        if op in SETTINGS:
            if value is None:
                raise OperationFailed(f"Value not found for key {SETTINGS[op]}", errno.EINVAL)
            self.volumes.set(name, [(SETTINGS[op], value)])
            return QuotaResult(name, op)
        if op in LISTS:
            return self._list(volume, op, paths, mounts, read)
        if op in LIMITS | REMOVES:
            if not path:
                raise OperationFailed("No path given", errno.EINVAL)
            if mounts is None:
                raise OperationFailed("quota limits are set on a node's mount: run the "
                                      "command through a daemon", errno.EINVAL)
            return self._limit(volume, op, canonical_path(path), hard_limit, soft_limit, mounts)
        raise OperationFailed("Quota command failed. Invalid opcode", errno.EINVAL)

    # -- glusterd's rules ----------------------------------------------------------------

    @staticmethod
    def _stage(volume: Volume, op: QuotaOp) -> None:
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed("Volume is stopped, start volume before executing quota "
                                  "command.", errno.EINVAL)
        if op is QuotaOp.ENABLE:
            if quota_enabled(volume):
                raise OperationFailed("Quota is already enabled", errno.EEXIST)
        elif not quota_enabled(volume):
            raise OperationFailed(QUOTA_DISABLED, errno.EINVAL)

    def _limit(self, volume: Volume, op: QuotaOp, path: str, hard_limit: str | None,
               soft_limit: str | None, mounts: NodeQuota) -> QuotaResult:
        kind = op.kind
        hard = soft = None
        if op in LIMITS:
            if hard_limit is None:
                raise OperationFailed("No hard limit given", errno.EINVAL)
            hard = parse_size(hard_limit)
            soft = parse_percent(soft_limit) if soft_limit is not None else None
        name = volume.name
        shown = mounts.shown_dir(name, AuxMount.LIMIT)
        with mounts.mounted(name, AuxMount.LIMIT) as root:
            gfid = mounts.directory_gfid(root, path)
            try:
                before = mounts.read_limit(root, path, kind)
            except OSError:
                before = None
            if op in LIMITS:
                assert hard is not None
                mounts.set_limit(root, shown, path, kind, hard, soft)
            else:
                mounts.remove_limit(root, shown, path, kind)
        entry = QuotaLimit(gfid, kind, path)

        def record(current: Volume) -> Volume:
            limits = [q for q in current.quota_limits if (q.gfid, q.kind) != (gfid, kind)]
            found = len(limits) != len(current.quota_limits)
            if op in LIMITS:
                if found:  # the record stays where it was
                    return current.evolve(quota_limits=[
                        entry if (q.gfid, q.kind) == (gfid, kind) else q
                        for q in current.quota_limits])
                limits.append(entry)
            elif not current.quota_limits:
                raise OperationFailed(f"Cannot remove limit on {path}. The quota configuration "
                                      f"file for volume {name} is empty.", errno.ENOENT)
            elif not found:
                raise OperationFailed(f"Error. gfid {gfid} for path {path} not found in store",
                                      errno.ENOENT)
            return current.evolve(quota_limits=limits,
                                  quota_conf_version=current.quota_conf_version + 1)

        try:
            self.volumes.replace(name, record)
        except OperationFailed:
            if op in LIMITS:  # a new limit the store did not take: the directory's goes too
                _restore_limit(mounts, name, path, kind, before)
            raise
        return QuotaResult(name, op)

    def _list(self, volume: Volume, op: QuotaOp, paths: Sequence[str],
              mounts: NodeQuota | None, read: bool) -> QuotaResult:
        name = volume.name
        default = volume.options.get("features.default-soft-limit", DEFAULT_SOFT_LIMIT)
        kind = op.kind
        wanted = tuple(canonical_path(p) for p in paths)
        if not read:  # the stock CLI reads the list mount (paths) or quotad, then unmounts
            if mounts is not None:
                mounts.mount(name, AuxMount.LIST)
            return QuotaResult(name, op, default, paths=wanted)
        if not wanted:
            # (limits imported from glusterd's quota.conf have no path: quotad's to find)
            limited = sorted({q.path for q in volume.quota_limits if q.kind is kind and q.path})
            if not limited:
                return QuotaResult(name, op, default, unconfigured=True)
        else:
            limited = list(wanted)
        if mounts is None:
            raise OperationFailed("quota usage is read on a node's mount: run the command "
                                  "through a daemon", errno.EINVAL)
        with mounts.mounted(name, AuxMount.LIST) as root:
            rows = []
            for path in limited:
                try:
                    rows.append(mounts.read_usage(root, path, kind))
                except OSError as exc:
                    rows.append({"path": path, "error": os.strerror(exc.errno or errno.EIO)})
        return QuotaResult(name, op, default, rows=tuple(rows), paths=wanted)


def _with(options_now: dict[str, str], pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """glusterd's dict order (as `volume info` lists options): a new key goes first, a key
    set again keeps its place."""
    current = dict(options_now)
    for key, value in pairs:
        current = {**current, key: value} if key in current else {key: value, **current}
    return current


def _enable(volume: Volume) -> Volume:
    if quota_enabled(volume):
        raise OperationFailed("Quota is already enabled", errno.EEXIST)
    return volume.evolve(options=_with(volume.options, ENABLED),
                         quota_version=volume.quota_version + 1)


def _disable(volume: Volume) -> Volume:
    if not quota_enabled(volume):
        raise OperationFailed(QUOTA_DISABLED, errno.EINVAL)
    kept = {k: v for k, v in volume.options.items() if k not in DROPPED}
    return volume.evolve(options=_with(kept, DISABLED), quota_limits=(), quota_conf_version=0)


def _restore_limit(mounts: NodeQuota, name: str, path: str, kind: QuotaKind,
                   limit: tuple[int, int] | None) -> None:
    """Put back the limit ``path`` had (``limit``; None: none), best effort."""
    shown = mounts.shown_dir(name, AuxMount.LIMIT)
    try:
        with mounts.mounted(name, AuxMount.LIMIT) as root:
            if limit is None:
                mounts.remove_limit(root, shown, path, kind)
            else:
                mounts.set_limit(root, shown, path, kind, limit[0], limit[1])
    except OperationFailed:
        pass


def _drop_limits(volume: Volume, mounts: NodeQuota) -> None:
    """`disable` removes the limits from the directories (glusterd's cleanup crawl), so a
    later `enable` starts with none."""
    if not volume.quota_limits:
        return
    try:
        with mounts.mounted(volume.name, AuxMount.LIMIT) as root:
            for limit in volume.quota_limits:
                mounts.drop_limit(root, limit.path, limit.kind)
    except OperationFailed:
        pass
