"""Which nodes run a rebalance process for which task, and with which command line."""

from __future__ import annotations

import attrs

from gluster_mgmt.cluster.migration_progress import migrating_hosts
from gluster_mgmt.mgmt_rpc.defrag_client import DefragCommand
from gluster_mgmt.model import FIX_LAYOUT, REBALANCE, REMOVE_BRICK, Brick, Task, Volume
from gluster_mgmt.services.rebalance import RebalanceSpecs, defrag_command, logged_final_report

A, B, C = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002", \
    "cccccccc-0000-0000-0000-000000000003"


def _volume(task: Task | None, decommissioned: set[str] = frozenset()) -> Volume:
    bricks = [Brick(host, f"h{i}", f"/b{i}", decommissioned=f"/b{i}" in decommissioned)
              for i, host in enumerate((A, B, C, B))]
    return Volume(name="v", uuid="11111111-2222-3333-4444-555555555555", type="distribute",
                  bricks=bricks, task=task)


def test_which_nodes_migrate():
    assert migrating_hosts(_volume(None)) == ()
    # remove-brick: only the hosts of the bricks being emptied
    assert migrating_hosts(_volume(Task("t", REMOVE_BRICK), {"/b1", "/b3"})) == (B,)
    # rebalance and fix-layout: every host of the volume, each once, in brick order
    assert migrating_hosts(_volume(Task("t", REBALANCE))) == (A, B, C)
    assert migrating_hosts(_volume(Task("t", FIX_LAYOUT))) == (A, B, C)


def test_rebalance_command_is_glusterds():
    assert defrag_command(Task("t", REMOVE_BRICK)) is DefragCommand.START_FORCE
    assert defrag_command(Task("t", REBALANCE)) is DefragCommand.START
    assert defrag_command(Task("t", REBALANCE, force=True)) is DefragCommand.START_FORCE
    assert defrag_command(Task("t", FIX_LAYOUT)) is DefragCommand.START_LAYOUT_FIX
    specs = RebalanceSpecs("/run/g", "/log/g", 24007, "/usr/sbin/glusterfs")
    spec = specs.spec("v", A, "h0", DefragCommand.START, 715098116)
    assert spec.argv == (
        "/usr/sbin/glusterfs", "-s", "h0", "--volfile-id", "rebalance/v",
        "--xlator-option", "*dht.use-readdirp=no", "--xlator-option", "*dht.lookup-unhashed=yes",
        "--xlator-option", "*dht.assert-no-child-down=yes",
        "--xlator-option", "*dht.readdir-optimize=on", "--process-name", "rebalance",
        "--xlator-option", "*dht.rebalance-cmd=1", "--xlator-option", f"*dht.node-uuid={A}",
        "--xlator-option", "*dht.commit-hash=715098116",
        "--socket-file", specs.socket("v", A), "--pid-file", f"/run/g/rebalance/v/{A}.pid",
        "-l", "/log/g/v-rebalance.log")
    assert not spec.restart  # it ends when its migration does
    assert len(specs.socket("v" * 255, A)) < 108  # fits sun_path whatever the volume name
    other = RebalanceSpecs("/run/g", "/log/g", 24017, "/usr/sbin/glusterfs").spec("v", A, "h0")
    assert other.argv[3:5] == ("--volfile-server-port", "24017")


def test_final_counters_from_the_process_log(tmp_path):
    """The process reports, then SIGTERMs itself: when the report is lost on the way, its
    last log line (written by the stock process, see tests/gluster) carries the same numbers."""
    log = tmp_path / "v-rebalance.log"
    earlier = ("[2026-11-24 20:04:09.113620 +0000] I [MSGID: 109028] [dht-rebalance.c:4663:"
               "gf_defrag_status_get] 0-DHT: Rebalance is completed. Time taken is 0 secs Files "
               "migrated: 0, size: 0, lookups: 0, failures: 0, skipped: 0 \n")
    log.write_text(earlier)
    offset = log.stat().st_size
    assert logged_final_report(str(log), offset) is None  # only what this run wrote counts
    with log.open("a") as f:
        f.write("[2026-11-24 20:05:00.000000 +0000] I [MSGID: 109028] [dht-rebalance.c:4663:"
                "gf_defrag_status_get] 0-DHT: Rebalance is stopped. Time taken is 7 secs Files "
                "migrated: 12, size: 120000, lookups: 30, failures: 1, skipped: 2 \n")
    assert logged_final_report(str(log), offset) == {
        "status": 2, "run_time": 7, "files": 12, "size": 120000, "lookups": 30, "failures": 1,
        "skipped": 2}
    assert logged_final_report(str(tmp_path / "missing.log"), 0) is None


def test_polled_counters_never_overwrite_a_final_report(store):
    """A poll racing the process's final report must not turn "completed" back into
    "in progress" (the node would then relaunch a finished migration)."""
    from gluster_mgmt.store.keys import ClusterKeys
    from gluster_mgmt.cluster.migration_progress import MigrationRecords, Progress
    from gluster_mgmt.model import MigrationStatus

    records = MigrationRecords(store, ClusterKeys.for_cluster("c1"))
    running = Progress(A, "t1", MigrationStatus.STARTED, files=3)
    records.write_running("v", running)
    assert records.get("v", A) == running
    records.write_running("v", attrs.evolve(running, files=5))
    assert records.get("v", A).files == 5
    done = Progress(A, "t1", MigrationStatus.COMPLETE, files=9)
    records.write("v", done)
    records.write_running("v", attrs.evolve(running, files=7))
    assert records.get("v", A) == done
    # a new task's progress replaces the old task's final record
    records.write_running("v", Progress(A, "t2", MigrationStatus.STARTED))
    assert records.get("v", A).task_id == "t2"
