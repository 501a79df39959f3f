"""Record what real glusterd 10.3 answers the stock `gluster` CLI for the brick operations:
`volume add-brick`, `remove-brick` (start, status, stop, commit, force; with and without
`replica N`), `replace-brick ... commit force` and `rebalance VOL start [force] | status |
stop`, on distribute and replicate volumes whose files (written through a FUSE mount) the
rebalance and remove-brick processes really move; error cases included.

    python -m benchmarks.record_brick_ops          # from the repository root, as root

writes tests/data/glusterd-10.3/cli-program/brick-ops.json: for each ``run`` step the
command's exit code, text or ``--xml`` output and its GLUSTER_CLI records (request dict,
reply, as benchmarks/record_cli_program.py captures them); the other steps are recorded as
they are, so a replay (tests/cli_program/test_brick_ops_recordings.py) repeats them. The
namespaces, the proxy and the ``@W@`` work-directory mark are record_cli_program's.
"""

from __future__ import annotations

import enum
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from benchmarks.record_cli_program import (
    OUT,
    WORKDIR_MARK,
    Proxy,
    recorder_main,
    run_command,
)
from benchmarks.volume_ops import HOST, Glusterd, setup_private_mounts

RECORDING = OUT / "brick-ops.json"
#: what the FUSE mount holds: enough files that every layout change moves some
FILES = tuple(f"file{i:02d}.dat" for i in range(40))
WAIT_LIMIT = 120.0


class StepKind(enum.Enum):
    """What a step of the script does."""

    RUN = "run"        # one stock CLI command (text or --xml), recorded
    MOUNT = "mount"    # FUSE-mount the volume at @W@/mnt/VOL
    WRITE = "write"    # write FILES into the mount
    LIST = "list"      # record the file names the mount shows
    WAIT = "wait"      # repeat the --xml status command until every node completed
    UMOUNT = "umount"  # unmount the volume


@attrs.frozen
class Step:
    kind: StepKind
    words: tuple[str, ...] = ()
    xml: bool = False


def file_content(name: str) -> bytes:
    return name.encode() * 1000


def mountpoint(workdir: Path, volume: str) -> Path:
    return workdir / "mnt" / volume


def completed(xml_output: str) -> bool:
    """A rebalance or remove-brick status whose every node finished (completed)."""
    states = re.findall(r"<statusStr>([^<]*)</statusStr>", xml_output)
    return bool(states) and all(s == "completed" for s in states)


#: the bricks' directory as the script writes it (@B@)
BRICKS = f"{HOST}:{WORKDIR_MARK}/bricks"


def _steps(text: str) -> tuple[Step, ...]:
    """One step a line: ``KIND [xml] WORDS...`` (KIND ``run`` may be left out)."""
    steps = []
    for line in text.strip().splitlines():
        words = line.replace("@B@", BRICKS).split()
        kind = StepKind(words[0]) if words[0] in StepKind._value2member_map_ else StepKind.RUN
        words = words[1:] if kind is not StepKind.RUN or words[0] == "run" else words
        xml = bool(words) and words[0] == "xml"
        steps.append(Step(kind, tuple(words[1:] if xml else words), xml))
    return tuple(steps)


SCRIPT = _steps("""
volume create d1 @B@/d1 @B@/d2 force
volume start d1
mount volume d1
write volume d1
volume create r1 replica 3 @B@/r1 @B@/r2 @B@/r3 force
volume start r1
volume create s1 @B@/s1 @B@/s2 force
volume add-brick d1 @B@/d3 force
xml volume add-brick d1 @B@/d4 force
volume add-brick d1 @B@/d1 force
xml volume add-brick d1 @B@/d1 force
volume add-brick nope @B@/x1 force
volume add-brick r1 @B@/r4 force
xml volume add-brick r1 @B@/r4 force
volume add-brick r1 replica 3 @B@/r4 force
volume add-brick r1 replica 2 @B@/r4 @B@/r5 force
volume add-brick r1 @B@/r4 @B@/r5 @B@/r6 force
volume add-brick r1 replica 4 @B@/r7 @B@/r8 force
volume info d1
volume info r1
xml volume info r1
volume rebalance s1 start
xml volume rebalance s1 start
volume rebalance nope start
volume rebalance d1 status
xml volume rebalance d1 status
volume rebalance d1 stop
volume rebalance d1 start
wait volume rebalance d1 status
volume rebalance d1 status
xml volume rebalance d1 status
volume status d1 tasks
volume rebalance d1 start
wait volume rebalance d1 status
xml volume rebalance d1 start force
wait volume rebalance d1 status
volume rebalance d1 stop
xml volume rebalance d1 stop
volume rebalance d1 status
volume remove-brick d1 @B@/nothere start
xml volume remove-brick d1 @B@/nothere start
volume remove-brick d1 @B@/d4 status
xml volume remove-brick d1 @B@/d4 status
volume remove-brick d1 @B@/d4 commit
volume remove-brick s1 @B@/s2 start
volume remove-brick d1 @B@/d1 @B@/d2 @B@/d3 @B@/d4 start
volume remove-brick d1 @B@/d4 start
wait volume remove-brick d1 @B@/d4 status
volume remove-brick d1 @B@/d4 status
xml volume remove-brick d1 @B@/d4 status
volume status d1 tasks
volume remove-brick d1 @B@/d3 start
volume remove-brick d1 @B@/d4 stop
xml volume remove-brick d1 @B@/d4 start
wait volume remove-brick d1 @B@/d4 status
xml volume remove-brick d1 @B@/d4 commit
list volume d1
volume remove-brick d1 @B@/d3 start
wait volume remove-brick d1 @B@/d3 status
xml volume remove-brick d1 @B@/d3 stop
volume remove-brick d1 @B@/d3 start
wait volume remove-brick d1 @B@/d3 status
volume remove-brick d1 @B@/d3 commit
list volume d1
volume info d1
volume add-brick d1 @B@/d5 force
xml volume remove-brick d1 @B@/d5 force
volume add-brick d1 @B@/d6 force
volume remove-brick d1 @B@/d6 force
list volume d1
volume remove-brick r1 replica 3 @B@/r7 @B@/r8 force
volume remove-brick r1 replica 2 @B@/r1 force
volume remove-brick r1 replica 4 @B@/r1 @B@/r4 force
volume remove-brick r1 replica 2 @B@/r3 @B@/r6 start
xml volume remove-brick r1 replica 2 @B@/r3 @B@/r6 force
volume info r1
volume replace-brick r1 @B@/r2 @B@/r9 commit force
xml volume replace-brick r1 @B@/r9 @B@/r10 commit force
volume replace-brick r1 @B@/r1 @B@/r4 commit force
xml volume replace-brick r1 @B@/r1 @B@/r4 commit force
volume replace-brick r1 @B@/nothere @B@/r11 commit force
volume replace-brick d1 @B@/d1 @B@/d9 commit force
volume replace-brick nope @B@/r1 @B@/r11 commit force
volume replace-brick r1 @B@/r1 @B@/r11 commit
volume info r1
xml volume info r1
volume info d1
umount volume d1
""")


def wait_completed(words: tuple[str, ...], run_xml) -> bool:
    """Repeat the ``--xml`` status command ``words`` until every node completed."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if completed(run_xml(words)):
            return True
        time.sleep(0.5)
    return False


def mount(volume: str, point: Path, log: Path) -> None:
    point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}", f"{HOST}:/{volume}",
                    str(point)], check=True, capture_output=True, timeout=60)


def inner(workdir: Path, outer_ns: str) -> None:
    setup_private_mounts(workdir, outer_ns)
    (workdir / "bricks").mkdir()
    glusterd = Glusterd(workdir)
    glusterd.start()
    proxy = Proxy(workdir / "proxy.sock", "/var/run/glusterd.socket")
    mounted: list[Path] = []
    outputs: list[dict[str, Any]] = []

    def run_xml(words: tuple[str, ...]) -> str:
        argv = ["gluster", "--mode=script", "--xml",
                *(w.replace(WORKDIR_MARK, str(workdir)) for w in words)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout

    try:
        for step in SCRIPT:
            entry: dict[str, Any] = {"step": step.kind.value, "args": list(step.words),
                                     "xml": step.xml}
            volume = step.words[-1] if step.words else ""
            if step.kind is StepKind.RUN:
                entry.update(run_command(step.words, step.xml, proxy, workdir))
            elif step.kind is StepKind.MOUNT:
                point = mountpoint(workdir, volume)
                mount(volume, point, workdir / f"client-{volume}.log")
                mounted.append(point)
            elif step.kind is StepKind.WRITE:
                for name in FILES:
                    (mountpoint(workdir, volume) / name).write_bytes(file_content(name))
            elif step.kind is StepKind.LIST:
                point = mountpoint(workdir, volume)
                entry["files"] = sorted(n for n in FILES if (point / n).is_file()
                                        and (point / n).read_bytes() == file_content(n))
            elif step.kind is StepKind.WAIT:
                entry["completed"] = wait_completed(step.words, run_xml)
            elif step.kind is StepKind.UMOUNT:
                subprocess.run(["umount", str(mountpoint(workdir, volume))], check=True, timeout=60)
                mounted.remove(mountpoint(workdir, volume))
            outputs.append(entry)
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], check=False, timeout=60)
        glusterd.stop()
    (workdir / "outputs.json").write_text(json.dumps(outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_brick_ops", RECORDING)


if __name__ == "__main__":
    sys.exit(main())
