"""The cluster model: peers, bricks and volumes, as immutable values.

Everything here is plain data plus the validation rules glusterd applies when a volume is
created, so that the store, volgen, the CLI and the API agree on one definition. Objects are
frozen: a change is a new object, which makes compare-and-swap writes and pure volgen easy.
"""

from __future__ import annotations

import enum
import re
import uuid as uuid_module
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from gluster_mgmt import rules
from gluster_mgmt.errors import SchemaError, ValidationError

SCHEMA_VERSION = 1




# -- volume names -------------------------------------------------------------------------

def validate_volume_name(name: str) -> str:
    """Apply the gluster CLI's rules, so names valid here are valid for stock tools too."""
    valid, message = rules.volume_name_problem(name)
    if not valid:
        raise ValidationError(message or f"Invalid volume name {name!r}.")
    return name


def is_volume_name(name: str) -> bool:
    """Whether ``name`` could name a volume (a change's read of a name that cannot is
    skipped: the change then says the volume does not exist)."""
    return rules.volume_name_problem(name)[0]


# -- bricks -------------------------------------------------------------------------------

def canonical_path(path: str) -> str:
    """Collapse repeated and trailing slashes as glusterd does before storing a brick path."""
    collapsed = re.sub(r"/+", "/", path)
    return collapsed.rstrip("/") or "/"


def parse_brick_spec(spec: str) -> tuple[str, str]:
    """Split ``HOST:/PATH`` (the last colon separates, so IPv6-ish hosts keep theirs)."""
    host, sep, path = spec.rpartition(":")
    if not sep or not host or not path.startswith("/"):
        raise ValidationError(f"Wrong brick type: {spec}, use <HOSTNAME>:<export-dir-abs-path>")
    if rules.is_loopback_brick_host(host):
        raise ValidationError(rules.LOOPBACK_BRICK_MESSAGE)
    return host, canonical_path(path)


def path_with_dashes(path: str) -> str:
    """``/bricks/b1`` -> ``bricks-b1``: glusterd's brick-path form in volfile ids and file names."""
    return path.strip("/").replace("/", "-") if path != "/" else ""


class PeerState(str, enum.Enum):
    """Membership states a peer can be in, as `gluster peer status` names them."""

    CONNECTED = "Peer in Cluster"
    PROBE_SENT = "Probe Sent to Peer"
    REJECTED = "Peer Rejected"
    DETACHING = "Detaching"


@attrs.frozen
class Peer:
    """A node of the trusted pool; several hostnames may reach it."""

    uuid: str
    hostnames: tuple[str, ...] = attrs.field(converter=tuple)
    state: PeerState = attrs.field(default=PeerState.CONNECTED, converter=PeerState)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "uuid": self.uuid, "hostnames": list(self.hostnames),
                "state": self.state.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peer:
        _check_schema(data)
        return cls(uuid=data["uuid"], hostnames=tuple(data["hostnames"]), state=data["state"])


@attrs.frozen
class Brick:
    """One export directory of a volume on one peer."""

    host_uuid: str
    hostname: str
    path: str
    uuid: str = attrs.field(factory=lambda: str(uuid_module.uuid4()))
    # statfs f_fsid of the brick's filesystem; bricks sharing one divide its statfs
    # (glusterd's shared-brick-count). None when not known yet.
    fsid: int | None = None
    #: Being emptied by `remove-brick start`: DHT places no new files here and the
    #: rebalance process moves the existing ones away.
    decommissioned: bool = False
    #: Held stopped by `reset-brick start` until `reset-brick ... commit force` (its host's
    #: reconciler does not run it meanwhile).
    reset: bool = False

    @property
    def name(self) -> str:
        """``HOST:/PATH``, how the CLI and `volume info` show the brick."""
        return f"{self.hostname}:{self.path}"

    @property
    def file_name(self) -> str:
        """``HOST:-PATH-DASHED``, glusterd's file name under vols/VOL/bricks/."""
        return f"{self.hostname}:{self.path.replace('/', '-')}"

    def volfile_id(self, volume_name: str) -> str:
        """The GETSPEC key a brick process asks for: ``VOL.HOST.PATH-with-dashes``."""
        return f"{volume_name}.{self.hostname}.{path_with_dashes(self.path)}"

    def to_dict(self) -> dict[str, Any]:
        data = {"host_uuid": self.host_uuid, "hostname": self.hostname, "path": self.path,
                "uuid": self.uuid, "fsid": self.fsid}
        if self.decommissioned:
            data["decommissioned"] = True
        if self.reset:
            data["reset"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Brick:
        return cls(host_uuid=data["host_uuid"], hostname=data["hostname"], path=data["path"],
                   uuid=data["uuid"], fsid=data.get("fsid"),
                   decommissioned=bool(data.get("decommissioned", False)),
                   reset=bool(data.get("reset", False)))


# -- volumes ------------------------------------------------------------------------------


class VolumeType(str, enum.Enum):
    """The clustering of one subvolume; distribution over subvolumes is derived from counts."""

    DISTRIBUTE = "distribute"
    REPLICATE = "replicate"
    DISPERSE = "disperse"

    @property
    def glusterd_code(self) -> int:
        """The number glusterd writes as ``type=`` in vols/VOL/info."""
        return {VolumeType.DISTRIBUTE: 0, VolumeType.REPLICATE: 2, VolumeType.DISPERSE: 4}[self]

    @classmethod
    def from_glusterd_code(cls, code: int) -> VolumeType:
        # 1 (stripe) and 3 (stripe-replicate) are gone since 6.0; 5 (tier) since 6.0 too.
        codes = {0: cls.DISTRIBUTE, 2: cls.REPLICATE, 4: cls.DISPERSE}
        if code not in codes:
            raise ValidationError(f"unsupported glusterd volume type {code}")
        return codes[code]


class VolumeStatus(str, enum.Enum):
    CREATED = "Created"
    STARTED = "Started"
    STOPPED = "Stopped"

    @property
    def glusterd_code(self) -> int:
        """The number glusterd writes as ``status=`` in vols/VOL/info."""
        return _STATUS_CODES[self]

    @classmethod
    def from_glusterd_code(cls, code: int) -> VolumeStatus:
        return _by_code(_STATUS_CODES, code, "volume status")


_STATUS_CODES = {VolumeStatus.CREATED: 0, VolumeStatus.STARTED: 1, VolumeStatus.STOPPED: 2}


class Transport(str, enum.Enum):
    TCP = "tcp"
    RDMA = "rdma"
    TCP_RDMA = "tcp,rdma"

    @property
    def glusterd_code(self) -> int:
        """The number glusterd writes as ``transport-type=`` in vols/VOL/info."""
        return _TRANSPORT_CODES[self]

    @classmethod
    def from_glusterd_code(cls, code: int) -> Transport:
        return _by_code(_TRANSPORT_CODES, code, "transport type")


_TRANSPORT_CODES = {Transport.TCP: 0, Transport.RDMA: 1, Transport.TCP_RDMA: 2}
_Coded = TypeVar("_Coded")


def _by_code(codes: Mapping[_Coded, int], code: int, what: str) -> _Coded:
    """The member glusterd writes as ``code`` in vols/VOL/info."""
    for member, known in codes.items():
        if known == code:
            return member
    raise ValidationError(f"unknown glusterd {what} {code}")


class MigrationStatus(enum.IntEnum):
    """A node's data-migration state: glusterd's ``gf_defrag_status_t`` numbers, which the
    rebalance process reports and `rebalance status` / `remove-brick status` print."""

    NOT_STARTED = 0
    STARTED = 1
    STOPPED = 2
    COMPLETE = 3
    FAILED = 4
    LAYOUT_FIX_STARTED = 5
    LAYOUT_FIX_STOPPED = 6
    LAYOUT_FIX_COMPLETE = 7
    LAYOUT_FIX_FAILED = 8

    @property
    def label(self) -> str:
        return ("not started", "in progress", "stopped", "completed", "failed",
                "fix-layout in progress", "fix-layout stopped", "fix-layout completed",
                "fix-layout failed")[self]

    @property
    def running(self) -> bool:
        return self in (MigrationStatus.STARTED, MigrationStatus.LAYOUT_FIX_STARTED)

    @property
    def finished(self) -> bool:
        return self not in (MigrationStatus.NOT_STARTED, MigrationStatus.STARTED,
                            MigrationStatus.LAYOUT_FIX_STARTED)

    @property
    def failed(self) -> bool:
        return self in (MigrationStatus.FAILED, MigrationStatus.LAYOUT_FIX_FAILED)

    @property
    def stopped(self) -> bool:
        return self in (MigrationStatus.STOPPED, MigrationStatus.LAYOUT_FIX_STOPPED)


#: Kinds of a volume's data-migration task.
REMOVE_BRICK, REBALANCE, FIX_LAYOUT = "remove-brick", "rebalance", "fix-layout"


@attrs.frozen
class Task:
    """A volume's long-running data-migration task: `remove-brick start` (empty the
    decommissioned bricks) or `rebalance [fix-layout] start` (spread data over all bricks)."""

    id: str
    kind: str = attrs.field(default=REMOVE_BRICK,
                            validator=attrs.validators.in_((REMOVE_BRICK, REBALANCE, FIX_LAYOUT)))
    bricks: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: `rebalance start force`: move files even where the target ends up fuller.
    force: bool = False
    #: DHT's commit hash for the layouts a rebalance writes (0: none, as for remove-brick).
    commit_hash: int = 0

    @property
    def type_name(self) -> str:
        """The task's Task line in `volume status`."""
        return "Remove brick" if self.kind == REMOVE_BRICK else "Rebalance"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "bricks": list(self.bricks), "force": self.force,
                "commit_hash": self.commit_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return cls(id=data["id"], kind=data["kind"], bricks=tuple(data["bricks"]),
                   force=bool(data.get("force", False)),
                   commit_hash=int(data.get("commit_hash", 0)))


#: The first line of glusterd's quota.conf (format v1.2: then 16-byte gfid + 1-byte kind records)
QUOTA_CONF_HEADER = b"GlusterFS Quota conf | version: v1.2\n"


class QuotaKind(enum.IntEnum):
    """What a quota limit bounds: glusterd's quota.conf record type."""

    USAGE = 1
    OBJECTS = 2


@attrs.frozen
class QuotaLimit:
    """A directory with a quota limit (the limit itself is the directory's xattr): the
    records of glusterd's quota.conf, with the path the stock CLI never stores."""

    gfid: str
    kind: QuotaKind = attrs.field(converter=QuotaKind)
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"gfid": self.gfid, "kind": int(self.kind), "path": self.path}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaLimit:
        return cls(data["gfid"], data["kind"], data.get("path", ""))


def quota_conf(limits: Iterable[QuotaLimit]) -> bytes:
    """quota.conf as glusterd writes it (records in the order the limits were set)."""
    return QUOTA_CONF_HEADER + b"".join(uuid_module.UUID(q.gfid).bytes + bytes([int(q.kind)])
                                  for q in limits)


def quota_cksum(volume: Volume) -> str:
    """quota.cksum: glusterd 10 (op-version >= 7.0) checksums its freshly truncated cksum
    file, not quota.conf, so the cksum is always 0; the version counts quota.conf's changes."""
    return f"cksum=0\nversion={volume.quota_conf_version}\n"


def _new_secret() -> str:
    return str(uuid_module.uuid4())


@attrs.frozen
class Volume:
    """A volume's desired configuration.

    ``options`` holds only reconfigured options (full keys), as glusterd's info file does;
    defaults come from the options table. ``username``/``password`` authenticate trusted
    clients (shd, rebalance, trusted fuse) to bricks and must never be logged.
    """

    name: str = attrs.field(validator=lambda _i, _a, value: validate_volume_name(value))
    uuid: str
    type: VolumeType = attrs.field(converter=VolumeType)
    bricks: tuple[Brick, ...] = attrs.field(converter=tuple)
    replica_count: int = 1
    arbiter_count: int = 0
    disperse_count: int = 0
    redundancy_count: int = 0
    options: Mapping[str, str] = attrs.field(factory=dict, converter=lambda m: dict(m))
    status: VolumeStatus = attrs.field(default=VolumeStatus.CREATED, converter=VolumeStatus)
    version: int = 1
    transport: Transport = attrs.field(default=Transport.TCP, converter=Transport)
    username: str = attrs.field(factory=_new_secret, repr=False)
    password: str = attrs.field(factory=_new_secret, repr=False)
    op_version: int = 40000
    # open-behind is only loaded when the volume's client op-version allows it
    client_op_version: int = 2
    quota_version: int = 0
    #: quota.conf: the limited directories in the order they were limited, and its version
    quota_limits: tuple[QuotaLimit, ...] = attrs.field(default=(), converter=tuple)
    quota_conf_version: int = 0
    task: Task | None = None

    def __attrs_post_init__(self) -> None:
        check_brick_counts(self.type, len(self.bricks), self.replica_count,
                           self.arbiter_count, self.disperse_count, self.redundancy_count)

    @property
    def subvolume_size(self) -> int:
        """Bricks per replica/disperse set (glusterd's dist_leaf_count)."""
        if self.type is VolumeType.REPLICATE:
            return self.replica_count
        if self.type is VolumeType.DISPERSE:
            return self.disperse_count
        return 1

    @property
    def subvolume_count(self) -> int:
        return len(self.bricks) // self.subvolume_size

    @property
    def type_name(self) -> str:
        """`volume info` Type: Distribute, Replicate, Distributed-Replicate, Disperse…"""
        if self.type is VolumeType.DISTRIBUTE:
            return "Distribute"
        base = "Replicate" if self.type is VolumeType.REPLICATE else "Disperse"
        return f"Distributed-{base}" if self.subvolume_count > 1 else base

    def subvolumes(self) -> list[tuple[Brick, ...]]:
        """Bricks grouped into replica/disperse sets, in brick order."""
        size = self.subvolume_size
        return [self.bricks[i:i + size] for i in range(0, len(self.bricks), size)]

    def client_name(self, index: int) -> str:
        """Name of the protocol/client xlator of brick ``index`` (glusterd's brick-id)."""
        return f"{self.name}-client-{index}"

    @property
    def decommissioned(self) -> tuple[Brick, ...]:
        return tuple(b for b in self.bricks if b.decommissioned)

    def brick_by_path(self, hostname: str, path: str) -> Brick | None:
        return next((b for b in self.bricks if b.hostname == hostname and b.path == path), None)

    def evolve(self, **changes: Any) -> Volume:
        return attrs.evolve(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION, "name": self.name, "uuid": self.uuid, "type": self.type.value,
            "bricks": [b.to_dict() for b in self.bricks], "replica_count": self.replica_count,
            "arbiter_count": self.arbiter_count, "disperse_count": self.disperse_count,
            "redundancy_count": self.redundancy_count, "options": dict(self.options),
            "status": self.status.value, "version": self.version, "transport": self.transport.value,
            "username": self.username, "password": self.password, "op_version": self.op_version,
            "client_op_version": self.client_op_version, "quota_version": self.quota_version,
            "quota_limits": [q.to_dict() for q in self.quota_limits],
            "quota_conf_version": self.quota_conf_version,
            "task": self.task.to_dict() if self.task else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Volume:
        _check_schema(data)
        return cls(
            name=data["name"], uuid=data["uuid"], type=data["type"],
            bricks=tuple(Brick.from_dict(b) for b in data["bricks"]),
            replica_count=data["replica_count"], arbiter_count=data["arbiter_count"],
            disperse_count=data["disperse_count"], redundancy_count=data["redundancy_count"],
            options=data["options"], status=data["status"], version=data["version"],
            transport=data["transport"], username=data["username"], password=data["password"],
            op_version=data.get("op_version", 40000),
            client_op_version=data.get("client_op_version", 2),
            quota_version=data.get("quota_version", 0),
            quota_limits=tuple(QuotaLimit.from_dict(q) for q in data.get("quota_limits", ())),
            quota_conf_version=data.get("quota_conf_version", 0),
            task=Task.from_dict(data["task"]) if data.get("task") else None,
        )


def _check_schema(data: Mapping[str, Any]) -> None:
    version = data.get("schema")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"unsupported schema version {version!r} (expected {SCHEMA_VERSION})")


# -- brick-count rules (gluster CLI's `volume create` checks) -----------------------------

def check_brick_counts(volume_type: VolumeType, brick_count: int, replica_count: int = 1,
                       arbiter_count: int = 0, disperse_count: int = 0,
                       redundancy_count: int = 0) -> None:
    """Refuse layouts glusterd refuses, with its messages."""
    if brick_count < 1:
        raise ValidationError("number of bricks given doesn't match required count")
    if volume_type is VolumeType.REPLICATE:
        if replica_count < 2:
            raise ValidationError("replica count should be greater than 1")
        if arbiter_count and (arbiter_count != 1 or replica_count != 3):
            raise ValidationError(
                "For arbiter configuration, replica count must be 2 and arbiter count must be 1. "
                "The 3rd brick of the replica will be the arbiter")
        if brick_count % replica_count:
            raise ValidationError("number of bricks is not a multiple of replica count")
    elif volume_type is VolumeType.DISPERSE:
        if disperse_count < 3:
            raise ValidationError("number of bricks must be greater than 2")
        if redundancy_count < 1 or redundancy_count > (disperse_count - 1) // 2:
            raise ValidationError(
                "redundancy must be greater than or equal to 1 and less than "
                f"{(disperse_count + 1) // 2} for a disperse {disperse_count} volume")
        if brick_count % disperse_count:
            raise ValidationError("number of bricks is not a multiple of disperse count")
    elif arbiter_count or disperse_count or redundancy_count or replica_count != 1:
        raise ValidationError("number of bricks given doesn't match required count")


def optimal_redundancy(disperse_count: int) -> int:
    """Redundancy the CLI proposes when none is given, or 1 when there is no optimal one
    (glusterd then asks for confirmation)."""
    return rules.optimal_redundancy(disperse_count) or 1


def check_bricks_distinct(bricks: Sequence[Brick] | Iterable[Brick]) -> None:
    seen: set[str] = set()
    for brick in bricks:
        if brick.name in seen:
            raise ValidationError(f"Found duplicate exports {brick.name}")
        seen.add(brick.name)


def check_replica_sets_spread(volume: Volume, force: bool = False) -> None:
    """glusterd refuses (without force) replica/disperse sets with two bricks on one server."""
    if force or volume.type is VolumeType.DISTRIBUTE:
        return
    for subvolume in volume.subvolumes():
        hosts = [b.host_uuid for b in subvolume]
        if len(set(hosts)) != len(hosts):
            kind = "replicate" if volume.type is VolumeType.REPLICATE else "disperse"
            raise ValidationError(
                f"Multiple bricks of a {kind} volume are present on the same server. This setup "
                "is not optimal. Bricks should be on different nodes to have best fault tolerant "
                "configuration. Use 'force' at the end of the command if you want to override "
                "this behavior. ")


def default_volume_options(volume_type: VolumeType) -> dict[str, str]:
    """Options glusterd 10.3 writes into a new volume's info (see the reference state), in
    the order its `volume info` lists them."""
    replicate = volume_type is VolumeType.REPLICATE
    options = {"cluster.granular-entry-heal": "on"} if replicate else {}
    options.update({"storage.fips-mode-rchecksum": "on", "transport.address-family": "inet",
                    "nfs.disable": "on"})
    if replicate:
        options["performance.client-io-threads"] = "off"
    return options
