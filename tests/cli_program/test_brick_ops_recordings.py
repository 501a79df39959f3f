"""Replay of benchmarks/record_brick_ops.py: add-brick, remove-brick, replace-brick and
rebalance through the stock CLI against one gluster-mgmtd daemon print what they printed
against real glusterd 10.3 (exit codes, text and --xml), on real bricks with a FUSE mount
whose files the rebalance processes move; the files the mount shows after each remove-brick
are the files it showed under glusterd.

Normalised: UUIDs, numbers of three digits or more (ports, pids, sizes in bytes) and the run
times of the migration tables.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.record_brick_ops import FILES, WAIT_LIMIT, StepKind, completed, file_content
from tests.cli_program.test_glusterd_recordings import WORKDIR_MARK, normalise, workdir  # noqa: F401
from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.helpers import REFERENCE

RECORDING = json.loads((REFERENCE / "cli-program" / "brick-ops.json").read_text())

#: Commands whose output gluster_mgmt does not give as glusterd does, and why: facts of the
#: shared volume logic, not of this door.
KNOWN_DIFFERENCES: dict[tuple[str, bool], str] = {
    ("volume add-brick r1 replica 3 127.0.0.2:@W@/bricks/r4 force", False):
        "glusterd says only 'Operation failed'; ours names the brick count that is wrong",
}

_RUN_TIME = re.compile(r"\b\d+:\d\d:\d\d\b|<runtime>[0-9.]+</runtime>")


def normalised(text: str, workdir: str) -> str:
    return normalise(_RUN_TIME.sub("<T>", text.replace(workdir, WORKDIR_MARK)))


def mount_volume(volume: str, point: Path, log: Path) -> None:
    """FUSE-mount ``volume`` of the daemon on 127.0.0.2 at ``point`` (the caller unmounts)."""
    point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}",
                             f"127.0.0.2:/{volume}", str(point)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.stderr, log.read_text(errors="replace")[-3000:]
                                    if log.exists() else "")


def test_stock_cli_brick_ops_print_what_glusterd_printed(make_daemons, workdir):  # noqa: F811
    (daemon,) = make_daemons(1)
    assert daemon.address == "127.0.0.2"  # the host the recording's bricks are on
    (Path(workdir) / "bricks").mkdir()
    mounted: list[Path] = []
    mismatches: list[str] = []
    still_different: set[tuple[str, bool]] = set()
    try:
        for entry in RECORDING:
            kind = StepKind(entry["step"])
            words = [w.replace(WORKDIR_MARK, workdir) for w in entry["args"]]
            line = " ".join(entry["args"])
            point = Path(workdir) / "mnt" / (words[-1] if words else "")
            if kind is StepKind.MOUNT:
                mount_volume(words[-1], point, Path(workdir) / f"client-{words[-1]}.log")
                mounted.append(point)
            elif kind is StepKind.WRITE:
                for name in FILES:
                    (point / name).write_bytes(file_content(name))
            elif kind is StepKind.LIST:
                files = sorted(n for n in FILES if (point / n).is_file()
                               and (point / n).read_bytes() == file_content(n))
                if files != entry["files"]:
                    mismatches.append(f"after {len(mismatches)} mismatches, the mount shows "
                                      f"{files}, under glusterd {entry['files']}")
            elif kind is StepKind.WAIT:
                deadline = time.monotonic() + WAIT_LIMIT
                while not completed(daemon.gluster(*words, xml=True).stdout):
                    assert time.monotonic() < deadline, (line, daemon.gluster(*words).stdout,
                                                         daemon.log_tail())
                    time.sleep(0.5)
            elif kind is StepKind.UMOUNT:
                subprocess.run(["umount", str(point)], check=True, timeout=60)
                mounted.remove(point)
            else:
                result = daemon.gluster(*words, xml=entry["xml"])
                got = [result.returncode, normalised(result.stdout, workdir),
                       normalised(result.stderr, workdir)]
                want = [entry["rc"], normalised(entry["stdout"], workdir),
                        normalised(entry["stderr"], workdir)]
                if (line, entry["xml"]) in KNOWN_DIFFERENCES:
                    if got != want:
                        still_different.add((line, entry["xml"]))
                    continue
                if got != want:
                    mismatches.append(f"{'--xml ' if entry['xml'] else ''}{line}:\n"
                                      f"  glusterd: {want!r}\n  ours:     {got!r}")
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], check=False, timeout=60)
    mismatches += [f"{'--xml ' if xml else ''}{line}: now equals glusterd's; drop it from "
                   "KNOWN_DIFFERENCES" for line, xml in set(KNOWN_DIFFERENCES) - still_different]
    assert not mismatches, "\n".join(mismatches) + f"\n--- daemon log ---\n{daemon.log_tail()}"
