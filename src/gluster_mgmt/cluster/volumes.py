"""Volume operations with glusterd's rules and messages.

A volume is one versioned JSON document in the store; every change is one compare-and-swap on
its revision (inside an Executor transaction when peers must act first), so two
administrators racing on one volume cannot both win and nothing is ever half-written.
"""

from __future__ import annotations

import errno
import json
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from gluster_mgmt import model, options, rules, volgen
from gluster_mgmt.cluster import option_rules
from gluster_mgmt.cluster.migration_progress import (
    MigrationRecords,
    Progress,
    in_progress,
)
from gluster_mgmt.errors import (
    ConflictError,
    OperationFailed,
    UnknownOptionError,
    ValidationError,
)
from gluster_mgmt.executor import Step
from gluster_mgmt.model import (
    FIX_LAYOUT,
    REBALANCE,
    REMOVE_BRICK,
    Brick,
    Task,
    Volume,
    VolumeStatus,
    VolumeType,
)
from gluster_mgmt.cluster.service_report import service_reports
from gluster_mgmt.portmap import brick_record, port_by_brick
from gluster_mgmt.store.base import MAX_TXN_OPS
from gluster_mgmt.store.follow import Follow
from gluster_mgmt.store.types import ABSENT, Delete, Entry, Put

if TYPE_CHECKING:
    from gluster_mgmt.cluster.change_read import ChangeRead, HeldVolume
    from gluster_mgmt.membership.peers import Peers
    from gluster_mgmt.store.base import Store
    from gluster_mgmt.store.keys import ClusterKeys

BRICK_PREPARE = "brick.prepare"
BRICK_START_CHECK = "brick.start-check"
#: Seconds `volume start` waits for every brick and self-heal daemon (and `volume stop` for
#: them to exit) before it fails as glusterd does when a node cannot start them.
START_TIMEOUT = 60.0
#: The errno of `volume get VOL user.KEY` for a key the volume has not set (glusterd answers
#: it with op_ret -ENOENT and no message: the CLI door gives that, the REST API says why).
OPTION_NOT_SET = errno.ENODATA


def encode_volume(volume: Volume) -> bytes:
    """Options keep their insertion order: `volume info` lists them as glusterd does."""
    return json.dumps(volume.to_dict(), separators=(",", ":")).encode()


def decode_volume(raw: bytes) -> Volume:
    return Volume.from_dict(json.loads(raw))


class DecodedVolumes:
    """Volume records decoded once per revision: a node's volfile follower and its reconciler
    act on the same change, and each of 100 nodes decoding it twice is CPU the change waits
    for (benchmarks/scale.py). Shared between their threads: a race only decodes twice."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[int, Volume]] = {}

    def of(self, entry: Entry) -> Volume:
        """The volume ``entry`` holds (raises as ``decode_volume`` for a bad record)."""
        cached = self._by_key.get(entry.key)
        if cached is not None and cached[0] == entry.revision:
            return cached[1]
        volume = decode_volume(entry.value)
        self._by_key[entry.key] = (entry.revision, volume)
        return volume

    def keep_only(self, keys: "Collection[str]") -> None:
        """Forget the records of every other key (deleted volumes)."""
        for key in list(self._by_key):  # a copy taken at once: other threads insert
            if key not in keys:
                self._by_key.pop(key, None)


#: What Volumes.update_options' change returns: (key, value) pairs to set, keys to remove.
OptionChange = tuple[Sequence[tuple[str, str]], frozenset[str]]


def _computed_defaults(volume: Volume) -> dict[str, str]:
    """The values glusterd works out for a replicate volume that does not set them
    (glusterd_get_option_value): what `volume get` shows, not as defaults."""
    if volume.type is not VolumeType.REPLICATE:
        return {}
    computed = {"performance.client-io-threads": "off"}
    if volume.replica_count % 2:
        computed["cluster.quorum-type"] = "auto"
    return computed


def _busy(name: str) -> OperationFailed:
    return OperationFailed(rules.transaction_in_progress(name), errno.EBUSY)


class VolumeContext(Protocol):
    """What the volume operations use of their Cluster (gluster_mgmt.cluster.api)."""

    store: "Store"
    keys: "ClusterKeys"
    peers: "Peers"

    def parse_brick(self, spec: str, hosts: Mapping[str, str] | None = None) -> tuple[str, str]: ...
    def volume_lock(self, name: str, prefixes: Sequence[str] = ()) -> AbstractContextManager[HeldVolume]: ...
    def read_for_change(self, keys: Sequence[str] = (), prefixes: Sequence[str] = (),
                        with_alive: bool = True) -> ChangeRead: ...
    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str],
            commit: Sequence[Any], conflict: str | None = None,
            checked: ChangeRead | None = None) -> Any: ...


class Volumes:
    """The volume half of the Cluster API (see gluster_mgmt.cluster.api.Cluster)."""

    def __init__(self, cluster: VolumeContext, start_timeout: float = START_TIMEOUT) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.keys = cluster.keys
        self.start_timeout = start_timeout
        #: The records decoded once per revision (the node's daemon shares it with its volfile
        #: follower and reconciler): `volume info` (all) reads every record on each command,
        #: decoding only what changed since (300 volumes: 7 of its 11 ms were decoding).
        self.decoded = DecodedVolumes()

    # ------------------------------------------------------------------ reading
    def load(self, name: str) -> tuple[Volume, int]:
        entry = self.store.get(self.keys.volume(model.validate_volume_name(name)))
        if entry is None:
            raise OperationFailed(f"Volume {name} does not exist", errno.ENOENT)
        return self.decoded.of(entry), entry.revision

    def _read_for(self, name: str) -> ChangeRead | None:
        """The change of volume ``name``'s read (its record with the shared checks), None
        for a name that cannot be a volume's (``_load_existing`` says it does not exist)."""
        if not model.is_volume_name(name):
            return None
        return self.cluster.read_for_change([self.keys.volume(name)])

    def _load_existing(self, name: str, checked: ChangeRead | None = None) -> tuple[Volume, int]:
        """``checked``: a read of the change that holds the record (``volume_lock``'s)."""
        try:
            model.validate_volume_name(name)
        except ValidationError:
            raise OperationFailed(f"Volume {name} does not exist", errno.ENOENT) from None
        if checked is None:
            return self.load(name)
        entry = checked.get(self.keys.volume(name))
        if entry is None:
            raise OperationFailed(f"Volume {name} does not exist", errno.ENOENT)
        return self.decoded.of(entry), entry.revision

    def load_existing(self, name: str) -> tuple[Volume, int]:
        """The volume and its revision; "Volume NAME does not exist" for any name that is
        not one (an invalid name included), as glusterd says it."""
        return self._load_existing(name)

    def all(self) -> list[Volume]:
        entries = self.store.list(self.keys.volumes)
        volumes = [self.decoded.of(e) for e in entries]
        self.decoded.keep_only({e.key for e in entries})
        return volumes

    def info(self, name: str | None = None) -> list[Volume]:
        if name is None:
            return self.all()
        return [self._load_existing(name)[0]]

    def names(self) -> list[str]:
        prefix = self.keys.volumes
        return [e.key[len(prefix):] for e in self.store.list(prefix)]

    # ------------------------------------------------------------------ writing
    def _save(self, volume: Volume, revision: int, held: HeldVolume) -> Volume:
        """CAS the record, releasing the volume's lock in the same store transaction (which
        applies only while we still hold it)."""
        volume = volume.evolve(version=volume.version + 1)
        try:
            self.store.transaction([Put(self.keys.volume(volume.name), encode_volume(volume), revision),
                                    held.lock.release_op()])
        except ConflictError:
            raise _busy(volume.name) from None
        held.lock.released()
        return volume

    def _bricks(self, specs: Sequence[str], force: bool,
                checked: ChangeRead | None = None) -> list[Brick]:
        """``checked``: a read of the change that holds the peer records."""
        hosts = self.cluster.peers.hostname_map(
            checked.under(self.keys.peers) if checked is not None else None)
        bricks = []
        for spec in specs:
            host, path = self.cluster.parse_brick(spec, hosts)
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
        # the name, the peers, the takeover and alive keys: one read
        checked = self.cluster.read_for_change([self.keys.volume(name)], [self.keys.peers])
        if checked.get(self.keys.volume(name)) is not None:
            raise OperationFailed(rules.volume_exists(name), errno.EEXIST)
        brick_list = self._bricks(bricks, force, checked)
        volume_type, counts = _type_and_counts(len(brick_list), replica, arbiter, disperse, disperse_data,
                                      redundancy)
        model.check_brick_counts(volume_type, len(brick_list), **counts)
        volume = Volume(name=name, uuid=str(uuid_module.uuid4()), type=volume_type,
                        bricks=tuple(brick_list), options=model.default_volume_options(volume_type),
                        transport=transport or "tcp", **counts)
        model.check_replica_sets_spread(volume, force)
        self.cluster.run(
            f"volume create {name}", self._prepare_steps(volume.uuid, volume.bricks, force),
            locks=[f"volume-{name}"],
            commit=[Put(self.keys.volume(name), encode_volume(volume), ABSENT)],
            conflict=rules.volume_exists(name), checked=checked,
        )
        return volume

    def _change_status(self, name: str, status: VolumeStatus) -> Volume:
        with self.cluster.volume_lock(name) as held:
            volume, revision = self._load_existing(name, held.checked)
            return self._save(volume.evolve(status=status), revision, held)

    def start(self, name: str, force: bool = False) -> Volume:
        """glusterd's `volume start`: every brick host checks its bricks (staging, unless
        ``force``), the status is written, and the command returns once every brick signed in
        and every self-heal daemon runs on the connected hosts; a host that cannot start them
        fails it as glusterd's commit does, and the volume goes back to its earlier status."""
        checked = self._read_for(name)
        volume, revision = self._load_existing(name, checked)
        was_started = volume.status is VolumeStatus.STARTED
        if was_started and not force:
            raise OperationFailed(f"Volume {name} already started", errno.EEXIST)
        steps = [] if force else self._start_check_steps(volume)
        started = volume.evolve(status=VolumeStatus.STARTED, version=volume.version + 1)
        record = self.cluster.run(f"volume start {name}", steps, locks=[f"volume-{name}"],
                                  commit=[Put(self.keys.volume(name), encode_volume(started), revision)],
                                  conflict=_busy(name).args[0], checked=checked)
        committed = record.revision  # the commit's: the record's and the volume's revision
        try:
            self._wait_for(lambda: self._start_pending(started, committed, force))
        except OperationFailed:
            if not was_started:
                self._change_status(name, volume.status)
            raise
        return started

    def stop(self, name: str, force: bool = False) -> Volume:
        """glusterd's `volume stop`: returns once the bricks and self-heal daemons of the
        connected hosts exited."""
        volume, _ = self._load_existing(name)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {name} is not in the started state", errno.EINVAL)
        stopped = self._change_status(name, VolumeStatus.STOPPED)
        self._wait_for(lambda: self._stop_pending(stopped))
        return stopped

    def _start_check_steps(self, volume: Volume) -> list[Step]:
        hosts = tuple(dict.fromkeys(b.host_uuid for b in volume.bricks))
        return [Step(BRICK_START_CHECK, hosts, {
            "volume": volume.name, "volume_id": volume.uuid,
            "bricks": [{"host_uuid": b.host_uuid, "path": b.path} for b in volume.bricks],
        })]

    def _connected(self) -> set[str]:
        return {v.peer.uuid for v in self.cluster.peers.all() if v.connected}

    def _start_pending(self, volume: Volume, revision: int, force: bool) -> str | None:
        """The host still starting a service of ``volume`` (None when all run); raises
        glusterd's commit failure for a host whose reconciler reported a failed start
        (with ``force``, such a brick stays offline, as with glusterd)."""
        connected, reports = self._connected(), service_reports(self.store, self.keys)
        pending = None
        for brick in volume.bricks:
            if brick.host_uuid not in connected:
                continue
            report = reports.get(brick.host_uuid)
            if report is not None and report.revision >= revision and (
                    (volume.name, brick.path) in report.failed_bricks
                    or volume.name in report.failed_shd):
                if force and volume.name not in report.failed_shd:
                    continue
                raise _commit_failed(brick.hostname)
            if port_by_brick(self.store, self.keys, brick.host_uuid, brick.path) is None:
                pending = pending or brick.hostname
            elif volume.type in (VolumeType.REPLICATE, VolumeType.DISPERSE) and (
                    report is None or volume.name not in report.shd):
                pending = pending or brick.hostname
        return pending

    def _stop_pending(self, volume: Volume) -> str | None:
        """The host whose services of ``volume`` still run (None when all exited)."""
        connected, reports = self._connected(), service_reports(self.store, self.keys)
        for brick in volume.bricks:
            if brick.host_uuid not in connected:
                continue
            report = reports.get(brick.host_uuid)
            if (brick_record(self.store, self.keys, brick.host_uuid, brick.path) is not None
                    or (report is not None and volume.name in report.shd)):
                return brick.hostname
        return None

    def _wait_for(self, pending: Any) -> None:
        """Wait until ``pending()`` names no host, woken by every change of the port records
        and service reports; after ``start_timeout`` fail naming the host still pending."""
        changed = threading.Event()
        follows = [Follow(self.store, prefix, lambda _update: changed.set(),
                          name=f"wait-{prefix.rsplit('/', 2)[-2]}")
                   for prefix in (self.keys.all_ports, self.keys.service_reports)]
        deadline = time.monotonic() + self.start_timeout
        try:
            for follow in follows:
                follow.start()
            while True:
                changed.clear()
                host = pending()
                if host is None:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _commit_failed(host)
                changed.wait(min(remaining, 2.0))  # 2 s: a peer that went away meanwhile
        finally:
            for follow in follows:
                follow.stop()

    def delete(self, name: str) -> None:
        migrations = [self.keys.migrations(name)] if model.is_volume_name(name) else []
        with self.cluster.volume_lock(name, migrations) as held:
            volume, revision = self._load_existing(name, held.checked)
            if volume.status is VolumeStatus.STARTED:
                raise OperationFailed(
                    f"Volume {name} has been started.Volume needs to be stopped before deletion.",
                    errno.EINVAL)
            ops = [Delete(self.keys.volume(name), revision),
                   *self._forget_migration(volume, held.checked)]
            releasing = len(ops) < MAX_TXN_OPS
            try:
                self.store.transaction([*ops, held.lock.release_op()] if releasing else ops)
            except ConflictError:
                raise _busy(name) from None
            if releasing:
                held.lock.released()

    def set(self, name: str, pairs: Sequence[tuple[str, str]]) -> Volume:
        if not pairs:
            raise OperationFailed("No options given", errno.EINVAL)
        for key, value in pairs:
            option_rules.check_command(key, value)
        table = options.option_table()
        resolved = [(table.resolve_key(key), value) for key, value in pairs]
        with self.cluster.volume_lock(name) as held:
            volume, revision = self._load_existing(name, held.checked)
            # glusterd's order: the key's own rule, then the value through the loaded xlators
            option_rules.check_for_volume(volume, resolved)
            loaded = _loaded_xlators(volume.evolve(options=_with_options(volume.options,
                                                                         resolved)))
            checked = [options.validate_option(key, value, loaded) for key, value in resolved]
            return self._save(volume.evolve(options=_with_options(volume.options, checked)),
                              revision, held)

    def replace(self, name: str, change: Callable[[Volume], Volume]) -> Volume:
        """Under the volume's lock, save ``change`` of its record (commands that own fields
        or options `volume set` refuses, as `volume quota`)."""
        with self.cluster.volume_lock(name) as held:
            volume, revision = self._load_existing(name, held.checked)
            return self._save(change(volume), revision, held)

    def update_options(self, name: str, change: Callable[[Volume], OptionChange]) -> Volume:
        """Apply what ``change`` (given the current volume, under its lock; it may refuse by
        raising) returns: options set without `volume set`'s checks, and keys removed, as
        glusterd's own commands change a volume's options (profile, barrier)."""
        with self.cluster.volume_lock(name) as held:
            volume, revision = self._load_existing(name, held.checked)
            pairs, removed = change(volume)
            kept = {k: v for k, v in volume.options.items() if k not in removed}
            return self._save(volume.evolve(options=_with_options(kept, pairs)), revision, held)

    def get(self, name: str, key: str) -> list[tuple[str, str | None, bool]]:
        """(key, value, is_default) as `volume get` shows them, glusterd's way
        (glusterd_get_default_val_for_volopt): one entry per row of the option map (a key
        with rows for two xlators is listed twice by ``all``; one key: its first row); the
        volume's value, else the row's own default, else its xlator's default (None: none),
        the only one shown as default; ``all`` leaves out rows with none of the three that
        glusterd cannot look up. A ``user.*`` key is shown when set (glusterd keeps no
        default for them)."""
        volume, _ = self._load_existing(name)
        table = options.option_table()
        if options.is_user_key(key) and key not in table:
            if key not in volume.options:
                raise OperationFailed(f"Option {key} is not set on volume {name}",
                                      OPTION_NOT_SET)
            return [(key, volume.options[key], False)]
        try:
            rows = [r for r in table.entries if r.volume_get or r.key in volume.options] \
                if key == "all" else [table.rows(table.resolve_table_key(key))[0]]
        except UnknownOptionError as exc:
            # glusterd's get handler writes its hint over its own message
            raise OperationFailed(f"Did you mean {exc.hint}?" if exc.hint else
                                  f"Option with name: {key} does not exist") from None
        computed = _computed_defaults(volume)
        return [(r.key, volume.options[r.key], False) if r.key in volume.options else
                (r.key, computed[r.key], False) if r.key in computed else
                (r.key, r.default, False) if r.default is not None else
                (r.key, r.xlator_default, True) for r in rows]

    def reset(self, name: str, key: str | None = None, force: bool = False) -> Volume:
        with self.cluster.volume_lock(name) as held:
            volume, revision = self._load_existing(name, held.checked)
            if key in (None, "all"):
                kept = {k: v for k, v in volume.options.items()
                        if k in model.default_volume_options(volume.type)}
            else:
                try:  # glusterd resets only keys of its option map, not user.* ones
                    full = options.option_table().resolve_table_key(key)
                except UnknownOptionError as exc:
                    raise OperationFailed(f"Option {key} does not exist" + (
                        f"\nDid you mean {exc.hint}?" if exc.hint else ""), errno.EINVAL) from None
                kept = {k: v for k, v in volume.options.items() if k != full}
            return self._save(volume.evolve(options=kept), revision, held)

    # ------------------------------------------------------------------ bricks
    def add_brick(self, name: str, bricks: Sequence[str], replica: int | None = None,
                  arbiter: int | None = None, force: bool = False) -> Volume:
        try:
            volume, _ = self._load_existing(name)
        except OperationFailed as exc:
            if exc.errno != errno.ENOENT:
                raise
            # glusterd's add-brick handler words a missing volume its own way
            raise OperationFailed(f"Unable to get volinfo for volume name {name}",
                                  errno.ENOENT) from None
        if in_progress(MigrationRecords(self.store, self.keys), volume):
            raise OperationFailed(f"Volume name {name} rebalance is in progress. Please retry "
                                  "after completion", errno.EBUSY)
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
        if volume.type is VolumeType.DISTRIBUTE:
            raise OperationFailed("replace-brick is not permitted on distribute only volumes. "
                                  "Please use add-brick and remove-brick operations instead.",
                                  errno.EINVAL)
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
        """`remove-brick ... start|stop|commit|force` (``status`` is :meth:`migration_status`).

        ``start`` marks the bricks decommissioned and records a task: DHT stops placing files
        there and the nodes hosting them run a rebalance process that moves their files away.
        ``commit`` then drops the bricks once every node completed without failures;
        ``stop`` brings them back; ``force`` drops them at once, files and all.
        """
        if action == "status":
            raise OperationFailed("remove-brick status is a query: use migration_status()",
                                  errno.EINVAL)
        if action not in ("start", "stop", "commit", "force"):
            raise OperationFailed(f"unknown remove-brick command {action!r}", errno.EINVAL)
        volume, _ = self._load_existing(name)
        targets = self._removed_bricks(volume, bricks)
        if action == "stop":
            self._check_task_query(volume, REMOVE_BRICK, [b.name for b in targets])
            return self._end_task(volume)
        if len(targets) == len(volume.bricks):
            raise OperationFailed("Deleting all the bricks of the volume is not allowed",
                                  errno.EINVAL)
        remaining = [b for b in volume.bricks if b not in targets]
        shrunk = _shrink(volume, remaining, replica)
        if action == "start":
            return self._start_migration(volume, targets, replica)
        if action == "commit":
            self._check_committable(volume, targets)
        # any task ends here, as in glusterd (commit, or force over a running migration)
        updated = _after_remove_brick(shrunk.evolve(task=None, bricks=tuple(
            attrs.evolve(b, decommissioned=False) for b in shrunk.bricks)))
        self._commit_change(volume, updated, [], self._forget_migration(volume))
        return updated

    def _removed_bricks(self, volume: Volume, specs: Sequence[str]) -> list[Brick]:
        found = []
        for spec in specs:
            host, path = self.cluster.parse_brick(spec)
            brick = volume.brick_by_path(host, path)
            if brick is None:
                raise OperationFailed(f"Incorrect brick {host}:{path} for volume {volume.name}",
                                      errno.EINVAL)
            found.append(brick)
        return found

    def _start_migration(self, volume: Volume, targets: list[Brick], replica: int | None) -> Volume:
        name = volume.name
        if volume.type is VolumeType.REPLICATE and replica is not None:
            raise OperationFailed("Migration of data is not needed when reducing replica count. "
                                  "Use the 'force' option", errno.EINVAL)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(
                f"Volume {name} needs to be started before remove-brick (you can use 'force' "
                "or 'commit' to override this behavior)", errno.EINVAL)
        if volume.task is not None and volume.task.kind == REMOVE_BRICK:
            raise OperationFailed(
                f"An earlier remove-brick task exists for volume {name}. Either commit it or "
                "stop it before starting a new task.", errno.EEXIST)
        if in_progress(MigrationRecords(self.store, self.keys), volume):
            raise OperationFailed("Rebalance is in progress. Please retry after completion",
                                  errno.EBUSY)
        self._check_bricks_serving(targets)
        chosen = {b.uuid for b in targets}
        bricks = tuple(attrs.evolve(b, decommissioned=True) if b.uuid in chosen else b
                       for b in volume.bricks)
        task = Task(id=str(uuid_module.uuid4()), kind=REMOVE_BRICK,
                    bricks=tuple(b.name for b in targets))
        updated = _after_remove_brick(volume.evolve(bricks=bricks, task=task))
        self._commit_change(volume, updated, [], self._forget_migration(volume))
        return updated

    def _check_bricks_serving(self, targets: list[Brick]) -> None:
        """glusterd's remove-brick validation: every removed brick's node is up and the
        brick signed in, so its files can be read and moved."""
        connected = {v.peer.uuid for v in self.cluster.peers.all() if v.connected}
        for brick in targets:
            if brick.host_uuid not in connected:
                raise OperationFailed(f"Host node of the brick {brick.name} is down", errno.EHOSTDOWN)
            if port_by_brick(self.store, self.keys, brick.host_uuid, brick.path) is None:
                raise OperationFailed(f"Found stopped brick {brick.name}. Use force option to "
                                      "remove the offline brick", errno.EINVAL)

    def rebalance(self, name: str, action: str, fix_layout: bool = False,
                  force: bool = False) -> Volume:
        """`rebalance VOL [fix-layout] start [force] | stop` (``status``: :meth:`migration_status`).

        ``start`` records a task; every node with a brick of the volume then runs a rebalance
        process that spreads the files over all bricks (fix-layout only rewrites directory
        layouts, so new files reach new bricks). ``stop`` ends the task; moved files stay.
        """
        volume, _ = self._load_existing(name)
        if action == "stop":
            self._check_task_query(volume, REBALANCE)
            return self._end_task(volume)
        if action != "start":
            raise OperationFailed(f"unknown rebalance command {action!r}", errno.EINVAL)
        self._check_rebalance_target(volume)
        if volume.task is not None and volume.task.kind == REMOVE_BRICK:
            raise OperationFailed(f"A remove-brick task on volume {name} is not yet committed. "
                                  "Either commit or stop the remove-brick task.", errno.EBUSY)
        if in_progress(MigrationRecords(self.store, self.keys), volume):
            raise OperationFailed(f"Rebalance on {name} is already started", errno.EBUSY)
        task = Task(id=str(uuid_module.uuid4()), kind=FIX_LAYOUT if fix_layout else REBALANCE,
                    force=force, commit_hash=_commit_hash(time.time()))
        updated = volume.evolve(task=task)
        self._commit_change(volume, updated, [], self._forget_migration(volume))
        return updated

    def migration_status(self, name: str, bricks: Sequence[str] = (),
                         kind: str = REMOVE_BRICK) -> list[Progress]:
        """`remove-brick ... status` (or, with ``kind`` "rebalance", `rebalance status`):
        each migrating node's progress."""
        volume, _ = self._load_existing(name)
        self._check_task_query(volume, kind, bricks)
        return MigrationRecords(self.store, self.keys).report(volume)

    def _check_rebalance_target(self, volume: Volume) -> None:
        """glusterd's glusterd_rebalance_cmd_validate."""
        if volume.subvolume_count <= 1:
            raise OperationFailed(f"Volume {volume.name} is not a distribute volume or contains "
                                  "only 1 brick.\nNot performing rebalance", errno.EINVAL)
        if volume.status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {volume.name} needs to be started to perform "
                                  "rebalance", errno.EINVAL)

    def _check_task_query(self, volume: Volume, kind: str, specs: Sequence[str] = ()) -> Task:
        """glusterd's rules for `remove-brick status|stop` and `rebalance status|stop`."""
        self._check_rebalance_target(volume)
        task, name = volume.task, volume.name
        if kind == REMOVE_BRICK:
            if task is None or task.kind != REMOVE_BRICK:
                raise OperationFailed(f"remove-brick not started for volume {name}.", errno.EINVAL)
            for brick in self._removed_bricks(volume, specs):
                if not brick.decommissioned:
                    raise OperationFailed(f"Incorrect brick for volume {name}", errno.EINVAL)
        elif task is None or task.kind == REMOVE_BRICK:
            raise OperationFailed(f"Rebalance not started for volume {name}.", errno.EINVAL)
        return task

    def _end_task(self, volume: Volume) -> Volume:
        """`stop`: the task ends and decommissioned bricks serve again as before; files
        already moved stay where they went. Nodes stop their rebalance processes when they
        see the task gone."""
        bricks = tuple(attrs.evolve(b, decommissioned=False) for b in volume.bricks)
        updated = volume.evolve(bricks=bricks, task=None)
        self._commit_change(volume, updated, [])
        return updated

    def _check_committable(self, volume: Volume, targets: list[Brick]) -> None:
        """glusterd's `remove-brick commit` staging: data was migrated off every brick."""
        for brick in targets:
            if not brick.decommissioned:
                raise OperationFailed(f"Brick {brick.name} is not decommissioned. Use start or "
                                      "force option", errno.EINVAL)
        progress = MigrationRecords(self.store, self.keys).report(volume)
        if any(p.status.running for p in progress):
            raise OperationFailed("use 'force' option as migration is in progress", errno.EBUSY)
        if any(p.status.failed for p in progress):
            raise OperationFailed("use 'force' option as migration has failed", errno.EINVAL)
        if any(p.failures or p.skipped for p in progress):
            raise OperationFailed("use 'force' option as migration of some files might have "
                                  "been skipped or has failed", errno.EINVAL)

    def _forget_migration(self, volume: Volume, checked: ChangeRead | None = None) -> list[Delete]:
        """Deletes of the volume's migration records, to commit with the change that ends
        (or replaces) its task (``checked``: a read of the change that listed them)."""
        prefix = self.keys.migrations(volume.name)
        entries = checked.under(prefix) if checked is not None else self.store.list(prefix)
        return [Delete(e.key) for e in entries]

    def commit_change(self, before: Volume, after: Volume, steps: list) -> None:
        """Write ``after`` over ``before`` once ``steps`` ran (other modules' changes:
        reset-brick)."""
        self._commit_change(before, after, steps)

    def _commit_change(self, before: Volume, after: Volume, steps: list,
                       also: Sequence[Delete] = ()) -> None:
        entry_key = self.keys.volume(before.name)
        current = self.store.get(entry_key)
        if current is None or decode_volume(current.value).version != before.version:
            raise _busy(before.name)
        after = after.evolve(version=before.version + 1)
        self.cluster.run(f"volume change {before.name}", steps, locks=[f"volume-{before.name}"],
                         commit=[Put(entry_key, encode_volume(after), current.revision), *also],
                         conflict=_busy(before.name).args[0])


def _loaded_xlators(volume: Volume) -> frozenset[str] | None:
    """The xlator types of ``volume``'s client, brick and self-heal graphs (None, check every
    value, when a graph cannot be built: a value volgen itself refuses)."""
    try:
        graphs = [volgen.build_client_graph(volume), volgen.build_shd_graph(volume),
                  *(volgen.build_brick_graph(volume, b) for b in volume.bricks[:1])]
    except (ValueError, KeyError, TypeError):
        return None
    return frozenset(x.type for graph in graphs if graph is not None for x in graph.xlators)


def _with_options(current: Mapping[str, str], pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """glusterd's order of a volume's options (its dict, as `volume info` lists them): an
    option set anew goes first, one set again keeps its place."""
    options = dict(current)
    for key, value in pairs:
        if key in options:
            options[key] = value
        else:
            options = {key: value, **options}
    return options


def _commit_failed(host: str) -> OperationFailed:
    """glusterd's error when a node could not do its part of a committed change."""
    return OperationFailed(f"Commit failed on {host}. Please check log file for details.",
                           errno.EIO)


def _commit_hash(now: float) -> int:
    """glusterd's commit hash of a rebalance: seconds << 3 with one of the three low bits set
    from the milliseconds, so two rebalances never share one (see dht's lookup-optimize)."""
    seconds, usec = int(now), int(now % 1 * 1_000_000)
    return ((seconds << 3) | (1 << ((usec >> 10) % 3))) & 0xFFFFFFFF


def _type_and_counts(count: int, replica, arbiter, disperse, disperse_data, redundancy) -> tuple[VolumeType, dict[str, Any]]:
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


def _check_replica_reduction(volume: Volume, replica: int, removed: int) -> bool:
    """glusterd's rules for remove-brick's `replica N` (gd_rmbr_validate_replica_count); True
    when N changes the replica count, False when it only restates it."""
    if volume.type is not VolumeType.REPLICATE:
        raise OperationFailed(f"replica count ({replica}) option given for non replicate "
                              f"volume {volume.name}", errno.EINVAL)
    current = volume.replica_count
    if replica > current:
        raise OperationFailed(f"given replica count ({replica}) option is more than volume "
                              f"{volume.name}'s replica count ({current})", errno.EINVAL)
    if replica == current:
        if removed % volume.subvolume_size:
            size = volume.subvolume_size
            raise OperationFailed(f"number of bricks provided ({removed}) is not valid. need at "
                                  f"least {size} (or {size}xN)", errno.EINVAL)
        return False
    per_step = volume.subvolume_count * (current - replica)
    if removed % per_step:
        raise OperationFailed(f"need {per_step}(xN) bricks for reducing replica count of the "
                              f"volume from {current} to {replica}", errno.EINVAL)
    return True


def _after_remove_brick(volume: Volume) -> Volume:
    """What glusterd's remove-brick (start, commit, force) does to the options of a volume
    that is not (or no longer) replicate: performance.client-io-threads on (replicate
    volumes have it off, see add-brick and create)."""
    if volume.type is VolumeType.REPLICATE:
        return volume
    return volume.evolve(options=_with_options(volume.options,
                                               [("performance.client-io-threads", "on")]))


def _shrink(volume: Volume, remaining: list[Brick], replica: int | None) -> Volume:
    if not remaining:
        raise OperationFailed("Deleting all the bricks of the volume is not allowed", errno.EINVAL)
    removed = len(volume.bricks) - len(remaining)
    if replica is not None and _check_replica_reduction(volume, replica, removed):
        new_type = VolumeType.REPLICATE if replica > 1 else VolumeType.DISTRIBUTE
        return volume.evolve(bricks=tuple(remaining), type=new_type, replica_count=replica,
                             arbiter_count=0 if replica != 3 else volume.arbiter_count)
    size = volume.subvolume_size
    if (len(volume.bricks) - len(remaining)) % size:
        raise OperationFailed(
            f"Remove brick incorrect brick count of {len(volume.bricks) - len(remaining)} for "
            f"{'replica' if volume.type is VolumeType.REPLICATE else 'disperse'} {size}", errno.EINVAL)
    return volume.evolve(bricks=tuple(remaining))
