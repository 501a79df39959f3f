"""Volume operations with glusterd's rules and messages.

A volume is one versioned JSON document in the store; every change is one compare-and-swap on
its revision (inside an Executor transaction when peers must act first), so two
administrators racing on one volume cannot both win and nothing is ever half-written.
"""

from __future__ import annotations

import errno
import json
import uuid as uuid_module
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gluster_mgmt import model, options
from gluster_mgmt.errors import ConflictError, OperationFailed, ValidationError
from gluster_mgmt.executor import Step
from gluster_mgmt.model import Brick, Volume, VolumeStatus, VolumeType
from gluster_mgmt.store.types import ABSENT, Put

if TYPE_CHECKING:
    from gluster_mgmt.cluster.api import Cluster

BRICK_PREPARE = "brick.prepare"


def encode_volume(volume: Volume) -> bytes:
    """Options keep their insertion order: `volume info` lists them as glusterd does."""
    return json.dumps(volume.to_dict(), separators=(",", ":")).encode()


def decode_volume(raw: bytes) -> Volume:
    return Volume.from_dict(json.loads(raw))


def _busy(name: str) -> OperationFailed:
    return OperationFailed(
        f"Another transaction is in progress for {name}. Please try again after some time.",
        errno.EBUSY)


class Volumes:
    """The volume half of the Cluster API (see gluster_mgmt.cluster.api.Cluster)."""

    def __init__(self, cluster: "Cluster") -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.layout = cluster.layout

    # ------------------------------------------------------------------ reading
    def load(self, name: str) -> tuple[Volume, int]:
        entry = self.store.get(self.layout.volume(model.validate_volume_name(name)))
        if entry is None:
            raise OperationFailed(f"Volume {name} does not exist", errno.ENOENT)
        return decode_volume(entry.value), entry.revision

    def _load_existing(self, name: str) -> tuple[Volume, int]:
        try:
            model.validate_volume_name(name)
        except ValidationError:
            raise OperationFailed(f"Volume {name} does not exist", errno.ENOENT) from None
        return self.load(name)

    def all(self) -> list[Volume]:
        return [decode_volume(e.value) for e in self.store.list(self.layout.volumes)]

    def info(self, name: str | None = None) -> list[Volume]:
        if name is None:
            return self.all()
        return [self._load_existing(name)[0]]

    def names(self) -> list[str]:
        prefix = self.layout.volumes
        return [e.key[len(prefix):] for e in self.store.list(prefix)]

    # ------------------------------------------------------------------ writing
    def _save(self, volume: Volume, revision: int) -> Volume:
        volume = volume.evolve(version=volume.version + 1)
        try:
            self.store.put(self.layout.volume(volume.name), encode_volume(volume), revision)
        except ConflictError:
            raise _busy(volume.name) from None
        return volume

    def _bricks(self, specs: Sequence[str], force: bool) -> list[Brick]:
        hosts = self.cluster.peers.hostname_map()
        bricks = []
        for spec in specs:
            host, path = self.cluster.parse_brick(spec)
            peer = hosts.get(host)
            if peer is None:
                raise OperationFailed(f"Host {host} is not in 'Peer in Cluster' state", errno.ENOENT)
            bricks.append(Brick(host_uuid=peer, hostname=host, path=path))
        model.check_bricks_distinct(bricks)
        return bricks

    def _prepare_steps(self, volume_id: str, bricks: Sequence[Brick], force: bool) -> list[Step]:
        """One step on every host of ``bricks`` at once; each host prepares its own."""
        hosts = tuple(dict.fromkeys(b.host_uuid for b in bricks))
        if not hosts:
            return []
        return [Step(BRICK_PREPARE, hosts, {
            "volume_id": volume_id, "force": force,
            "bricks": [{"host_uuid": b.host_uuid, "hostname": b.hostname, "path": b.path} for b in bricks],
        })]

    def create(self, name: str, bricks: Sequence[str], replica: int | None = None,
               arbiter: int | None = None, disperse: int | None = None,
               disperse_data: int | None = None, redundancy: int | None = None,
               transport: str | None = None, force: bool = False) -> Volume:
        model.validate_volume_name(name)
        if self.store.get(self.layout.volume(name)) is not None:
            raise OperationFailed(f"Volume {name} already exists", errno.EEXIST)
        brick_list = self._bricks(bricks, force)
        volume_type, counts = _layout(len(brick_list), replica, arbiter, disperse, disperse_data,
                                      redundancy)
        model.check_brick_counts(volume_type, len(brick_list), **counts)
        volume = Volume(name=name, uuid=str(uuid_module.uuid4()), type=volume_type,
                        bricks=tuple(brick_list), options=model.default_volume_options(volume_type),
                        transport=transport or "tcp", **counts)
        model.check_replica_sets_spread(volume, force)
        self.cluster.run(
            f"volume create {name}", self._prepare_steps(volume.uuid, volume.bricks, force),
            locks=[f"volume-{name}"],
            commit=[Put(self.layout.volume(name), encode_volume(volume), ABSENT)],
            conflict=f"Volume {name} already exists",
        )
        return volume

    def _change_status(self, name: str, status: VolumeStatus) -> Volume:
        with self.cluster.volume_lock(name):
            volume, revision = self._load_existing(name)
            return self._save(volume.evolve(status=status), revision)

    def start(self, name: str, force: bool = False) -> Volume:
        volume, _ = self._load_existing(name)
        if volume.status is VolumeStatus.STARTED and not force:
            raise OperationFailed(f"Volume {name} already started", errno.EEXIST)
        return self._change_status(name, VolumeStatus.STARTED)

    def stop(self, name: str, force: bool = False) -> Volume:
        volume, _ = self._load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not in the started state", errno.EINVAL)
        return self._change_status(name, VolumeStatus.STOPPED)

    def delete(self, name: str) -> None:
        with self.cluster.volume_lock(name):
            volume, revision = self._load_existing(name)
            if volume.status is VolumeStatus.STARTED:
                raise OperationFailed(
                    f"Volume {name} has been started.Volume needs to be stopped before deletion.",
                    errno.EINVAL)
            try:
                self.store.delete(self.layout.volume(name), revision)
            except ConflictError:
                raise _busy(name) from None

    def set(self, name: str, pairs: Sequence[tuple[str, str]]) -> Volume:
        if not pairs:
            raise OperationFailed("No options given", errno.EINVAL)
        checked = [options.validate_option(key, value) for key, value in pairs]
        with self.cluster.volume_lock(name):
            volume, revision = self._load_existing(name)
            return self._save(volume.evolve(options={**volume.options, **dict(checked)}), revision)

    def get(self, name: str, key: str) -> list[tuple[str, str | None, bool]]:
        """(key, value, is_default) as `volume get` shows them; None for an unset option."""
        volume, _ = self._load_existing(name)
        table = options.option_table()
        keys = table.keys() if key == "all" else [table.resolve_key(key)]
        return [(k, volume.options[k], False) if k in volume.options else (k, table.default(k), True)
                for k in keys]

    def reset(self, name: str, key: str | None = None, force: bool = False) -> Volume:
        with self.cluster.volume_lock(name):
            volume, revision = self._load_existing(name)
            if key in (None, "all"):
                kept = {k: v for k, v in volume.options.items()
                        if k in model.default_volume_options(volume.type)}
            else:
                full = options.option_table().resolve_key(key)
                kept = {k: v for k, v in volume.options.items() if k != full}
            return self._save(volume.evolve(options=kept), revision)

    # ------------------------------------------------------------------ bricks
    def add_brick(self, name: str, bricks: Sequence[str], replica: int | None = None,
                  arbiter: int | None = None, force: bool = False) -> Volume:
        volume, _ = self._load_existing(name)
        new = self._bricks(bricks, force)
        existing = {b.name for b in volume.bricks}
        for brick in new:
            if brick.name in existing:
                raise OperationFailed(f"Brick: {brick.name} not available. Brick may be containing "
                                      "or be contained by an existing brick.", errno.EEXIST)
        size = volume.subvolume_size
        if volume.type is VolumeType.DISPERSE:
            if len(new) % volume.disperse_count:
                raise OperationFailed(
                    f"Incorrect number of bricks supplied {len(new)} with count {volume.disperse_count}",
                    errno.EINVAL)
            bricks_all = volume.bricks + tuple(new)
            updated = volume.evolve(bricks=bricks_all)
        elif replica is not None and replica != volume.replica_count:
            if replica < volume.replica_count:
                raise OperationFailed("Incorrect replica count (%d) supplied. Volume already has (%d)"
                                      % (replica, volume.replica_count), errno.EINVAL)
            groups = volume.subvolume_count
            if len(new) != groups * (replica - volume.replica_count):
                raise OperationFailed(
                    f"Incorrect number of bricks supplied {len(new)} with count {replica}", errno.EINVAL)
            # Interleave: each existing set gets its share of the new bricks.
            per_set = replica - volume.replica_count
            merged: list[Brick] = []
            for index, subvolume in enumerate(volume.subvolumes()):
                merged += list(subvolume) + new[index * per_set:(index + 1) * per_set]
            updated = volume.evolve(bricks=tuple(merged), type=VolumeType.REPLICATE,
                                    replica_count=replica, arbiter_count=arbiter or 0)
        else:
            if len(new) % size:
                raise OperationFailed(
                    f"Incorrect number of bricks supplied {len(new)} with count {size}", errno.EINVAL)
            updated = volume.evolve(bricks=volume.bricks + tuple(new))
        model.check_replica_sets_spread(updated, force)
        self._commit_change(volume, updated, self._prepare_steps(volume.uuid, new, force))
        return updated

    def replace_brick(self, name: str, old: str, new: str) -> Volume:
        volume, _ = self._load_existing(name)
        old_host, old_path = self.cluster.parse_brick(old)
        index = next((i for i, b in enumerate(volume.bricks)
                      if b.hostname == old_host and b.path == old_path), None)
        if index is None:
            raise OperationFailed(f"brick: {old} does not exist in volume: {name}", errno.EINVAL)
        (replacement,) = self._bricks([new], force=True)
        if replacement.name in {b.name for b in volume.bricks}:
            raise OperationFailed(f"Brick: {replacement.name} not available. Brick may be "
                                  "containing or be contained by an existing brick.", errno.EEXIST)
        bricks = list(volume.bricks)
        bricks[index] = replacement
        updated = volume.evolve(bricks=tuple(bricks))
        self._commit_change(volume, updated, self._prepare_steps(volume.uuid, [replacement], True))
        return updated

    def remove_brick(self, name: str, bricks: Sequence[str], action: str,
                     replica: int | None = None) -> Volume:
        volume, _ = self._load_existing(name)
        wanted = [self.cluster.parse_brick(spec) for spec in bricks]
        remaining = [b for b in volume.bricks if (b.hostname, b.path) not in wanted]
        for host, path in wanted:
            if volume.brick_by_path(host, path) is None:
                raise OperationFailed(
                    f"Incorrect brick {host}:{path} for volume {name}", errno.EINVAL)
        if action not in ("force", "commit"):
            raise OperationFailed(
                f"remove-brick {action} needs data migration, which this release does not run; "
                "use 'force' (data on the removed bricks stays there) or 'commit'", errno.ENOTSUP)
        updated = _shrink(volume, remaining, replica)
        self._commit_change(volume, updated, [])
        return updated

    def _commit_change(self, before: Volume, after: Volume, steps: list) -> None:
        entry_key = self.layout.volume(before.name)
        current = self.store.get(entry_key)
        if current is None or decode_volume(current.value).version != before.version:
            raise _busy(before.name)
        after = after.evolve(version=before.version + 1)
        self.cluster.run(f"volume change {before.name}", steps, locks=[f"volume-{before.name}"],
                         commit=[Put(entry_key, encode_volume(after), current.revision)],
                         conflict=_busy(before.name).args[0])


def _layout(count: int, replica, arbiter, disperse, disperse_data, redundancy) -> tuple[VolumeType, dict[str, Any]]:
    """Volume type and counts from `volume create`'s words, as glusterd derives them."""
    if disperse is not None or disperse_data is not None or redundancy is not None:
        if replica is not None:
            raise OperationFailed("replica and disperse options are exclusive", errno.EINVAL)
        if disperse is None:
            disperse = (disperse_data or 0) + (redundancy or 1) if disperse_data else count
        if redundancy is None:
            redundancy = disperse - disperse_data if disperse_data else model.optimal_redundancy(disperse)
        return VolumeType.DISPERSE, {"disperse_count": disperse, "redundancy_count": redundancy}
    if replica is not None:
        return VolumeType.REPLICATE, {"replica_count": replica, "arbiter_count": arbiter or 0}
    if arbiter is not None:
        raise OperationFailed("arbiter needs a replica count", errno.EINVAL)
    return VolumeType.DISTRIBUTE, {}


def _shrink(volume: Volume, remaining: list[Brick], replica: int | None) -> Volume:
    if not remaining:
        raise OperationFailed("Deleting all the bricks of the volume is not allowed", errno.EINVAL)
    if replica is not None and volume.type is VolumeType.REPLICATE and replica < volume.replica_count:
        if len(remaining) % replica:
            raise OperationFailed("number of bricks is not a multiple of replica count", errno.EINVAL)
        new_type = VolumeType.REPLICATE if replica > 1 else VolumeType.DISTRIBUTE
        return volume.evolve(bricks=tuple(remaining), type=new_type, replica_count=replica,
                             arbiter_count=0 if replica != 3 else volume.arbiter_count)
    size = volume.subvolume_size
    if (len(volume.bricks) - len(remaining)) % size:
        raise OperationFailed(
            f"Remove brick incorrect brick count of {len(volume.bricks) - len(remaining)} for "
            f"{'replica' if volume.type is VolumeType.REPLICATE else 'disperse'} {size}", errno.EINVAL)
    return volume.evolve(bricks=tuple(remaining))
