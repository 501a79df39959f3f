"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to ``volume heal``:
a replica 3 volume (three bricks on one host), one brick frozen (SIGSTOP) while files are
written through a FUSE mount, then thawed and healed.

    python -m benchmarks.record_heal          # from the repository root, as root

writes tests/data/glusterd-10.3/heal/outputs.json: for each step its command (text and
``--xml``), exit code, output and the GLUSTER_CLI calls with their replies (the HEAL_VOLUME
reply dicts come from the self-heal daemon's XLATOR_OP answer). `heal VOL info` makes no
GLUSTER_CLI call: the CLI runs glfsheal, which reads the bricks' indices itself.

glusterd runs as in benchmarks/record_cli_program.py (own network namespace, private mount
namespace: /run a tmpfs, /var/lib/glusterd and /var/log/glusterfs bind mounts of a work
directory; whatever is left there is killed by pid and the namespace deleted). The work
directory's path is recorded as ``@W@``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from benchmarks.record_cli_program import WORKDIR_MARK, Proxy, recorder_main
from benchmarks.volume_ops import (
    GLUSTER_CLI,
    HOST,
    ROOT,
    Glusterd,
    bricks_online,
    setup_private_mounts,
)

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "heal"
VOLUME = "hv"
#: the volume made split-brain on purpose
SPLIT_VOLUME = "sb"
#: seconds a client waits for a frozen brick before it gives up on it (both systems)
PING_TIMEOUT = "5"
FILES = ("a.txt", "b.txt", "dir/c.txt")

#: (step label, words, xml): commands run at each stage of the scenario
HEALTHY = (
    ("heal info", f"volume heal {VOLUME} info"), ("heal info summary", f"volume heal {VOLUME} info summary"),
    ("heal info split-brain", f"volume heal {VOLUME} info split-brain"),
    ("heal statistics heal-count", f"volume heal {VOLUME} statistics heal-count"),
    ("heal statistics heal-count replica",
     f"volume heal {VOLUME} statistics heal-count replica {HOST}:@W@/bricks/h1"),
    ("heal index", f"volume heal {VOLUME}"), ("heal full", f"volume heal {VOLUME} full"),
    ("heal disable", f"volume heal {VOLUME} disable"), ("heal index disabled", f"volume heal {VOLUME}"),
    ("heal enable", f"volume heal {VOLUME} enable"),
    ("heal missing volume", "volume heal nope"), ("heal info missing volume", "volume heal nope info"),
    ("heal distribute", "volume heal dv"), ("heal info distribute", "volume heal dv info"),
    ("heal stopped", "volume heal sv"), ("heal info stopped", "volume heal sv info"),
)
PENDING = (
    ("pending heal info", f"volume heal {VOLUME} info"),
    ("pending heal info summary", f"volume heal {VOLUME} info summary"),
    ("pending heal statistics heal-count", f"volume heal {VOLUME} statistics heal-count"),
)
HEALED = (
    ("healed heal info", f"volume heal {VOLUME} info"),
    ("healed heal info summary", f"volume heal {VOLUME} info summary"),
    ("healed heal statistics heal-count", f"volume heal {VOLUME} statistics heal-count"),
)


class Recorder:
    def __init__(self, workdir: Path, proxy: Proxy) -> None:
        self.workdir, self.proxy = workdir, proxy
        self.outputs: list[dict[str, Any]] = []

    def cli(self, words: str, xml: bool = False) -> subprocess.CompletedProcess:
        argv = [GLUSTER_CLI, "--mode=script", *(["--xml"] if xml else []),
                f"--glusterd-sock={self.proxy.path}",
                *(w.replace(WORKDIR_MARK, str(self.workdir)) for w in words.split())]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    def record(self, steps: tuple[tuple[str, str], ...]) -> None:
        for label, words in steps:
            for xml in (False, True):
                start = len(self.proxy.log)
                res = self.cli(words, xml)
                mark = lambda text: text.replace(str(self.workdir), WORKDIR_MARK)  # noqa: E731
                self.outputs.append({"step": label, "args": words.split(), "xml": xml,
                                     "rc": res.returncode, "stdout": mark(res.stdout),
                                     "stderr": mark(res.stderr),
                                     "calls": json.loads(mark(json.dumps(self.proxy.log[start:])))})


def _brick_pid(rec: Recorder, brick: Path, volume: str = VOLUME) -> int:
    out = rec.cli(f"volume status {volume}", xml=True).stdout
    for node in ET.fromstring(out).iter("node"):
        if node.findtext("path") == str(brick):
            return int(node.findtext("pid") or 0)
    raise RuntimeError(f"no pid for {brick}: {out}")


def wait_until(check, limit: float = 120.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return False


SPLIT = (
    ("split heal info split-brain", f"volume heal {SPLIT_VOLUME} info split-brain"),
    ("split heal info", f"volume heal {SPLIT_VOLUME} info"),
    ("split heal info summary", f"volume heal {SPLIT_VOLUME} info summary"),
)
RESOLVED = (
    ("resolved heal info split-brain", f"volume heal {SPLIT_VOLUME} info split-brain"),
    ("resolved heal info", f"volume heal {SPLIT_VOLUME} info"),
)


def split_brain(rec: Recorder, glusterd: Glusterd, bricks: Path, point: Path) -> None:
    """A data split-brain made on purpose: quorum off, self-heal daemon off; f.txt written
    while sb2 and sb3 are frozen, then while sb1 is; resolved from sb2 with source-brick."""
    run = lambda *words: glusterd.run(*words)  # noqa: E731
    run("volume", "create", SPLIT_VOLUME, "replica", "3",
        *[f"{HOST}:{bricks}/sb{i}" for i in (1, 2, 3)], "force")
    run("volume", "set", SPLIT_VOLUME, "network.ping-timeout", PING_TIMEOUT)
    run("volume", "set", SPLIT_VOLUME, "cluster.quorum-type", "none")
    run("volume", "start", SPLIT_VOLUME)
    run("volume", "heal", SPLIT_VOLUME, "disable")
    if not wait_until(lambda: bricks_online(glusterd, SPLIT_VOLUME, 3), 60):
        raise RuntimeError("split-brain volume: bricks never online")
    subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{SPLIT_VOLUME}", str(point)],
                   check=True, timeout=60)
    target = point / "f.txt"
    target.write_text("original\n")
    pids = [_brick_pid(rec, bricks / f"sb{i}", SPLIT_VOLUME) for i in (1, 2, 3)]
    make_split_brain(target, pids)
    rec.record(SPLIT)
    rec.record((("split source-brick",
                 f"volume heal {SPLIT_VOLUME} split-brain source-brick {HOST}:@W@/bricks/sb2 /f.txt"),))
    rec.record(RESOLVED)
    content = target.read_text()
    if content != "written while s1 was frozen\n":
        raise RuntimeError(f"after source-brick sb2, f.txt reads {content!r}")


def start_glusterd(workdir: Path, outer_ns: str) -> tuple[Glusterd, Recorder, Path, Path]:
    """glusterd started in the private namespaces, with a recording proxy on its socket:
    (glusterd, recorder, the bricks' directory, an empty mount point)."""
    setup_private_mounts(workdir, outer_ns)
    bricks = workdir / "bricks"
    bricks.mkdir()
    glusterd = Glusterd(workdir)
    glusterd.start()
    rec = Recorder(workdir, Proxy(workdir / "proxy.sock", "/var/run/glusterd.socket"))
    point = workdir / "mnt"
    point.mkdir()
    return glusterd, rec, bricks, point


def wind_up(glusterd: Glusterd, rec: Recorder, workdir: Path, point: Path) -> None:
    """The end of a recording: the mount gone, glusterd stopped, the outputs written with
    the work directory's path as ``@W@``."""
    subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)
    glusterd.stop()
    text = json.dumps(rec.outputs, indent=1).replace(str(workdir), WORKDIR_MARK)
    (workdir / "outputs.json").write_text(text + "\n")


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    frozen = 0
    try:
        run = lambda *words: glusterd.run(*words)  # noqa: E731
        run("volume", "create", VOLUME, "replica", "3",
            *[f"{HOST}:{bricks}/h{i}" for i in (1, 2, 3)], "force")
        run("volume", "set", VOLUME, "network.ping-timeout", PING_TIMEOUT)
        run("volume", "start", VOLUME)
        run("volume", "create", "dv", f"{HOST}:{bricks}/d1", "force")
        run("volume", "start", "dv")
        run("volume", "create", "sv", "replica", "3",
            *[f"{HOST}:{bricks}/s{i}" for i in (1, 2, 3)], "force")
        if not wait_until(lambda: bricks_online(glusterd, VOLUME, 3), 60):
            raise RuntimeError("bricks never online")
        time.sleep(3)  # the self-heal daemon connects to the bricks
        rec.record(HEALTHY)
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)], check=True,
                       timeout=60)
        frozen = _brick_pid(rec, bricks / "h3")
        os.kill(frozen, signal.SIGSTOP)
        for name in FILES:
            (point / name).parent.mkdir(exist_ok=True)
            (point / name).write_text(f"written while h3 was frozen: {name}\n")
        rec.record(PENDING)
        os.kill(frozen, signal.SIGCONT)
        frozen = 0
        time.sleep(8)  # the clients and the self-heal daemon reconnect
        rec.record((("heal index pending", f"volume heal {VOLUME}"),))

        def drained() -> bool:
            out = rec.cli(f"volume heal {VOLUME} info summary").stdout
            return "Total Number of entries: 0" in out and \
                out.count("Total Number of entries: 0") == 3
        if not wait_until(drained, 180):
            raise RuntimeError("heal never drained: " + rec.cli(f"volume heal {VOLUME} info").stdout)
        rec.record(HEALED)
        missing = [n for n in FILES if not (bricks / "h3" / n).exists()]
        if missing:
            raise RuntimeError(f"h3 lacks {missing} after the heal")
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60)
        split_brain(rec, glusterd, bricks, point)
    finally:
        if frozen:
            os.kill(frozen, signal.SIGCONT)
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)
        glusterd.stop()
        (workdir / "outputs.json").write_text(json.dumps(rec.outputs, indent=1) + "\n")


def make_split_brain(target: Path, pids: list[int]) -> None:
    """A data split-brain of ``target`` on a replica 3 (brick pids in order): written once
    while bricks 2 and 3 are frozen, once while brick 1 is, each side blaming the other."""
    try:
        for frozen, text in ((pids[1:], "written while s2 and s3 were frozen\n"),
                             (pids[:1], "written while s1 was frozen\n")):
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            target.write_text(text)
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
            time.sleep(8)  # the client reconnects to the thawed bricks
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_heal", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
