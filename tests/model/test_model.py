from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gluster_mgmt import rules
from gluster_mgmt.cluster.brick_directory import root_partition_refusal
from gluster_mgmt.errors import GlusterMgmtError
from gluster_mgmt.model import (
    Brick,
    MigrationStatus,
    Peer,
    PeerState,
    SchemaError,
    Task,
    ValidationError,
    Volume,
    VolumeStatus,
    VolumeType,
    check_brick_counts,
    check_bricks_distinct,
    check_replica_sets_spread,
    default_volume_options,
    optimal_redundancy,
    parse_brick_spec,
    validate_volume_name,
)

HOST = "2a17f7f0-4393-48d6-9f76-8db4e14a2772"


def _bricks(count: int, hosts: int = 1) -> tuple[Brick, ...]:
    return tuple(Brick(host_uuid=f"host-{i % hosts}", hostname=f"h{i % hosts}", path=f"/b/{i}")
                 for i in range(count))


def _cli_message(text: str) -> str:
    """Drop what glusterd's CLI adds around a message: 'volume X: NAME: failed: '."""
    return text.split("failed: ", 1)[-1].strip()


# -- names -------------------------------------------------------------------------------

def test_bad_name_message_matches_glusterd(cli_text) -> None:
    expected = cli_text("error-bad-name.txt").split("\n\nUsage:")[0].strip()
    with pytest.raises(ValidationError) as caught:
        validate_volume_name("bad name")
    assert str(caught.value) == expected


@pytest.mark.parametrize("name", ["all", "volume", "end-volume", "help", "force"])
def test_reserved_names_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=f'"{name}" cannot be the name of a volume.'):
        validate_volume_name(name)


@pytest.mark.parametrize("name", ["-lead", "", "a/b", "é", "x" * 257])
def test_other_bad_names(name: str) -> None:
    with pytest.raises(ValidationError):
        validate_volume_name(name)


@given(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,40}", fullmatch=True))
def test_good_names_accepted(name: str) -> None:
    if name in ("all", "volume", "help", "type", "option", "force", "description"):
        return
    assert validate_volume_name(name) == name


def test_exists_message_matches_glusterd(cli_text) -> None:
    assert rules.volume_exists("v1") == _cli_message(cli_text("error-exists.txt"))


def test_validation_error_is_in_the_hierarchy() -> None:
    assert issubclass(ValidationError, GlusterMgmtError)
    assert issubclass(ValidationError, ValueError)


# -- bricks ------------------------------------------------------------------------------

def test_brick_spec_parsing() -> None:
    assert parse_brick_spec("vm:/bricks//b1/") == ("vm", "/bricks/b1")
    assert parse_brick_spec("fe80::1:/data") == ("fe80::1", "/data")


@pytest.mark.parametrize("spec", ["vm", "vm:bricks", ":/bricks", "vm:"])
def test_brick_spec_refused(spec: str) -> None:
    with pytest.raises(ValidationError, match="use <HOSTNAME>:<export-dir-abs-path>"):
        parse_brick_spec(spec)


@pytest.mark.parametrize("spec", ["localhost:/b", "127.0.0.1:/b", "0.1.2.3:/b"])
def test_loopback_hosts_refused(spec: str) -> None:
    with pytest.raises(ValidationError, match="other than localhost"):
        parse_brick_spec(spec)


def test_brick_names_as_glusterd_makes_them() -> None:
    brick = Brick(host_uuid=HOST, hostname="vm", path="/bricks/b1")
    assert brick.name == "vm:/bricks/b1"
    assert brick.file_name == "vm:-bricks-b1"
    assert brick.volfile_id("v1") == "v1.vm.bricks-b1"
    deep = Brick(host_uuid=HOST, hostname="node.example", path="/srv/a/b")
    assert deep.volfile_id("vol") == "vol.node.example.srv-a-b"


def test_root_partition_message_matches_glusterd(cli_text) -> None:
    assert root_partition_refusal("vm:/bricks/x1") == _cli_message(
        cli_text("error-replica-count.txt"))


def test_duplicate_bricks_refused() -> None:
    brick = Brick(host_uuid=HOST, hostname="vm", path="/b")
    with pytest.raises(ValidationError, match="Found duplicate exports vm:/b"):
        check_bricks_distinct([brick, brick])


# -- brick counts ------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"volume_type": VolumeType.REPLICATE, "brick_count": 4, "replica_count": 3},
     "number of bricks is not a multiple of replica count"),
    ({"volume_type": VolumeType.REPLICATE, "brick_count": 2, "replica_count": 1},
     "replica count should be greater than 1"),
    ({"volume_type": VolumeType.REPLICATE, "brick_count": 4, "replica_count": 4, "arbiter_count": 1},
     "For arbiter configuration, replica count must be 2 and arbiter count must be 1"),
    ({"volume_type": VolumeType.DISPERSE, "brick_count": 2, "disperse_count": 2, "redundancy_count": 1},
     "number of bricks must be greater than 2"),
    ({"volume_type": VolumeType.DISPERSE, "brick_count": 4, "disperse_count": 4, "redundancy_count": 2},
     "redundancy must be greater than or equal to 1 and less than 2 for a disperse 4 volume"),
    ({"volume_type": VolumeType.DISPERSE, "brick_count": 7, "disperse_count": 3, "redundancy_count": 1},
     "number of bricks is not a multiple of disperse count"),
])
def test_brick_count_rules(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_brick_counts(**kwargs)


def test_optimal_redundancy_as_cli_proposes() -> None:
    assert optimal_redundancy(3) == 1
    assert optimal_redundancy(6) == 2
    assert optimal_redundancy(10) == 2
    assert optimal_redundancy(4) == 1  # no power-of-2 layout: CLI proposes 1 and asks


def test_type_names_derived_from_counts() -> None:
    def volume(kind: VolumeType, count: int, **kw: int) -> Volume:
        return Volume(name="v", uuid="u", type=kind, bricks=_bricks(count, hosts=count), **kw)

    assert volume(VolumeType.DISTRIBUTE, 2).type_name == "Distribute"
    assert volume(VolumeType.REPLICATE, 3, replica_count=3).type_name == "Replicate"
    assert volume(VolumeType.REPLICATE, 6, replica_count=3).type_name == "Distributed-Replicate"
    assert volume(VolumeType.DISPERSE, 3, disperse_count=3, redundancy_count=1).type_name == "Disperse"
    six = volume(VolumeType.DISPERSE, 6, disperse_count=3, redundancy_count=1)
    assert six.type_name == "Distributed-Disperse"
    assert [len(s) for s in six.subvolumes()] == [3, 3]


def test_replica_set_on_one_server_needs_force() -> None:
    volume = Volume(name="v", uuid="u", type=VolumeType.REPLICATE, bricks=_bricks(3, hosts=1),
                    replica_count=3)
    with pytest.raises(ValidationError, match="Multiple bricks of a replicate volume"):
        check_replica_sets_spread(volume)
    check_replica_sets_spread(volume, force=True)


def test_default_options_of_new_volumes() -> None:
    assert default_volume_options(VolumeType.REPLICATE)["performance.client-io-threads"] == "off"
    assert "cluster.granular-entry-heal" not in default_volume_options(VolumeType.DISPERSE)


# -- serialisation -----------------------------------------------------------------------

def test_volume_round_trip_and_secrets_hidden(volumes: dict) -> None:
    for volume in volumes.values():
        assert Volume.from_dict(volume.to_dict()) == volume
        assert volume.password not in repr(volume)
        assert volume.username not in repr(volume)


def test_peer_round_trip() -> None:
    peer = Peer(uuid=HOST, hostnames=["vm", "10.0.0.1"], state=PeerState.CONNECTED)
    assert Peer.from_dict(peer.to_dict()) == peer


def test_unknown_schema_refused(volumes: dict) -> None:
    data = volumes["v1"].to_dict() | {"schema": 99}
    with pytest.raises(SchemaError):
        Volume.from_dict(data)


def test_volume_is_frozen(volumes: dict) -> None:
    volume = volumes["v1"]
    with pytest.raises(AttributeError):
        volume.status = VolumeStatus.STOPPED  # type: ignore[misc]
    assert volume.evolve(status=VolumeStatus.STOPPED).status is VolumeStatus.STOPPED


def test_remove_brick_task_round_trips(volumes: dict) -> None:
    volume = volumes["v1"]
    leaving = volume.bricks[-1]
    busy = volume.evolve(
        bricks=volume.bricks[:-1] + (attrs.evolve(leaving, decommissioned=True),),
        task=Task(id="5b0c3f9e-5d1c-4d4e-8d0a-111111111111", bricks=[leaving.name]))
    again = Volume.from_dict(busy.to_dict())
    assert again == busy and again.decommissioned == (busy.bricks[-1],)
    assert again.task.kind == "remove-brick" and again.task.bricks == (leaving.name,)
    # records written before tasks existed read as "no task, nothing decommissioned"
    old = volume.to_dict()
    del old["task"]
    assert Volume.from_dict(old).task is None and "decommissioned" not in old["bricks"][0]


def test_migration_progress_from_a_rebalance_report() -> None:
    from gluster_mgmt.cluster.migration_progress import Progress, overall_status

    report = {"status": 3, "files": 7, "size": 7000, "lookups": 9, "failures": 0, "skipped": 1,
              "run_time": 2.5, "time_left": 0}
    done = Progress.from_report(HOST, "t1", report)
    assert done.status is MigrationStatus.COMPLETE and done.status.label == "completed"
    assert done.status.finished and (done.files, done.skipped, done.run_time) == (7, 1, 2.5)
    assert Progress.from_dict(done.to_dict()) == done
    fixed = Progress.from_report(HOST, "t1", {"status": 7})
    assert fixed.status.label == "fix-layout completed" and fixed.status.finished
    # a state no rebalance process reports (glusterd's own, tier) is not passed off as progress
    assert Progress.from_report(HOST, "t1", {"status": 9}).status is MigrationStatus.FAILED
    running = Progress(HOST, "t1", MigrationStatus.STARTED)
    assert overall_status([done, running]) is MigrationStatus.STARTED
    assert overall_status([done]) is MigrationStatus.COMPLETE
    assert overall_status([]) is MigrationStatus.NOT_STARTED


def test_a_volume_record_is_decoded_once_per_revision():
    """A node's volfile follower and reconciler share the decoding (cluster.volumes)."""
    from gluster_mgmt.cluster.volumes import DecodedVolumes, encode_volume
    from gluster_mgmt.store.types import Entry

    volume = Volume(name="dv", uuid="u", type=VolumeType.DISTRIBUTE,
                    bricks=[Brick(host_uuid="h", hostname="n", path="/b")])
    decoded = DecodedVolumes()
    first = decoded.of(Entry("volumes/dv", encode_volume(volume), 5, 5))
    assert first == volume
    assert decoded.of(Entry("volumes/dv", b"not read again", 5, 5)) is first
    changed = volume.evolve(options={"performance.quick-read": "off"})
    assert decoded.of(Entry("volumes/dv", encode_volume(changed), 6, 5)) == changed
    decoded.keep_only({"volumes/other"})
    with pytest.raises(ValueError):
        decoded.of(Entry("volumes/dv", b"not json", 6, 5))  # forgotten: decoded again
