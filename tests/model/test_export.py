"""The hand-back export against real glusterd 10.3 state directories (tests/data): a recorded
node's state, imported and exported again, gives back glusterd's files byte for byte."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs
import pytest

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.glusterd_export import (
    NodeExport,
    state_files,
    volume_checksum,
    write_state,
)
from gluster_mgmt.glusterd_import import import_state, import_volume, parse_key_values
from gluster_mgmt.membership.identity import NodeIdentity
from gluster_mgmt.model import Task
from tests.helpers import REFERENCE

SINGLE = REFERENCE / "state"
QUOTA_ENABLED = REFERENCE / "quota" / "enabled" / "state"
THREE = [REFERENCE / "three-nodes" / f"node{n}" for n in (1, 2, 3)]
#: Written by glusterd but not by the export: gfproxyd's volfiles (gluster_mgmt runs no
#: gfproxyd), a rebalance volfile left from an earlier rebalance, geo-replication templates
#: the snapshot list (features refused on takeover), and glusterd.upgrade (glusterd writes it
#: when it starts).
NOT_EXPORTED = ("gfproxy", "gfproxyd", "-rebalance.vol", "geo-replication/", "snaps/",
                "glusterd.upgrade")


def recorded_files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()
            and not any(mark in str(p.relative_to(root)) for mark in NOT_EXPORTED)}


def listen_ports(root: Path, node_uuid: str) -> dict[str, int]:
    """The ports glusterd recorded for the node's own bricks (the export takes them from the
    portmap records of the running bricks)."""
    ports = {}
    for brick_file in root.glob("vols/*/bricks/*"):
        fields = parse_key_values(brick_file.read_text(encoding="utf-8"))
        if fields["uuid"] == node_uuid:
            ports[fields["path"]] = int(fields["listen-port"])
    return ports


def export_of(root: Path, fsids_from: list[Path] | None = None) -> dict[str, str]:
    state = import_state(root)
    volumes = state.volumes
    if fsids_from:  # each node knows its own bricks' file-system ids: gather them as a store would
        fsids = {}
        for other in fsids_from:
            owner = import_state(other)
            for volume in owner.volumes:
                fsids.update({(b.hostname, b.path): b.fsid for b in volume.bricks
                              if b.host_uuid == owner.node_uuid})
        volumes = tuple(v.evolve(bricks=tuple(attrs.evolve(b, fsid=fsids.get((b.hostname, b.path), b.fsid))
                                            for b in v.bricks)) for v in volumes)
    identity = NodeIdentity(uuid=state.node_uuid, operating_version=state.operating_version)
    return state_files(NodeExport(node=identity, peers=state.peers, volumes=volumes,
                                  brick_ports=listen_ports(root, state.node_uuid)))


@pytest.mark.parametrize("name", ["arb", "disp3", "rep3", "v1"])
def test_checksum_is_glusterds(name: str) -> None:
    volume_dir = SINGLE / "vols" / name
    recorded = parse_key_values((volume_dir / "cksum").read_text())["info"]
    assert volume_checksum((volume_dir / "info").read_bytes()) == int(recorded)


def test_checksum_spans_blocks_and_signed_bytes() -> None:
    """Beyond 1 KiB glusterd folds block after block; bytes over 127 count as negative."""
    long_info = b"".join(f"key{i:04d}=value-\xc3\xa9-{i}\n".encode("latin-1") for i in range(200))
    assert len(long_info) > 3 * 1024
    assert volume_checksum(long_info) != volume_checksum(long_info.replace(b"\xc3", b"\x43"))
    assert volume_checksum(long_info) == volume_checksum(b"".join(reversed(long_info.splitlines(True))))


def test_single_node_export_is_glusterds_state() -> None:
    exported, recorded = export_of(SINGLE), recorded_files(SINGLE)
    assert sorted(exported) == sorted(recorded)
    different = [path for path in recorded if exported[path] != recorded[path]]
    assert not different, "\n".join(f"{p}:\n--- glusterd\n{recorded[p]}--- export\n{exported[p]}"
                                     for p in different[:3])


@pytest.mark.parametrize("node", THREE, ids=lambda p: p.name)
def test_each_of_three_nodes_exports_its_own_glusterd_state(node: Path) -> None:
    exported = export_of(node, fsids_from=THREE)
    recorded = recorded_files(node)
    assert sorted(exported) == sorted(recorded)
    different = [path for path in recorded if exported[path] != recorded[path]]
    assert not different, "\n".join(f"{p}:\n--- glusterd\n{recorded[p]}--- export\n{exported[p]}"
                                    for p in different[:3])


def test_a_volume_with_a_task_in_progress_is_not_exported() -> None:
    state = import_state(SINGLE)
    v1 = next(v for v in state.volumes if v.name == "v1")
    busy = v1.evolve(task=Task(id="00000000-0000-4000-8000-000000000001", bricks=(v1.bricks[0].name,)))
    identity = NodeIdentity(uuid=state.node_uuid)
    with pytest.raises(OperationFailed, match="volume v1 has a remove-brick task in progress"):
        state_files(NodeExport(node=identity, peers=(), volumes=(busy,)))


def test_write_state_refuses_existing_state_and_writes_private_files(tmp_path: Path) -> None:
    files = export_of(SINGLE)
    node_uuid = import_state(SINGLE).node_uuid
    target = tmp_path / "glusterd"
    (target / "hooks").mkdir(parents=True)
    written = write_state(target, files, node_uuid)
    assert sorted(written) == sorted(files)
    assert (target / "hooks").is_dir()  # what was there stays
    assert all(os.stat(target / p).st_mode & 0o777 == 0o600 for p in files)
    assert import_state(target) == import_state(SINGLE)
    with pytest.raises(OperationFailed, match="is not empty"):
        write_state(target, files, node_uuid)
    other = tmp_path / "other"
    other.mkdir()
    (other / "glusterd.info").write_text("UUID=11111111-2222-4333-8444-555555555555\n"
                                         "operating-version=100000\n")
    with pytest.raises(OperationFailed, match="belongs to node 11111111"):
        write_state(other, files, node_uuid)
    assert sorted(p.name for p in other.iterdir()) == ["glusterd.info"]
    with pytest.raises(OperationFailed, match="not an absolute path"):
        write_state("relative/dir", files, node_uuid)


def test_a_quota_volume_is_handed_back_with_glusterds_quota_files(tmp_path: Path) -> None:
    """glusterd 10.3's recorded state with quota on: the export writes its quota.conf and
    quota.cksum byte for byte, also over the copies gluster-mgmtd keeps in its glusterd
    directory for the stock CLI; any other file under vols/ is still refused."""
    recorded = QUOTA_ENABLED / "vols" / "qv"
    volume = import_volume(recorded)
    identity = NodeIdentity(uuid=volume.bricks[0].host_uuid)
    files = state_files(NodeExport(node=identity, peers=(), volumes=(volume,)))
    assert files["vols/qv/quota.conf"] == (recorded / "quota.conf").read_bytes()
    assert files["vols/qv/quota.cksum"] == (recorded / "quota.cksum").read_text()
    target = tmp_path / "glusterd"
    kept = target / "vols" / "qv"
    kept.mkdir(parents=True)
    shutil.copy(recorded / "quota.conf", kept / "quota.conf")
    shutil.copy(recorded / "quota.cksum", kept / "quota.cksum")
    write_state(target, files, identity.uuid)
    assert (kept / "quota.conf").read_bytes() == (recorded / "quota.conf").read_bytes()
    assert import_volume(kept).quota_limits == volume.quota_limits
    stranger = tmp_path / "stranger"
    (stranger / "vols" / "qv").mkdir(parents=True)
    (stranger / "vols" / "qv" / "quota.conf").write_bytes(b"not this one")
    with pytest.raises(OperationFailed, match="is not empty"):
        write_state(stranger, files, identity.uuid)
