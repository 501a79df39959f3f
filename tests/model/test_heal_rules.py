"""cluster.heal's pure parts: which self-heal daemon is asked about which subvolume, how
AFR's answers are renumbered by brick position, and glusterd's refusals (the end-to-end
behaviour is tests/gluster/test_heal.py)."""

from __future__ import annotations

import pytest

from gluster_mgmt.cluster.heal import Heal, HealOp, _renumber, self_heal_enabled, subvolume_name
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import Brick, Volume, VolumeStatus, VolumeType


def _volume(hosts: list[str], replica: int = 3, status=VolumeStatus.STARTED, **options) -> Volume:
    bricks = [Brick(host_uuid=h, hostname=f"host-{h}", path=f"/b/{i}") for i, h in enumerate(hosts)]
    return Volume(name="v", uuid="u", type=VolumeType.REPLICATE, bricks=bricks,
                  replica_count=replica, status=status, options=options)


class _Views:
    def __init__(self, connected):
        self.connected = connected

    def all(self):
        class View:
            def __init__(self, uuid):
                self.peer, self.connected = type("P", (), {"uuid": uuid})(), True
        return [View(u) for u in self.connected]


class _Cluster:
    def __init__(self, connected=()):
        self.peers = _Views(connected)

    @staticmethod
    def parse_brick(spec):
        host, _, path = spec.partition(":")
        return host, path


def test_every_node_is_asked_about_its_own_subvolumes():
    volume = _volume(["a", "b", "c", "c", "d", "e"])
    picked = Heal(_Cluster("abcde"), None)._select(volume, HealOp.HEAL_INDEX, None)
    assert picked == {"a": [0], "b": [0], "c": [0, 1], "d": [1], "e": [1]}
    # a disconnected node takes no part
    assert Heal(_Cluster("abde"), None)._select(volume, HealOp.STATISTICS_HEAL_COUNT, None) == \
        {"a": [0], "b": [0], "d": [1], "e": [1]}
    assert subvolume_name(volume, 1) == "v-replicate-1"


def test_full_heal_asks_one_connected_node_per_set_and_replica_the_bricks_node():
    volume = _volume(["a", "b", "c", "c", "d", "e"])
    assert Heal(_Cluster({"a", "b", "d"}), None)._select(volume, HealOp.HEAL_FULL, None) == \
        {"b": [0], "d": [1]}
    per_replica = HealOp.STATISTICS_HEAL_COUNT_PER_REPLICA
    assert Heal(_Cluster(), None)._select(volume, per_replica, "host-d:/b/4") == {"d": [1]}
    with pytest.raises(OperationFailed, match="does not exist in volume v"):
        Heal(_Cluster(), None)._select(volume, per_replica, "host-x:/b/9")


def test_afr_answers_are_renumbered_and_statuses_kept_only_from_their_node():
    volume = _volume(["a", "b", "c", "c", "d", "e"])
    pairs = [["1-0-hardlinks", "4"], ["1-1-status", "Brick is not connected"],
             ["1-2-status", "Started self-heal"], ["v-replicate-1", "1"], ["junk", "x"]]
    assert _renumber(volume, "e", HealOp.STATISTICS_HEAL_COUNT, pairs) == \
        [("3-hardlinks", "4"), ("5-status", "Started self-heal")]
    stats = [["statistics_crawl_type-1-0-0", "INDEX"], ["statistics-0-2-count", "1"],
             ["statistics-0-1-count", "1"]]  # brick 1 is b's: not c's to report
    assert _renumber(volume, "c", HealOp.STATISTICS, stats) == \
        [("statistics_crawl_type-3-0", "INDEX"), ("statistics-2-count", "1")]


def test_glusterds_refusals_in_its_order():
    with pytest.raises(OperationFailed, match=r"^Volume v is not started\.$"):
        Heal._stage(_volume(["a", "b", "c"], status=VolumeStatus.STOPPED), HealOp.HEAL_INDEX)
    disabled = _volume(["a", "b", "c"], **{"cluster.self-heal-daemon": "off"})
    assert not self_heal_enabled(disabled)
    with pytest.raises(OperationFailed, match="^Self-heal-daemon is disabled. Heal will not"):
        Heal._stage(disabled, HealOp.HEAL_INDEX)
    with pytest.raises(OperationFailed, match="^Invalid heal-op$"):
        Heal._stage(_volume(["a", "b", "c"]), HealOp.HEAL_SUMMARY)
    with pytest.raises(OperationFailed, match="^Command not supported. Please use"):
        Heal._stage(_volume(["a", "b", "c"]), HealOp.HEALED_FILES)
