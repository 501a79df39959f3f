"""The brick-facing day-2 commands through the STOCK `gluster` binary and `gluster-mgmt`,
against three gluster-mgmtd daemons with real bricks (one per node), their self-heal daemons
and a stock FUSE mount holding a file open, on every store backend (one cluster per backend
for the whole module): `volume status VOL [BRICK] clients|client-list|fd|inode|callpool|mem`,
`volume log VOL rotate [BRICK]` and `volume reset-brick VOL SRC start` / `SRC SRC commit
force`. Outputs are compared with glusterd 10.3's (tests/data/glusterd-10.3/status-clients,
recorded by benchmarks/record_status_clients.py with its three bricks on one node),
normalised for brick hosts and paths, UUIDs, numbers (ports, pids, byte counts, addresses)
and the number of connected clients (glusterd's one self-heal daemon, our three)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from gluster_mgmt import open_store
from tests.conftest import API_PORT
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.helpers import REPO, stop_glusterd_here, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "status-clients" /
                       "outputs.json").read_text())
VOLUME = "cv"
THEIR_DIRS = [f"@W@/bricks/c{i}" for i in (1, 2, 3)]


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o.get("step") == step and o["xml"] == xml]
    return entry


@attrs.frozen
class Setup:
    daemons: list[DaemonProcess]
    dirs: list[Path]
    names: list[str]
    point: Path
    spare: Path  # a directory for the refusals' bricks


def cluster_ground(store_server, tmp_path_factory, name: str) -> tuple[Path, str, float]:
    """What a module's cluster of stock processes starts from: its directory, a fresh store
    prefix's URL and the lease TTL the store allows (no glusterd left on 24007)."""
    if shutil.which("glusterfsd") is None or os.geteuid() != 0 or not os.access(STOCK_GLUSTER, os.X_OK):
        pytest.skip("needs root and Debian's glusterfs-server (scripts/install-deps.sh)")
    stop_glusterd_here()  # no glusterd may hold 24007
    tmp = tmp_path_factory.mktemp(name)
    url = store_server.url(f"{name[0]}{uuid.uuid4().hex[:10]}")
    with open_store(url) as store:
        return tmp, url, max(2.0, store.capabilities.min_lease_ttl)


def start_pool(daemons: list[DaemonProcess], tmp: Path, url: str, ttl: float) -> DaemonProcess:
    """Three daemons on 127.0.0.2-4 put in ``daemons`` as they start (the caller stops
    them, also when one fails), the first probing the others; the first."""
    for i in range(3):
        daemons.append(DaemonProcess(tmp, f"127.0.0.{i + 2}", url, API_PORT, ttl))
        daemons[-1].start()
    for other in daemons[1:]:
        daemons[0].cli("peer", "probe", other.address, check=True)
    return daemons[0]


@pytest.fixture(scope="module")
def cluster(store_server, tmp_path_factory):
    """Three daemons, replica 3 volume cv (c1, c2, c3, one per node, ping-timeout 5) and a
    stopped one sv, a FUSE mount of cv with held.txt open; everything stopped afterwards."""
    tmp, url, ttl = cluster_ground(store_server, tmp_path_factory, "status-clients")
    daemons: list[DaemonProcess] = []
    point = tmp / "mnt"
    held = None
    try:
        d1 = start_pool(daemons, tmp, url, ttl)
        dirs = [tmp / f"c{i}" for i in (1, 2, 3)]
        names = [f"{d.address}:{b}" for d, b in zip(daemons, dirs)]
        d1.cli("volume", "create", VOLUME, "replica", "3", *names, "force", check=True)
        d1.cli("volume", "set", VOLUME, "network.ping-timeout", "5", check=True)
        d1.cli("volume", "start", VOLUME, check=True)
        d1.cli("volume", "create", "sv", "replica", "3",
               *[f"{d.address}:{tmp}/s{i}" for i, d in enumerate(daemons, 1)], "force", check=True)
        point.mkdir()
        mount = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={tmp}/client.log",
                                f"{d1.address}:/{VOLUME}", str(point)],
                               capture_output=True, text=True, timeout=60)
        assert mount.returncode == 0, mount.stderr
        (point / "held.txt").write_text("held open\n")
        held = open(point / "held.txt", "rb")  # noqa: SIM115 (an fd the bricks list)
        # every brick sees the FUSE client and the three self-heal daemons
        assert wait_for(lambda: d1.gluster("volume", "status", VOLUME, "clients").stdout
                        .count("Clients connected : 4") == 3, 60, 1), \
            d1.gluster("volume", "status", VOLUME, "clients").stdout
        yield Setup(daemons, dirs, names, point, tmp)
    finally:
        if held is not None:
            held.close()
        subprocess.run(["umount", "-l", str(point)], check=False)
        for daemon in daemons:
            daemon.stop_all()


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = re.compile(r"[0-9]+")
_CLIENT_XML = re.compile(r"\s*<client>.*?</client>", re.S)


def normalise(text: str, dirs: list[str]) -> str:
    """Brick paths as PA.., UUIDs as U, every number as N, column padding as one space;
    repeated rows (one per connected client) once."""
    for i, path in enumerate(dirs, 1):
        text = text.replace(path, f"P{chr(64 + i)}")
    text = _NUMBER.sub("N", _UUID.sub("U", _CLIENT_XML.sub("", text)))
    text = re.sub(r"(?<=\S) {2,}", " ", text)  # columns padded to the numbers' widths
    lines: list[str] = []
    for line in text.splitlines():
        if not lines or line != lines[-1] or not line.strip():
            lines.append(line)
    return "\n".join(lines) + "\n"


_LATER_STACK = re.compile(r"^Call Stack(?!1$)\d+$")
_LATER_FRAME = re.compile(r"^ Frame (?!1$)\d+$")
_XML_LATER_STACKS = re.compile(r"(</callStack>\n)(?:[ \t]*<callStack>.*?</callStack>\n)+", re.S)
_XML_LATER_FRAMES = re.compile(r"(<callFrame(?:/>|>.*?</callFrame>)\n)(?:[ \t]*<callFrame(?:/>|>.*?</callFrame>)\n)+", re.S)


def first_call_only(text: str) -> str:
    """A brick's pending calls are its own business: besides the status call itself, a
    client's or self-heal daemon's request may be in flight when the brick dumps them.
    Keep each brick's first call stack and its first frame (the shape glusterd prints)."""
    text = _XML_LATER_FRAMES.sub(r"\1", _XML_LATER_STACKS.sub(r"\1", text))
    kept, later_stack, later_frame = [], False, False
    for line in text.splitlines():
        if line.startswith(("Call Stack", "-----", "Brick :")):
            later_stack, later_frame = bool(_LATER_STACK.match(line)), False
        elif line.startswith(" Frame "):
            later_frame = bool(_LATER_FRAME.match(line))
        if not (later_stack or later_frame):
            kept.append(line)
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")


def same_as_glusterd(setup: Setup, step: str, words: tuple[str, ...],
                     doors: tuple[str, ...] = ("stock",), xmls: tuple[bool, ...] = (False, True)) -> None:
    d1 = setup.daemons[0]
    ours = [str(d) for d in setup.dirs]
    for xml in xmls:
        want = recorded(step, xml)
        for door in doors:
            got = d1.gluster(*words, xml=xml) if door == "stock" else \
                d1.cli(*(["--xml"] if xml else []), *words)
            if "callpool" in step:
                got = subprocess.CompletedProcess(got.args, got.returncode,
                                                  first_call_only(got.stdout), got.stderr)
            assert (normalise(got.stdout, ours), normalise(got.stderr, ours), got.returncode) == \
                (normalise(want["stdout"], THEIR_DIRS), normalise(want["stderr"], THEIR_DIRS),
                 want["rc"]), (door, step, xml, got.stdout, got.stderr, d1.log_tail())


def _words(step: str, setup: Setup) -> tuple[str, ...]:
    """The recorded command's words with our brick names (other bricks of the recording's
    work directory in our spare directory)."""
    args = recorded(step, False)["args"]
    theirs = [f"127.0.0.2:{d}" for d in THEIR_DIRS]
    spare = f"{setup.daemons[0].address}:{setup.spare}/"
    return tuple(setup.names[theirs.index(w)] if w in theirs
                 else w.replace("127.0.0.2:@W@/bricks/", spare) for w in args)


STATUS_STEPS = [f"status {what}" for what in ("clients", "client-list", "fd", "callpool")] + \
    [f"status brick {what}" for what in ("clients", "client-list", "fd", "callpool")] + \
    ["status all clients", "status all fd", "status shd clients", "status stopped clients",
     "status missing clients", "status missing brick clients", "status detail clients"]


@pytest.mark.parametrize("step", STATUS_STEPS)
def test_status_of_the_bricks_equals_glusterd(cluster, step):
    if "callpool" in step:  # gluster-mgmt: the text only
        same_as_glusterd(cluster, step, _words(step, cluster))
        same_as_glusterd(cluster, step, _words(step, cluster), ("gluster-mgmt",), (False,))
    else:
        same_as_glusterd(cluster, step, _words(step, cluster), ("stock", "gluster-mgmt"))


def test_status_clients_lists_the_mounted_client(cluster):
    """Each brick, asked on its own node, lists the FUSE client and the self-heal daemons;
    client-list counts them by process name."""
    d1 = cluster.daemons[0]
    out = d1.gluster("volume", "status", VOLUME, "clients").stdout
    for name in cluster.names:
        assert f"Brick : {name}\nClients connected : 4\n" in out, out
    listing = d1.gluster("volume", "status", VOLUME, "client-list").stdout
    assert re.search(r"^glustershd +3$", listing, re.M) and re.search(r"^fuse +1$", listing, re.M), listing


@pytest.mark.parametrize("what", ["inode", "mem"])
def test_status_inode_and_mem_have_glusterds_shape(cluster, what):
    """inode and mem: the tables' numbers move on their own; the shape is glusterd's."""
    d1 = cluster.daemons[0]
    ours = [str(d) for d in cluster.dirs]
    for xml in (False, True):
        got = d1.gluster("volume", "status", VOLUME, cluster.names[0], what, xml=xml)
        want = recorded(f"status brick {what}", xml)
        assert got.returncode == want["rc"], got.stderr
        mine, theirs = normalise(got.stdout, ours), normalise(want["stdout"], THEIR_DIRS)
        assert mine.splitlines()[:6] == theirs.splitlines()[:6], (mine, theirs)
    # gluster-mgmt prints the same from the same answers (the tables move between two
    # asks: the shape only; --xml: tests/gluster/test_status_more.py)
    for xml in (False, True):
        got = d1.cli(*(["--xml"] if xml else []), "volume", "status", VOLUME, cluster.names[0], what)
        want = recorded(f"status brick {what}", xml)
        assert normalise(got.stdout, ours).splitlines()[:6] == \
            normalise(want["stdout"], THEIR_DIRS).splitlines()[:6], got.stdout


def _brick_logs(setup: Setup) -> list[list[str]]:
    """Each brick's log directory entries that belong to it (name and rotated copies)."""
    found = []
    for daemon, path in zip(setup.daemons, setup.dirs):
        log = daemon.log_dir / "bricks" / (str(path).strip("/").replace("/", "-") + ".log")
        found.append(sorted(p.name.removeprefix(log.name) for p in log.parent.glob(log.name + "*")))
    return found


def test_log_rotate_equals_glusterd_and_leaves_rotated_logs(cluster):
    """Every brick's log renamed LOG.KEY on its own node and reopened; then one brick's."""
    assert _brick_logs(cluster) == [[""]] * 3
    for step in ("log rotate", "log rotate missing volume", "log rotate missing brick",
                 "log rotate stopped"):
        same_as_glusterd(cluster, step, _words(step, cluster), doors=("stock", "gluster-mgmt"))
    rotated = _brick_logs(cluster)
    # two rotations (text, --xml) within a second or two: one or two suffixes per brick
    assert all(logs[0] == "" and 2 <= len(logs) <= 3 for logs in rotated), rotated
    assert all(re.fullmatch(r"\.[0-9]{10}", suffix) for logs in rotated for suffix in logs[1:])
    # the bricks reopened their logs: each writes its current one again (a status asks them)
    cluster.daemons[0].gluster("volume", "status", VOLUME, "clients")
    for daemon, path in zip(cluster.daemons, cluster.dirs):
        log = daemon.log_dir / "bricks" / (str(path).strip("/").replace("/", "-") + ".log")
        assert wait_for(lambda: log.exists() and log.stat().st_size > 0, 30, 0.5), log
    before = _brick_logs(cluster)
    same_as_glusterd(cluster, "log rotate brick", _words("log rotate brick", cluster),
                     doors=("gluster-mgmt",))
    after = _brick_logs(cluster)
    assert after[1:] == before[1:] and len(after[0]) > len(before[0]) or after == before, \
        (before, after)  # a rotation in the same second renames onto the same name


def _brick_rows(tree: ET.Element) -> list[tuple[str, str, str]]:
    """The bricks' status, port and pid in a status --xml (numbers as N)."""
    return [(n.findtext("status") or "", *("N" if (n.findtext(k) or "").isdigit() else
                                           n.findtext(k) or "" for k in ("port", "pid")))
            for n in list(tree.iter("node"))[:3]]


def test_reset_brick_in_place_equals_glusterd_and_heals_back(cluster):
    """`reset-brick start` stops the brick and keeps it stopped; files written meanwhile;
    `commit force` brings the same brick back and the replica heals the files onto it."""
    d1 = cluster.daemons[0]
    for step in ("reset-brick commit before start", "reset-brick missing volume",
                 "reset-brick missing brick", "reset-brick stopped", "reset-brick other brick",
                 "reset-brick start", "reset-brick start again"):
        same_as_glusterd(cluster, step, _words(step, cluster), doors=("stock", "gluster-mgmt"))
    reset = cluster.names[2]

    def online(name: str) -> bool:
        out = d1.gluster("volume", "status", VOLUME, xml=True).stdout
        return any(f"{n.findtext('hostname')}:{n.findtext('path')}" == name and
                   n.findtext("status") == "1" for n in ET.fromstring(out).iter("node"))
    assert wait_for(lambda: not online(reset), 60, 0.5), d1.gluster("volume", "status", VOLUME).stdout
    # as glusterd lists a reset brick (its recording has one self-heal daemon, we three)
    want = ET.fromstring(recorded("status after reset-brick start", True)["stdout"])
    got = ET.fromstring(d1.gluster("volume", "status", VOLUME, xml=True).stdout)
    assert _brick_rows(got) == _brick_rows(want), (got, want)
    files = ("a.txt", "dir/b.txt")
    for name in files:
        (cluster.point / name).parent.mkdir(exist_ok=True)
        (cluster.point / name).write_text(f"written while c3 was reset: {name}\n")
    for step in ("reset-brick commit", "reset-brick commit force",
                 "reset-brick commit force again"):
        same_as_glusterd(cluster, step, _words(step, cluster))
    assert wait_for(lambda: online(reset), 60, 0.5), d1.gluster("volume", "status", VOLUME).stdout
    wanted = [f"written while c3 was reset: {n}\n" for n in files]

    def healed() -> bool:
        try:
            return [(cluster.dirs[2] / n).read_text() for n in files] == wanted
        except OSError:
            return False
    # an index heal now and then, as an operator would run it (`volume heal VOL`)
    assert wait_for(lambda: healed() or (d1.gluster("volume", "heal", VOLUME) and False), 120, 3), \
        d1.gluster("volume", "heal", VOLUME, "statistics", "heal-count").stdout
