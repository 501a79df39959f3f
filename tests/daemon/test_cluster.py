"""The CLI and the daemons end to end: real gluster-mgmtd processes on 127.0.0.2-4 sharing one
real store (every backend), driven by `gluster-mgmt` with gluster's syntax."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import REFERENCE, REPO, child_env, wait_for

REFERENCE_CLI = REFERENCE / "cli"


def test_probe_forms_one_cluster(cluster3):
    d1, d2, d3 = cluster3
    for daemon in cluster3:
        out = daemon.cli("pool", "list", check=True).stdout
        assert out.count("Connected") == 3, out
    status = d2.cli("peer", "status", check=True).stdout
    assert status.startswith("Number of Peers: 2")
    assert d1.uuid in status and d3.uuid in status and d2.uuid not in status


def test_probe_messages_as_glusterd(cluster3):
    d1, d2, _ = cluster3
    out = d1.cli("peer", "probe", "127.0.0.2", check=True).stdout
    assert out.strip() == "peer probe: success. Probe on localhost not needed"
    out = d1.cli("peer", "probe", "127.0.0.3", check=True).stdout
    assert out.strip() == "peer probe: success. Host 127.0.0.3 port 24007 already in peer list"
    result = d1.cli("peer", "probe", "127.0.0.9")
    assert result.returncode == 1
    assert "peer probe: failed: Probe returned with Transport endpoint is not connected" in (result.stdout + result.stderr) + result.stderr


def test_probing_a_node_of_another_cluster_is_refused(make_daemons):
    d1, d2, d3 = make_daemons(3)
    d2.cli("peer", "probe", "127.0.0.4", check=True)  # d2 and d3 form their own cluster
    result = d1.cli("peer", "probe", "127.0.0.3")
    assert result.returncode == 1
    assert "127.0.0.3 is either already part of another cluster or having volumes configured" in (result.stdout + result.stderr)


def test_killed_peer_shows_disconnected_then_connected(cluster3, lease_ttl):
    d1, d2, _ = cluster3
    d2.kill()
    assert wait_for(lambda: "Disconnected" in d1.cli("peer", "status").stdout, lease_ttl * 3 + 25)
    d2.start()
    assert wait_for(lambda: d1.cli("peer", "status").stdout.count("(Connected)") == 2, 30)


def test_detach(cluster3, tmp_path):
    d1, d2, d3 = cluster3
    brick = tmp_path / "b-detach"
    d1.cli("volume", "create", "vd", f"127.0.0.4:{brick}", "force", check=True)
    result = d1.cli("--mode=script", "peer", "detach", "127.0.0.4")
    assert result.returncode == 1
    assert "peer detach: failed: Brick(s) with the peer 127.0.0.4 exist in cluster" in (result.stdout + result.stderr)
    out = d1.cli("--mode=script", "peer", "detach", "127.0.0.3", check=True).stdout
    assert out.strip() == "peer detach: success"
    assert "Number of Peers: 1" in d1.cli("peer", "status", check=True).stdout
    assert "Number of Peers: 0" in d2.cli("peer", "status", check=True).stdout
    result = d1.cli("--mode=script", "peer", "detach", "127.0.0.9")
    assert "peer detach: failed: 127.0.0.9 is not part of cluster" in (result.stdout + result.stderr)


def test_volume_lifecycle_through_the_cli(cluster3, tmp_path):
    d1, d2, d3 = cluster3
    bricks = [f"127.0.0.{i + 1}:{tmp_path}/r{i}" for i in (1, 2, 3)]
    out = d2.cli("volume", "create", "rv", "replica", "3", *bricks, "force", check=True).stdout
    assert out.strip() == "volume create: rv: success: please start the volume to access data"
    for i in (1, 2, 3):
        assert os.getxattr(f"{tmp_path}/r{i}", "trusted.glusterfs.volume-id")
    info = d3.cli("volume", "info", "rv", check=True).stdout
    assert "Type: Replicate" in info and "Number of Bricks: 1 x 3 = 3" in info
    assert "Status: Created" in info
    assert d1.cli("volume", "list", check=True).stdout.split() == ["rv"]
    result = d1.cli("volume", "create", "rv", f"127.0.0.2:{tmp_path}/x", "force")
    assert result.returncode == 1
    assert (result.stdout + result.stderr).strip() == "volume create: rv: failed: Volume rv already exists"
    result = d1.cli("volume", "create", "rv2", f"127.0.0.2:{tmp_path}/r1", "force")
    assert f"{tmp_path}/r1 is already part of a volume" in (result.stdout + result.stderr)
    assert d1.cli("volume", "set", "rv", "performance.quick-read", "off", check=True).stdout.strip() == "volume set: success"
    assert "performance.quick-read: off" in d2.cli("volume", "info", "rv", check=True).stdout
    got = d3.cli("volume", "get", "rv", "performance.quick-read", check=True).stdout
    assert re.search(r"performance\.quick-read\s+off", got)
    result = d1.cli("volume", "set", "rv", "no.such.option", "x")
    assert result.returncode == 1 and "volume set: failed: option : no.such.option does not exist" in (result.stdout + result.stderr)
    result = d1.cli("volume", "set", "rv", "performance.quick-read", "maybe")
    assert result.returncode == 1 and "volume set: failed: Error, Validation Failed" in (result.stdout + result.stderr)
    d1.cli("volume", "start", "rv", check=True)
    result = d1.cli("--mode=script", "volume", "delete", "rv")
    assert "Volume rv has been started.Volume needs to be stopped before deletion." in (result.stdout + result.stderr)
    d1.cli("--mode=script", "volume", "stop", "rv", check=True)
    d1.cli("--mode=script", "volume", "delete", "rv", check=True)
    listed = d1.cli("volume", "list", check=True)
    assert (listed.stdout + listed.stderr).strip() == "No volumes present in cluster"


def test_concurrent_conflicting_creates_one_wins(cluster3, tmp_path):
    procs = []
    for index, daemon in enumerate(cluster3):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gluster_mgmt.cli.main", "--socket", str(daemon.socket),
             "volume", "create", "race", f"127.0.0.{index + 2}:{tmp_path}/race{index}", "force"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env(), cwd=REPO))
    outcomes = [p.communicate(timeout=120)[0] for p in procs]
    assert sum("success" in o for o in outcomes) == 1, outcomes
    info = cluster3[0].cli("volume", "info", "race", "--xml", check=True).stdout
    assert ET.fromstring(info).find(".//brickCount").text == "1"


def test_volume_info_xml_is_glusterd_schema(cluster3, tmp_path):
    d1 = cluster3[0]
    d1.cli("volume", "create", "dv", f"127.0.0.2:{tmp_path}/d1", f"127.0.0.3:{tmp_path}/d2", "force", check=True)
    root = ET.fromstring(d1.cli("--xml", "volume", "info", "dv", check=True).stdout)
    assert root.findtext("opRet") == "0"
    volume = root.find("volInfo/volumes/volume")
    assert volume.findtext("name") == "dv" and volume.findtext("typeStr") == "Distribute"
    assert [b.findtext("name") for b in volume.findall("bricks/brick")] == [
        f"127.0.0.2:{tmp_path}/d1", f"127.0.0.3:{tmp_path}/d2"]


def test_reference_error_messages(cluster3, tmp_path):
    """The error cases of tests/data/glusterd-10.3/cli/error-*.txt, through the daemon."""
    d1 = cluster3[0]
    reference = REFERENCE_CLI
    # error-replica-count.txt: glusterd's root-partition refusal (tmp_path is on "/" here)
    result = d1.cli("volume", "create", "bad", f"127.0.0.2:{tmp_path}/x1")
    expected = (reference / "error-replica-count.txt").read_text().strip().replace(
        "vm:/bricks/x1", f"127.0.0.2:{tmp_path}/x1")
    assert result.returncode == 1 and (result.stdout + result.stderr).strip() == expected
    assert d1.cli("volume", "info", "bad").returncode == 1  # nothing half-created
    # error-exists.txt
    d1.cli("volume", "create", "v1", f"127.0.0.2:{tmp_path}/v1b", "force", check=True)
    result = d1.cli("volume", "create", "v1", f"127.0.0.2:{tmp_path}/other", "force")
    assert (result.stdout + result.stderr).strip() == (reference / "error-exists.txt").read_text().strip()
    # error-unknown-option.txt and error-bad-option-value.txt
    result = d1.cli("volume", "set", "v1", "no.such.option", "1")
    assert (result.stdout + result.stderr).strip() == (reference / "error-unknown-option.txt").read_text().strip()
    result = d1.cli("volume", "set", "v1", "performance.quick-read", "maybe")
    assert (result.stdout + result.stderr).strip() == (reference / "error-bad-option-value.txt").read_text().strip()
    # error-bad-name.txt (the CLI refuses it before asking the daemon, as gluster's does)
    result = d1.cli("volume", "create", "bad name", f"127.0.0.2:{tmp_path}/n", "force")
    assert (result.stdout + result.stderr).strip() == (reference / "error-bad-name.txt").read_text().strip()
    # a replica count the bricks do not fit
    result = d1.cli("volume", "create", "r2", "replica", "3", f"127.0.0.2:{tmp_path}/a",
                    f"127.0.0.3:{tmp_path}/b", "force")
    assert result.returncode == 1 and "failed" in result.stdout + result.stderr
    assert d1.cli("volume", "list", check=True).stdout.split() == ["v1"]


def test_coordinator_killed_mid_transaction_leaves_nothing_behind(cluster3, tmp_path, lease_ttl):
    """The coordinator dies (SIGKILL) after one peer prepared its brick and while another has
    not answered: once its lease expires the transaction is rolled back by a survivor, the
    lock is free and nothing is half-created."""
    d1, d2, d3 = cluster3
    b2, b3 = tmp_path / "k2", tmp_path / "k3"
    d3.signal_only(signal.SIGSTOP)  # d3 will not answer its step for now
    create = subprocess.Popen(
        [sys.executable, "-m", "gluster_mgmt.cli.main", "--socket", str(d1.socket), "volume",
         "create", "kv", f"{d2.address}:{b2}", f"{d3.address}:{b3}", "force"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env(), cwd=REPO)
    try:
        assert wait_for(lambda: _marked(b2), 20), d1.log_tail()  # d2 did its part
        d1.kill()  # the coordinator dies mid-transaction
    finally:
        d3.signal_only(signal.SIGCONT)
        create.communicate(timeout=60)
    recovered = lambda: (not _marked(b2) and d2.cli("volume", "info", "kv").returncode == 1  # noqa: E731
                         and "rolled-back" in d2.cli("txn", "list").stdout)
    assert wait_for(recovered, lease_ttl * 3 + 40), d2.cli("txn", "list").stdout + d2.log_tail()
    assert not _marked(b3)
    # no stuck lock, no brick left marked: the same create now succeeds from another node
    out = d2.cli("volume", "create", "kv", f"{d2.address}:{b2}", f"{d3.address}:{b3}", "force",
                 check=True).stdout
    assert "success" in out


def _marked(path) -> bool:
    try:
        return bool(os.getxattr(path, "trusted.glusterfs.volume-id"))
    except OSError:
        return False


def test_brick_operations(cluster3, tmp_path):
    d1, d2, d3 = cluster3
    a, b, c = d1.address, d2.address, d3.address
    d1.cli("volume", "create", "bv", f"{a}:{tmp_path}/b1", "force", check=True)
    d1.cli("volume", "add-brick", "bv", f"{b}:{tmp_path}/b2", "force", check=True)
    info = d3.cli("volume", "info", "bv", check=True).stdout
    assert "Number of Bricks: 2" in info and f"Brick2: {b}:{tmp_path}/b2" in info
    # distribute -> replica 2 by adding one brick per existing one
    d1.cli("volume", "add-brick", "bv", "replica", "2", f"{c}:{tmp_path}/b3", f"{c}:{tmp_path}/b4",
           "force", check=True)
    info = d1.cli("volume", "info", "bv", check=True).stdout
    assert "Type: Distributed-Replicate" in info and "Number of Bricks: 2 x 2 = 4" in info
    assert os.getxattr(f"{tmp_path}/b4", "trusted.glusterfs.volume-id")
    d1.cli("volume", "replace-brick", "bv", f"{c}:{tmp_path}/b4", f"{b}:{tmp_path}/b5", "commit",
           "force", check=True)
    info = d1.cli("volume", "info", "bv", check=True).stdout
    assert f"{b}:{tmp_path}/b5" in info and f"{c}:{tmp_path}/b4" not in info
    bad = d1.cli("volume", "add-brick", "bv", f"{a}:{tmp_path}/b6", "force")
    assert bad.returncode == 1 and "Incorrect number of bricks supplied 1 with count 2" in bad.stdout + bad.stderr
    d1.cli("--mode=script", "volume", "remove-brick", "bv", "replica", "1", f"{c}:{tmp_path}/b3",
           f"{b}:{tmp_path}/b5", "force", check=True)
    info = d1.cli("volume", "info", "bv", check=True).stdout
    assert "Type: Distribute" in info and "Number of Bricks: 2" in info


def test_transactions_are_visible(cluster3, tmp_path):
    d1, d2, _ = cluster3
    d1.cli("volume", "create", "tv", f"{d2.address}:{tmp_path}/t1", "force", check=True)
    listing = d2.cli("txn", "list", check=True).stdout
    txn_id = next(line.split()[0] for line in listing.splitlines() if "committed" in line)
    shown = d2.cli("txn", "show", txn_id, check=True).stdout
    assert "volume create tv" in shown and "brick.prepare" in shown


def test_tcp_api_requires_the_cluster_secret(cluster3):
    from gluster_mgmt.membership.peer_calls import call_peer
    from gluster_mgmt.errors import OperationFailed

    d1, d2, _ = cluster3
    with pytest.raises(OperationFailed) as err:
        call_peer(d2.address, d2.api_port, "volume/list", {}, secret=None)
    assert "does not prove the cluster secret" in str(err.value)
    with pytest.raises(OperationFailed):
        call_peer(d2.address, d2.api_port, "volume/list", {}, secret="not-the-secret")
    secret = __import__("json").loads((d1.state_dir / "cluster.json").read_text())["secret"]
    assert call_peer(d2.address, d2.api_port, "volume/list", {}, secret=secret) == {"volumes": []}
    assert oct(os.stat(d1.state_dir / "cluster.json").st_mode & 0o777) == "0o600"
