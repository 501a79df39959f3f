"""Read a stock glusterd state directory (/var/lib/glusterd) into model objects.

Pure with respect to the store: it only reads files and returns values, so migration can be
previewed (and tested) before anything is written.
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Mapping
from pathlib import Path

import attrs

from gluster_mgmt.membership.identity import GLUSTERD_INFO, NodeIdentity
from gluster_mgmt.model import (
    QUOTA_CONF_HEADER,
    QuotaLimit,
    Brick,
    Peer,
    PeerState,
    Transport,
    ValidationError,
    Volume,
    VolumeStatus,
    VolumeType,
)

# Keys of vols/VOL/info that describe the volume itself; every other key=value is an option.
_INFO_STRUCTURAL_KEYS = frozenset(
    {
        "type", "count", "status", "sub_count", "stripe_count", "replica_count",
        "arbiter_count", "thin_arbiter_count", "disperse_count", "redundancy_count", "version",
        "transport-type", "volume-id", "username", "password", "op-version",
        "client-op-version", "quota-version", "tier-enabled", "parent_volname",
        "restored_from_snap", "snap-max-hard-limit", "snap-count", "snapd-port",
    }
)

#: glusterd's friend states (glusterd-sm.h) a takeover can carry: a member of the pool.
_IN_CLUSTER = 3
_FRIEND_STATES = {0: "Establishing Connection", 1: "Probe Sent to Peer", 2: "Probe Received from Peer",
                  4: "Accepted peer request", 5: "Sent and Received peer request",
                  6: "Peer Rejected", 7: "Peer detach in progress", 8: "Probe Received from peer",
                  9: "Connected to Peer", 10: "Peer is connected and Accepted"}
#: node_state.info: glusterd's defrag statuses of a migration that still runs, and the
#: operations (glusterd_op_t) that start one.
_MIGRATION_RUNNING = {1: "started", 5: "fixing the layout"}
_MIGRATION_OPS = {9: "remove-brick", 19: "rebalance"}


class TakeoverRefused(ValidationError):
    """The glusterd state uses something gluster_mgmt cannot carry: importing it would lose
    it. The message names every such thing."""


@attrs.frozen
class GlusterdState:
    """What a glusterd state directory holds that gluster_mgmt keeps."""

    node_uuid: str
    operating_version: int
    peers: tuple[Peer, ...]
    volumes: tuple[Volume, ...]


def parse_key_values(text: str) -> dict[str, str]:
    """glusterd's store format: one ``key=value`` a line, value may itself contain '='."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or "=" not in line:
            continue
        key, _, value = line.partition("=")
        result[key] = value
    return result


def _read_key_values(path: Path) -> dict[str, str]:
    return parse_key_values(path.read_text(encoding="utf-8"))


def import_peer(path: Path) -> Peer:
    fields = _read_key_values(path)
    hostnames = [value for key, value in sorted(fields.items(), key=lambda kv: _hostname_index(kv[0]))
                 if key.startswith("hostname")]
    return Peer(uuid=fields["uuid"], hostnames=tuple(hostnames), state=PeerState.CONNECTED)


def takeover_blockers(root: Path) -> list[str]:
    """What in glusterd state directory ``root`` gluster_mgmt would lose, each named: snapshots,
    geo-replication sessions, NFS-Ganesha, tiering and thin-arbiter volumes, a volume type it
    does not know, a rebalance or remove-brick not finished, a peer not in the cluster."""
    found = []
    snaps = root / "snaps"
    if snaps.is_dir():
        found += [f"snapshot {d.name} (gluster_mgmt has no snapshots)"
                  for d in sorted(snaps.iterdir()) if d.is_dir()]
    georep = root / "geo-replication"
    if georep.is_dir():
        found += [f"geo-replication session {d.name} (gluster_mgmt runs no gsyncd)"
                  for d in sorted(georep.iterdir()) if d.is_dir()]
    if (root / "options").is_file() and \
            _read_key_values(root / "options").get("nfs-ganesha") == "enable":
        found.append("NFS-Ganesha is enabled cluster-wide (gluster_mgmt does not manage it)")
    peers = root / "peers"
    for path in sorted(peers.iterdir()) if peers.is_dir() else ():
        fields = _read_key_values(path)
        state = int(fields.get("state", _IN_CLUSTER))
        if state != _IN_CLUSTER:
            found.append(f"peer {fields.get('hostname1', path.name)} is in state "
                         f"'{_FRIEND_STATES.get(state, state)}', not in the cluster")
    vols = root / "vols"
    for volume_dir in sorted(vols.iterdir()) if vols.is_dir() else ():
        if (volume_dir / "info").is_file():
            found += _volume_blockers(volume_dir)
    return found


def _volume_blockers(volume_dir: Path) -> list[str]:
    name, info = volume_dir.name, _read_key_values(volume_dir / "info")
    found = []
    try:
        VolumeType.from_glusterd_code(int(info.get("type", "0")))
    except (ValidationError, ValueError):
        found.append(f"volume {name} is of glusterd type {info.get('type')} "
                     "(tier or stripe, gone since glusterfs 6)")
    if info.get("tier-enabled", "0") != "0":
        found.append(f"volume {name} has tiering enabled")
    if info.get("thin_arbiter_count", "0") != "0":
        found.append(f"volume {name} has a thin arbiter (gluster_mgmt has none)")
    if info.get("ganesha.enable") == "on":
        found.append(f"volume {name} is exported by NFS-Ganesha")
    node_state = volume_dir / "node_state.info"
    if node_state.is_file():
        fields = _read_key_values(node_state)
        status = int(fields.get("rebalance_status", "0") or 0)
        op = _MIGRATION_OPS.get(int(fields.get("rebalance_op", "0") or 0), "rebalance")
        if status in _MIGRATION_RUNNING:
            found.append(f"volume {name} has a {op} {_MIGRATION_RUNNING[status]}: wait for it "
                         "to complete and commit it (or stop it) first")
    bricks = volume_dir / "bricks"
    for path in sorted(bricks.iterdir()) if bricks.is_dir() else ():
        if _read_key_values(path).get("decommissioned", "0") != "0":
            found.append(f"volume {name} has a remove-brick not committed "
                         f"({path.name.replace(':-', ':/', 1).replace('-', '/')}): commit or stop it first")
    return found


def _hostname_index(key: str) -> int:
    suffix = key.removeprefix("hostname")
    return int(suffix) if suffix.isdigit() else 0


def import_brick(path: Path) -> Brick:
    fields = _read_key_values(path)
    fsid = fields.get("brick-fsid")
    return Brick(host_uuid=fields["uuid"], hostname=fields["hostname"], path=fields["path"],
                 uuid=fields.get("brick-uuid", "") or _brick_uuid_from(fields),
                 fsid=int(fsid) if fsid and fsid.lstrip("-").isdigit() else None)


def _brick_uuid_from(fields: Mapping[str, str]) -> str:
    """glusterd 10 keeps no per-brick uuid; derive a stable one so re-imports agree."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fields['hostname']}:{fields['path']}"))


def import_quota_conf(path: Path) -> tuple[QuotaLimit, ...]:
    """glusterd's quota.conf (v1.2: a header line, then 16-byte gfid + 1-byte type records);
    the paths are not in it (quotad finds them by gfid)."""
    if not path.exists():
        return ()
    data = path.read_bytes()
    body = data[data.index(b"\n") + 1:] if b"\n" in data else b""
    if not data.startswith(QUOTA_CONF_HEADER) or len(body) % 17:
        raise ValidationError(f"{path}: not a quota.conf of version 1.2")
    return tuple(QuotaLimit(str(uuid.UUID(bytes=body[i:i + 16])), body[i + 16])
                 for i in range(0, len(body), 17))


def import_volume(volume_dir: Path) -> Volume:
    info = _read_key_values(volume_dir / "info")
    brick_files = {key: value for key, value in info.items() if key.startswith("brick-")
                   and key.removeprefix("brick-").isdigit()}
    ordered = [brick_files[f"brick-{i}"] for i in range(len(brick_files))]
    bricks = tuple(import_brick(volume_dir / "bricks" / name) for name in ordered)
    options = {key: value for key, value in info.items()
               if key not in _INFO_STRUCTURAL_KEYS and key not in brick_files}
    volume_type = VolumeType.from_glusterd_code(int(info["type"]))
    replica = int(info.get("replica_count", "1"))
    disperse = int(info.get("disperse_count", "0"))
    if volume_type is VolumeType.DISPERSE:
        replica = 1
    try:
        return Volume(
            name=volume_dir.name, uuid=info["volume-id"], type=volume_type, bricks=bricks,
            replica_count=replica if volume_type is VolumeType.REPLICATE else 1,
            arbiter_count=int(info.get("arbiter_count", "0")), disperse_count=disperse,
            redundancy_count=int(info.get("redundancy_count", "0")), options=options,
            status=VolumeStatus.from_glusterd_code(int(info.get("status", "0"))), version=int(info.get("version", "1")),
            transport=Transport.from_glusterd_code(int(info.get("transport-type", "0"))),
            username=info["username"], password=info["password"],
            op_version=int(info.get("op-version", "40000")),
            client_op_version=int(info.get("client-op-version", "2")),
            quota_version=int(info.get("quota-version", "0")),
            quota_limits=import_quota_conf(volume_dir / "quota.conf"),
            quota_conf_version=int(_read_key_values(volume_dir / "quota.cksum").get("version", "0"))
            if (volume_dir / "quota.cksum").exists() else 0,
        )
    except KeyError as missing:
        raise ValidationError(f"{volume_dir / 'info'}: missing {missing}") from None


def import_state(state_dir: Path | str) -> GlusterdState:
    """Parse glusterd.info (the node's identity, read as the daemon reads its own), peers/*
    and vols/*; volumes in name order. Refuses (:class:`TakeoverRefused`) a state with
    anything :func:`takeover_blockers` names."""
    root = Path(state_dir)
    node = NodeIdentity.read(str(root))
    if node is None:
        raise FileNotFoundError(errno.ENOENT, "no glusterd.info", str(root / GLUSTERD_INFO))
    blockers = takeover_blockers(root)
    if blockers:
        raise TakeoverRefused("it holds what gluster_mgmt cannot carry, nothing imported: "
                              + "; ".join(blockers))
    peers_dir = root / "peers"
    peers = tuple(import_peer(p) for p in sorted(peers_dir.iterdir())) if peers_dir.is_dir() else ()
    vols_dir = root / "vols"
    volumes = tuple(import_volume(d) for d in sorted(vols_dir.iterdir())
                    if (d / "info").is_file()) if vols_dir.is_dir() else ()
    return GlusterdState(node_uuid=node.uuid, operating_version=node.operating_version,
                         peers=peers, volumes=volumes)
