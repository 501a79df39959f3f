"""`volume profile`, `volume top`, `volume statedump` and `volume barrier` through the STOCK
`gluster` binary and `gluster-mgmt`, against three gluster-mgmtd daemons with real bricks
(one per daemon, replica 3) and a stock FUSE mount on which files are written, read and
listed, on every store backend. One cluster per backend for the whole module.

Outputs are compared with glusterd 10.3's for the same scenario
(tests/data/glusterd-10.3/profile, recorded by benchmarks/record_profile.py), normalised for
brick names, numbers, times and volume ids; `gluster-mgmt` must print what the stock CLI
prints for the same answer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from benchmarks.record_profile import FILES, dump_kinds, make_fops
from gluster_mgmt import open_store
from gluster_mgmt.services.brick_diagnostics import STATEDUMP_OPTIONS_DIR
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "profile" /
                       "outputs.json").read_text())
API_PORT = 24012
THEIRS = [f"127.0.0.2:@W@/bricks/p{i}" for i in (1, 2, 3)]


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step and o["xml"] == xml]
    return entry


_NUMBER = re.compile(r"\d+(\.\d+)?")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000(\.\d+)?")


def normalise(text: str, bricks: list[str], numbers: bool = False) -> str:
    """Brick names as Ba, Bb.. (a `Brick:` title's dashes as long as glusterd's), volume ids
    as U, times as T; with ``numbers``, every number N."""
    for letter, name in zip("abc", bricks):
        text = text.replace(name, f"B{letter}")
    text = re.sub(r"^(Brick: B[abc]\n)-+$", lambda m: m[1] + "-" * (len(m[1]) - 1), text,
                  flags=re.M)
    text = _TIME.sub("T", _UUID.sub("U", text))
    return _NUMBER.sub("N", text) if numbers else text


def skeleton(text: str, bricks: list[str]) -> list[str]:
    """`profile info`'s text without its fop and block-size rows (which fops reach which
    brick depends on the replica's read choice): the bricks, sections and totals."""
    keep = []
    for line in normalise(text, bricks, numbers=True).splitlines():
        if re.fullmatch(r"\s+N\s+N ns\s+N ns\s+N ns\s+N\s+\w+", line) or \
                line.lstrip().startswith(("Block Size", "No. of Reads", "No. of Writes")) or \
                not line.strip():
            continue
        keep.append(line)
    return keep


@pytest.fixture(scope="module")
def profiled(store_server, tmp_path_factory):
    """Three daemons, replica 3 volume pv (one brick each, statedump path set), a stopped
    volume sv, and a FUSE mount of pv -> (daemons, brick names, mount point, dump dir)."""
    if not os.access(STOCK_GLUSTER, os.X_OK) or os.geteuid() != 0:
        pytest.skip("needs root and GlusterFS 10.3 (scripts/install-deps.sh)")
    tmp = tmp_path_factory.mktemp("profile")
    with open_store(store_server.url(f"p{uuid.uuid4().hex[:8]}")) as probe:
        ttl = max(2.0, probe.capabilities.min_lease_ttl)
    root = store_server.url(f"c{uuid.uuid4().hex[:10]}")
    daemons: list[DaemonProcess] = []
    point = tmp / "mnt"
    point.mkdir()
    dumps = tmp / "dumps"
    dumps.mkdir()
    try:
        for i in range(3):
            daemons.append(DaemonProcess(tmp, f"127.0.0.{i + 2}", root, API_PORT, ttl))
            daemons[-1].start()
        d1 = daemons[0]
        for other in daemons[1:]:
            d1.cli("peer", "probe", other.address, check=True)
        names = [f"{d.address}:{tmp}/p{i}" for i, d in enumerate(daemons, 1)]
        d1.cli("volume", "create", "pv", "replica", "3", *names, "force", check=True)
        d1.cli("volume", "set", "pv", "server.statedump-path", str(dumps), check=True)
        d1.cli("volume", "start", "pv", check=True)
        d1.cli("volume", "create", "sv", f"{d1.address}:{tmp}/s1", "force", check=True)
        assert wait_for(lambda: d1.gluster("volume", "status", "pv").stdout.count(" Y ") >= 3,
                        60, 0.5), d1.gluster("volume", "status", "pv").stdout
        mounted = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={tmp}/client.log",
                                  f"{d1.address}:/pv", str(point)],
                                 capture_output=True, text=True, timeout=60)
        assert mounted.returncode == 0, mounted.stderr
        yield daemons, names, point, dumps
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
        for daemon in daemons:
            daemon.stop_all()


def same_as_glusterd(daemon, step: str, words: tuple[str, ...], ours: list[str],
                     doors: tuple[str, ...] = ("stock", "gluster-mgmt")) -> None:
    """Each door prints what glusterd's CLI printed, with its exit code, text and --xml."""
    for xml in (False, True):
        want = recorded(step, xml)
        for door in doors:
            got = daemon.gluster(*words, xml=xml) if door == "stock" else \
                daemon.cli(*(["--xml"] if xml else []), *words)
            assert (normalise(got.stdout, ours), normalise(got.stderr, ours), got.returncode) == \
                (normalise(want["stdout"], THEIRS), normalise(want["stderr"], THEIRS),
                 want["rc"]), (door, step, xml, got.stdout, got.stderr, daemon.log_tail())


def same_as_stock(daemon, words: tuple[str, ...], ours: list[str]) -> None:
    """`gluster-mgmt` prints what the stock CLI prints for the same answer, text and --xml,
    numbers aside. The mount's own fops (a late RELEASE, a STATFS) may add a line between
    two asks: ours must equal the stock answer just before or just after it."""
    for xml in (False, True):
        def agree() -> bool:
            before = daemon.gluster(*words, xml=xml)
            mine = daemon.cli(*(["--xml"] if xml else []), *words)
            after = daemon.gluster(*words, xml=xml)
            seen = (normalise(mine.stdout, ours, numbers=True), mine.returncode)
            agree.last = (words, xml, mine.stdout, after.stdout)
            return seen in ((normalise(run.stdout, ours, numbers=True), run.returncode)
                            for run in (before, after))
        assert wait_for(agree, 30, 0.5), agree.last


def test_profile_start_and_refusals_equal_glusterd(profiled):
    daemons, names, _, _ = profiled
    d1 = daemons[0]
    for step, words in (("profile info not started", ("info",)),
                        ("profile stop not started", ("stop",))):
        same_as_glusterd(d1, step, ("volume", "profile", "pv", *words), names)
    same_as_glusterd(d1, "profile start missing volume", ("volume", "profile", "nope", "start"),
                     names)
    # text starts it, --xml then finds it started: as recorded
    same_as_glusterd(d1, "profile start", ("volume", "profile", "pv", "start"), names,
                     doors=("stock",))
    same_as_glusterd(d1, "profile start again", ("volume", "profile", "pv", "start"), names)
    info = d1.gluster("volume", "info", "pv").stdout
    assert "diagnostics.count-fop-hits: on\ndiagnostics.latency-measurement: on\n" in info, info


def test_profile_info_shows_the_fops_made(profiled):
    daemons, names, point, _ = profiled
    d1 = daemons[0]
    make_fops(point)
    for step, words in (("profile info peek", ("peek",)),
                        ("profile info incremental peek", ("incremental", "peek")),
                        ("profile info cumulative", ("cumulative",))):
        want = recorded(step, False)
        got = d1.gluster("volume", "profile", "pv", "info", *words)
        assert (skeleton(got.stdout, names), got.returncode) == \
            (skeleton(want["stdout"], THEIRS), want["rc"]), (step, got.stdout, got.stderr)
        bricks = got.stdout.split("Brick: ")[1:]
        assert len(bricks) == 3, got.stdout
        for fop in ("WRITE", "OPEN", "MKDIR", "CREATE", "LOOKUP"):  # on every brick
            assert all(f" {fop}\n" in brick for brick in bricks), (fop, got.stdout)
        assert " READ\n" in got.stdout, got.stdout  # on the brick the replica reads from
    for words in (("peek",), ("incremental", "peek"), ("cumulative",)):
        same_as_stock(d1, ("volume", "profile", "pv", "info", *words), names)


def test_top_lists_the_files_made(profiled):
    daemons, names, point, _ = profiled
    d1 = daemons[0]
    make_fops(point)
    want_files = {f"/{name}" for name in FILES}
    for step, words in (("top open", ("open",)), ("top write", ("write", "list-cnt", "2"))):
        want = recorded(step, False)
        got = d1.gluster("volume", "top", "pv", *words)
        assert normalise(got.stdout, names, numbers=True) == \
            normalise(want["stdout"], THEIRS, numbers=True), (step, got.stdout)
    read = d1.gluster("volume", "top", "pv", "read").stdout
    assert {line.split("\t\t")[1] for line in read.splitlines() if "\t\t/" in line} == want_files
    assert [line for line in read.splitlines() if line.startswith("Brick:")] == \
        [f"Brick: {name}" for name in names]
    same_as_glusterd(d1, "top missing brick",
                     ("volume", "top", "pv", "read", "brick", f"{d1.address}:/no/such/brick"),
                     names)
    for step, words in (("top stopped volume", ("sv", "open")),
                        ("top missing volume", ("nope", "open"))):
        same_as_glusterd(d1, step, ("volume", "top", *words), names)
    perf = d1.gluster("volume", "top", "pv", "read-perf", "bs", "4096", "count", "2",
                      "brick", names[0]).stdout
    assert re.match(rf"Brick: {re.escape(names[0])}\nThroughput [\d.]+ MBps time [\d.]+ secs\n",
                    perf), perf
    for words in (("open",), ("read",), ("write", "list-cnt", "1"), ("opendir",), ("readdir",),
                  ("read-perf", "bs", "4096", "count", "2", "brick", names[1]),
                  ("write-perf", "bs", "4096", "count", "2", "list-cnt", "2")):
        same_as_stock(d1, ("volume", "top", "pv", *words), names)
    same_as_glusterd(d1, "top clear", ("volume", "top", "pv", "clear"), names)
    same_as_glusterd(d1, "profile info clear", ("volume", "profile", "pv", "info", "clear"),
                     names)


def test_statedump_writes_dump_files(profiled):
    """Each statedump leaves one dump per brick (two: text and --xml) in the statedump
    path, with the sections glusterd's bricks wrote for the same options."""
    daemons, names, _, dumps = profiled
    d1 = daemons[0]
    bricks = os.path.dirname(names[0].split(":", 1)[1])
    for step, words in (("statedump", ()), ("statedump mem", ("mem",)),
                        ("statedump inode fd", ("inode", "fd"))):
        for old in dumps.iterdir():
            old.unlink()
        same_as_glusterd(d1, step, ("volume", "statedump", "pv", *words), names)
        assert len(list(dumps.iterdir())) == 12, list(dumps.iterdir())  # 3 bricks, 4 runs
        want = recorded(step, True)
        assert dump_kinds(dumps, bricks) == (want["dumps"], want["dump_kinds"]), step
    assert not any(Path(STATEDUMP_OPTIONS_DIR).glob("glusterdump.*.options"))
    for step, words in (("statedump stopped volume", ("sv",)),
                        ("statedump missing volume", ("nope",))):
        same_as_glusterd(d1, step, ("volume", "statedump", *words), names)
    for old in dumps.iterdir():
        old.unlink()
    assert d1.cli("volume", "statedump", "pv", "all").stdout == "volume statedump: success\n"
    assert len(list(dumps.iterdir())) == 3


def test_barrier_holds_an_unlink_until_disabled(profiled):
    """While the bricks' barrier is up, an unlink on the mount waits; disabled, it is done."""
    daemons, _, point, _ = profiled
    d1 = daemons[0]
    victim = point / "barred.txt"
    victim.write_text("x")
    unlink = threading.Thread(target=victim.unlink, daemon=True)
    assert d1.gluster("volume", "barrier", "pv", "enable").returncode == 0
    try:
        unlink.start()
        unlink.join(2)
        assert unlink.is_alive(), "the unlink went through a raised barrier"
    finally:
        assert d1.gluster("volume", "barrier", "pv", "disable").returncode == 0
    unlink.join(30)
    assert not unlink.is_alive() and not victim.exists()


def test_barrier_enable_disable_equal_glusterd(profiled):
    """enable, enable again (the bricks refuse), disable: through each door as glusterd."""
    daemons, names, _, _ = profiled
    d1 = daemons[0]
    runs = {"stock": lambda *w: d1.gluster("volume", "barrier", *w),
            "gluster-mgmt": lambda *w: d1.cli("volume", "barrier", *w)}
    for door, run in runs.items():
        try:
            for step, words in (("barrier enable", ("pv", "enable")),
                                ("barrier enable again", ("pv", "enable"))):
                want = recorded(step, False)
                got = run(*words)
                assert (got.stdout, got.stderr, got.returncode) == \
                    (want["stdout"], want["stderr"], want["rc"]), (door, step, got, d1.log_tail())
            assert "features.barrier: enable" in d1.gluster("volume", "info", "pv").stdout
        finally:
            got = run("pv", "disable")
        want = recorded("barrier disable", False)
        assert (got.stdout, got.returncode) == (want["stdout"], want["rc"]), (door, got)
        assert "features.barrier: disable" in d1.gluster("volume", "info", "pv").stdout
    for step, words in (("barrier stopped volume", ("sv", "enable")),
                        ("barrier missing volume", ("nope", "enable"))):
        same_as_glusterd(d1, step, ("volume", "barrier", *words), names)


def test_profile_stop_equals_glusterd(profiled):
    daemons, names, _, _ = profiled
    d1 = daemons[0]
    same_as_glusterd(d1, "profile stop", ("volume", "profile", "pv", "stop"), names,
                     doors=("stock",))
    same_as_glusterd(d1, "profile stop again", ("volume", "profile", "pv", "stop"), names)
    assert "diagnostics" not in d1.gluster("volume", "info", "pv").stdout


@pytest.mark.parametrize("words", [
    "volume top pv read list-cnt 200", "volume top pv read-perf bs 4096",
    "volume top pv read-perf bs -3 count 2", "volume top pv read brick nohost",
    "volume top pv read-perf bs 4096 count 2 foo", "volume top pv bogus",
    "volume profile pv bogus", "volume profile pv start now please",
    "volume barrier pv", "volume statedump pv bogus",
])
def test_bad_input_is_refused_as_by_the_stock_cli(profiled, words):
    """What the stock CLI refuses before asking the daemon, `gluster-mgmt` refuses alike."""
    d1 = profiled[0][0]
    stock, mine = d1.gluster(*words.split()), d1.cli(*words.split())
    assert (mine.stdout, mine.stderr, mine.returncode) == \
        (stock.stdout, stock.stderr, stock.returncode)
