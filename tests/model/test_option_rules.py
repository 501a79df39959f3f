"""glusterd 10.3's per-key `volume set` rules, with its messages (glusterd-volume-set.c's
validate functions and the special cases of its set-volume staging)."""

from __future__ import annotations

import os

import pytest

from gluster_mgmt.cluster.option_rules import check_command, check_for_volume
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import Task, VolumeStatus


def refused(volume, key: str, value: str) -> str:
    with pytest.raises(OperationFailed) as err:
        check_for_volume(volume, [(key, value)])
    return str(err.value)


@pytest.mark.parametrize("key,value,message", [
    ("cluster.data-self-heal", "on", "Cannot set cluster.data-self-heal for a non-replicate volume."),
    ("cluster.shd-max-threads", "4", "Cannot set cluster.shd-max-threads for a non-replicate volume."),
    ("cluster.self-heal-daemon", "on", "Volume v1 is not of replicate type"),
    ("cluster.disperse-self-heal-daemon", "on", "Volume v1 is not of disperse type"),
    ("disperse.shd-max-threads", "4", "Cannot set disperse.shd-max-threads for a non-disperse volume."),
    ("disperse.quorum-count", "2", "Cannot set disperse.quorum-count for a non-disperse volume."),
    ("features.quota-deem-statfs", "on", "Cannot set features.quota-deem-statfs. Enable quota first."),
    ("features.trash-dir", "bin", "Trash translator is not enabled. Use volume set v1 trash on"),
    ("features.uss", "maybe", "maybe is not a valid boolean value. features.uss expects a valid boolean value."),
    ("features.snapshot-directory", "snaps", "features.snapshot-directory expects value starting with '.' "),
    ("features.snapshot-directory", ".s/x", "features.snapshot-directory expects value to contain only '0-9a-z-_'"),
    ("features.retention-mode", "strict", "The value of retention mode should be either relax or "
                                          "enterprise. But the value of features.retention-mode is strict"),
    ("locks.mandatory-locking", "on", "Invalid option value 'on': Available options are 'off', 'file', "
                                      "'forced' or 'optimal'"),
    ("cluster.subvols-per-directory", "9", "subvols-per-directory(9) is greater than the number of subvolumes(2)."),
    ("cluster.rebal-throttle", "fast", "cluster.rebal-throttle should be {lazy|normal|aggressive} or a "
                                       f"number up to number of cores available (cores available - {os.cpu_count()})"),
    ("server.statedump-path", "/nonexistent/dir", "Failed: /nonexistent/dir is not a directory"),
    ("transport.listen-backlog", "-1", "-1 is not a compatible value. transport.listen-backlog expects a "
                                       "positiveinteger value."),
    ("cluster.op-version", "100000", 'Option "cluster.op-version" is not valid for a single volume'),
])
def test_rules_on_a_distribute_volume(volumes, key, value, message):
    assert refused(volumes["v1"], key, value) == message


def test_rules_that_depend_on_the_volume(volumes):
    rep3, disp3, v1 = volumes["rep3"], volumes["disp3"], volumes["v1"]
    check_for_volume(rep3, [("cluster.data-self-heal", "off"), ("cluster.quorum-count", "2")])
    assert refused(rep3, "cluster.quorum-count", "4") == "4 in cluster.quorum-count 4 is out of range [1 - 3]"
    assert refused(rep3, "cluster.lock-migration", "on") == (
        "Lock migration is a experimental feature. Currently works with pure distribute volume only")
    check_for_volume(disp3, [("disperse.quorum-count", "3")])
    assert refused(disp3, "disperse.quorum-count", "1") == "1 for disperse.quorum-count is out of range [2 - 3]"
    # an option that only a volume never started may change
    started = v1.evolve(status=VolumeStatus.STARTED)
    assert "Use 'gluster volume heal <VOLNAME> granular-entry-heal {enable, disable}' instead." in refused(
        started, "cluster.granular-entry-heal", "on")
    check_for_volume(v1.evolve(status=VolumeStatus.CREATED), [("cluster.granular-entry-heal", "on")])
    assert refused(started, "storage.linux-aio", "on") == (
        "Changing 'storage.linux-aio' is not supported when the volume is in started state. "
        "Please stop the volume first.")
    # the pair is checked as it will be, including other pairs of the same command
    with pytest.raises(OperationFailed, match=r"cache-min-file-size \(10MB\) is greater than "
                                              r"cache-max-file-size \(1MB\)"):
        check_for_volume(v1, [("performance.cache-max-file-size", "1MB"),
                              ("performance.cache-min-file-size", "10MB")])
    check_for_volume(v1, [("features.quota", "on"), ("features.quota-deem-statfs", "on")])
    check_for_volume(v1, [("features.trash", "on"), ("features.trash-dir", "bin")])
    busy = v1.evolve(task=Task(id="t"))
    assert refused(busy, "performance.parallel-readdir", "on") == (
        "performance.parallel-readdir option should be set after rebalance is complete")


@pytest.mark.parametrize("key,value,message", [
    ("features.bitrot", "on", " 'gluster volume set <VOLNAME> features.bitrot' is invalid command. "
                              "Use 'gluster volume bitrot <VOLNAME> {enable|disable}' instead."),
    ("quota", "on", " 'gluster volume set <VOLNAME> quota on' is deprecated. Use 'gluster volume "
                    "quota <VOLNAME> enable' instead."),
    ("features.inode-quota", "off", " 'gluster volume set <VOLNAME> features.inode-quota off' is "
                                    "deprecated. Use 'gluster volume inode-quota <VOLNAME> disable' instead."),
    ("config.transport", "udp", "transport-type udp does not exist"),
])
def test_keys_owned_by_other_commands(key, value, message):
    with pytest.raises(OperationFailed) as err:
        check_command(key, value)
    assert str(err.value) == message
