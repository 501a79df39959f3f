"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to ``volume profile``,
``volume top``, ``volume statedump`` and ``volume barrier``: a replica 3 volume (three bricks
on one host) with a FUSE mount on which files are written, read and listed.

    python -m benchmarks.record_profile          # from the repository root, as root

writes tests/data/glusterd-10.3/profile/outputs.json: for each step its command (text and
``--xml``), exit code, output and the GLUSTER_CLI calls with their replies (PROFILE_VOLUME's
reply dict holds each brick's io-stats answer to XLATOR_INFO, keyed ``N-what``), and the
names of the statedump files each statedump left in ``server.statedump-path``.

glusterd runs as in benchmarks/record_cli_program.py (own network namespace, private mount
namespace). The work directory's path is recorded as ``@W@``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.record_cli_program import recorder_main
from benchmarks.record_heal import Recorder, start_glusterd, wait_until, wind_up
from benchmarks.volume_ops import HOST, ROOT, Glusterd, bricks_online

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "profile"
VOLUME = "pv"
#: what the scenario does on the mount, so that profile and top have fops to show
FILES = ("a.txt", "b.txt", "dir/c.txt")


def make_fops(point: Path) -> None:
    """Creates, writes, reads and lists: OPEN, WRITE, READ, OPENDIR, READDIR(P), LOOKUP..."""
    for name in FILES:
        (point / name).parent.mkdir(exist_ok=True)
        (point / name).write_text(f"profiled {name}\n" * 100)
    for name in FILES:
        (point / name).read_text()
    sorted(p.name for p in (point / "dir").iterdir())
    sorted(p.name for p in point.iterdir())


#: (step label, words): commands before profiling starts
BEFORE = (
    ("profile info not started", f"volume profile {VOLUME} info"),
    ("profile stop not started", f"volume profile {VOLUME} stop"),
    ("profile start missing volume", "volume profile nope start"),
    ("profile start", f"volume profile {VOLUME} start"),
    ("profile start again", f"volume profile {VOLUME} start"),
    ("volume info profiled", f"volume info {VOLUME}"),
)
PROFILED = (
    ("profile info peek", f"volume profile {VOLUME} info peek"),
    ("profile info incremental peek", f"volume profile {VOLUME} info incremental peek"),
    ("profile info cumulative", f"volume profile {VOLUME} info cumulative"),
    ("profile info", f"volume profile {VOLUME} info"),
    ("profile info incremental", f"volume profile {VOLUME} info incremental"),
    ("top open", f"volume top {VOLUME} open"),
    ("top read", f"volume top {VOLUME} read"),
    ("top write", f"volume top {VOLUME} write list-cnt 2"),
    ("top opendir", f"volume top {VOLUME} opendir"),
    ("top readdir", f"volume top {VOLUME} readdir"),
    ("top read brick", f"volume top {VOLUME} read brick {HOST}:@W@/bricks/p1 list-cnt 10"),
    ("top read-perf", f"volume top {VOLUME} read-perf bs 4096 count 2 brick {HOST}:@W@/bricks/p1"),
    ("top write-perf", f"volume top {VOLUME} write-perf bs 4096 count 2 list-cnt 3"),
    ("top missing brick", f"volume top {VOLUME} read brick {HOST}:@W@/bricks/none"),
    ("top clear", f"volume top {VOLUME} clear"),
    ("top open cleared", f"volume top {VOLUME} open"),
    ("profile info clear", f"volume profile {VOLUME} info clear"),
    ("top stopped volume", "volume top sv open"),
    ("top missing volume", "volume top nope open"),
    ("barrier enable", f"volume barrier {VOLUME} enable"),
    ("barrier enable again", f"volume barrier {VOLUME} enable"),
    ("volume info barrier", f"volume info {VOLUME}"),
    ("barrier disable", f"volume barrier {VOLUME} disable"),
    ("barrier stopped volume", "volume barrier sv enable"),
    ("barrier missing volume", "volume barrier nope enable"),
    ("profile stop", f"volume profile {VOLUME} stop"),
    ("profile stop again", f"volume profile {VOLUME} stop"),
    ("volume info unprofiled", f"volume info {VOLUME}"),
    ("statedump stopped volume", "volume statedump sv"),
    ("statedump missing volume", "volume statedump nope"),
)
#: (step label, words): each statedump, with the dump files it left
STATEDUMPS = (
    ("statedump", f"volume statedump {VOLUME}"),
    ("statedump mem", f"volume statedump {VOLUME} mem"),
    ("statedump all", f"volume statedump {VOLUME} all"),
    ("statedump inode fd", f"volume statedump {VOLUME} inode fd"),
)


def dump_kind(name: str, bricks: Path | str = "") -> str:
    """A dump file's name or a dump section's title with its brick's path (as the dump
    writes it: ``-``-joined in file names) and every number generalised."""
    if bricks:
        root = str(bricks)
        name = re.sub(re.escape(root) + r"/\w+", "@B", name)
        name = re.sub(re.escape(root.strip("/").replace("/", "-")) + r"-\w+", "@B", name)
    return re.sub(r"\d+", "N", name)


def dump_kinds(dumps: Path, bricks: Path | str) -> tuple[list[str], list[str]]:
    """(the kinds of the dump files in ``dumps``, the kinds of their sections but the
    per-type memory usage ones)."""
    files = sorted(dumps.iterdir())
    sections = {line.strip("[]") for p in files for line in p.read_text(errors="replace").splitlines()
                if line.startswith("[") and "usage-type" not in line}
    return (sorted({dump_kind(p.name, bricks) for p in files}),
            sorted({dump_kind(s, bricks) for s in sections}))


def record_statedumps(rec: Recorder, dumps: Path, bricks: Path) -> None:
    """Each statedump step (text, then --xml), with the kinds of dump files both runs left
    and of the sections in them."""
    for label, words in STATEDUMPS:
        for old in dumps.iterdir():
            old.unlink()
        rec.record(((label, words),))
        time.sleep(2)
        rec.outputs[-1]["dumps"], rec.outputs[-1]["dump_kinds"] = dump_kinds(dumps, bricks)


def dumping_volumes(glusterd: Glusterd, bricks: Path, dumps: Path, volume: str,
                    prefix: str) -> None:
    """A started replica 3 ``volume`` (bricks PREFIX1..3) whose statedump path is ``dumps``,
    and a created volume ``sv``; the bricks online."""
    run = glusterd.run
    run("volume", "create", volume, "replica", "3",
        *[f"{HOST}:{bricks}/{prefix}{i}" for i in (1, 2, 3)], "force")
    run("volume", "set", volume, "server.statedump-path", str(dumps))
    run("volume", "start", volume)
    run("volume", "create", "sv", f"{HOST}:{bricks}/s1", "force")
    if not wait_until(lambda: bricks_online(glusterd, volume, 3), 60):
        raise RuntimeError("bricks never online")


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    dumps = workdir / "dumps"
    dumps.mkdir()
    try:
        dumping_volumes(glusterd, bricks, dumps, VOLUME, "p")
        rec.record(BEFORE)
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)], check=True,
                       timeout=60)
        make_fops(point)
        rec.record(PROFILED)
        record_statedumps(rec, dumps, bricks)
    finally:
        wind_up(glusterd, rec, workdir, point)


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_profile", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
