"""`volume heal` through the STOCK `gluster` binary against three gluster-mgmtd daemons with
real bricks, self-heal daemons and a stock FUSE mount, on every store backend.

`heal VOL info [summary|split-brain]` is glfsheal's (the CLI execs it; it fetches the
volfile from the default glusterd socket, asks portmap for the bricks and reads their
indices); the other heal commands are GLUSTER_CLI HEAL_VOLUME, answered by the self-heal
daemons. Outputs are compared with glusterd 10.3's for the same situation
(tests/data/glusterd-10.3/heal, recorded by benchmarks/record_heal.py), normalised for brick
paths, host UUIDs, gfids and the index's entry order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import xml.etree.ElementTree as ET

import pytest
from glustercli.cli.parsers import parse_heal_info

from benchmarks.record_heal import make_split_brain
from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "heal" / "outputs.json").read_text())
GLFSHEAL = "/usr/lib/x86_64-linux-gnu/glusterfs/glfsheal"
FILES = ("a.txt", "b.txt", "dir/c.txt")


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step and o["xml"] == xml]
    return entry


_GFID = re.compile(r'gfid="[0-9a-f-]{36}"')
_UUID = re.compile(r'hostUuid="[0-9a-f-]{36}"')


def normalise(text: str, bricks: list[str]) -> str:
    """Brick names as B1.., host UUIDs and gfids as U / G, each brick's entries sorted."""
    for i, name in enumerate(bricks, 1):
        text = text.replace(name, f"B{i}")
    text = _UUID.sub('hostUuid="U"', _GFID.sub('gfid="G"', text))
    out, block = [], []
    for line in text.splitlines():
        if line.startswith("/") or line.lstrip().startswith("<file "):
            block.append(line)
            continue
        out += sorted(block)
        block = []
        out.append(line)
    return "\n".join(out + sorted(block)) + "\n"


def same_as_glusterd(daemon, step: str, words: tuple[str, ...], ours: list[str],
                     theirs: list[str], default_socket: bool = False) -> None:
    """The stock CLI (on the default socket where glfsheal needs it) and `gluster-mgmt`
    print what glusterd's CLI printed, with its exit code, text and --xml."""
    for xml in (False, True):
        stock = daemon.gluster_default_socket if default_socket else daemon.gluster
        runs = {"stock": stock(*words, xml=xml),
                "gluster-mgmt": daemon.cli(*(["--xml"] if xml else []), *words)}
        want = recorded(step, xml)
        for door, got in runs.items():
            assert (normalise(got.stdout, ours), normalise(got.stderr, ours), got.returncode) == \
                (normalise(want["stdout"], theirs), normalise(want["stderr"], theirs),
                 want["rc"]), (door, step, xml, got.stdout, got.stderr, daemon.log_tail())


@pytest.fixture
def replica3(gluster_daemons, tmp_path):
    """Three daemons, a started replica 3 volume hv with one brick on each (h1, h2, h3),
    network.ping-timeout 5 as in the recording; -> (daemons, brick dirs, brick names)."""
    for tool in (STOCK_GLUSTER, GLFSHEAL):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} (GlusterFS 10.3) is not installed (scripts/install-deps.sh)")
    daemons = gluster_daemons(3)
    for other in daemons[1:]:
        daemons[0].cli("peer", "probe", other.address, check=True)
    dirs = [tmp_path / f"h{i}" for i in (1, 2, 3)]
    names = [f"{d.address}:{b}" for d, b in zip(daemons, dirs)]
    daemons[0].cli("volume", "create", "hv", "replica", "3", *names, "force", check=True)
    daemons[0].cli("volume", "set", "hv", "network.ping-timeout", "5", check=True)
    daemons[0].cli("volume", "start", "hv", check=True)
    return daemons, dirs, names


def _recorded_bricks() -> list[str]:
    return [f"127.0.0.2:@W@/bricks/h{i}" for i in (1, 2, 3)]


def _brick_pid(daemon, name: str, volume: str = "hv") -> int:
    out = daemon.gluster("volume", "status", volume, xml=True).stdout
    for node in ET.fromstring(out).iter("node"):
        if f"{node.findtext('hostname')}:{node.findtext('path')}" == name:
            return int(node.findtext("pid") or 0)
    raise AssertionError(f"no pid for {name}: {out}")


def test_heal_info_of_a_healthy_volume_equals_glusterd(replica3):
    daemons, _, names = replica3
    d1 = daemons[0]
    theirs = _recorded_bricks()
    for step, words in (("heal info", ("volume", "heal", "hv", "info")),
                        ("heal info summary", ("volume", "heal", "hv", "info", "summary")),
                        ("heal info split-brain", ("volume", "heal", "hv", "info", "split-brain"))):
        wait_for(lambda: d1.gluster_default_socket(*words).stdout.count("Status: Connected") == 3, 60, 1)
        same_as_glusterd(d1, step, words, names, theirs, default_socket=True)
    xml = d1.gluster_default_socket("volume", "heal", "hv", "info", xml=True).stdout
    uuids = [b.get("hostUuid") for b in ET.fromstring(xml).iter("brick")]
    assert uuids == [d.uuid for d in daemons]
    same_as_glusterd(d1, "heal info missing volume", ("volume", "heal", "nope", "info"),
                     names, theirs, default_socket=True)


def _settled(daemon, words: tuple[str, ...], check, timeout: float = 90) -> None:
    assert wait_for(lambda: check(daemon.gluster(*words).stdout), timeout, 1), \
        (words, daemon.gluster(*words).stdout, daemon.log_tail())


def test_heal_commands_equal_glusterd(replica3, tmp_path):
    """heal index/full/statistics/enable/disable and the refusals, on a healthy volume."""
    daemons, _, names = replica3
    d1 = daemons[0]
    theirs = _recorded_bricks()
    count = ("volume", "heal", "hv", "statistics", "heal-count")
    _settled(d1, count, lambda out: out.count("Number of entries: 0") == 3)
    same_as_glusterd(d1, "heal statistics heal-count", count, names, theirs)
    # asked alone, node 1's self-heal daemon must have connected to the other nodes' bricks
    _settled(d1, (*count, "replica", names[0]), lambda out: out.count("Number of entries: 0") == 3)
    same_as_glusterd(d1, "heal statistics heal-count replica", (*count, "replica", names[0]),
                     names, theirs)
    # every node's self-heal daemon connects to its bricks on its own time (under glusterd too):
    # an index heal succeeds once each has
    _settled(d1, ("volume", "heal", "hv"), lambda out: "has been successful" in out)
    for step, words in (("heal index", ()), ("heal full", ("full",)),
                        ("heal disable", ("disable",)), ("heal index disabled", ()),
                        ("heal enable", ("enable",))):
        same_as_glusterd(d1, step, ("volume", "heal", "hv", *words), names, theirs)
    same_as_glusterd(d1, "heal missing volume", ("volume", "heal", "nope"), names, theirs)
    # `statistics` (not recorded: its crawl times): each brick's shd reports its crawls
    for run in (d1.gluster, d1.cli):
        out = run("volume", "heal", "hv", "statistics").stdout
        assert out.startswith("Gathering crawl statistics on volume hv has been successful \n")
        bricks = [line for line in out.splitlines() if line.startswith(("Crawl statistics", "Hostname"))]
        assert bricks == [line for i, d in enumerate(daemons) for line in (
            f"Crawl statistics for brick no {i}", f"Hostname of brick {d.address}")], out
        assert "Type of crawl: INDEX" in out, out

    d1.cli("volume", "create", "dv", f"{d1.address}:{tmp_path}/d1", "force", check=True)
    d1.cli("volume", "start", "dv", check=True)
    d1.cli("volume", "create", "sv", "replica", "3",
           *[f"{d.address}:{tmp_path}/s{i}" for i, d in enumerate(daemons, 1)], "force", check=True)
    same_as_glusterd(d1, "heal distribute", ("volume", "heal", "dv"), names, theirs)
    same_as_glusterd(d1, "heal stopped", ("volume", "heal", "sv"), names, theirs)
    same_as_glusterd(d1, "heal info distribute", ("volume", "heal", "dv", "info"), names, theirs,
                     default_socket=True)
    same_as_glusterd(d1, "heal info stopped", ("volume", "heal", "sv", "info"), names, theirs,
                     default_socket=True)


def test_frozen_brick_shows_pending_entries_then_heals(replica3, mounts):
    """A brick frozen (SIGSTOP) while files are written: `heal info` lists them on the live
    bricks; thawed and `heal VOL` run, the entries drain to 0 and the brick holds every file."""
    daemons, dirs, names = replica3
    d1 = daemons[0]
    theirs = _recorded_bricks()
    count = ("volume", "heal", "hv", "statistics", "heal-count")
    _settled(d1, count, lambda out: out.count("Number of entries: 0") == 3)
    point, _ = mounts("hv", d1.address)
    frozen = _brick_pid(d1, names[2])
    os.kill(frozen, signal.SIGSTOP)
    try:
        for name in FILES:
            (point / name).parent.mkdir(exist_ok=True)
            (point / name).write_text(f"written while h3 was frozen: {name}\n")
        info = ("volume", "heal", "hv", "info")
        same_as_glusterd(d1, "pending heal info", info, names, theirs, default_socket=True)
        # glustercli (PyPI) reads the --xml of both CLIs: the live bricks' pending entries
        for xml in (d1.gluster_default_socket(*info, xml=True).stdout,
                    d1.cli("--xml", *info).stdout):
            parsed = parse_heal_info(xml.encode())
            assert [(b["name"], b["nr_entries"]) for b in parsed] == \
                [(names[0], "5"), (names[1], "5"), (names[2], "-")], xml
            assert [b["host_uuid"] for b in parsed[:2]] == [daemons[0].uuid, daemons[1].uuid]
        same_as_glusterd(d1, "pending heal info summary", (*info, "summary"), names, theirs,
                         default_socket=True)
        _settled(d1, count, lambda out: "Status: Brick is not connected" in out)
        got = d1.gluster(*count)
        want = recorded("pending heal statistics heal-count", True)  # the settled one
        assert (normalise(got.stdout, names), got.returncode) == \
            (normalise(want["stdout"], theirs), want["rc"])
    finally:
        os.kill(frozen, signal.SIGCONT)
    # the clients and self-heal daemons reconnect to the thawed brick
    _settled(d1, count, lambda out: "not connected" not in out and out.count("Number of entries") == 3)
    same_as_glusterd(d1, "heal index pending", ("volume", "heal", "hv"), names, theirs)
    _settled(d1, count, lambda out: out.count("Number of entries: 0") == 3, 180)
    for step, words in (("healed heal info", ()), ("healed heal info summary", ("summary",))):
        same_as_glusterd(d1, step, ("volume", "heal", "hv", "info", *words), names, theirs,
                         default_socket=True)
    same_as_glusterd(d1, "healed heal statistics heal-count", count, names, theirs)
    for name in FILES:
        assert (dirs[2] / name).read_text() == f"written while h3 was frozen: {name}\n"


@pytest.mark.parametrize("door", ["stock", "gluster-mgmt"])
def test_split_brain_is_listed_and_resolved_by_source_brick(replica3, mounts, tmp_path, door):
    """A data split-brain made on purpose (quorum off, self-heal daemon off; f.txt written
    while s2 and s3 are frozen, then while s1 is): `info split-brain` lists it as glusterd
    does; `split-brain source-brick H:sb2 /f.txt` (through ``door``) resolves it from sb2."""
    daemons, _, _ = replica3
    d1 = daemons[0]
    dirs = [tmp_path / f"sb{i}" for i in (1, 2, 3)]
    names = [f"{d.address}:{b}" for d, b in zip(daemons, dirs)]
    theirs = [f"127.0.0.2:@W@/bricks/sb{i}" for i in (1, 2, 3)]
    d1.cli("volume", "create", "sb", "replica", "3", *names, "force", check=True)
    d1.cli("volume", "set", "sb", "network.ping-timeout", "5", check=True)
    d1.cli("volume", "set", "sb", "cluster.quorum-type", "none", check=True)
    d1.cli("volume", "start", "sb", check=True)
    assert d1.gluster("volume", "heal", "sb", "disable").returncode == 0
    point, _ = mounts("sb", d1.address)
    target = point / "f.txt"
    target.write_text("original\n")
    pids = [_brick_pid(d1, name, "sb") for name in names]
    make_split_brain(target, pids)
    for step, words in (("split heal info split-brain", ("split-brain",)),
                        ("split heal info", ()), ("split heal info summary", ("summary",))):
        same_as_glusterd(d1, step, ("volume", "heal", "sb", "info", *words), names, theirs,
                         default_socket=True)
    resolve = ("volume", "heal", "sb", "split-brain", "source-brick", names[1], "/f.txt")
    for xml in (False, True):  # the second time, glfsheal finds nothing to heal
        got = (d1.gluster_default_socket(*resolve, xml=xml) if door == "stock"
               else d1.cli(*(["--xml"] if xml else []), *resolve))
        want = recorded("split source-brick", xml)
        assert (normalise(got.stdout, names), got.returncode) == \
            (normalise(want["stdout"], theirs), want["rc"]), (got.stdout, got.stderr)
    for step, words in (("resolved heal info split-brain", ("split-brain",)),
                        ("resolved heal info", ())):
        same_as_glusterd(d1, step, ("volume", "heal", "sb", "info", *words), names, theirs,
                         default_socket=True)
    assert target.read_text() == "written while s1 was frozen\n"
    assert (dirs[0] / "f.txt").read_text() == "written while s1 was frozen\n"
