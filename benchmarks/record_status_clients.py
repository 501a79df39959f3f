"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to the brick-facing
day-2 commands: ``volume status VOL [BRICK] clients|client-list|fd|inode|callpool|mem`` (and
``status all clients``), ``volume log VOL rotate [BRICK]`` and ``volume reset-brick VOL SRC
start`` / ``SRC SRC commit [force]``, on a replica 3 volume (three bricks on one host) with a
FUSE client mounted and a file held open.

    python -m benchmarks.record_status_clients     # from the repository root, as root

writes tests/data/glusterd-10.3/status-clients/outputs.json: for each step its command (text
and ``--xml``), exit code, output and the GLUSTER_CLI calls with their replies (the
STATUS_VOLUME reply dicts of ``clients``... come from each brick's BRICK_STATUS answer), and
``facts``: the brick log directory after each rotate, the files a reset brick holds after
its heal. glusterd runs as in benchmarks/record_heal.py; the work directory is ``@W@``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.record_cli_program import WORKDIR_MARK, recorder_main
from benchmarks.record_heal import start_glusterd, wait_until
from benchmarks.volume_ops import HOST, ROOT, bricks_online

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "status-clients"
VOLUME = "cv"
BRICK = f"{HOST}:@W@/bricks/c1"
#: the brick reset in place
RESET = f"{HOST}:@W@/bricks/c3"
FILES = ("a.txt", "dir/b.txt")
STATUS_WHATS = ("clients", "client-list", "fd", "inode", "callpool", "mem")

STATUS = tuple(
    (f"status {what}", f"volume status {VOLUME} {what}") for what in STATUS_WHATS
) + tuple(
    (f"status brick {what}", f"volume status {VOLUME} {BRICK} {what}") for what in STATUS_WHATS
) + (
    ("status all clients", "volume status all clients"),
    ("status all fd", "volume status all fd"),
    ("status shd clients", f"volume status {VOLUME} shd clients"),
    ("status stopped clients", "volume status sv clients"),
    ("status missing clients", "volume status nope clients"),
    ("status missing brick clients", f"volume status {VOLUME} {HOST}:/nowhere clients"),
    ("status detail clients", f"volume status {VOLUME} detail clients"),
)
ROTATE = (
    ("log rotate", f"volume log {VOLUME} rotate"),
    ("log rotate brick", f"volume log {VOLUME} rotate {BRICK}"),
    ("log rotate missing volume", "volume log nope rotate"),
    ("log rotate missing brick", f"volume log {VOLUME} rotate {HOST}:/nowhere"),
    ("log rotate stopped", "volume log sv rotate"),
)
RESET_BEFORE = (
    ("reset-brick commit before start", f"volume reset-brick {VOLUME} {RESET} {RESET} commit"),
    ("reset-brick missing volume", f"volume reset-brick nope {RESET} start"),
    ("reset-brick missing brick", f"volume reset-brick {VOLUME} {HOST}:/nowhere start"),
    ("reset-brick stopped", f"volume reset-brick sv {HOST}:@W@/bricks/s1 start"),
    ("reset-brick other brick", f"volume reset-brick {VOLUME} {RESET} {HOST}:@W@/bricks/x commit force"),
    ("reset-brick start", f"volume reset-brick {VOLUME} {RESET} start"),
    ("reset-brick start again", f"volume reset-brick {VOLUME} {RESET} start"),
    ("status after reset-brick start", f"volume status {VOLUME}"),
)
RESET_AFTER = (
    ("reset-brick commit", f"volume reset-brick {VOLUME} {RESET} {RESET} commit"),
    ("reset-brick commit force", f"volume reset-brick {VOLUME} {RESET} {RESET} commit force"),
    ("status after reset-brick commit", f"volume status {VOLUME}"),
    ("reset-brick commit force again", f"volume reset-brick {VOLUME} {RESET} {RESET} commit force"),
)


def _log_dir_listing() -> list[str]:
    bricks = Path("/var/log/glusterfs/bricks")
    return sorted(p.name for p in bricks.iterdir()) if bricks.is_dir() else []


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    facts: dict[str, Any] = {}
    held = None
    try:
        run = lambda *words: glusterd.run(*words)  # noqa: E731
        run("volume", "create", VOLUME, "replica", "3",
            *[f"{HOST}:{bricks}/c{i}" for i in (1, 2, 3)], "force")
        run("volume", "set", VOLUME, "network.ping-timeout", "5")
        run("volume", "start", VOLUME)
        run("volume", "create", "sv", "replica", "3",
            *[f"{HOST}:{bricks}/s{i}" for i in (1, 2, 3)], "force")
        if not wait_until(lambda: bricks_online(glusterd, VOLUME, 3), 60):
            raise RuntimeError("bricks never online")
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)], check=True,
                       timeout=60)
        (point / "held.txt").write_text("held open\n")
        held = open(point / "held.txt", "rb")  # noqa: SIM115 (an fd the bricks list)
        time.sleep(2)
        rec.record(STATUS)
        facts["logs before rotate"] = _log_dir_listing()
        rec.record(ROTATE[:1])
        facts["logs after rotate"] = _log_dir_listing()
        time.sleep(1.1)  # the next rotation gets another second in its suffix
        rec.record(ROTATE[1:])
        facts["logs after rotate brick"] = _log_dir_listing()
        rec.record(RESET_BEFORE)
        for name in FILES:
            (point / name).parent.mkdir(exist_ok=True)
            (point / name).write_text(f"written while c3 was reset: {name}\n")
        rec.record(RESET_AFTER)
        if not wait_until(lambda: bricks_online(glusterd, VOLUME, 3), 60):
            raise RuntimeError("the reset brick never came back")
        time.sleep(3)
        run("volume", "heal", VOLUME)
        wait_until(lambda: all((bricks / "c3" / n).exists() for n in FILES), 120)
        facts["reset brick files"] = sorted(
            str(p.relative_to(bricks / "c3")) for p in (bricks / "c3").rglob("*")
            if ".glusterfs" not in p.parts)
    finally:
        if held is not None:
            held.close()
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)
        glusterd.stop()
        rec.outputs.append({"facts": json.loads(json.dumps(facts).replace(str(workdir), WORKDIR_MARK))})
        (workdir / "outputs.json").write_text(json.dumps(rec.outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_status_clients", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
