from __future__ import annotations

from pathlib import Path

import pytest

from gluster_mgmt.glusterd_import import import_state, parse_key_values
from gluster_mgmt.model import PeerState, VolumeStatus, VolumeType
from tests.helpers import REFERENCE


def test_node_identity(reference_state) -> None:
    assert reference_state.node_uuid == "2a17f7f0-4393-48d6-9f76-8db4e14a2772"
    assert reference_state.operating_version == 100000
    assert reference_state.peers == ()


def test_volumes_imported(volumes) -> None:
    assert sorted(volumes) == ["arb", "disp3", "rep3", "v1"]
    v1, rep3, arb, disp3 = (volumes[n] for n in ("v1", "rep3", "arb", "disp3"))
    assert (v1.type, len(v1.bricks), v1.status) == (VolumeType.DISTRIBUTE, 2, VolumeStatus.STARTED)
    assert v1.options["performance.quick-read"] == "off"
    assert "brick-0" not in v1.options and "username" not in v1.options
    assert (rep3.type, rep3.replica_count, rep3.arbiter_count) == (VolumeType.REPLICATE, 3, 0)
    assert (arb.replica_count, arb.arbiter_count, arb.status) == (3, 1, VolumeStatus.CREATED)
    assert (disp3.type, disp3.disperse_count, disp3.redundancy_count) == (VolumeType.DISPERSE, 3, 1)
    assert [b.path for b in rep3.bricks] == ["/bricks/r1", "/bricks/r2", "/bricks/r3"]
    assert rep3.username == "3ee7ffaf-a31e-441a-9acd-415d3c0fbd77"
    assert v1.bricks[0].fsid == 4295272708926316489


def test_import_is_stable(reference_state) -> None:
    assert import_state(REFERENCE / "state") == reference_state


def test_peers_and_multiple_hostnames(tmp_path: Path) -> None:
    (tmp_path / "glusterd.info").write_text("UUID=aaaaaaaa-0000-4000-8000-000000000001\noperating-version=100000\n")
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "bbbb").write_text("uuid=bbbb\nstate=3\nhostname1=node2\nhostname2=10.0.0.2\n")
    (peers / "cccc").write_text("uuid=cccc\nstate=6\nhostname1=node3\n")
    state = import_state(tmp_path)
    assert state.volumes == ()
    assert state.peers[0].hostnames == ("node2", "10.0.0.2")
    assert state.peers[0].state is PeerState.CONNECTED
    assert state.peers[1].state is PeerState.REJECTED


def test_key_values_keep_equals_in_values() -> None:
    assert parse_key_values("a=b=c\n\nnoequals\n") == {"a": "b=c"}


def test_missing_state_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_state(tmp_path)
