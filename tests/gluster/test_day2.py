"""`volume statedump VOL quotad|nfs|client HOST:PID`, `volume sync` and what `reset-brick ...
commit force` does to the nodes' services, end to end on every store backend: three
gluster-mgmtd daemons (each with /var/run/gluster of its own, as hosts have: quotad dumps
there), a replica 3 volume with one brick on each, real bricks, self-heal daemons and
quotads, a stock FUSE mount and a libgfapi client (benchmarks/gfapi_client.py); the stock
`gluster` binary and `gluster-mgmt` against glusterd 10.3's outputs and dump files
(tests/data/glusterd-10.3/day2, recorded by benchmarks/record_day2.py).

As under glusterd, a client statedump reaches the connections from the client's address
(here 127.0.0.1: the clients' source address towards 127.0.0.2) that fetched the volume:
the gfapi client dumps its state, the FUSE client ignores the callback (glusterfsd-mgmt.c).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks.record_day2 import fuse_pid
from gluster_mgmt import open_store
from tests.conftest import API_PORT
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.gluster.node_ns import Node
from tests.helpers import REPO, child_env, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "day2" /
                       "outputs.json").read_text())
VOLUME = "dv"
#: the address the recording's glusterd (and our first daemon) serves on
HOST = "127.0.0.2"


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step and o["xml"] == xml]
    return entry


class Day2:
    """The module's cluster: nodes, brick directories, the mount, the gfapi client."""

    def __init__(self, nodes: list[Node], tmp: Path, point: Path) -> None:
        self.nodes = nodes
        self.tmp = tmp
        self.point = point
        self.dumps = tmp / "dumps"
        self.client_dumps = tmp / "client-dumps"
        self.gfapi: subprocess.Popen | None = None
        self.gfapi_pid = 0

    def run_dir(self, node: Node) -> Path:
        """The node's /var/run/gluster (Node.wrapper's bind mount)."""
        return node.daemon.state_dir / "run"

    def dump_dirs(self) -> list[Path]:
        return [self.dumps, self.client_dumps, *(self.run_dir(n) for n in self.nodes)]

    def clear_dumps(self) -> None:
        for directory in self.dump_dirs():
            for old in directory.glob("*.dump.*"):
                old.unlink()

    def dumps_by(self, pids: dict[str, int]) -> dict[str, list[str]]:
        """The dump files now left, by the process named in ``pids`` that wrote them
        (``brick`` for the rest)."""
        found: dict[str, list[str]] = {}
        for directory in self.dump_dirs():
            for path in directory.glob("*.dump.*"):
                owner = next((who for who, pid in pids.items()
                              if path.name.startswith(f"glusterdump.{pid}.dump.")), "brick")
                found.setdefault(owner, []).append(path.name)
        return found


@pytest.fixture(scope="module")
def day2(store_server, tmp_path_factory):
    if os.geteuid() != 0 or not os.access(STOCK_GLUSTER, os.X_OK):
        pytest.skip("needs root and GlusterFS 10.3 (scripts/install-deps.sh)")
    tmp = tmp_path_factory.mktemp("day2")
    url = store_server.url(f"d{uuid.uuid4().hex[:10]}")
    with open_store(url) as store:
        lease_ttl = max(2.0, store.capabilities.min_lease_ttl)
    daemons: list[DaemonProcess] = []
    point = tmp / "mnt"
    point.mkdir()
    cluster = None
    try:
        for index in range(3):
            address = f"127.0.0.{index + 2}"
            daemon = DaemonProcess(tmp, address, url, API_PORT, lease_ttl,
                                   wrapper=Node.wrapper(tmp / f"node-{address}"))
            daemons.append(daemon)
            daemon.start()
        cluster = Day2([Node(d) for d in daemons], tmp, point)
        cluster.dumps.mkdir()
        cluster.client_dumps.mkdir()
        d1 = daemons[0]
        for other in daemons[1:]:
            d1.cli("peer", "probe", other.address, check=True)
        bricks = [f"{d.address}:{tmp / f'r{i}'}" for i, d in enumerate(daemons, 1)]
        d1.cli("volume", "create", VOLUME, "replica", "3", *bricks, "force", check=True)
        d1.cli("volume", "set", VOLUME, "server.statedump-path", str(cluster.dumps), check=True)
        d1.cli("volume", "start", VOLUME, check=True)
        d1.cli("volume", "create", "sv", f"{d1.address}:{tmp / 's1'}", "force", check=True)
        assert wait_for(lambda: d1.gluster("volume", "status", VOLUME).stdout.count(" Y ") >= 6,
                        60, 0.5), d1.gluster("volume", "status", VOLUME).stdout
        subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={tmp / 'client.log'}",
                        f"{HOST}:/{VOLUME}", str(point)], check=True, timeout=60)
        (point / "f.txt").write_text("client statedump\n")
        cluster.gfapi = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.gfapi_client", HOST, VOLUME,
             str(cluster.client_dumps), str(tmp / "gfapi.log")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=child_env())
        assert cluster.gfapi.stdout is not None
        ready = cluster.gfapi.stdout.readline().split()
        assert ready[:1] == ["ready"], (ready, (tmp / "gfapi.log").read_text()[-2000:])
        cluster.gfapi_pid = int(ready[1])
        yield cluster
    finally:
        if cluster is not None and cluster.gfapi is not None:
            assert cluster.gfapi.stdin is not None
            cluster.gfapi.stdin.close()
            try:
                cluster.gfapi.wait(30)
            except subprocess.TimeoutExpired:
                cluster.gfapi.kill()
                cluster.gfapi.wait(10)
        subprocess.run(["umount", "-l", str(point)], check=False)
        for daemon in daemons:
            daemon.stop_all()


def same_as_glusterd(node: Node, step: str, words: str,
                     doors: tuple[str, ...] = ("stock", "gluster-mgmt")) -> None:
    """Each door prints what glusterd's CLI printed for the step: text and --xml, exit
    code."""
    for xml in (False, True):
        want = recorded(step, xml)
        for door in doors:
            got = (node.stock if door == "stock" else node.ours)(*words.split(), xml=xml)
            assert (got.stdout, got.stderr, got.returncode) == \
                (want["stdout"], want["stderr"], want["rc"]), \
                (door, step, xml, got.stdout, got.stderr, node.daemon.log_tail())


def words_of(step: str, **pids: int) -> str:
    """The recorded command, its placeholders (@FUSE@, @GFAPI@) replaced by our pids."""
    words = " ".join(recorded(step, False)["args"])
    for name, pid in pids.items():
        words = words.replace(f"@{name.upper()}@", str(pid))
    return words


def test_statedump_refusals_equal_glusterd(day2):
    """No quota on the volume, a bad client target, nfs with quotad, a stopped or missing
    volume: refused as glusterd refuses them, through both doors."""
    node = day2.nodes[0]
    for step in ("statedump quotad no quota", "statedump client bad pid",
                 "statedump client no pid", "statedump client bad host",
                 "statedump nfs quotad", "statedump client stopped volume",
                 "statedump client missing volume"):
        same_as_glusterd(node, step, words_of(step))


def test_statedump_nfs_dumps_the_bricks(day2):
    """Debian's glusterd 10.3 has no NFS server: `nfs` (alone or with options) is a brick
    statedump, a dump from each of the three bricks."""
    node = day2.nodes[0]
    for step in ("statedump nfs", "statedump nfs mem", "statedump mem nfs"):
        day2.clear_dumps()
        same_as_glusterd(node, step, words_of(step))
        time.sleep(1)
        found = day2.dumps_by({"gfapi": day2.gfapi_pid})
        assert set(found) == set(recorded(step, True)["dumps"]) == {"brick"}, (step, found)
        bricks = {re.sub(r"\.\d+\.dump\.\d+$", "", name) for name in found["brick"]}
        assert len(bricks) == 3, found
    assert not [p for n in day2.nodes for p in day2.run_dir(n).glob("glusterdump.*.options")]


def test_client_statedump_reaches_the_gfapi_client(day2):
    """CALLBACK STATEDUMP on the connections from the client's address that fetched the
    volume: the gfapi client dumps into its statedump path; the FUSE client, which ignores
    the callback, and a pid or address of no client leave no dump; as under glusterd."""
    node = day2.nodes[0]
    pids = {"fuse": fuse_pid(day2.point), "gfapi": day2.gfapi_pid}
    for step in ("statedump client fuse", "statedump client fuse loopback",
                 "statedump client gfapi", "statedump client gfapi loopback",
                 "statedump client unknown pid", "statedump client unknown host"):
        for door in ("stock", "gluster-mgmt"):
            day2.clear_dumps()
            same_as_glusterd(node, step, words_of(step, **pids), doors=(door,))
            want = recorded(step, True)["dumps"]

            def dumped() -> bool:
                return sorted(day2.dumps_by(pids)) == sorted(want)
            assert wait_for(dumped, 10, 0.5), (step, door, day2.dumps_by(pids), want)
            if want:
                # one dump per callback; its name has the second it was written in, so a
                # dump may land in two files when the second turns between them
                names = sorted(set(day2.dumps_by(pids)["gfapi"]))
                assert all(n.startswith(f"glusterdump.{day2.gfapi_pid}.dump.") for n in names)
                name = names[-1]
                text = (day2.client_dumps / name).read_text(errors="replace")
                assert "[global.glusterfs - Memory usage]" in text and \
                    f"{VOLUME}-replicate-0" in text, text[:2000]
    time.sleep(2)  # nothing comes late
    assert day2.dumps_by(pids).get("fuse") is None


def service_pids(day2: Day2, service: str) -> dict[str, int]:
    """Each node's ``service`` ("Quota Daemon", "Self-heal Daemon") pid, by node address
    (from `volume status VOL --xml`)."""
    out = day2.nodes[0].stock("volume", "status", VOLUME, xml=True).stdout
    pids = {}
    for n in ET.fromstring(out).iter("node"):
        if n.findtext("hostname") == service:
            path = n.findtext("path") or ""
            pids[HOST if path == "localhost" else path] = int(n.findtext("pid") or 0)
    return pids


def quotad_pids(day2: Day2) -> dict[str, int]:
    return service_pids(day2, "Quota Daemon")


def shd_pids(day2: Day2) -> dict[str, int]:
    return service_pids(day2, "Self-heal Daemon")


def test_quotad_statedump_on_every_node(day2):
    """With quota on, `statedump VOL quotad [OPTIONS]` makes each node's quotad dump into
    its /var/run/gluster; options before `quotad`, or a stopped volume, are refused."""
    node = day2.nodes[0]
    node.ours("volume", "quota", VOLUME, "enable")
    assert wait_for(lambda: len([p for p in quotad_pids(day2).values() if p]) == 3, 60, 1), \
        quotad_pids(day2)
    quotads = quotad_pids(day2)
    for step in ("statedump quotad", "statedump quotad mem"):
        for door in ("stock", "gluster-mgmt"):
            day2.clear_dumps()
            same_as_glusterd(node, step, words_of(step), doors=(door,))
            for each in day2.nodes:
                pid = quotads[each.daemon.address]

                def dumped() -> list[Path]:
                    return list(day2.run_dir(each).glob(f"glusterdump.{pid}.dump.*"))
                assert wait_for(dumped, 10, 0.5), (step, door, each.daemon.address,
                                                   list(day2.run_dir(each).iterdir()))
            assert set(recorded(step, True)["dumps"]) == {"quotad"}
            assert not list(day2.dumps.glob("*.dump.*"))  # no brick dumped
    for step in ("statedump mem quotad", "statedump quotad stopped volume"):
        same_as_glusterd(node, step, words_of(step))


def test_volume_sync_equals_glusterd(day2):
    """glusterd's refusals (the node itself, a host that is no peer, bad words); from a
    peer, success with nothing to copy (one store), or the peer's staging refusal of a
    volume it does not know."""
    node = day2.nodes[0]
    for step in ("sync local address", "sync local address volume", "sync localhost all",
                 "sync unknown host", "sync unknown host volume",
                 "sync unknown host missing volume", "sync unresolvable name", "sync no host",
                 "sync too many words"):
        same_as_glusterd(node, step, words_of(step))
    peer = day2.nodes[1].daemon.address
    for words in (f"volume sync {peer}", f"volume sync {peer} all", f"volume sync {peer} dv"):
        for got in (node.stock(*words.split()), node.ours(*words.split())):
            assert (got.stdout, got.stderr, got.returncode) == ("volume sync: success\n", "", 0)
        xml = node.stock(*words.split(), xml=True).stdout
        assert "<opRet>0</opRet>" in xml and "<output>volume sync: success</output>" in xml
        assert node.ours(*words.split(), xml=True).stdout == xml
    refusal = (f"volume sync: failed: Staging failed on {peer}. Error: Volume nope does not "
               "exist\n")
    for got in (node.stock("volume", "sync", peer, "nope"), node.ours("volume", "sync", peer, "nope")):
        assert (got.stderr, got.returncode) == (refusal, 1)


def test_reset_brick_commit_restarts_shd_and_quotad(day2):
    """After `reset-brick ... commit force` each node runs a new self-heal daemon (the
    volume was its only one) and a new quotad, as glusterd restarts them; the brick comes
    back and the self-heal daemon heals what was written while it was out."""
    node = day2.nodes[0]
    target = day2.nodes[2].daemon.address
    brick = f"{target}:{day2.tmp / 'r3'}"
    before_shd, before_quotad = shd_pids(day2), quotad_pids(day2)
    assert len([p for p in before_shd.values() if p]) == 3, before_shd
    want = recorded("reset-brick start", False)
    got = node.stock("volume", "reset-brick", VOLUME, brick, "start")
    assert (got.stdout, got.returncode) == (want["stdout"], want["rc"]), got
    (day2.point / "while-out.txt").write_text("written while r3 was out\n")
    want = recorded("reset-brick commit force", False)
    got = node.ours("volume", "reset-brick", VOLUME, brick, brick, "commit", "force")
    assert (got.stdout, got.returncode) == (want["stdout"], want["rc"]), got
    daemons = recorded("reset-brick commit force", True)["daemons"]
    assert daemons == {"Quota Daemon": {"running": True, "pid changed": True},
                       "Self-heal Daemon": {"running": True, "pid changed": True}}

    def restarted() -> bool:
        shd, quotad = shd_pids(day2), quotad_pids(day2)
        return all(shd.get(a) and shd[a] != p for a, p in before_shd.items()) and \
            all(quotad.get(a) and quotad[a] != p for a, p in before_quotad.items())
    assert wait_for(restarted, 60, 1), (before_shd, shd_pids(day2), before_quotad,
                                        quotad_pids(day2))
    assert wait_for(lambda: node.stock("volume", "status", VOLUME).stdout.count(" Y ") == 9,
                    60, 1), node.stock("volume", "status", VOLUME).stdout
    healed = day2.tmp / "r3" / "while-out.txt"
    node.stock("volume", "heal", VOLUME)
    assert wait_for(healed.exists, 120, 2), node.stock("volume", "heal", VOLUME, "statistics",
                                                        "heal-count").stdout
    assert wait_for(lambda: healed.read_text() == "written while r3 was out\n", 30, 1)
