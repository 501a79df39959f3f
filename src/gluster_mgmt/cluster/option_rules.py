"""glusterd's per-key rules of `volume set`: checks that need the volume, not just the value.

The option table (gluster_mgmt.options) knows each value's type and range. Some keys carry a
rule of their own in glusterd 10.3 (the ``validate_fn`` of its option map, and the special
cases of its set-volume staging): a replicate-only option on a distribute volume, a quorum
beyond the replica count, an option that only a stopped or unstarted volume may change. They
live here, one small function per rule, with glusterd's messages.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Mapping, Sequence

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import Volume, VolumeStatus, VolumeType
from gluster_mgmt.options import BOOL_FALSE, BOOL_TRUE, parse_bool, parse_size

#: A rule: (volume, full key, value, the options as they will be) -> error text or None.
Rule = Callable[[Volume, str, str, Mapping[str, str]], "str | None"]

NAME_MAX = 255


def _fail(message: str) -> OperationFailed:
    return OperationFailed(message, errno.EINVAL)


def check_command(key: str, value: str) -> None:
    """Keys `volume set` refuses whatever the volume: other commands own them. Runs on the
    key as typed, before it is resolved (as glusterd does)."""
    if key in ("bitrot", "features.bitrot"):
        raise _fail(f" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster "
                    "volume bitrot <VOLNAME> {enable|disable}' instead.")
    if key in ("scrub-freq", "features.scrub-freq"):
        raise _fail(f" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster "
                    "volume bitrot <VOLNAME> scrub-frequency {hourly|daily|weekly|biweekly|"
                    "monthly}' instead.")
    if key in ("scrub", "features.scrub"):
        raise _fail(f" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster "
                    "volume bitrot <VOLNAME> scrub {pause|resume}' instead.")
    if key in ("scrub-throttle", "features.scrub-throttle"):
        raise _fail(f" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster "
                    "volume bitrot <VOLNAME> scrub-throttle  {lazy|normal|aggressive}' instead.")
    for short, command in (("quota", "quota"), ("inode-quota", "inode-quota")):
        if key in (short, f"features.{short}") and _is_bool(value):
            verb = "enable" if parse_bool(value) else "disable"
            raise _fail(f" 'gluster volume set <VOLNAME> {key} {value}' is deprecated. Use "
                        f"'gluster volume {command} <VOLNAME> {verb}' instead.")
    if key == "config.transport" and value.lower() not in ("tcp", "rdma", "tcp,rdma", "rdma,tcp"):
        raise _fail(f"transport-type {value} does not exist")


def check_for_volume(volume: Volume, pairs: Sequence[tuple[str, str]]) -> None:
    """Every rule of the (resolved) keys in ``pairs`` against ``volume``."""
    settings = {**volume.options, **dict(pairs)}
    for key, value in pairs:
        rule = RULES.get(key)
        message = rule(volume, key, value, settings) if rule else None
        if message:
            raise _fail(message)


# -- the rules ----------------------------------------------------------------------------

def _is_bool(value: str) -> bool:
    return value.lower() in BOOL_TRUE | BOOL_FALSE


def _int(value: str) -> int | None:
    try:
        return int(value, 0)
    except ValueError:
        return None


def _boolean(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if not _is_bool(value):
        return f"{value} is not a valid boolean value. {key} expects a valid boolean value."
    return None


def _replicate_only(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if volume.replica_count == 1:
        return f"Cannot set {key} for a non-replicate volume."
    return None


def _disperse_only(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if volume.type is not VolumeType.DISPERSE:
        return f"Cannot set {key} for a non-disperse volume."
    return None


def _replicate_heal_daemon(volume: Volume, key: str, value: str,
                           settings: Mapping[str, str]) -> str | None:
    if volume.type is not VolumeType.REPLICATE:
        return f"Volume {volume.name} is not of replicate type"
    return None


def _disperse_heal_daemon(volume: Volume, key: str, value: str,
                          settings: Mapping[str, str]) -> str | None:
    if volume.type is not VolumeType.DISPERSE:
        return f"Volume {volume.name} is not of disperse type"
    return None


def _quorum_count(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    count = _int(value)
    if count is None:
        return f"{value} is not an integer. {key} expects a valid integer value."
    if not 1 <= count <= volume.replica_count:
        return f"{count} in {key} {count} is out of range [1 - {volume.replica_count}]"
    return None


def _disperse_quorum_count(volume: Volume, key: str, value: str,
                           settings: Mapping[str, str]) -> str | None:
    count = _int(value)
    if count is None:
        return f"{value} is not an integer. {key} expects a valid integer value."
    if volume.type is not VolumeType.DISPERSE:
        return f"Cannot set {key} for a non-disperse volume."
    data = volume.disperse_count - volume.redundancy_count
    if not data <= count <= volume.disperse_count:
        return f"{count} for {key} is out of range [{data} - {volume.disperse_count}]"
    return None


def _subvols_per_directory(volume: Volume, key: str, value: str,
                           settings: Mapping[str, str]) -> str | None:
    count = _int(value) or 0
    if count > volume.subvolume_count:
        return (f"subvols-per-directory({count}) is greater than the number of "
                f"subvolumes({volume.subvolume_count}).")
    return None


def _rebalance_throttle(volume: Volume, key: str, value: str,
                        settings: Mapping[str, str]) -> str | None:
    cores = os.cpu_count() or 1
    if value.lower() in ("lazy", "normal", "aggressive"):
        return None
    threads = _int(value)
    if threads is None:
        return (f"{key} should be {{lazy|normal|aggressive}} or a number up to number of cores "
                f"available (cores available - {cores})")
    if not 0 < threads <= cores:
        return (f"{key} should be within range of 0 and maximum number of cores available "
                f"(cores available - {cores})")
    return None


def _lock_migration(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if volume.replica_count > 1 or volume.disperse_count:
        return ("Lock migration is a experimental feature. Currently works with pure "
                "distribute volume only")
    if not _is_bool(value):
        return "Invalid value for volume set command. Use on/off only."
    return None


def _cache_file_sizes(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    low = settings.get("performance.cache-min-file-size")
    high = settings.get("performance.cache-max-file-size")
    if low is None or high is None:
        return None
    try:
        if parse_size(low) > parse_size(high):
            return f"cache-min-file-size ({low}) is greater than cache-max-file-size ({high})"
    except ValueError:
        return None  # the value's own check reports it
    return None


def _quota_enabled(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if settings.get("features.quota", "off").lower() not in BOOL_TRUE:
        return f"Cannot set {key}. Enable quota first."
    return None


def _snapshot_directory(volume: Volume, key: str, value: str,
                        settings: Mapping[str, str]) -> str | None:
    if len(value) > NAME_MAX:
        return f"value of {key} exceedes {NAME_MAX} characters"
    if len(value) < 2:
        return f"value of {key} too short, expects at least two characters"
    if not value.startswith("."):
        return f"{key} expects value starting with '.' "
    if not re.fullmatch(r"[A-Za-z0-9_-]+", value[1:]):
        return f"{key} expects value to contain only '0-9a-z-_'"
    return None


def _listen_backlog(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    number = _int(value)
    if number is None:
        return f"{value} is not a compatible value. {key} expects an integer value."
    if number < 0:
        return f"{value} is not a compatible value. {key} expects a positiveinteger value."
    return None


def _statedump_path(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if not os.path.isdir(value):
        return f"Failed: {value} is not a directory"
    return None


def _mandatory_locking(volume: Volume, key: str, value: str,
                       settings: Mapping[str, str]) -> str | None:
    if value not in ("off", "file", "forced", "optimal"):
        return (f"Invalid option value '{value}': Available options are 'off', 'file', "
                "'forced' or 'optimal'")
    return None


def _worm_period(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if not value.isdigit() or int(value) >= 1 << 64:
        return f"{value} is not a valid uint64_t value. {key} expects a valid uint64_t value."
    return None


def _retention_mode(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if value not in ("relax", "enterprise"):
        return ("The value of retention mode should be either relax or enterprise. But the "
                f"value of {key} is {value}")
    return None


def _parallel_readdir(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    problem = _boolean(volume, key, value, settings)
    if problem is None and volume.task is not None:
        problem = f"{key} option should be set after rebalance is complete"
    return problem


def _granular_entry_heal(volume: Volume, key: str, value: str,
                         settings: Mapping[str, str]) -> str | None:
    if volume.status is not VolumeStatus.CREATED:
        return (f" 'gluster volume set <VOLNAME> {key} {{enable, disable}}' is not supported. "
                "Use 'gluster volume heal <VOLNAME> granular-entry-heal {enable, disable}' "
                "instead.")
    return None


def _stopped_only(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if volume.status is VolumeStatus.STARTED:
        return (f"Changing '{key}' is not supported when the volume is in started state. "
                "Please stop the volume first.")
    return None


def _trash_dir(volume: Volume, key: str, value: str, settings: Mapping[str, str]) -> str | None:
    if settings.get("features.trash", "off").lower() not in BOOL_TRUE:
        return f"Trash translator is not enabled. Use volume set {volume.name} trash on"
    if "/" in value:
        return "Path is not allowed as option"
    return None


def _cluster_wide_only(volume: Volume, key: str, value: str,
                       settings: Mapping[str, str]) -> str | None:
    return f'Option "{key}" is not valid for a single volume'


RULES: dict[str, Rule] = {
    "cluster.subvols-per-directory": _subvols_per_directory,
    "cluster.rebal-throttle": _rebalance_throttle,
    "cluster.lock-migration": _lock_migration,
    "cluster.metadata-self-heal": _replicate_only,
    "cluster.data-self-heal": _replicate_only,
    "cluster.entry-self-heal": _replicate_only,
    "cluster.shd-max-threads": _replicate_only,
    "cluster.self-heal-daemon": _replicate_heal_daemon,
    "cluster.quorum-count": _quorum_count,
    "cluster.disperse-self-heal-daemon": _disperse_heal_daemon,
    "disperse.shd-max-threads": _disperse_only,
    "disperse.quorum-count": _disperse_quorum_count,
    "performance.cache-max-file-size": _cache_file_sizes,
    "performance.cache-min-file-size": _cache_file_sizes,
    "performance.parallel-readdir": _parallel_readdir,
    "client.strict-locks": _boolean,
    "server.statedump-path": _statedump_path,
    "transport.listen-backlog": _listen_backlog,
    "features.uss": _boolean,
    "features.snapshot-directory": _snapshot_directory,
    "features.quota-deem-statfs": _quota_enabled,
    "features.worm": _boolean,
    "features.worm-file-level": _boolean,
    "features.worm-files-deletable": _boolean,
    "features.default-retention-period": _worm_period,
    "features.auto-commit-period": _worm_period,
    "features.retention-mode": _retention_mode,
    "features.ctime": _boolean,
    "ctime.noatime": _boolean,
    "features.enforce-mandatory-lock": _boolean,
    "locks.mandatory-locking": _mandatory_locking,
    "cluster.granular-entry-heal": _granular_entry_heal,
    "storage.linux-aio": _stopped_only,
    "features.trash-dir": _trash_dir,
    "cluster.op-version": _cluster_wide_only,
}
