"""Renderers against glusterd 10.3's own outputs (the reference captures)."""

from __future__ import annotations

import pytest

from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.render import render
from gluster_mgmt.cli.view import human_size
from tests.cli.conftest import (
    NODE_UUID,
    failed,
    ok,
    reference_text,
    request_for,
    status_entry,
)
from tests.helpers import REFERENCE


def human(line: str, response: Response):
    return render(request_for(line), response, "human")


def xml(line: str, response: Response):
    return render(request_for(line), response, "xml")


# -- volume info / list ---------------------------------------------------------------------

def test_volume_info_human_is_glusterd_s(reference_volumes):
    outcome = human("volume info", ok({"volumes": reference_volumes}))
    assert outcome.out == reference_text("volume-info.txt")
    assert (outcome.err, outcome.code) == ("", 0)


def test_volume_info_xml_is_glusterd_s(reference_volumes):
    outcome = xml("volume info", ok({"volumes": reference_volumes}))
    assert outcome.out == reference_text("volume-info.xml")
    assert outcome.code == 0


def test_volume_info_one_volume(reference_volumes):
    v1 = [v for v in reference_volumes if v["name"] == "v1"]
    outcome = human("volume info v1", ok({"volumes": v1}))
    text = reference_text("volume-info.txt")
    assert outcome.out == text[text.index(" \nVolume Name: v1"):]


def test_volume_info_no_volumes():
    outcome = human("volume info", ok({"volumes": []}))
    assert (outcome.out, outcome.err, outcome.code) == ("", "No volumes present\n", 0)


def test_volume_info_unknown_volume():
    outcome = human("volume info nope", failed("Volume nope does not exist", 2))
    assert (outcome.out, outcome.err, outcome.code) == ("", "Volume nope does not exist\n", 1)


def test_volume_info_xml_failure_keeps_schema():
    outcome = xml("volume info nope", failed("Volume nope does not exist", 2))
    assert "<opRet>-1</opRet>" in outcome.out
    assert "<opErrstr>Volume nope does not exist</opErrstr>" in outcome.out
    assert "<count>0</count>" in outcome.out


def _volume(name, kind, n, **counts):
    bricks = [{"hostname": f"h{i % 3}", "path": f"/b/{name}{i}", "host_uuid": f"u{i % 3}"}
              for i in range(n)]
    return {"name": name, "uuid": "id-" + name, "type": kind, "bricks": bricks,
            "replica_count": counts.get("replica", 1), "arbiter_count": counts.get("arbiter", 0),
            "disperse_count": counts.get("disperse", 0),
            "redundancy_count": counts.get("redundancy", 0), "options": {},
            "status": "Stopped", "transport": "tcp,rdma"}


@pytest.mark.parametrize("volume, type_line, bricks_line, type_code", [
    (_volume("dr", "replicate", 6, replica=3), "Distributed-Replicate", "2 x 3 = 6", 7),
    (_volume("da", "replicate", 6, replica=3, arbiter=1), "Distributed-Replicate",
     "2 x (2 + 1) = 6", 7),
    (_volume("dd", "disperse", 12, disperse=6, redundancy=2), "Distributed-Disperse",
     "2 x (4 + 2) = 12", 9),
    (_volume("d", "distribute", 1), "Distribute", "1", 0),
])
def test_volume_info_distributed_layouts(volume, type_line, bricks_line, type_code):
    outcome = human(f"volume info {volume['name']}", ok({"volumes": [volume]}))
    assert f"Type: {type_line}\n" in outcome.out
    assert f"Number of Bricks: {bricks_line}\n" in outcome.out
    assert "Status: Stopped\n" in outcome.out
    assert "Transport-type: tcp,rdma\n" in outcome.out
    assert "Options Reconfigured" not in outcome.out  # none reconfigured: no heading
    assert outcome.out.count("(arbiter)") == (2 if volume["arbiter_count"] else 0)
    out_xml = xml(f"volume info {volume['name']}", ok({"volumes": [volume]})).out
    assert f"<type>{type_code}</type>" in out_xml
    assert f"<typeStr>{type_line}</typeStr>" in out_xml
    assert "<transport>2</transport>" in out_xml
    assert "<status>2</status>" in out_xml
    assert "<optCount>0</optCount>" in out_xml and "<options/>" in out_xml


def test_volume_list_human_and_xml(reference_volumes):
    names = {"volumes": [v["name"] for v in reference_volumes]}
    assert human("volume list", ok(names)).out == reference_text("volume-list.txt")
    assert xml("volume list", ok(names)).out == reference_text("volume-list.xml")
    empty = human("volume list", ok({"volumes": []}))
    assert (empty.out, empty.err, empty.code) == ("", "No volumes present in cluster\n", 0)


# -- volume status --------------------------------------------------------------------------

def test_volume_status_all_human(reference_status):
    """The capture merged stdout (buffered, flushed at exit) and stderr: errors come first."""
    outcome = human("volume status", ok({"volumes": reference_status}))
    assert outcome.err + outcome.out == reference_text("volume-status.txt")
    assert outcome.err == "Volume arb is not started\nVolume disp3 is not started\n"
    assert outcome.code == 0


def test_volume_status_all_xml(reference_status):
    outcome = xml("volume status all", ok({"volumes": reference_status}))
    assert outcome.out == reference_text("volume-status.xml")


def test_volume_status_one_volume(reference_status):
    rep3 = [v for v in reference_status if v["name"] == "rep3"]
    outcome = human("volume status rep3", ok({"volumes": rep3}))
    text = reference_text("volume-status.txt")
    block = text[text.index("Status of volume: rep3"):text.index("Status of volume: v1")]
    assert outcome.out == block
    assert outcome.code == 0


def test_volume_status_not_started(reference_status):
    arb = [v for v in reference_status if v["name"] == "arb"]
    outcome = human("volume status arb", ok({"volumes": arb}))
    assert (outcome.out, outcome.err, outcome.code) == ("", "Volume arb is not started\n", 1)
    out_xml = xml("volume status arb", ok({"volumes": arb})).out
    assert "<opRet>-1</opRet>" in out_xml
    assert "<opErrstr>Volume arb is not started</opErrstr>" in out_xml
    assert "<cliOp>volStatus</cliOp>" in out_xml


def test_volume_status_detail_xml(reference_volumes):
    rep3 = [status_entry(v, detail=True) for v in reference_volumes if v["name"] == "rep3"]
    outcome = xml("volume status rep3 detail", ok({"volumes": rep3}))
    assert outcome.out == reference_text("volume-status-detail-rep3.xml")


def test_volume_status_detail_human(reference_volumes):
    rep3 = [status_entry(v, detail=True) for v in reference_volumes if v["name"] == "rep3"]
    out = human("volume status rep3 detail", ok({"volumes": rep3})).out
    lines = out.splitlines()
    assert lines[0] == "Status of volume: rep3"
    assert lines[1] == "-" * 78
    assert lines[2] == "Brick                : Brick vm:/bricks/r1 "  # %-20s
    assert "TCP Port             : 56271               " in lines
    assert "Disk Space Free      : 229.5GB             " in lines
    assert "Total Disk Space     : 252.0GB             " in lines
    assert "Inode Size           : N/A                 " in lines
    assert lines[-1] == " " and "Task Status" not in out


def test_volume_status_offline_brick_and_long_names():
    volume = {"name": "x", "id": "i", "status": "Started", "not_started": False, "self_heal": [],
              "bricks": [{"hostname": "h", "path": "/b", "host_uuid": "u", "port": None,
                          "rdma_port": 0, "online": False, "pid": None},
                         {"hostname": "a-very-long-host-name.example.com",
                          "path": "/srv/gluster/bricks/brick-number-one", "host_uuid": "u",
                          "port": 49152, "rdma_port": 0, "online": True, "pid": 42}]}
    lines = human("volume status x", ok({"volumes": [volume]})).out.splitlines()
    assert lines[3] == f"{'Brick h:/b':<44}N/A       N/A        N       N/A  "
    label = "Brick a-very-long-host-name.example.com:/srv/gluster/bricks/brick-number-one"
    assert lines[4] == label[:43]
    assert lines[5] == f"{label[43:]:<44}49152     0          Y       42   "
    out_xml = xml("volume status x", ok({"volumes": [volume]})).out
    assert "<status>0</status>\n          <port>N/A</port>" in out_xml
    assert "<pid>-1</pid>" in out_xml


def test_volume_status_no_volumes():
    outcome = human("volume status", ok({"volumes": []}))
    assert (outcome.out, outcome.err, outcome.code) == ("", "No volumes present\n", 0)


# -- peers ------------------------------------------------------------------------------------

LOCAL = {"uuid": NODE_UUID, "hostnames": ["localhost"], "state": "Peer in Cluster",
         "connected": True, "local": True}
PEER2 = {"uuid": "0e1c7d4e-0000-4000-8000-000000000002", "hostnames": ["node2", "10.0.0.2"],
         "state": "Peer in Cluster", "connected": True}
PEER3 = {"uuid": "0e1c7d4e-0000-4000-8000-000000000003", "hostnames": ["node3.example.com"],
         "state": "Detaching", "connected": False}


def test_peer_status_empty_is_glusterd_s():
    assert human("peer status", ok({"peers": []})).out == reference_text("peer-status.txt")
    assert xml("peer status", ok({"peers": []})).out == reference_text("peer-status.xml")


def test_pool_list_is_glusterd_s():
    assert human("pool list", ok({"peers": [LOCAL]})).out == reference_text("pool-list.txt")
    assert xml("pool list", ok({"peers": [LOCAL]})).out == reference_text("pool-list.xml")


def test_peer_status_with_peers():
    out = human("peer status", ok({"peers": [PEER2, PEER3]})).out
    assert out == (
        "Number of Peers: 2\n\nHostname: node2\nUuid: 0e1c7d4e-0000-4000-8000-000000000002\n"
        "State: Peer in Cluster (Connected)\nOther names:\n10.0.0.2\n\n"
        "Hostname: node3.example.com\nUuid: 0e1c7d4e-0000-4000-8000-000000000003\n"
        "State: Peer detach in progress (Disconnected)\n")
    out_xml = xml("peer status", ok({"peers": [PEER2]})).out
    assert ("<hostnames>\n        <hostname>node2</hostname>\n        <hostname>10.0.0.2"
            "</hostname>\n      </hostnames>\n      <connected>1</connected>\n      "
            "<state>3</state>\n      <stateStr>Peer in Cluster</stateStr>") in out_xml


def test_pool_list_puts_localhost_last_and_widens():
    out = human("pool list", ok({"peers": [LOCAL, PEER3, PEER2]})).out
    width = len("node3.example.com")
    assert out.splitlines() == [
        f"UUID\t\t\t\t\t{'Hostname':<{width}}\tState",
        f"{PEER3['uuid']}\t{'node3.example.com':<{width}}\tDisconnected ",
        f"{PEER2['uuid']}\t{'node2':<{width}}\tConnected ",
        f"{NODE_UUID}\t{'localhost':<{width}}\tConnected ",
    ]


@pytest.mark.parametrize("line, data, text", [
    ("peer probe node2", {}, "peer probe: success\n"),
    ("peer probe node2", {"message": "Probe on localhost not needed"},
     "peer probe: success. Probe on localhost not needed\n"),
    ("peer detach node2", {}, "peer detach: success\n"),
])
def test_peer_operations(line, data, text):
    assert human(line, ok(data)).out == text


def test_peer_operation_failures():
    outcome = human("peer detach node2", failed("node2 is not part of cluster"))
    assert (outcome.err, outcome.code) == ("peer detach: failed: node2 is not part of cluster\n", 1)
    out_xml = xml("peer probe node9", failed("Probe returned with Transport endpoint is not "
                                             "connected", 107))
    assert out_xml.code == 0  # gluster --xml exits 0 once the XML is written
    assert ("<opErrno>107</opErrno>\n  <opErrstr>Probe returned with Transport endpoint is not "
            "connected</opErrstr>\n</cliOutput>") in out_xml.out
    assert "<output>success</output>" in xml("peer probe node2", ok()).out


# -- volume operations: success and failure lines --------------------------------------------

def test_create_lines():
    line = "volume create v1 vm:/bricks/b1 vm:/bricks/b2"
    assert human(line, ok({"volume": {"uuid": "x"}})).out == (
        "volume create: v1: success: please start the volume to access data\n")
    outcome = human(line, failed("Volume v1 already exists", 17))
    assert outcome.err == reference_text("error-exists.txt")
    assert outcome.code == 1
    assert human(line, failed("")).err == "volume create: v1: failed\n"


def test_create_root_partition_failure_is_glusterd_s():
    outcome = human("volume create bad replica 3 vm:/bricks/x1 vm:/bricks/x2 vm:/bricks/x3",
                    failed("The brick vm:/bricks/x1 is being created in the root partition. It "
                           "is recommended that you don't use the system's root partition for "
                           "storage backend. Or use 'force' at the end of the command if you "
                           "want to override this behavior."))
    assert outcome.err == reference_text("error-replica-count.txt")


def test_create_xml():
    line = "volume create v1 vm:/bricks/b1"
    out = xml(line, ok({"volume": {"uuid": "5dd73a5f"}})).out
    assert ("<volCreate>\n    <volume>\n      <name>v1</name>\n      <id>5dd73a5f</id>\n"
            "    </volume>\n  </volCreate>") in out
    failure = xml(line, failed("Volume v1 already exists", 17))
    assert "<volCreate" not in failure.out and failure.code == 0


@pytest.mark.parametrize("verb, op", [("start", "volStart"), ("stop", "volStop"),
                                      ("delete", "volDelete")])
def test_start_stop_delete(verb, op):
    assert human(f"volume {verb} v1", ok({"volume": {"uuid": "u"}})).out == (
        f"volume {verb}: v1: success\n")
    outcome = human(f"volume {verb} v1", failed("Volume v1 does not exist"))
    assert (outcome.err, outcome.code) == (f"volume {verb}: v1: failed: Volume v1 does not exist\n", 1)
    assert f"<{op}>\n    <volume>\n      <name>v1</name>\n      <id>u</id>" in xml(
        f"volume {verb} v1", ok({"volume": {"uuid": "u"}})).out


def test_set_lines():
    assert human("volume set v1 performance.quick-read off", ok()).out == "volume set: success\n"
    outcome = human("volume set v1 performance.quick-read maybe",
                    failed("Error, Validation Failed"))
    assert outcome.err == reference_text("error-bad-option-value.txt")
    outcome = human("volume set v1 no.such.option 1", failed(
        "option : no.such.option does not exist\nDid you mean nfs.drc-size or ...mem-factor?"))
    assert outcome.err == reference_text("error-unknown-option.txt")
    out = xml("volume set v1 performance.quick-read off", ok()).out
    assert "<cliOp>volSet</cliOp>\n  <output>Set volume successful</output>" in out


def test_volume_get_all_is_glusterd_s():
    text = reference_text("volume-get-all.txt")
    options = []
    for row in text.splitlines()[2:]:
        key = row.split(" ", 1)[0]
        value = row[max(len(key), 40) + 1:].rstrip(" ")  # a value may be "" + " (DEFAULT)"
        options.append([key, value])
    outcome = human("volume get v1 all", ok({"options": options}))
    assert outcome.out == text


def test_volume_get_with_default_flags():
    data = {"options": [["performance.cache-size", "32MB", True], ["cluster.quorum-count", None,
                                                                   True],
                        ["performance.quick-read", "off", False]]}
    lines = human("volume get v1 all", ok(data)).out.splitlines()
    assert lines[2] == f"{'performance.cache-size':<40} {'32MB (DEFAULT)':<39}"
    assert lines[3] == f"{'cluster.quorum-count':<40} {'(null) (DEFAULT)':<39}"
    assert lines[4] == f"{'performance.quick-read':<40} {'off':<39}"
    out = xml("volume get v1 performance.cache-size", ok({"options": data["options"][:1]})).out
    assert ("<volGetopts>\n    <count>1</count>\n    <Opt>\n      <Option>performance.cache-size"
            "</Option>\n      <Value>32MB (DEFAULT)</Value>\n    </Opt>\n  </volGetopts>") in out
    failure = human("volume get v1 nope", failed("Did you mean ...?"))
    assert (failure.err, failure.code) == ("volume get option: failed: Did you mean ...?\n", 1)
    assert xml("volume get v1 nope", failed("x")).code == 1


def test_reset_add_remove_replace_lines():
    assert human("volume reset v1", ok()).out == "volume reset: success: reset volume successful\n"
    assert human("volume add-brick v1 h:/b3", ok()).out == "volume add-brick: success\n"
    assert human("volume add-brick v1 h:/b3", failed("Brick: h:/b3 not available.")).err == (
        "volume add-brick: failed: Brick: h:/b3 not available.\n")
    assert human("volume remove-brick v1 h:/b2 force", ok()).out == (
        "volume remove-brick commit force: success\n")
    assert human("volume remove-brick v1 h:/b2 commit", ok()).out.startswith(
        "volume remove-brick commit: success\nCheck the removed bricks to ensure all files are "
        "migrated.\n")
    assert human("volume remove-brick v1 h:/b2 start", failed("not supported")).err == (
        "volume remove-brick start: failed: not supported\n")
    assert human("volume replace-brick v1 h:/b1 h:/b9 commit force", ok()).out == (
        "volume replace-brick: success: replace-brick commit force operation successful\n")
    out = xml("volume remove-brick v1 h:/b2 force", ok()).out
    assert "<opErrstr>Remove Brick commit force successful</opErrstr>" in out
    assert "<volRemoveBrick/>" in out


def test_json_output_redacts_secrets(reference_volumes):
    import json

    outcome = render(request_for("volume info"), ok({"volumes": reference_volumes}), "json")
    payload = json.loads(outcome.out)
    assert payload["op_ret"] == 0
    assert payload["data"]["volumes"][0]["password"] == "<redacted>"
    assert reference_volumes[0]["password"] not in outcome.out


def test_txn_and_import_outputs():
    txn = {"id": "t1", "operation": "volume create v1", "state": "committed",
           "started": "2024-01-01T00:00:00", "steps": [{"name": "prepare bricks",
                                                        "targets": ["u1"], "state": "done"}]}
    assert "t1" in human("txn list", ok({"transactions": [txn]})).out
    shown = human("txn show t1", ok({"transaction": txn})).out
    assert "  1. prepare bricks [done] on u1" in shown
    assert "<txnList>" in xml("txn list", ok({"transactions": [txn]})).out
    assert human("import /x", ok({"volumes": ["v1"]})).out == "import: success\nVolumes: v1\n"


def test_human_size():
    assert [human_size(n) for n in (5, 2048, 246423302144, 3 << 50)] == [
        "5Bytes", "2.0KB", "229.5GB", "3.0PB"]


# -- remove-brick status / stop, and the tasks of volume status --------------------------------

RB_TASK_ID = "8f0a7a5e-5c4b-4d1e-9a0b-2b9f3c1d7e60"
RB_NODES = [
    {"hostname": "localhost", "node_uuid": NODE_UUID, "status": 3, "files": 3, "size": 12288,
     "lookups": 5, "failures": 0, "skipped": 1, "run_time": 75.4, "time_left": 0},
    {"hostname": "node2", "node_uuid": PEER2["uuid"], "status": 1, "files": 1, "size": 500,
     "lookups": 2, "failures": 0, "skipped": 0, "run_time": 30.0, "time_left": 0},
    {"hostname": "node9", "node_uuid": "0e1c7d4e-0000-4000-8000-000000000009", "status": 0,
     "files": 0, "size": 0, "lookups": 0, "failures": 0, "skipped": 0, "run_time": 0.0,
     "time_left": 0},
]
RB_STATUS = {"volume": "v1", "task_id": RB_TASK_ID, "nodes": RB_NODES}
# gf_cli_print_rebalance_status: "%40s %16s %13s %13s %13s %13s %20s %18s" for the two heading
# lines, "%40s %16lu %13s %13lu %13lu %13lu %20s %8d:%02d:%02d" for a node
RB_TABLE = (
    "                                    Node Rebalanced-files          size       scanned"
    "      failures       skipped               status  run time in h:m:s\n"
    "                               ---------      -----------   -----------   -----------"
    "   -----------   -----------         ------------     --------------\n"
    "                               localhost                3        12.0KB             5"
    "             1             0            completed        0:01:15\n"
    "                                   node2                1      500Bytes             2"
    "             0             0          in progress        0:00:30\n"
)
RB_FIRST_10_MINUTES = ("The estimated time for rebalance to complete will be unavailable for "
                       "the first 10 minutes.\n")
RB_STOP_NOTE = (
    "'remove-brick' process may be in the middle of a file migration.\n"
    "The process will be fully stopped once the migration of the file is complete.\n"
    "Please check remove-brick process for completion before doing any further brick related "
    "tasks on the volume.\n")


def test_remove_brick_status_human_table():
    """Not-started nodes are left out; skipped files show as failures; the estimate note."""
    outcome = human("volume remove-brick v1 h:/b2 status", ok(RB_STATUS))
    assert (outcome.out, outcome.err, outcome.code) == (RB_TABLE + RB_FIRST_10_MINUTES, "", 0)


def test_remove_brick_status_human_estimates():
    long_run = dict(RB_NODES[1], hostname="node3.example.com", files=7, size=1572864,
                    lookups=9, run_time=3725.9, time_left=4000)
    out = human("volume remove-brick v1 h:/b2 status",
                ok({"nodes": [RB_NODES[0], long_run]})).out
    assert out.splitlines()[3:] == [
        "                       node3.example.com                7         1.5MB             9"
        "             0             0          in progress        1:02:05",
        "Estimated time left for rebalance to complete :        1:06:40",
    ]
    past_10_minutes = dict(RB_NODES[1], run_time=700.0)
    out = human("volume remove-brick v1 h:/b2 status",
                ok({"nodes": [past_10_minutes]})).out
    assert out.endswith("  0:11:40\nRebalance estimated time unavailable. Please try again "
                        "later.\n")
    done = human("volume remove-brick v1 h:/b2 status", ok({"nodes": RB_NODES[:1]})).out
    assert done == RB_TABLE[:RB_TABLE.index("   node2")].rsplit("\n", 1)[0] + "\n"
    huge = dict(RB_NODES[1], time_left=5184000 * 3600)
    out = human("volume remove-brick v1 h:/b2 status", ok({"nodes": [huge]})).out
    assert out.endswith("Estimated time left for rebalance to complete : > 2 months. Please "
                        "try again later.\n")


def test_remove_brick_stop_human_prints_table_then_note():
    outcome = human("volume remove-brick v1 h:/b2 stop", ok(RB_STATUS))
    assert (outcome.out, outcome.code) == (RB_TABLE + RB_FIRST_10_MINUTES + RB_STOP_NOTE, 0)


def test_remove_brick_status_stop_failures():
    outcome = human("volume remove-brick v1 h:/b2 status",
                    failed("remove-brick not started for volume v1."))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume remove-brick status: failed: remove-brick not started for volume v1.\n", 1)
    outcome = human("volume remove-brick v1 h:/b2 stop", failed(""))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume remove-brick stop: failed\n", 1)


RB_STATUS_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volRemoveBrick>
    <task-id>{RB_TASK_ID}</task-id>
    <nodeCount>3</nodeCount>
    <node>
      <nodeName>localhost</nodeName>
      <id>{NODE_UUID}</id>
      <files>3</files>
      <size>12288</size>
      <lookups>5</lookups>
      <failures>1</failures>
      <skipped>0</skipped>
      <status>3</status>
      <statusStr>completed</statusStr>
      <runtime>75.40</runtime>
    </node>
    <node>
      <nodeName>node2</nodeName>
      <id>{PEER2["uuid"]}</id>
      <files>1</files>
      <size>500</size>
      <lookups>2</lookups>
      <failures>0</failures>
      <skipped>0</skipped>
      <status>1</status>
      <statusStr>in progress</statusStr>
      <runtime>30.00</runtime>
    </node>
    <aggregate>
      <files>4</files>
      <size>12788</size>
      <lookups>7</lookups>
      <failures>1</failures>
      <skipped>0</skipped>
      <status>1</status>
      <statusStr>in progress</statusStr>
      <runtime>75.40</runtime>
    </aggregate>
  </volRemoveBrick>
</cliOutput>
"""


@pytest.mark.parametrize("action", ["status", "stop"])
def test_remove_brick_status_xml(action):
    """cli_xml_output_vol_remove_brick(status_op=true): the same document for stop/status."""
    import xml.etree.ElementTree as ET

    outcome = xml(f"volume remove-brick v1 h:/b2 {action}", ok(RB_STATUS))
    assert (outcome.out, outcome.code) == (RB_STATUS_XML, 0)
    root = ET.fromstring(outcome.out.split("\n", 1)[1])
    element = root.find("volRemoveBrick")
    assert [c.tag for c in element] == ["task-id", "nodeCount", "node", "node", "aggregate"]
    assert [c.tag for c in element.find("node")] == [
        "nodeName", "id", "files", "size", "lookups", "failures", "skipped", "status",
        "statusStr", "runtime"]
    assert [c.tag for c in element.find("aggregate")] == [
        "files", "size", "lookups", "failures", "skipped", "status", "statusStr", "runtime"]


def test_remove_brick_status_xml_aggregate_precedence_and_failure():
    failed_node = dict(RB_NODES[0], status=4)
    stopped_node = dict(RB_NODES[0], status=2, run_time=0.125)
    out = xml("volume remove-brick v1 h:/b2 status",
              ok({"nodes": [RB_NODES[0], stopped_node, failed_node]})).out
    aggregate = out[out.index("<aggregate>"):]
    assert "<status>4</status>\n      <statusStr>failed</statusStr>" in aggregate
    assert "<runtime>0.12</runtime>" in out  # "%.2f"
    nothing = xml("volume remove-brick v1 h:/b2 status", ok({"nodes": RB_NODES[2:]})).out
    assert "<nodeCount>1</nodeCount>" in nothing and "<node>" not in nothing
    assert "<status>0</status>\n      <statusStr>not started</statusStr>" in nothing
    failure = xml("volume remove-brick v1 h:/b2 status",
                  failed("remove-brick not started for volume v1."))
    assert failure.code == 0
    assert ("<opRet>-1</opRet>\n  <opErrno>22</opErrno>\n  <opErrstr>remove-brick not started "
            "for volume v1.</opErrstr>\n  <volRemoveBrick/>\n</cliOutput>\n") in failure.out
    assert ("<opErrstr>volume remove-brick stop: failed</opErrstr>\n  <volRemoveBrick/>"
            in xml("volume remove-brick v1 h:/b2 stop", failed("")).out)


def _volume_with_tasks(tasks):
    return {"name": "x", "id": "i", "status": "Started", "not_started": False, "self_heal": [],
            "bricks": [{"hostname": "h", "path": "/b1", "host_uuid": "u", "port": 49152,
                        "rdma_port": 0, "online": True, "pid": 42}], "tasks": tasks}


REMOVE_TASK = {"type": "Remove brick", "id": RB_TASK_ID, "bricks": ["h:/b1", "h:/b2"],
               "status": "in progress", "status_code": 1}


def test_volume_status_tasks_human_remove_brick():
    """cli_print_volume_status_tasks: "%-20s : %-20s" lines, the bricks under "%-20s"."""
    tasks_block = (
        "Task Status of Volume x\n" + "-" * 78 + "\n"
        "Task                 : Remove brick        \n"
        f"ID                   : {RB_TASK_ID}\n"
        "Removed bricks:     \n"
        "h:/b1               \n"
        "h:/b2               \n"
        "Status               : in progress         \n"
        " \n")
    out = human("volume status x", ok({"volumes": [_volume_with_tasks([REMOVE_TASK])]})).out
    assert out.endswith(" \n" + tasks_block)
    out = human("volume status x tasks", ok({"volumes": [_volume_with_tasks([REMOVE_TASK])]}))
    assert out.out == tasks_block
    reset = {"type": "Rebalance", "id": RB_TASK_ID, "status": "reset due to replace-brick",
             "status_code": 9}
    out = human("volume status x tasks", ok({"volumes": [_volume_with_tasks([reset])]})).out
    assert ("Task                 : Rebalance           \nID                   : None"
            "                \nStatus               : reset due to replace-brick\n") in out


def test_volume_status_tasks_xml_remove_brick():
    """cli_xml_output_vol_status_tasks: type, id, status, statusStr, then <params>."""
    import xml.etree.ElementTree as ET

    task_xml = (
        "        <tasks>\n"
        "          <task>\n"
        "            <type>Remove brick</type>\n"
        f"            <id>{RB_TASK_ID}</id>\n"
        "            <status>1</status>\n"
        "            <statusStr>in progress</statusStr>\n"
        "            <params>\n"
        "              <brick>h:/b1</brick>\n"
        "              <brick>h:/b2</brick>\n"
        "            </params>\n"
        "          </task>\n"
        "        </tasks>\n")
    volumes = {"volumes": [_volume_with_tasks([REMOVE_TASK])]}
    out = xml("volume status x", ok(volumes)).out
    assert task_xml + "      </volume>\n" in out
    tasks_only = xml("volume status x tasks", ok(volumes)).out
    assert "<volName>x</volName>\n" + task_xml + "      </volume>" in tasks_only
    task = ET.fromstring(out.split("\n", 1)[1]).find("volStatus/volumes/volume/tasks/task")
    assert [c.tag for c in task] == ["type", "id", "status", "statusStr", "params"]
    rebalance = dict(REMOVE_TASK, type="Rebalance", status_code=3, status="completed")
    assert "<params" not in xml("volume status x", ok(
        {"volumes": [_volume_with_tasks([rebalance])]})).out


# -- volume rebalance ----------------------------------------------------------------------------

REBAL_ID = "5b7b4f4a-7d0c-4c52-9b59-1e1f3a6a0c11"
REBAL_NODES = [
    {"hostname": "localhost", "node_uuid": NODE_UUID, "status": 3, "files": 3, "size": 12288,
     "lookups": 5, "failures": 0, "skipped": 1, "run_time": 75.4, "time_left": 0},
    {"hostname": "node2", "node_uuid": PEER2["uuid"], "status": 1, "files": 1, "size": 500,
     "lookups": 2, "failures": 2, "skipped": 0, "run_time": 30.0, "time_left": 0},
    {"hostname": "node9", "node_uuid": "0e1c7d4e-0000-4000-8000-000000000009", "status": 0,
     "files": 0, "size": 0, "lookups": 0, "failures": 0, "skipped": 0, "run_time": 0.0,
     "time_left": 0},
]
REBAL_STATUS = {"volume": "v1", "task_id": REBAL_ID, "nodes": REBAL_NODES}
# the remove-brick table's formats, but "skipped" is its own column for a rebalance
REBAL_TABLE = (
    "                                    Node Rebalanced-files          size       scanned"
    "      failures       skipped               status  run time in h:m:s\n"
    "                               ---------      -----------   -----------   -----------"
    "   -----------   -----------         ------------     --------------\n"
    "                               localhost                3        12.0KB             5"
    "             0             1            completed        0:01:15\n"
    "                                   node2                1      500Bytes             2"
    "             2             0          in progress        0:00:30\n"
)
# fix-layout: "%35s %41s %27s" for the heading lines, "%35s %50s %8d:%02d:%02d" for a node
FIX_LAYOUT_NODES = [
    dict(REBAL_NODES[0], status=7, files=0, size=0, run_time=12.9),
    dict(REBAL_NODES[1], status=5, files=0, size=0, run_time=3725.0, time_left=0),
    REBAL_NODES[2],
]
FIX_LAYOUT_TABLE = (
    "                               Node                                    status"
    "           run time in h:m:s\n"
    "                          ---------                               -----------"
    "                ------------\n"
    "                          localhost                               fix-layout completed"
    "        0:00:12\n"
    "                              node2                             fix-layout in progress"
    "        1:02:05\n"
)
REBAL_STOP_TEXT = (
    "rebalance process may be in the middle of a file migration.\n"
    "The process will be fully stopped once the migration of the file is complete.\n"
    "Please check rebalance process for completion before doing any further brick related "
    "tasks on the volume.\n")


@pytest.mark.parametrize("line", ["volume rebalance v1 start", "volume rebalance v1 start force",
                                  "volume rebalance v1 fix-layout start"])
def test_rebalance_start_human(line):
    """The three starts share gf_cli_defrag_volume_cbk's wording, task id on its own line."""
    outcome = human(line, ok({"volume": "v1", "task_id": REBAL_ID}))
    assert (outcome.out, outcome.err, outcome.code) == (
        "volume rebalance: v1: success: Rebalance on v1 has been started successfully. Use "
        "rebalance status command to check status of the rebalance process.\n"
        f"ID: {REBAL_ID}\n", "", 0)


def test_rebalance_start_failures_human():
    outcome = human("volume rebalance v1 start", failed(
        "Volume v1 is not a distribute volume or contains only 1 brick.\n"
        "Not performing rebalance"))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume rebalance: v1: failed: Volume v1 is not a distribute volume or contains "
            "only 1 brick.\nNot performing rebalance\n", 1)
    outcome = human("volume rebalance v1 fix-layout start", failed(""))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume rebalance: v1: failed: Starting rebalance on volume v1 has been "
            "unsuccessful.\n", 1)


def test_rebalance_status_human():
    """Not-started nodes are left out, skipped is not folded into failures, then the
    estimate note and the success line."""
    outcome = human("volume rebalance v1 status", ok(REBAL_STATUS))
    assert (outcome.out, outcome.err, outcome.code) == (
        REBAL_TABLE + RB_FIRST_10_MINUTES + "volume rebalance: v1: success\n", "", 0)
    done = human("volume rebalance v1 status", ok({"nodes": REBAL_NODES[:1]})).out
    assert done == (REBAL_TABLE[:REBAL_TABLE.index("   node2")].rsplit("\n", 1)[0]
                    + "\nvolume rebalance: v1: success\n")
    estimate = dict(REBAL_NODES[1], time_left=4000)
    out = human("volume rebalance v1 status", ok({"nodes": [estimate]})).out
    assert out.endswith("  0:00:30\nEstimated time left for rebalance to complete :        "
                        "1:06:40\nvolume rebalance: v1: success\n")
    warned = human("volume rebalance v1 status", Response(0, 0, "unlock failed", REBAL_STATUS))
    assert warned.out.endswith("minutes.\nvolume rebalance: v1: success: unlock failed\n")


def test_rebalance_fix_layout_status_human():
    """The first node's status decides the layout: a fix-layout code (5-8) drops the
    file columns; a not-started first node keeps the full table."""
    outcome = human("volume rebalance v1 status", ok({"nodes": FIX_LAYOUT_NODES}))
    assert outcome.out == FIX_LAYOUT_TABLE + "volume rebalance: v1: success\n"
    mixed = [REBAL_NODES[2], FIX_LAYOUT_NODES[0]]
    out = human("volume rebalance v1 status", ok({"nodes": mixed})).out
    assert out.startswith(REBAL_TABLE[:REBAL_TABLE.index("   localhost")])
    assert out.endswith(
        "                               localhost                0        0Bytes             5"
        "             0             1 fix-layout completed        0:00:12\n"
        "volume rebalance: v1: success\n")


def test_rebalance_stop_human():
    """Table, then the note as the success message: it ends with glusterd's op_errstr after
    a newline, hence the empty last line."""
    stopped = [dict(REBAL_NODES[0]), dict(REBAL_NODES[1], status=2)]
    outcome = human("volume rebalance v1 stop", ok({"nodes": stopped}))
    table = REBAL_TABLE.replace("          in progress", "              stopped")
    assert (outcome.out, outcome.err, outcome.code) == (
        table + "volume rebalance: v1: success: " + REBAL_STOP_TEXT + "\n", "", 0)


def test_rebalance_status_stop_failures_human():
    outcome = human("volume rebalance v1 status", failed("Rebalance not started for volume v1."))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume rebalance: v1: failed: Rebalance not started for volume v1.\n", 1)
    outcome = human("volume rebalance v1 status", failed(""))
    assert outcome.err == ("volume rebalance: v1: failed: Failed to get the status of "
                           "rebalance process\n")
    outcome = human("volume rebalance v1 stop", failed(""))
    assert (outcome.out, outcome.err, outcome.code) == (
        "", "volume rebalance: v1: failed: rebalance volume v1 stop failed\n", 1)


REBAL_STATUS_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volRebalance>
    <task-id>{REBAL_ID}</task-id>
    <op>3</op>
    <nodeCount>3</nodeCount>
    <node>
      <nodeName>localhost</nodeName>
      <id>{NODE_UUID}</id>
      <files>3</files>
      <size>12288</size>
      <lookups>5</lookups>
      <failures>0</failures>
      <skipped>1</skipped>
      <status>3</status>
      <statusStr>completed</statusStr>
      <runtime>75.40</runtime>
    </node>
    <node>
      <nodeName>node2</nodeName>
      <id>{PEER2["uuid"]}</id>
      <files>1</files>
      <size>500</size>
      <lookups>2</lookups>
      <failures>2</failures>
      <skipped>0</skipped>
      <status>1</status>
      <statusStr>in progress</statusStr>
      <runtime>30.00</runtime>
    </node>
    <aggregate>
      <files>4</files>
      <size>12788</size>
      <lookups>7</lookups>
      <failures>2</failures>
      <skipped>1</skipped>
      <status>1</status>
      <statusStr>in progress</statusStr>
      <runtime>75.40</runtime>
    </aggregate>
  </volRebalance>
</cliOutput>
"""


@pytest.mark.parametrize("action, op", [("status", 3), ("stop", 2)])
def test_rebalance_status_stop_xml(action, op):
    """cli_xml_output_vol_rebalance: task-id, op (gf_cli_defrag_type), then the node table;
    the stop note is human-only."""
    import xml.etree.ElementTree as ET

    outcome = xml(f"volume rebalance v1 {action}", ok(REBAL_STATUS))
    assert (outcome.out, outcome.err, outcome.code) == (
        REBAL_STATUS_XML.replace("<op>3</op>", f"<op>{op}</op>"), "", 0)
    element = ET.fromstring(outcome.out.split("\n", 1)[1]).find("volRebalance")
    assert [c.tag for c in element] == ["task-id", "op", "nodeCount", "node", "node",
                                        "aggregate"]
    assert [c.tag for c in element.find("node")] == [
        "nodeName", "id", "files", "size", "lookups", "failures", "skipped", "status",
        "statusStr", "runtime"]
    assert [c.tag for c in element.find("aggregate")] == [
        "files", "size", "lookups", "failures", "skipped", "status", "statusStr", "runtime"]


@pytest.mark.parametrize("line, op", [("volume rebalance v1 start", 1),
                                      ("volume rebalance v1 start force", 5),
                                      ("volume rebalance v1 fix-layout start", 4)])
def test_rebalance_start_xml(line, op):
    outcome = xml(line, ok({"volume": "v1", "task_id": REBAL_ID}))
    assert (outcome.out, outcome.code) == (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<cliOutput>\n  <opRet>0</opRet>\n  <opErrno>0</opErrno>\n  <opErrstr/>\n"
        f"  <volRebalance>\n    <task-id>{REBAL_ID}</task-id>\n    <op>{op}</op>\n"
        "  </volRebalance>\n</cliOutput>\n", 0)


def test_rebalance_start_failure_xml_is_volrebalance_and_exits_0():
    outcome = xml("volume rebalance v1 start", failed("Volume v1 is not a distribute volume or "
                                                       "contains only 1 brick.\nNot performing "
                                                       "rebalance"))
    assert (outcome.out, outcome.code) == (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<cliOutput>\n  <opRet>-1</opRet>\n  <opErrno>22</opErrno>\n"
        "  <opErrstr>Volume v1 is not a distribute volume or contains only 1 brick.\n"
        "Not performing rebalance</opErrstr>\n"
        "  <volRebalance>\n    <op>1</op>\n  </volRebalance>\n</cliOutput>\n", 0)


def test_rebalance_status_stop_failure_xml_is_cli_output_str_and_exits_1():
    """A failed stop/status goes through cli_xml_output_str: cliOp, output = the message,
    and the callback returns op_ret."""
    outcome = xml("volume rebalance v1 status", failed("Rebalance not started for volume v1."))
    assert (outcome.out, outcome.code) == (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<cliOutput>\n  <opRet>-1</opRet>\n  <opErrno>22</opErrno>\n"
        "  <opErrstr>Rebalance not started for volume v1.</opErrstr>\n"
        "  <cliOp>volRebalance</cliOp>\n"
        "  <output>Rebalance not started for volume v1.</output>\n</cliOutput>\n", 1)
    outcome = xml("volume rebalance v1 stop", failed(""))
    assert ("  <opErrstr/>\n  <cliOp>volRebalance</cliOp>\n"
            "  <output>rebalance volume v1 stop failed</output>\n") in outcome.out
    outcome = xml("volume rebalance v1 status", failed(""))
    assert "<output>Failed to get the status of rebalance process</output>" in outcome.out


def test_rebalance_fix_layout_status_xml_aggregate():
    """Fix-layout codes rank like their plain counterparts (glusterd's table has no entry
    for them): in progress wins over completed."""
    out = xml("volume rebalance v1 status", ok({"task_id": REBAL_ID,
                                               "nodes": FIX_LAYOUT_NODES})).out
    aggregate = out[out.index("<aggregate>"):]
    assert "<status>5</status>\n      <statusStr>fix-layout in progress</statusStr>" in aggregate
    assert "<runtime>3725.00</runtime>" in aggregate
    reversed_nodes = list(reversed(FIX_LAYOUT_NODES[:2]))
    out = xml("volume rebalance v1 status", ok({"nodes": reversed_nodes})).out
    assert "<task-id>" not in out
    assert "<status>5</status>\n      <statusStr>fix-layout in progress</statusStr>" in out[
        out.index("<aggregate>"):]


@pytest.mark.parametrize("form, name", [("human", "volume-info.txt"), ("xml", "volume-info.xml")])
def test_volume_info_with_ssl_options_is_glusterd_s(form, name):
    """The SSL options show in glusterd's (reverse) order (tests/data/glusterd-10.3/ssl)."""
    from gluster_mgmt.glusterd_import import import_state

    volumes = [v.to_dict() for v in import_state(REFERENCE / "ssl").volumes]
    outcome = render(request_for("volume info"), ok({"volumes": volumes}), form)
    assert outcome.out == (REFERENCE / "ssl" / name).read_text()


# -- volume status dumps ----------------------------------------------------------------------

def _fd_status(openfds: int) -> Response:
    table = [["conncount", "1"], ["conn0.fdtable.refcount", "0"], ["conn0.fdtable.maxfds", "128"],
             ["conn0.fdtable.firstfree", "0"], ["conn0.fdtable.openfds", str(openfds)]]
    return ok({"volumes": [{"name": "v1", "dump": "fd", "node_count": 1, "bricks": [
        {"hostname": "h", "path": "/b", "host_uuid": NODE_UUID, "online": True, "port": 49152,
         "rdma_port": 0, "pid": 7, "dump": table}]}]})


def test_status_fd_without_open_fds_writes_it_to_stderr():
    """cli_print_volume_status_fd's cli_err: "No open fds" on stderr, the rest on stdout."""
    outcome = human("volume status v1 fd", _fd_status(0))
    assert outcome.out == ("FD tables for volume v1\n" + "-" * 46 + "\nBrick : h:/b\n"
                           "Connection 1:\nRefCount = 0  MaxFDs = 128  FirstFree = 0\n \n"
                           + "-" * 46 + "\n")
    assert (outcome.err, outcome.code) == ("No open fds\n", 0)


def test_status_shd_dump_names_the_daemon_by_node():
    """`status VOL shd inode`: the node's daemon as "Self-heal Daemon : UUID" (notbrick);
    --xml stops after its path, as the stock CLI's (glusterd gives it no peerid)."""
    shd = {"name": "Self-heal Daemon", "hostname": NODE_UUID, "host_uuid": NODE_UUID,
           "online": True, "pid": 9, "dump": [["conncount", "1"],
                                              ["conn0.itable.lru_limit", "1"],
                                              ["conn0.itable.active_size", "1"],
                                              ["conn0.itable.lru_size", "1"],
                                              ["conn0.itable.purge_size", "0"]]}
    response = ok({"volumes": [{"name": "v1", "dump": "inode", "node_count": 1, "bricks": [],
                                "self_heal": [shd], "daemon": "shd", "op_errstr": ""}]})
    outcome = human("volume status v1 shd inode", response)
    assert outcome.out == ("Inode tables for volume v1\n" + "-" * 46 + "\n"
                           f"Self-heal Daemon : {NODE_UUID}\nLRU limit     : 1\n"
                           "Active Inodes : 1\nLRU Inodes    : 1\nPurge Inodes  : 0\n \n"
                           + "-" * 46 + "\n")
    document = xml("volume status v1 shd inode", response).out
    assert document.endswith(f"<nodeCount>1</nodeCount>\n        <node>\n"
                             f"          <hostname>Self-heal Daemon</hostname>\n"
                             f"          <path>{NODE_UUID}</path>\n        </node>\n"
                             "      </volume>\n    </volumes>\n  </volStatus>\n</cliOutput>\n")
