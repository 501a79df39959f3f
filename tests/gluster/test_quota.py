"""`volume quota` end to end on every store backend: three gluster-mgmtd daemons, a
distribute volume with a brick on two of them, stock bricks with the quota and marker
xlators, a quotad on each node, a stock FUSE mount; the stock `gluster` binary and
`gluster-mgmt` against glusterd 10.3's outputs (tests/data/glusterd-10.3/quota, recorded by
benchmarks/record_quota.py) step by step, a write past the hard limit refused with EDQUOT.

Each daemon is a host of its own as far as the fixed paths of quota go: it runs in a private
mount namespace where /var/run/gluster is its run directory (quotad's socket, the auxiliary
mounts) and /var/lib/glusterd its glusterd directory (quota.conf). The stock CLI runs in
node 1's namespace (nsenter), where it finds both, as on a glusterd node.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from benchmarks.record_quota import (
    ENABLE,
    FULL,
    LIMIT,
    REMOVE,
    STATUS,
    WRITTEN,
    write_until_refused,
)
from gluster_mgmt import open_store
from gluster_mgmt.model import QUOTA_CONF_HEADER as CONF_HEADER
from tests.conftest import API_PORT
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.gluster.node_ns import Node
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

DATA = REPO / "tests" / "data" / "glusterd-10.3" / "quota"
RECORDED = json.loads((DATA / "outputs.json").read_text())
#: steps that change something: their text row is the change, their --xml row the same change
#: again; the stock CLI does the first, gluster-mgmt the second
CHANGES = frozenset({"quota enable", "quota enable again", "quota limit-usage",
                     "quota limit-usage root", "quota limit-objects", "quota hard-timeout",
                     "quota soft-timeout", "quota alert-time", "quota default-soft-limit",
                     "quota remove", "quota remove again", "quota remove-objects",
                     "quota disable", "quota disable again"})
#: steps whose usage depends on how far the write got before the limit stopped it
SIZES_VARY = frozenset({"full quota list path"})


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step and o["xml"] == xml]
    return entry


_NUMBER = re.compile(r"\d+(\.\d+)?(Bytes|KB|MB|GB)?")


def normalise(step: str, text: str) -> str:
    return _NUMBER.sub("N", text) if step in SIZES_VARY else text


@pytest.fixture(scope="module")
def quota_cluster(store_server, tmp_path_factory):
    """Three nodes, volume qv (a brick on nodes 1 and 2) started and mounted with /dir and
    /other made, as in the recording -> (nodes, mount point)."""
    if os.geteuid() != 0 or not os.access(STOCK_GLUSTER, os.X_OK):
        pytest.skip("needs root and GlusterFS 10.3 (scripts/install-deps.sh)")
    tmp = tmp_path_factory.mktemp("quota")
    url = store_server.url(f"q{uuid.uuid4().hex[:10]}")
    with open_store(url) as store:
        lease_ttl = max(2.0, store.capabilities.min_lease_ttl)
    daemons = []
    point = tmp / "mnt"
    point.mkdir()
    try:
        for index in range(3):
            address = f"127.0.0.{index + 2}"
            state_dir = tmp / f"node-{address}"
            daemon = DaemonProcess(tmp, address, url, API_PORT, lease_ttl,
                                   wrapper=Node.wrapper(state_dir))
            daemons.append(daemon)
            daemon.start()
        nodes = [Node(d) for d in daemons]
        for other in daemons[1:]:
            daemons[0].cli("peer", "probe", other.address, check=True)
        bricks = [f"{d.address}:{tmp / f'q{i}'}" for i, d in enumerate(daemons[:2], 1)]
        daemons[0].cli("volume", "create", "qv", *bricks, "force", check=True)
        daemons[0].cli("volume", "start", "qv", check=True)
        subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={tmp / 'client.log'}",
                        "127.0.0.2:/qv", str(point)], check=True, timeout=60)
        (point / "dir").mkdir()
        (point / "other").mkdir()
        yield nodes, point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)
        for daemon in daemons:
            daemon.stop_all()


def same_as_glusterd(node: Node, step: str, words: str) -> None:
    """Text and --xml of a step equal glusterd's: a change through the stock CLI (text) and
    again through gluster-mgmt (--xml); anything else through both, both ways."""
    args = words.split()
    runs = []
    for xml in (False, True):
        if step in CHANGES:
            runs.append(("stock" if not xml else "gluster-mgmt", xml,
                         (node.stock if not xml else node.ours)(*args, xml=xml)))
        else:
            runs += [("stock", xml, node.stock(*args, xml=xml)),
                     ("gluster-mgmt", xml, node.ours(*args, xml=xml))]
    for door, xml, got in runs:
        want = recorded(step, xml)
        assert (normalise(step, got.stdout), normalise(step, got.stderr), got.returncode) == \
            (normalise(step, want["stdout"]), normalise(step, want["stderr"]), want["rc"]), \
            (door, step, xml, got.stdout, got.stderr, node.daemon.log_tail())


_STATUS_LINE = re.compile(r"(?m)^(?P<label>\S.*?)\s+(\d+|N/A)\s+(\d+|N/A)\s+"
                          r"(?P<online>[YN])\s+(\d+|N/A)\s*$")


def status_lists_each_quotad(nodes: list[Node], step: tuple[str, str]) -> None:
    """`volume status`: glusterd's lines (a node: its bricks, its quotad), each node's quotad
    listed online; both doors, text and --xml, the same shape."""
    name, words = step
    want = recorded(name, False)["stdout"]
    node = nodes[0]
    assert wait_for(lambda: node.stock(*words.split()).stdout.count(" Y ") == 2 + len(nodes),
                    30, 1), node.stock(*words.split()).stdout
    for got in (node.stock(*words.split()), node.ours(*words.split())):
        lines = [(m["label"] if m["label"].startswith("Quota") else "brick", m["online"])
                 for m in _STATUS_LINE.finditer(got.stdout)]
        assert lines == [("brick", "Y"), ("brick", "Y"), ("Quota Daemon on localhost", "Y"),
                         *((f"Quota Daemon on {n.daemon.address}", "Y") for n in nodes[1:])], \
            got.stdout
        assert got.stdout.splitlines()[:3] == want.splitlines()[:3]
        assert got.stdout.splitlines()[-4:] == want.splitlines()[-4:]
    for got in (node.stock(*words.split(), xml=True), node.ours(*words.split(), xml=True)):
        quotads = re.findall(r"<hostname>Quota Daemon</hostname>\s*<path>([^<]*)</path>",
                             got.stdout)
        assert quotads == ["localhost", *(n.daemon.address for n in nodes[1:])], got.stdout


def _listed(node: Node, step: str) -> bool:
    out = node.stock(*dict(ENABLE + WRITTEN + FULL)[step].split()).stdout
    return out == recorded(step, False)["stdout"] if step not in SIZES_VARY else "Yes" in out


def glustercli_list_paths(node: Node, tmp_path: Path, monkeypatch) -> list[dict]:
    """glustercli's `quota.list_paths` through the stock CLI on ``node`` (a wrapper runs it
    in the node's mount namespace)."""
    import glustercli.cli as glustercli
    from glustercli.cli import quota, utils

    assert node.daemon.proc is not None
    wrapper = tmp_path / "gluster-on-node"
    wrapper.write_text(f"#!/bin/sh\nexec nsenter -m -t {node.daemon.proc.pid} "
                       f"{STOCK_GLUSTER} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(utils, "GLUSTERCMD", utils.GLUSTERCMD)
    monkeypatch.setattr(utils, "GLUSTERD_SOCKET", utils.GLUSTERD_SOCKET)
    glustercli.set_gluster_path(str(wrapper))
    glustercli.set_gluster_socket(str(node.daemon.glusterd_socket))
    return quota.list_paths("qv")


def test_quota_equals_glusterd_and_enforces_the_hard_limit(quota_cluster, tmp_path,
                                                           monkeypatch):
    from glustercli.cli.parsers import parse_quota_list_paths

    nodes, point = quota_cluster
    node = nodes[0]
    same_as_glusterd(node, "quota list disabled", "volume quota qv list")
    for step, words in ENABLE:
        if step == "quota list":  # the crawl after enable counts /dir: wait for it
            assert wait_for(lambda: _listed(node, "quota list-objects"), 60, 1), \
                node.stock("volume", "quota", "qv", "list-objects").stdout
        same_as_glusterd(node, step, words)

    status_lists_each_quotad(nodes, STATUS[0])

    # every node runs quotad with glusterd's command line; each writes quota.conf
    recorded_quotad = (DATA / "processes.txt").read_text().splitlines()[1]
    for each in nodes:
        run_dir = each.daemon.state_dir / "run"
        pid = int((run_dir / "quotad" / "quotad.pid").read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        shape = re.sub(r"\S+\.socket", "S", re.sub(r"-s \S+ (--volfile-server-port \d+ )?",
                                                    "-s H ", " ".join(a.decode() for a in argv)))
        shape = shape.replace(str(each.daemon.log_dir), "/var/log/glusterfs")
        assert shape.replace("/run/gluster", "/var/run/gluster") == \
            re.sub(r"\S+\.socket", "S", recorded_quotad.replace("-s localhost", "-s H"))
        conf = (each.daemon.glusterd_dir / "vols" / "qv" / "quota.conf").read_bytes()
        theirs = (DATA / "enabled" / "state" / "vols" / "qv" / "quota.conf").read_bytes()
        assert conf.startswith(CONF_HEADER) and len(conf) == len(theirs)
        assert [conf[i] for i in range(len(CONF_HEADER) + 16, len(conf), 17)] == [1, 1, 2]
        assert (each.daemon.glusterd_dir / "vols" / "qv" / "quota.cksum").read_text() == \
            (DATA / "enabled" / "state" / "vols" / "qv" / "quota.cksum").read_text()

    small = write_until_refused(point / "dir" / "small", 1024 * 1024)
    assert small == {"written": 1024 * 1024, "error": None}
    assert wait_for(lambda: _listed(node, "written quota list"), 30, 1)
    for step, words in WRITTEN:
        same_as_glusterd(node, step, words)
    # glustercli (PyPI) reads it as it reads glusterd's
    assert glustercli_list_paths(node, tmp_path, monkeypatch) == \
        parse_quota_list_paths(recorded("written quota list", True)["stdout"])

    past = write_until_refused(point / "dir" / "big", 16 * 1024 * 1024)
    assert past["error"] == errno.errorcode[errno.EDQUOT], past
    assert past["written"] < 4 * 1024 * 1024, (past, LIMIT)
    assert wait_for(lambda: _listed(node, "full quota list path"), 30, 1)
    for step, words in FULL + REMOVE:
        same_as_glusterd(node, step, words)
    for each in nodes:
        assert not (each.daemon.glusterd_dir / "vols" / "qv").exists()
        assert wait_for(lambda: not (each.daemon.state_dir / "run" / "quotad" / "quotad.pid")
                        .exists(), 30, 0.5)


def test_quota_refusals_equal_glusterd(quota_cluster):
    nodes, _ = quota_cluster
    for step in ("quota missing volume", "quota list missing volume"):
        same_as_glusterd(nodes[1], step, dict(ENABLE)[step])
