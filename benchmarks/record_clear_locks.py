"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to ``volume
clear-locks`` (glusterd mounts the volume on its own node and asks the locks translators
through a virtual getxattr, ``glusterfs.clrlk.tKIND.kTYPE[.ARGS]``).

    python -m benchmarks.record_clear_locks      # from the repository root, as root

One node; a started replica 3 volume ``cl`` (bricks on one host) mounted with FUSE, a file
``f.txt`` on which a process holds a POSIX write lock. Each step records its command (text
and ``--xml``), exit code, output and the GLUSTER_CLI calls with their replies; written to
tests/data/glusterd-10.3/clear-locks/outputs.json. glusterd runs as in
benchmarks/record_heal.py (own network and mount namespaces); the work directory's path is
recorded as ``@W@``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.record_cli_program import recorder_main
from benchmarks.record_heal import start_glusterd
from benchmarks.volume_ops import HOST, ROOT, bricks_online

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "clear-locks"
VOLUME = "cl"
#: A process holding a POSIX write lock on the file it is given until it is killed.
LOCK_HOLDER = ("import fcntl, sys, time\n"
               "f = open(sys.argv[1], 'r+')\n"
               "fcntl.lockf(f, fcntl.LOCK_EX)\n"
               "print('locked', flush=True)\n"
               "time.sleep(600)\n")

#: (step label, words): run in this order (the lock is held from the first to the granted one)
STEPS = (
    ("blocked posix", f"volume clear-locks {VOLUME} /f.txt kind blocked posix"),
    ("all inode", f"volume clear-locks {VOLUME} /f.txt kind all inode"),
    ("granted entry", f"volume clear-locks {VOLUME} / kind granted entry"),
    ("granted posix range", f"volume clear-locks {VOLUME} /f.txt kind granted posix 0,0-0"),
    ("granted posix", f"volume clear-locks {VOLUME} /f.txt kind granted posix"),
    ("granted posix again", f"volume clear-locks {VOLUME} /f.txt kind granted posix"),
    ("missing path", f"volume clear-locks {VOLUME} /nope.txt kind granted posix"),
    ("missing volume", "volume clear-locks nope /f.txt kind granted posix"),
    ("stopped volume", "volume clear-locks sv /f.txt kind granted posix"),
    ("bad kind", f"volume clear-locks {VOLUME} /f.txt kind held posix"),
    ("bad type", f"volume clear-locks {VOLUME} /f.txt kind granted flock"),
    ("no kind word", f"volume clear-locks {VOLUME} /f.txt granted posix"),
)


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    holder = None
    try:
        glusterd.run("volume", "create", VOLUME, "replica", "3",
                     *[f"{HOST}:{bricks}/c{i}" for i in (1, 2, 3)], "force")
        glusterd.run("volume", "start", VOLUME)
        glusterd.run("volume", "create", "sv", f"{HOST}:{bricks}/s1", "force")
        deadline = time.monotonic() + 60
        while not bricks_online(glusterd, VOLUME, 3) and time.monotonic() < deadline:
            time.sleep(0.5)
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)],
                       check=True, timeout=60)
        (point / "f.txt").write_text("locked by a process\n")
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(point / "f.txt")],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        rec.record(STEPS)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)
        glusterd.stop()
        (workdir / "outputs.json").write_text(json.dumps(rec.outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_clear_locks", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
