from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gluster_mgmt.glusterd_import import (
    TakeoverRefused,
    import_state,
    parse_key_values,
    takeover_blockers,
)
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
    state = import_state(tmp_path)
    assert state.volumes == ()
    assert state.peers[0].hostnames == ("node2", "10.0.0.2")
    assert state.peers[0].state is PeerState.CONNECTED


def test_key_values_keep_equals_in_values() -> None:
    assert parse_key_values("a=b=c\n\nnoequals\n") == {"a": "b=c"}


def test_missing_state_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_state(tmp_path)


def _reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / "glusterd"
    shutil.copytree(REFERENCE / "state", target)
    return target


def _set(path: Path, **fields: str) -> None:
    values = parse_key_values(path.read_text())
    values.update(fields)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


# each: how to break the recorded state, and what the refusal must name
TAKEOVER_BLOCKERS = {
    "snapshot": (lambda r: (r / "snaps" / "snap1").mkdir(parents=True),
                 "snapshot snap1 (gluster_mgmt has no snapshots)"),
    "geo-replication": (lambda r: (r / "geo-replication" / "v1_backup_v1b").mkdir(parents=True),
                        "geo-replication session v1_backup_v1b"),
    "nfs-ganesha": (lambda r: (r / "options").write_text("global-option-version=1\nnfs-ganesha=enable\n"),
                    "NFS-Ganesha is enabled cluster-wide"),
    "ganesha-volume": (lambda r: _set(r / "vols" / "rep3" / "info", **{"ganesha.enable": "on"}),
                       "volume rep3 is exported by NFS-Ganesha"),
    "tier": (lambda r: _set(r / "vols" / "arb" / "info", type="5"),
             "volume arb is of glusterd type 5"),
    "tier-enabled": (lambda r: _set(r / "vols" / "arb" / "info", **{"tier-enabled": "1"}),
                     "volume arb has tiering enabled"),
    "thin-arbiter": (lambda r: _set(r / "vols" / "arb" / "info", thin_arbiter_count="1"),
                     "volume arb has a thin arbiter"),
    "rebalance": (lambda r: _set(r / "vols" / "v1" / "node_state.info", rebalance_status="1",
                                 rebalance_op="19"),
                  "volume v1 has a rebalance started"),
    "remove-brick": (lambda r: _set(r / "vols" / "v1" / "node_state.info", rebalance_status="1",
                                    rebalance_op="9"),
                     "volume v1 has a remove-brick started"),
    "remove-brick-uncommitted": (lambda r: _set(r / "vols" / "v1" / "bricks" / "vm:-bricks-b2",
                                                decommissioned="1"),
                                 "volume v1 has a remove-brick not committed (vm:/bricks/b2)"),
    "rejected-peer": (lambda r: ((r / "peers").mkdir(), (r / "peers" / "cccc").write_text(
                          "uuid=cccc\nstate=6\nhostname1=node3\n")),
                      "peer node3 is in state 'Peer Rejected', not in the cluster"),
}


@pytest.mark.parametrize("case", sorted(TAKEOVER_BLOCKERS))
def test_a_takeover_that_would_lose_something_is_refused_naming_it(tmp_path: Path, case: str) -> None:
    root = _reference_copy(tmp_path)
    breaker, message = TAKEOVER_BLOCKERS[case]
    breaker(root)
    with pytest.raises(TakeoverRefused, match="nothing imported") as refused:
        import_state(root)
    assert message in str(refused.value)
    assert takeover_blockers(root) and all(message not in b for b in takeover_blockers(REFERENCE / "state"))


def test_every_blocker_is_named_at_once(tmp_path: Path) -> None:
    root = _reference_copy(tmp_path)
    for case in ("snapshot", "rebalance", "rejected-peer"):
        TAKEOVER_BLOCKERS[case][0](root)
    assert len(takeover_blockers(root)) == 3


def test_the_recorded_states_carry_nothing_that_would_be_lost() -> None:
    for root in (REFERENCE / "state", *(REFERENCE / "three-nodes").glob("node*")):
        assert takeover_blockers(root) == []
