"""Write one node's glusterd 10.3 state directory (/var/lib/glusterd) from the cluster's
configuration: the hand-back path, the inverse of :mod:`gluster_mgmt.glusterd_import`.

Stock glusterd started on the result has the same volumes, options, UUIDs and brick ports.
:func:`state_files` is pure (a mapping of relative paths to file contents), so an export can be
compared with a recorded glusterd directory byte for byte before anything is written;
:func:`write_state` puts it in place.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from gluster_mgmt import volgen
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.membership.identity import GLUSTERD_INFO, NodeIdentity
from gluster_mgmt.model import Brick, Peer, Volume, VolumeType, quota_cksum, quota_conf

#: vols/VOL/node_state.info of a volume with no rebalance or remove-brick in its past.
_IDLE_NODE_STATE = (
    "rebalance_status=0\nstatus=0\nrebalance_op=0\n"
    "rebalance-id=00000000-0000-0000-0000-000000000000\nrebalanced-files=0\nsize=0\n"
    "scanned=0\nfailures=0\nskipped=0\nrun-time=0.000000\n"
)

#: The glusterd-wide options file a fresh glusterd 10.3 writes beside glusterd.info (it
#: writes glusterd.upgrade itself when it starts).
GLOBAL_FILES = {"options": "global-option-version=0\n"}


@attrs.frozen
class NodeExport:
    """What one node's glusterd state holds: its identity, the other members, every volume,
    and the ports this node's running bricks listen on (``brick path -> port``)."""

    node: NodeIdentity
    peers: tuple[Peer, ...] = attrs.field(converter=tuple)
    volumes: tuple[Volume, ...] = attrs.field(converter=tuple)
    brick_ports: Mapping[str, int] = attrs.field(factory=dict)


def volume_checksum(info: bytes) -> int:
    """glusterd's checksum of vols/VOL/info (the ``info=`` of vols/VOL/cksum, which peers
    compare in their handshake): the file's lines sorted bytewise, folded 1 KiB at a time into
    four bytes seeded 0xba 0xbe 0xb0 0x0b, byte k of each word XORed in shifted left by k (bytes
    as signed chars), the tail of a block folded again from its last four bytes."""
    data = b"".join(sorted(info.splitlines(keepends=True)))
    state = bytearray(b"\xba\xbe\xb0\x0b")
    for start in range(0, len(data), 1024):
        _fold(data[start:start + 1024], state)
    return int.from_bytes(state, "little")


def _fold(block: bytes, state: bytearray) -> None:
    signed = [b - 256 if b > 127 else b for b in block]
    size = len(signed)
    for offset in range(0, size - 4, 4):
        for k in range(4):
            state[k] ^= (signed[offset + k] << k) & 0xFF
    for k in range(size % 4 + 1):
        state[k] ^= (signed[size - 4 + k] << k) & 0xFF


def info_text(volume: Volume) -> str:
    """vols/VOL/info as glusterd 10.3 writes it: the volume's own keys in glusterd's order,
    then its options in `volume info` order, then the bricks."""
    lines = [
        ("type", volume.type.glusterd_code),
        ("count", len(volume.bricks)),
        ("status", volume.status.glusterd_code),
        ("sub_count", _sub_count(volume)),
        ("replica_count", volume.replica_count),
    ]
    if volume.arbiter_count:
        lines.append(("arbiter_count", volume.arbiter_count))
    lines += [
        ("disperse_count", volume.disperse_count),
        ("redundancy_count", volume.redundancy_count),
        ("version", volume.version),
        ("transport-type", volume.transport.glusterd_code),
        ("volume-id", volume.uuid),
        ("username", volume.username),
        ("password", volume.password),
        ("op-version", volume.op_version),
        ("client-op-version", volume.client_op_version),
        ("quota-version", volume.quota_version),
        ("tier-enabled", 0),
        ("parent_volname", "N/A"),
        ("restored_from_snap", "00000000-0000-0000-0000-000000000000"),
        ("snap-max-hard-limit", 256),
        *volume.options.items(),
        *((f"brick-{i}", brick.file_name) for i, brick in enumerate(volume.bricks)),
    ]
    return "".join(f"{key}={value}\n" for key, value in lines)


def _sub_count(volume: Volume) -> int:
    if volume.type is VolumeType.REPLICATE:
        return volume.replica_count
    if volume.type is VolumeType.DISPERSE:
        return volume.disperse_count
    return 0


def brick_text(volume: Volume, index: int, brick: Brick, node_uuid: str,
               brick_ports: Mapping[str, int]) -> str:
    """vols/VOL/bricks/HOST:-PATH: the port and file-system id only for the node's own bricks
    (glusterd writes 0 for the others)."""
    own = brick.host_uuid == node_uuid
    port = brick_ports.get(brick.path, 0) if own else 0
    fsid = (brick.fsid or 0) if own else 0
    return (f"uuid={brick.host_uuid}\nhostname={brick.hostname}\npath={brick.path}\n"
            f"real_path={brick.path}\nlisten-port={port}\nrdma.listen-port=0\n"
            f"decommissioned={int(brick.decommissioned)}\nbrick-id={volume.name}-client-{index}\n"
            f"mount_dir={brick.path}\nsnap-status=0\nbrick-fsid={fsid}\n")


def peer_text(peer: Peer) -> str:
    """peers/UUID: a member of the pool, every hostname it is known by."""
    names = "".join(f"hostname{i}={name}\n" for i, name in enumerate(peer.hostnames, 1))
    return f"uuid={peer.uuid}\nstate=3\n{names}"


def volfiles(volume: Volume, node_uuid: str) -> dict[str, str]:
    """The volfiles glusterd keeps in vols/VOL/ and serves from there: every brick's (as the
    node ``node_uuid`` writes them), the client's (plain and trusted) and the self-heal
    daemon's."""
    files = {f"{brick.volfile_id(volume.name)}.vol": volgen.brick_volfile(
        volume, brick, on_own_host=brick.host_uuid == node_uuid) for brick in volume.bricks}
    files[f"{volume.name}.tcp-fuse.vol"] = volgen.client_volfile(volume)
    files[f"trusted-{volume.name}.tcp-fuse.vol"] = volgen.client_volfile(volume, trusted=True)
    shd = volgen.shd_volfile(volume)
    if shd is not None:
        files[f"{volume.name}-shd.vol"] = shd
    return files


def check_exportable(volumes: Iterable[Volume]) -> None:
    """Refuse, naming the volume, what a glusterd state directory written here would lose."""
    for volume in volumes:
        if volume.task is not None:
            raise OperationFailed(
                f"volume {volume.name} has a {volume.task.kind} task in progress: finish it "
                "(commit or stop) before handing the volume back to glusterd", errno.EBUSY)


def state_files(export: NodeExport) -> dict[str, str | bytes]:
    """Every file of the node's state directory, by path relative to it (quota.conf is
    binary, the others text)."""
    check_exportable(export.volumes)
    files = {GLUSTERD_INFO: export.node.render(), **GLOBAL_FILES}
    for peer in export.peers:
        if peer.uuid != export.node.uuid:
            files[f"peers/{peer.uuid}"] = peer_text(peer)
    for volume in export.volumes:
        base = f"vols/{volume.name}"
        info = info_text(volume)
        files[f"{base}/info"] = info
        files[f"{base}/cksum"] = f"info={volume_checksum(info.encode())}\n"
        files[f"{base}/node_state.info"] = _IDLE_NODE_STATE
        files[f"{base}/snapd.info"] = "snapd-port=0\n"
        for index, brick in enumerate(volume.bricks):
            files[f"{base}/bricks/{brick.file_name}"] = brick_text(
                volume, index, brick, export.node.uuid, export.brick_ports)
        for name, text in volfiles(volume, export.node.uuid).items():
            files[f"{base}/{name}"] = text
        if volgen.quota_enabled(volume):
            files[f"{base}/quota.conf"] = quota_conf(volume.quota_limits)
            files[f"{base}/quota.cksum"] = quota_cksum(volume)
    return files


def write_state(directory: str | Path, files: Mapping[str, str | bytes],
                node_uuid: str) -> list[str]:
    """Write ``files`` under ``directory`` (created if missing), glusterd's modes: 0600 files.
    Refuses, writing nothing, a directory that already holds glusterd state (volumes or peers:
    any file there but the quota files this daemon keeps in its glusterd directory, found as
    the export writes them) or another node's glusterd.info; whatever else is there (hooks,
    groups) stays."""
    root = Path(directory)
    if not root.is_absolute():
        raise OperationFailed(f"export directory {directory!s} is not an absolute path", errno.EINVAL)
    for held in ("vols", "peers"):
        if (root / held).is_dir() and any(_not_ours(root, path, files)
                                          for path in (root / held).rglob("*")):
            raise OperationFailed(
                f"{root / held} is not empty: export into an empty directory or one without "
                "glusterd state; nothing written", errno.EEXIST)
    present = NodeIdentity.read(str(root)) if (root / GLUSTERD_INFO).exists() else None
    if present is not None and present.uuid != node_uuid:
        raise OperationFailed(
            f"{root / GLUSTERD_INFO} belongs to node {present.uuid}, this node is {node_uuid}; "
            "nothing written", errno.EEXIST)
    written = []
    for relative, text in sorted(files.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text if isinstance(text, bytes) else text.encode())
        os.chmod(path, 0o600)
        written.append(relative)
    return written


#: The files gluster-mgmtd itself keeps in the glusterd directory (for the stock CLI's
#: `quota list`, services.quota): found as the export would write them, they are no clash.
_KEPT_BY_THIS_DAEMON = ("quota.conf", "quota.cksum")


def _not_ours(root: Path, path: Path, files: Mapping[str, str | bytes]) -> bool:
    """Whether ``path`` (under ``root``) is glusterd state an export must not overwrite."""
    if path.is_dir():
        return False
    wanted = files.get(str(path.relative_to(root)))
    if path.name not in _KEPT_BY_THIS_DAEMON or wanted is None:
        return True
    return path.read_bytes() != (wanted if isinstance(wanted, bytes) else wanted.encode())
