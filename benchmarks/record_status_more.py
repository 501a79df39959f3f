"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to the rest of
``volume status``: one brick (``status VOL BRICK [detail]``), the self-heal daemon
(``status VOL shd [mem|inode|callpool|fd|clients|detail]``, which glusterd asks of the node's
glustershd with a GD_BRICK NODE_STATUS), quotad, nfs, ``status all shd``-style refusals and
``status VOL fd`` with no fd open, on replica 3 volumes (three bricks on one host), each with
a FUSE client mounted (a file held open on the first one only).

    python -m benchmarks.record_status_more     # from the repository root, as root

writes tests/data/glusterd-10.3/status-more/outputs.json: for each step its command (text and
``--xml``), exit code, output (stdout and stderr apart) and the GLUSTER_CLI calls with their
replies. glusterd runs as in benchmarks/record_heal.py; the work directory is ``@W@``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.record_cli_program import recorder_main
from benchmarks.record_heal import start_glusterd, wait_until
from benchmarks.volume_ops import HOST, ROOT, bricks_online

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "status-more"
VOLUME = "cv"
#: a second replica volume, quota enabled, no client
QUOTA_VOLUME = "qv"
BRICK = f"{HOST}:@W@/bricks/c1"

STEPS = (
    ("status brick", f"volume status {VOLUME} {BRICK}"),
    ("status brick detail", f"volume status {VOLUME} {BRICK} detail"),
    ("status brick tasks", f"volume status {VOLUME} {BRICK} tasks"),
    ("status missing brick", f"volume status {VOLUME} {HOST}:/nowhere"),
    ("status missing brick detail", f"volume status {VOLUME} {HOST}:/nowhere detail"),
    ("status shd", f"volume status {VOLUME} shd"),
    ("status shd mem", f"volume status {VOLUME} shd mem"),
    ("status shd inode", f"volume status {VOLUME} shd inode"),
    ("status shd callpool", f"volume status {VOLUME} shd callpool"),
    ("status shd fd", f"volume status {VOLUME} shd fd"),
    ("status shd clients", f"volume status {VOLUME} shd clients"),
    ("status shd client-list", f"volume status {VOLUME} shd client-list"),
    ("status shd detail", f"volume status {VOLUME} shd detail"),
    ("status shd tasks", f"volume status {VOLUME} shd tasks"),
    ("status second shd", f"volume status {QUOTA_VOLUME} shd"),
    ("status second shd inode", f"volume status {QUOTA_VOLUME} shd inode"),
    ("status second shd callpool", f"volume status {QUOTA_VOLUME} shd callpool"),
    ("status nfs", f"volume status {VOLUME} nfs"),
    ("status nfs mem", f"volume status {VOLUME} nfs mem"),
    ("status quotad without quota", f"volume status {VOLUME} quotad"),
    ("status quotad", f"volume status {QUOTA_VOLUME} quotad"),
    ("status quotad mem", f"volume status {QUOTA_VOLUME} quotad mem"),
    ("status all shd", "volume status all shd"),
    ("status all nfs", "volume status all nfs"),
    ("status all quotad", "volume status all quotad"),
    ("status all shd mem", "volume status all shd mem"),
    ("status stopped shd", "volume status sv shd"),
    ("status missing shd", "volume status nope shd"),
    ("status distribute shd", "volume status dv shd"),
    ("status no fds", f"volume status {QUOTA_VOLUME} fd"),
    ("status brick no fds", f"volume status {QUOTA_VOLUME} {HOST}:@W@/bricks/q1 fd"),
)


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    idle = workdir / "idle"  # qv's mount point: a client without open files
    held = None
    try:
        run = lambda *words: glusterd.run(*words)  # noqa: E731
        for name, prefix in ((VOLUME, "c"), (QUOTA_VOLUME, "q"), ("sv", "s")):
            run("volume", "create", name, "replica", "3",
                *[f"{HOST}:{bricks}/{prefix}{i}" for i in (1, 2, 3)], "force")
        run("volume", "create", "dv", f"{HOST}:{bricks}/d1", "force")
        for name in (VOLUME, QUOTA_VOLUME, "dv"):
            run("volume", "set", name, "network.ping-timeout", "5")
            run("volume", "start", name)
        if not wait_until(lambda: bricks_online(glusterd, VOLUME, 3)
                          and bricks_online(glusterd, QUOTA_VOLUME, 3), 60):
            raise RuntimeError("bricks never online")
        run("volume", "quota", QUOTA_VOLUME, "enable")
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)], check=True,
                       timeout=60)
        idle.mkdir()
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{QUOTA_VOLUME}", str(idle)],
                       check=True, timeout=60)
        (point / "held.txt").write_text("held open\n")
        held = open(point / "held.txt", "rb")  # noqa: SIM115 (an fd the bricks list)
        time.sleep(3)
        rec.record(STEPS)
    finally:
        if held is not None:
            held.close()
        for mounted in (point, idle):
            subprocess.run(["umount", "-l", str(mounted)], capture_output=True, timeout=60,
                           check=False)
        glusterd.stop()
        (workdir / "outputs.json").write_text(json.dumps(rec.outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_status_more", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
