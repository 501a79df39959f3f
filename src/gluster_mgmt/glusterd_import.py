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

_PEER_STATES = {3: PeerState.CONNECTED, 6: PeerState.REJECTED, 7: PeerState.DETACHING}


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
    state = _PEER_STATES.get(int(fields.get("state", "3")), PeerState.PROBE_SENT)
    return Peer(uuid=fields["uuid"], hostnames=tuple(hostnames), state=state)


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
        )
    except KeyError as missing:
        raise ValidationError(f"{volume_dir / 'info'}: missing {missing}") from None


def import_state(state_dir: Path | str) -> GlusterdState:
    """Parse glusterd.info (the node's identity, read as the daemon reads its own), peers/*
    and vols/*; volumes in name order."""
    root = Path(state_dir)
    node = NodeIdentity.read(str(root))
    if node is None:
        raise FileNotFoundError(errno.ENOENT, "no glusterd.info", str(root / GLUSTERD_INFO))
    peers_dir = root / "peers"
    peers = tuple(import_peer(p) for p in sorted(peers_dir.iterdir())) if peers_dir.is_dir() else ()
    vols_dir = root / "vols"
    volumes = tuple(import_volume(d) for d in sorted(vols_dir.iterdir())
                    if (d / "info").is_file()) if vols_dir.is_dir() else ()
    return GlusterdState(node_uuid=node.uuid, operating_version=node.operating_version,
                         peers=peers, volumes=volumes)
