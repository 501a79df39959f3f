"""Record how real glusterd 10.3 runs its self-heal daemon for several volumes: one
glustershd process per node, the graphs of further volumes attached to it (SVC_ATTACH), a
stopped volume detached, the process ending with the last volume.

    python -m benchmarks.record_shd_mux      # from the repository root, as root

Three replica 3 volumes (bricks on one host) are started one after the other, then stopped
one after the other; after each step the recording notes how many glustershd processes run,
the command line of each, which volumes' pidfiles (/var/run/gluster/shd/VOL/VOL-shd.pid)
exist and whether they name the running process, and the self-heal daemon rows of `volume
status VOL --xml` (their pid, as "the process" when it is the running one). Written to
tests/data/glusterd-10.3/shd/outputs.json. glusterd runs as in benchmarks/record_heal.py
(own network and mount namespaces); the work directory is recorded as ``@W@``, the node's
UUID as ``@UUID@``, the socket's hash as ``@HASH@``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from benchmarks.record_cli_program import WORKDIR_MARK, recorder_main
from benchmarks.volume_ops import (
    GLUSTER_CLI,
    HOST,
    ROOT,
    Glusterd,
    bricks_online,
    setup_private_mounts,
)

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "shd"
VOLUMES = ("sa", "sb", "sc")
RUN_DIR = Path("/var/run/gluster")


def shd_processes(uuid: str) -> list[tuple[int, list[str]]]:
    """(pid, argv) of this node's glustershd processes (`pgrep -f` on its process name; the
    pid namespace is shared, so only those naming this node's UUID)."""
    out = subprocess.run(["pgrep", "-f", "--", "process-name glustershd"], capture_output=True,
                         text=True).stdout
    found = []
    for pid in map(int, out.split()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode() for a in argv if a]
        if "glustershd" in words and f"*replicate*.node-uuid={uuid}" in words:
            found.append((pid, words))
    return found


def observe(glusterd: Glusterd, workdir: Path, step: str) -> dict[str, Any]:
    uuid = next(line.split("=", 1)[1] for line in
                Path("/var/lib/glusterd/glusterd.info").read_text().splitlines()
                if line.startswith("UUID="))
    processes = shd_processes(uuid)
    pids = {pid for pid, _ in processes}

    def mark(text: str) -> str:
        text = text.replace(str(workdir), WORKDIR_MARK).replace(uuid, "@UUID@")
        return re.sub(r"/[0-9a-f]{16}\.socket", "/@HASH@.socket", text)

    pidfiles = {}
    for volume in VOLUMES:
        path = RUN_DIR / "shd" / volume / f"{volume}-shd.pid"
        if path.exists():
            text = path.read_text().strip()
            pidfiles[volume] = "the process" if text.isdigit() and int(text) in pids else text
        else:
            pidfiles[volume] = None
    status = {}
    for volume in VOLUMES:
        out = subprocess.run([GLUSTER_CLI, "--mode=script", "--xml", "volume", "status", volume],
                             capture_output=True, text=True, timeout=120).stdout
        try:
            nodes = [n for n in ET.fromstring(out).iter("node")
                     if n.findtext("hostname") == "Self-heal Daemon"]
        except ET.ParseError:
            nodes = []
        status[volume] = [{"status": n.findtext("status"),
                           "pid": "the process" if int(n.findtext("pid") or -1) in pids
                           else n.findtext("pid")} for n in nodes]
    return {"step": step, "glustershd_count": len(processes),
            "command_lines": [mark(" ".join(argv)) for _, argv in processes],
            "pidfiles": pidfiles, "status_self_heal_daemon": status}


def settle(check, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not check():
        time.sleep(0.5)


def inner(workdir: Path, outer_ns: str) -> None:
    setup_private_mounts(workdir, outer_ns)
    bricks = workdir / "bricks"
    bricks.mkdir()
    glusterd = Glusterd(workdir)
    glusterd.start()
    observations: list[dict[str, Any]] = []
    try:
        for volume in VOLUMES:
            glusterd.run("volume", "create", volume, "replica", "3",
                         *[f"{HOST}:{bricks}/{volume}{i}" for i in (1, 2, 3)], "force")
        for volume in VOLUMES:
            glusterd.run("volume", "start", volume)
            settle(lambda: bricks_online(glusterd, volume, 3))
            settle(lambda: (RUN_DIR / "shd" / volume / f"{volume}-shd.pid").exists())
            time.sleep(2)
            observations.append(observe(glusterd, workdir, f"started {volume}"))
        for volume in VOLUMES:
            glusterd.run("volume", "stop", volume)
            time.sleep(2)
            observations.append(observe(glusterd, workdir, f"stopped {volume}"))
    finally:
        glusterd.stop()
        (workdir / "outputs.json").write_text(json.dumps(observations, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_shd_mux", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
