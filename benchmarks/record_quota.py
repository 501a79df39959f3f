"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to ``volume quota``:
enable, limits, `list` before and after data is written through a FUSE mount, a write past
the hard limit (EDQUOT), the timeouts, remove and disable; and the files glusterd writes for
it (quota.conf, quota.cksum, the brick, client and quotad volfiles, quotad's command line).

    python -m benchmarks.record_quota          # from the repository root, as root

writes tests/data/glusterd-10.3/quota/: ``outputs.json`` (each step's command, text and
``--xml``, exit code, output and GLUSTER_CLI calls with their replies; `quota list` also
reads quota.conf and asks quotad itself, which the proxy does not see), ``state/`` (the
files glusterd wrote), ``processes.txt`` (quotad's command line)
and ``write.json`` (what the FUSE writes past the limit saw).

glusterd runs as in benchmarks/record_heal.py (own network namespace, private mount
namespace: /run a tmpfs, /var/lib/glusterd and /var/log/glusterfs bind mounts of a work
directory). The work directory's path is recorded as ``@W@``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.record_cli_program import WORKDIR_MARK, recorder_main
from benchmarks.record_heal import start_glusterd, wait_until
from benchmarks.volume_ops import HOST, ROOT, bricks_online

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "quota"
VOLUME = "qv"
#: the directory limited, and its hard limit
LIMITED = "/dir"
LIMIT = "4MB"
CHUNK = 256 * 1024

#: (step label, words): the commands of each stage
ENABLE = (
    ("quota enable", f"volume quota {VOLUME} enable"),
    ("quota enable again", f"volume quota {VOLUME} enable"),
    ("quota list empty", f"volume quota {VOLUME} list"),
    ("quota limit-usage", f"volume quota {VOLUME} limit-usage {LIMITED} {LIMIT}"),
    ("quota limit-usage root", f"volume quota {VOLUME} limit-usage / 100MB 70%"),
    ("quota limit-usage missing path", f"volume quota {VOLUME} limit-usage /nope 1MB"),
    ("quota limit-usage bad size", f"volume quota {VOLUME} limit-usage {LIMITED} lots"),
    ("quota limit-objects", f"volume quota {VOLUME} limit-objects {LIMITED} 100 60%"),
    ("quota hard-timeout", f"volume quota {VOLUME} hard-timeout 0"),
    ("quota soft-timeout", f"volume quota {VOLUME} soft-timeout 0"),
    ("quota alert-time", f"volume quota {VOLUME} alert-time 1w"),
    ("quota default-soft-limit", f"volume quota {VOLUME} default-soft-limit 90"),
    ("quota list", f"volume quota {VOLUME} list"),
    ("quota list path", f"volume quota {VOLUME} list {LIMITED}"),
    ("quota list unlimited path", f"volume quota {VOLUME} list /other"),
    ("quota list-objects", f"volume quota {VOLUME} list-objects"),
    ("quota missing volume", "volume quota nope enable"),
    ("quota list missing volume", "volume quota nope list"),
)
#: `volume status` lists each node's quotad while quota is on
STATUS = (("quota volume status", f"volume status {VOLUME}"),)
WRITTEN = (
    ("written quota list", f"volume quota {VOLUME} list"),
    ("written quota list path", f"volume quota {VOLUME} list {LIMITED}"),
    ("written quota list-objects", f"volume quota {VOLUME} list-objects"),
)
FULL = (
    ("full quota list path", f"volume quota {VOLUME} list {LIMITED}"),
)
REMOVE = (
    ("quota remove", f"volume quota {VOLUME} remove {LIMITED}"),
    ("quota remove again", f"volume quota {VOLUME} remove {LIMITED}"),
    ("quota remove-objects", f"volume quota {VOLUME} remove-objects {LIMITED}"),
    ("removed quota list", f"volume quota {VOLUME} list"),
    ("quota disable", f"volume quota {VOLUME} disable"),
    ("quota disable again", f"volume quota {VOLUME} disable"),
    ("disabled quota list", f"volume quota {VOLUME} list"),
    ("disabled quota limit-usage", f"volume quota {VOLUME} limit-usage {LIMITED} 1MB"),
)


def write_until_refused(path: Path, limit: int) -> dict:
    """Write ``path`` in CHUNK pieces (each fsync'ed) until the volume refuses or ``limit``
    bytes are written: what was written and the error, by name."""
    written, error = 0, None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while written < limit:
            try:
                written += os.write(fd, b"q" * CHUNK)
                os.fsync(fd)
            except OSError as exc:
                error = errno.errorcode.get(exc.errno, str(exc.errno))
                break
    finally:
        try:
            os.close(fd)
        except OSError as exc:
            error = error or errno.errorcode.get(exc.errno, str(exc.errno))
    return {"written": written, "error": error}


def save_state(workdir: Path, out: Path) -> None:
    """The files glusterd wrote for quota: the volume's directory (info, quota.conf,
    quota.cksum, volfiles) and quotad's volfile, paths marked @W@."""
    lib = Path("/var/lib/glusterd")
    state = out / "state"
    shutil.rmtree(state, ignore_errors=True)
    for source in (lib / "vols" / VOLUME, lib / "quotad"):
        if not source.is_dir():
            continue
        for file in source.rglob("*"):
            if not file.is_file() or file.suffix == ".pid":
                continue
            target = state / file.relative_to(lib)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = file.read_bytes()
            if file.name not in ("quota.conf",):
                data = data.replace(str(workdir).encode(), WORKDIR_MARK.encode())
            target.write_bytes(data)


def processes(workdir: Path) -> str:
    """Command lines of this namespace's quota processes (quotad, auxiliary mounts)."""
    mine = os.readlink("/proc/self/ns/mnt")
    lines = []
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") != mine:
                continue
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in argv if a)
        if "quota" in text and os.path.basename(text.split(" ", 1)[0]) == "glusterfs":
            lines.append(text.replace(str(workdir), WORKDIR_MARK))
    return "\n".join(["# processes", *lines]) + "\n"


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    OUT.mkdir(parents=True, exist_ok=True)
    writes: dict = {}
    try:
        run = lambda *words: glusterd.run(*words)  # noqa: E731
        run("volume", "create", VOLUME, *[f"{HOST}:{bricks}/q{i}" for i in (1, 2)], "force")
        run("volume", "start", VOLUME)
        if not wait_until(lambda: bricks_online(glusterd, VOLUME, 2)):
            raise RuntimeError("bricks never online")
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)], check=True,
                       timeout=60)
        (point / LIMITED.lstrip("/")).mkdir()
        (point / "other").mkdir()
        rec.record((("quota list disabled", f"volume quota {VOLUME} list"),))
        rec.record(ENABLE)
        rec.record(STATUS)
        (OUT / "processes.txt").write_text(processes(workdir))
        save_state(workdir, OUT / "enabled")
        limited = point / LIMITED.lstrip("/")
        writes["small"] = write_until_refused(limited / "small", 1024 * 1024)
        time.sleep(2)  # the marker accounts the write on the bricks
        rec.record(WRITTEN)
        writes["past"] = write_until_refused(limited / "big", 16 * 1024 * 1024)
        time.sleep(2)
        rec.record(FULL)
        rec.record(REMOVE)
        save_state(workdir, OUT / "disabled")
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)
        glusterd.stop()
        (OUT / "write.json").write_text(json.dumps(writes, indent=1) + "\n")
        (workdir / "outputs.json").write_text(json.dumps(rec.outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_quota", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
