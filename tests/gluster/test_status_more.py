"""The rest of `volume status` through the STOCK `gluster` binary and `gluster-mgmt`, against
three gluster-mgmtd daemons with real bricks (one per node), their self-heal daemons, quotad
and stock FUSE mounts, on every store backend (one cluster per backend for the module):
`status VOL BRICK [detail]`, `status VOL shd|quotad|nfs [mem|inode|callpool|client-list]`
(the daemon's own answer to a GD_BRICK NODE_STATUS), their refusals, `status VOL fd` of a
volume with a client and nothing open (10.3's bricks list no fd table then, so the CLI's
"No open fds", on stderr, is tested on the renderer in tests/cli/test_render.py) and
`--xml` of the brick dumps the CLI cannot write to the end (inode, callpool, mem). Outputs are compared with glusterd 10.3's
(tests/data/glusterd-10.3/status-more, recorded by benchmarks/record_status_more.py with its
bricks on one node), normalised as tests/gluster/test_status_clients.py does; glusterd's one
node lists one self-heal daemon and one quotad, ours three: the other nodes' rows are
checked apart and left out of the comparison."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from tests.daemon.cluster_fixture import DaemonProcess
from tests.gluster.test_status_clients import (
    cluster_ground,
    first_call_only,
    normalise,
    start_pool,
)
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

DATA = REPO / "tests" / "data" / "glusterd-10.3"
RECORDED = json.loads((DATA / "status-more" / "outputs.json").read_text())
CLIENTS_RECORDED = json.loads((DATA / "status-clients" / "outputs.json").read_text())
VOLUME = "cv"
QUOTA_VOLUME = "qv"
THEIR_DIRS = [f"@W@/bricks/{p}{i}" for p in "cq" for i in (1, 2, 3)] + ["@W@/bricks/d1"]


def recorded(step: str, xml: bool, outputs: list[dict] = RECORDED) -> dict:
    (entry,) = [o for o in outputs if o.get("step") == step and o["xml"] == xml]
    return entry


@attrs.frozen
class Setup:
    daemons: list[DaemonProcess]
    dirs: list[Path]  # c1..c3, q1..q3, d1: as THEIR_DIRS
    names: list[str]


@pytest.fixture(scope="module")
def cluster(store_server, tmp_path_factory):
    """Three daemons; replica 3 volumes cv (a FUSE mount holding held.txt open) and qv
    (quota on, a FUSE mount with nothing open), one brick per node each; distribute dv
    (one brick), stopped replica 3 sv; everything stopped afterwards."""
    tmp, url, ttl = cluster_ground(store_server, tmp_path_factory, "status-more")
    daemons: list[DaemonProcess] = []
    points = [tmp / "mnt", tmp / "idle"]
    held = None
    try:
        d1 = start_pool(daemons, tmp, url, ttl)
        dirs = [tmp / f"{p}{i}" for p in "cq" for i in (1, 2, 3)] + [tmp / "d1"]
        names = [f"{daemons[i % 3].address}:{d}" for i, d in enumerate(dirs)]
        for name, bricks in ((VOLUME, names[0:3]), (QUOTA_VOLUME, names[3:6])):
            d1.cli("volume", "create", name, "replica", "3", *bricks, "force", check=True)
        d1.cli("volume", "create", "dv", names[6], "force", check=True)
        d1.cli("volume", "create", "sv", "replica", "3",
               *[f"{d.address}:{tmp}/s{i}" for i, d in enumerate(daemons, 1)], "force", check=True)
        for name in (VOLUME, QUOTA_VOLUME, "dv"):
            d1.cli("volume", "set", name, "network.ping-timeout", "5", check=True)
            d1.cli("volume", "start", name, check=True)
        quota = d1.gluster("volume", "quota", QUOTA_VOLUME, "enable")
        assert quota.returncode == 0, quota.stdout + quota.stderr
        for point, name in zip(points, (VOLUME, QUOTA_VOLUME)):
            point.mkdir()
            mount = subprocess.run(["mount", "-t", "glusterfs", "-o",
                                    f"log-file={tmp}/{name}-client.log",
                                    f"{d1.address}:/{name}", str(point)],
                                   capture_output=True, text=True, timeout=60)
            assert mount.returncode == 0, mount.stderr
        (points[0] / "held.txt").write_text("held open\n")
        held = open(points[0] / "held.txt", "rb")  # noqa: SIM115 (an fd the bricks list)
        # every brick of cv sees the FUSE client and the three self-heal daemons
        assert wait_for(lambda: d1.gluster("volume", "status", VOLUME, "clients").stdout
                        .count("Clients connected : 4") == 3, 60, 1), \
            d1.gluster("volume", "status", VOLUME, "clients").stdout
        assert wait_for(lambda: d1.gluster("volume", "status", QUOTA_VOLUME, "quotad").stdout
                        .count(" Y ") == 3, 60, 1), \
            d1.gluster("volume", "status", QUOTA_VOLUME, "quotad").stdout
        yield Setup(daemons, dirs, names)
    finally:
        if held is not None:
            held.close()
        for point in points:
            subprocess.run(["umount", "-l", str(point)], check=False)
        for daemon in daemons:
            daemon.stop_all()


_OTHER_ROW = re.compile(r"^(Self-heal|Quota) Daemon on (?!localhost\b).*\n", re.M)
_OTHER_NODE = re.compile(r"[ \t]*<node>\s*<hostname>(Self-heal|Quota) Daemon</hostname>\s*"
                         r"<path>(?!localhost<)[^<]*</path>\s*<peerid>.*?</node>\n", re.S)


def this_node_only(text: str) -> tuple[str, int]:
    """The output without the other nodes' self-heal daemon and quotad rows (glusterd's
    recording has one node), and how many there were; --xml's nodeCount less those."""
    text, rows = _OTHER_ROW.subn("", text)
    text, nodes = _OTHER_NODE.subn("", text)
    if nodes:
        text = re.sub(r"<nodeCount>(\d+)</nodeCount>",
                      lambda m: f"<nodeCount>{int(m.group(1)) - nodes}</nodeCount>", text, count=1)
    return text, rows + nodes


_WRAPPED = re.compile(r"^(Brick [^ \n]+)\n(?=\S)", re.M)


def comparable(text: str, dirs: list[str]) -> str:
    """``normalise``d, with the status rows whose brick name the CLI wrapped (the width
    depends on the path) whole, and no trailing blanks (a pid is padded to five places)."""
    lines = normalise(_WRAPPED.sub(r"\1", text), dirs).splitlines()
    return "\n".join(line.rstrip() for line in lines)


def _words(step: str, setup: Setup) -> tuple[str, ...]:
    """The recorded command's words with our brick names."""
    theirs = [f"127.0.0.2:{d}" for d in THEIR_DIRS]
    return tuple(setup.names[theirs.index(w)] if w in theirs else w
                 for w in recorded(step, False)["args"])


def run(setup: Setup, door: str, words: tuple[str, ...], xml: bool) -> subprocess.CompletedProcess:
    d1 = setup.daemons[0]
    return d1.gluster(*words, xml=xml) if door == "stock" else \
        d1.cli(*(["--xml"] if xml else []), *words)


def same_as_glusterd(setup: Setup, step: str, others: int = 0,
                     doors: tuple[str, ...] = ("stock", "gluster-mgmt")) -> None:
    """Our output of the recorded step equals glusterd's, text and --xml, through each door;
    ``others``: the other nodes' daemon rows we list besides (glusterd has one node)."""
    ours = [str(d) for d in setup.dirs]
    for xml in (False, True):
        want = recorded(step, xml)
        for door in doors:
            got = run(setup, door, _words(step, setup), xml)
            out, listed = this_node_only(got.stdout)
            if "callpool" in step:
                out = first_call_only(out)
            assert (comparable(out, ours), normalise(got.stderr, ours), got.returncode,
                    listed) == \
                (comparable(want["stdout"], THEIR_DIRS), normalise(want["stderr"], THEIR_DIRS),
                 want["rc"], others), (door, step, xml, got.stdout, got.stderr,
                                       setup.daemons[0].log_tail())


@pytest.mark.parametrize("step", [
    "status brick", "status brick tasks", "status missing brick", "status missing brick detail",
    "status shd fd", "status shd clients", "status shd detail", "status shd tasks",
    "status shd mem", "status shd inode", "status shd callpool", "status shd client-list",
    "status second shd inode", "status second shd callpool",
    "status nfs mem", "status quotad without quota", "status quotad mem",
    "status all shd", "status all nfs", "status all quotad", "status all shd mem",
    "status stopped shd", "status missing shd", "status distribute shd",
    "status no fds", "status brick no fds",
])
def test_status_equals_glusterd(cluster, step):
    same_as_glusterd(cluster, step)


@pytest.mark.parametrize("step", ["status shd", "status second shd", "status quotad",
                                  "status nfs"])
def test_status_of_the_daemons_equals_glusterd(cluster, step):
    """Each node's daemon is listed (this node's "on localhost"): glusterd's rows, and ours
    of the two other nodes besides."""
    same_as_glusterd(cluster, step, others=2)


def test_status_brick_detail_has_glusterds_lines(cluster):
    """One brick's detail: glusterd's labels in its order (the file system's facts are this
    machine's, the numbers move)."""
    for xml in (False, True):
        want = recorded("status brick detail", xml)["stdout"]
        for door in ("stock", "gluster-mgmt"):
            got = run(cluster, door, _words("status brick detail", cluster), xml)
            assert got.returncode == 0, got.stderr
            shape = (lambda text: re.findall(r"^\s*(<\w+>|[A-Z][\w ]+?)\s*[:<]", text, re.M))
            assert shape(got.stdout) == shape(want), (door, xml, got.stdout, want)


@pytest.mark.parametrize("what", ["inode", "callpool", "mem"])
def test_xml_of_brick_dumps_is_what_the_stock_cli_writes(cluster, what):
    """`--xml volume status VOL inode|callpool|mem`: the stock CLI stops at the first key
    its writer wants and a 10.3 brick does not send, and closes the document; gluster-mgmt
    writes the same (glusterd's recording: its first brick only)."""
    ours = [str(d) for d in cluster.dirs]
    want = recorded(f"status {what}", True, CLIENTS_RECORDED)
    their_dirs = [f"@W@/bricks/c{i}" for i in (1, 2, 3)]
    for door in ("stock", "gluster-mgmt"):
        got = run(cluster, door, ("volume", "status", VOLUME, what), True)
        mine = normalise(first_call_only(got.stdout), ours)
        assert (mine, got.returncode) == \
            (normalise(first_call_only(want["stdout"]), their_dirs), want["rc"]), \
            (door, got.stdout, got.stderr)


def test_status_of_another_nodes_brick(cluster):
    """`status VOL BRICK` of a brick on another node: that brick alone, online, with the
    port and pid its own node knows."""
    for door in ("stock", "gluster-mgmt"):
        got = run(cluster, door, ("volume", "status", VOLUME, cluster.names[1]), True)
        nodes = list(ET.fromstring(got.stdout).iter("node"))
        assert [(n.findtext("hostname"), n.findtext("path"), n.findtext("status"))
                for n in nodes] == [(cluster.daemons[1].address, str(cluster.dirs[1]), "1")], \
            (door, got.stdout)
        assert nodes[0].findtext("port", "").isdigit() and nodes[0].findtext("pid", "").isdigit()
