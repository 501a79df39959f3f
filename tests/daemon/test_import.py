"""Migration: `gluster-mgmt import /var/lib/glusterd` on a real daemon and store, checked against
what glusterd 10.3 itself printed for the same state. Every UUID stays glusterd's: the node's
daemon takes glusterd.info's, bricks keep their host's, and a three-node glusterd cluster
migrates node by node into one cluster that shows the UUIDs glusterd showed."""

from __future__ import annotations

import re
from pathlib import Path

from gluster_mgmt.glusterd_export import volume_checksum
from tests.helpers import REFERENCE, glusterd_state, wait_for

THREE_NODES = REFERENCE / "three-nodes"
#: glusterd ran on 10.214.0.N; the daemons here on 127.0.0.N+1 (make_daemons' addresses).
ADDRESSES = {f"10.214.0.{n}": f"127.0.0.{n + 1}" for n in (1, 2, 3)}


def recorded_uuid(node: int) -> str:
    return (THREE_NODES / f"node{node}" / "glusterd.info").read_text().split()[0][len("UUID="):]


def back_to_glusterd(text: str) -> str:
    for old, new in ADDRESSES.items():
        text = text.replace(new, old)
    return text


def test_import_reference_state_matches_glusterd_volume_info(make_daemons, tmp_path):
    state = glusterd_state(tmp_path, REFERENCE / "state", "glusterd")
    (daemon,) = make_daemons(1, glusterd_dirs=[state])
    assert daemon.uuid == "2a17f7f0-4393-48d6-9f76-8db4e14a2772"  # glusterd.info's
    result = daemon.cli("import", str(state), check=True)
    assert "arb" in result.stdout + result.stderr
    info = daemon.cli("volume", "info", check=True).stdout
    assert info == (REFERENCE / "cli" / "volume-info.txt").read_text()
    assert daemon.cli("volume", "list", check=True).stdout.split() == ["arb", "disp3", "rep3", "v1"]
    xml = daemon.cli("--xml", "volume", "info", check=True).stdout
    assert xml == (REFERENCE / "cli" / "volume-info.xml").read_text()  # the bricks' UUIDs too


def test_import_refuses_a_store_holding_the_same_volumes(make_daemons, tmp_path):
    state = glusterd_state(tmp_path, REFERENCE / "state", "glusterd")
    (daemon,) = make_daemons(1, glusterd_dirs=[state])
    daemon.cli("import", str(state), check=True)
    again = daemon.cli("import", str(state))
    assert again.returncode == 1
    assert "the store already holds volume(s) arb, disp3, rep3, v1; nothing imported" in again.stdout + again.stderr
    assert daemon.cli("volume", "list", check=True).stdout.split() == ["arb", "disp3", "rep3", "v1"]


def test_import_of_a_missing_directory_fails_clearly(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    result = daemon.cli("import", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "nope" in result.stdout + result.stderr


def test_import_of_another_node_s_state_is_refused(make_daemons, tmp_path):
    """A node importing glusterd state that is not its own would take bricks it does not
    have: refused, nothing written."""
    (daemon,) = make_daemons(1)
    result = daemon.cli("import", str(REFERENCE / "state"))
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "is the state of glusterd node 2a17f7f0-4393-48d6-9f76-8db4e14a2772" in out
    assert daemon.uuid in out
    assert daemon.cli("volume", "list", check=True).stdout.split() == []


def test_import_of_a_malformed_glusterd_info_names_file_and_line(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    state = glusterd_state(tmp_path, REFERENCE / "state", "broken")
    (state / "glusterd.info").write_text("UUID=2a17f7f0\noperating-version=100000\n")
    result = daemon.cli("import", str(state))
    assert result.returncode == 1
    assert f"{state / 'glusterd.info'}, line 1: UUID='2a17f7f0' is not a UUID" in \
        result.stdout + result.stderr


def test_three_glusterd_nodes_migrate_node_by_node_keeping_every_uuid(make_daemons, tmp_path):
    """Each node's gluster-mgmtd starts on that node's /var/lib/glusterd (so it is the node
    glusterd was), node 1 imports, and the others join as the peers it imported."""
    states = [glusterd_state(tmp_path, THREE_NODES / f"node{n}", f"glusterd{n}", ADDRESSES)
              for n in (1, 2, 3)]
    d1, d2, d3 = make_daemons(3, glusterd_dirs=states)
    for n, daemon in enumerate((d1, d2, d3), 1):
        assert daemon.uuid == recorded_uuid(n)
    imported = d1.cli("import", str(states[0]), check=True).stdout
    assert "rep3" in imported
    waiting = [d2.address, d3.address]
    for daemon in (d2, d3):
        # while nodes still run glusterd, configuration changes are refused, naming them
        refused = d1.cli("volume", "set", "rep3", "performance.quick-read", "off")
        assert refused.returncode == 1
        assert ("taking over from glusterd: configuration changes are refused until every node "
                f"runs gluster-mgmtd; still on glusterd: {', '.join(waiting)}") in refused.stderr
        assert d1.cli("peer", "probe", daemon.address, check=True).stdout == "peer probe: success\n"
        waiting.remove(daemon.address)

    def all_connected(daemon) -> bool:
        return daemon.cli("pool", "list", check=True).stdout.count("Connected") == 3
    for daemon in (d1, d2, d3):
        assert wait_for(lambda: all_connected(daemon), 30), daemon.cli("pool", "list").stdout
    for n, daemon in enumerate((d1, d2, d3), 1):
        cli = THREE_NODES / "cli"
        assert daemon.cli("system::", "uuid", "get", check=True).stdout == \
            (cli / f"node{n}-uuid-get.txt").read_text()
        assert daemon.cli("--xml", "system::", "uuid", "get", check=True).stdout == \
            (cli / f"node{n}-uuid-get.xml").read_text()
        # the same rows, localhost last (the order of the others is glusterd's peer list order)
        pool = back_to_glusterd(daemon.cli("pool", "list", check=True).stdout).splitlines()
        recorded = (cli / f"node{n}-pool-list.txt").read_text().splitlines()
        assert pool[0].split() == recorded[0].split() and pool[-1].split() == recorded[-1].split()
        assert sorted(line.split() for line in pool[1:]) == \
            sorted(line.split() for line in recorded[1:])
        xml = back_to_glusterd(daemon.cli("--xml", "volume", "info", check=True).stdout)
        assert xml == (cli / "volume-info.xml").read_text()
    assert d2.cli("import", str(states[1])).returncode == 1  # already there, nothing written
    # and back: each node's export is the glusterd state that node had
    for n, daemon in enumerate((d1, d2, d3), 1):
        target = tmp_path / f"export{n}"
        daemon.cli("export", str(target), check=True)
        assert_same_glusterd_state(target, THREE_NODES / f"node{n}")
    # every node taken over: changes are allowed again
    d1.cli("volume", "set", "rep3", "performance.quick-read", "off", check=True)


def assert_same_glusterd_state(exported: Path, recorded: Path) -> None:
    """File for file, with glusterd's addresses put back. Two things differ by construction:
    vols/VOL/cksum (the checksum of an info file whose brick names now hold the test's
    addresses: checked against that file instead) and a brick's ``brick-fsid`` (its own node's
    statfs id, which the store holds only for the importing node's bricks)."""
    skipped = ("glusterd.upgrade", "gfproxy", "geo-replication/", "snaps/")
    want = {str(p.relative_to(recorded)): p.read_text() for p in recorded.rglob("*")
            if p.is_file() and not any(s in str(p.relative_to(recorded)) for s in skipped)}
    got = {back_to_glusterd(str(p.relative_to(exported))): p.read_text()
           for p in exported.rglob("*") if p.is_file()}
    assert sorted(got) == sorted(want)
    for path, text in want.items():
        exported_text = back_to_glusterd(got[path])
        if path.endswith("/cksum"):
            info = (exported / path).with_name("info").read_bytes()
            assert exported_text == f"info={volume_checksum(info)}\n"
            continue
        if "/bricks/" in path:
            text, exported_text = (re.sub(r"brick-fsid=\d+", "brick-fsid=N", t) for t in (text, exported_text))
        assert exported_text == text, path


def test_a_probe_is_refused_by_a_node_with_another_uuid_than_the_imported_peer(make_daemons,
                                                                              tmp_path):
    """The imported peer list knows 127.0.0.3 as glusterd node 2; a fresh node there (another
    UUID) must not join as it."""
    states = [glusterd_state(tmp_path, THREE_NODES / "node1", "glusterd1", ADDRESSES)]
    d1, d2 = make_daemons(2, glusterd_dirs=states)
    d1.cli("import", str(states[0]), check=True)
    result = d1.cli("peer", "probe", d2.address)
    assert result.returncode == 1
    assert f"the peer list knows {d2.address} as {recorded_uuid(2)}, but this node is " \
           f"{d2.uuid}" in result.stdout + result.stderr
    assert d2.cli("pool", "list", check=True).stdout.count("\n") == 2  # still on its own


def test_export_writes_into_no_existing_glusterd_state(make_daemons, tmp_path):
    """An export never overwrites glusterd state: a directory with volumes or another node's
    glusterd.info is refused with nothing written; a relative name is the caller's directory."""
    state = glusterd_state(tmp_path, REFERENCE / "state", "glusterd")
    (daemon,) = make_daemons(1, glusterd_dirs=[state])
    daemon.cli("import", str(state), check=True)
    before = sorted(p.name for p in (state / "vols").iterdir())
    refused = daemon.cli("export", str(state))
    assert refused.returncode == 1
    assert f"{state / 'vols'} is not empty" in refused.stdout + refused.stderr
    assert sorted(p.name for p in (state / "vols").iterdir()) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "glusterd.info").write_text(f"UUID={recorded_uuid(2)}\noperating-version=100000\n")
    refused = daemon.cli("export", str(foreign))
    assert refused.returncode == 1
    assert f"belongs to node {recorded_uuid(2)}" in refused.stdout + refused.stderr
    assert [p.name for p in foreign.iterdir()] == ["glusterd.info"]
    done = daemon.cli("export", str(tmp_path / "fresh"), check=True).stdout
    assert done.startswith("export: success")
    assert (tmp_path / "fresh" / "vols" / "rep3" / "info").read_text() == \
        (REFERENCE / "state" / "vols" / "rep3" / "info").read_text()


def test_import_of_a_state_that_would_lose_a_running_rebalance_is_refused(make_daemons, tmp_path):
    state = glusterd_state(tmp_path, REFERENCE / "state", "glusterd")
    node_state = state / "vols" / "v1" / "node_state.info"
    node_state.write_text(node_state.read_text().replace("rebalance_status=0", "rebalance_status=1")
                          .replace("rebalance_op=0", "rebalance_op=19"))
    (state / "snaps" / "nightly").mkdir(parents=True)
    (daemon,) = make_daemons(1, glusterd_dirs=[state])
    result = daemon.cli("import", str(state))
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert f"cannot import glusterd state {state}: it holds what gluster_mgmt cannot carry, " \
           "nothing imported: snapshot nightly (gluster_mgmt has no snapshots); volume v1 has " \
           "a rebalance started: wait for it to complete and commit it (or stop it) first" in out
    assert daemon.cli("volume", "list", check=True).stdout.split() == []
