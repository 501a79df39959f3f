"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to `volume statedump
VOL quotad|nfs|client HOST:PID`, to `volume sync`, and what `reset-brick ... commit force`
does to the node's self-heal daemon and quotad.

    python -m benchmarks.record_day2          # from the repository root, as root

writes tests/data/glusterd-10.3/day2/outputs.json: for each step its command (text and
``--xml``), exit code, output and the GLUSTER_CLI calls with their replies; statedump steps
also record the dump files left (names, numbers generalised) in the volume's statedump path,
in /var/run/gluster and in the gfapi client's statedump path, keyed by which process wrote
them (``brick``, ``quotad``, ``fuse``, ``gfapi``). The reset-brick step records whether the
self-heal daemon's and quotad's pids changed.

glusterd runs as in benchmarks/record_heal.py (own network namespace, private mount
namespace). The work directory's path is recorded as ``@W@``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks.record_cli_program import recorder_main
from benchmarks.record_heal import Recorder, start_glusterd, wind_up
from benchmarks.record_profile import dumping_volumes
from benchmarks.volume_ops import HOST, ROOT

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "day2"
VOLUME = "dv"
#: where a process with no statedump path of its own (quotad, a FUSE client) dumps
RUN_DUMPS = Path("/var/run/gluster")

NO_QUOTA = (
    ("statedump quotad no quota", f"volume statedump {VOLUME} quotad"),
    ("statedump client bad pid", f"volume statedump {VOLUME} client {HOST}:0"),
    ("statedump client no pid", f"volume statedump {VOLUME} client {HOST}"),
    ("statedump client bad host", f"volume statedump {VOLUME} client no_such!host:12"),
    ("statedump client extra word", f"volume statedump {VOLUME} client {HOST}:12 mem"),
    ("statedump nfs quotad", f"volume statedump {VOLUME} nfs quotad"),
    ("statedump client stopped volume", f"volume statedump sv client {HOST}:12"),
    ("statedump client missing volume", f"volume statedump nope client {HOST}:12"),
)
#: (label, words, whose dumps to expect): each leaves dump files, listed
DUMPING = (
    ("statedump nfs", f"volume statedump {VOLUME} nfs"),
    ("statedump nfs mem", f"volume statedump {VOLUME} nfs mem"),
    ("statedump mem nfs", f"volume statedump {VOLUME} mem nfs"),
)
QUOTA = (
    ("statedump quotad", f"volume statedump {VOLUME} quotad"),
    ("statedump quotad mem", f"volume statedump {VOLUME} quotad mem"),
    ("statedump mem quotad", f"volume statedump {VOLUME} mem quotad"),
    ("statedump quotad stopped volume", "volume statedump sv quotad"),
)
SYNC = (
    ("sync local address", f"volume sync {HOST}"),
    ("sync local address volume", f"volume sync {HOST} {VOLUME}"),
    ("sync localhost all", "volume sync localhost all"),
    ("sync unknown host", "volume sync 10.213.0.9"),
    ("sync unknown host volume", f"volume sync 10.213.0.9 {VOLUME}"),
    ("sync unknown host missing volume", "volume sync 10.213.0.9 nope"),
    ("sync unresolvable name", "volume sync no.such.host.invalid all"),
    ("sync no host", "volume sync"),
    ("sync too many words", f"volume sync {HOST} {VOLUME} more"),
)


def clear(*directories: Path) -> None:
    for directory in directories:
        for old in set(directory.glob("*.dump.*")) | set(directory.glob("glusterdump.*")):
            old.unlink()


def whose(pids: dict[str, int], *directories: Path) -> dict[str, list[str]]:
    """The dump files in ``directories``, by the process (named in ``pids``) that wrote
    them; ``brick`` for the rest (bricks dump as PATH.PID.dump.TIME)."""
    found: dict[str, list[str]] = {}
    for directory in directories:
        for path in directory.iterdir():
            if ".dump." not in path.name:
                continue
            owner = next((who for who, pid in pids.items()
                          if path.name.startswith(f"glusterdump.{pid}.dump.")), "brick")
            found.setdefault(owner, []).append(re.sub(r"\d+", "N", path.name.split("/")[-1]))
    return {k: sorted(v) for k, v in sorted(found.items())}


def fuse_pid(point: Path) -> int:
    """The glusterfs process serving the FUSE mount at ``point``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"glusterfs") and str(point).encode() in argv:
                return int(entry.name)
    raise RuntimeError(f"no glusterfs process for {point}")


def daemon_pids(rec: Recorder) -> dict[str, int]:
    """`volume status VOL --xml`'s self-heal daemon and quotad pids."""
    out = rec.cli(f"volume status {VOLUME}", xml=True).stdout
    pids = {}
    for node in ET.fromstring(out).iter("node"):
        name = node.findtext("hostname") or ""
        if name in ("Self-heal Daemon", "Quota Daemon"):
            pids[name] = int(node.findtext("pid") or 0)
    return pids


def record_dumps(rec: Recorder, steps, pids: dict[str, int], *dirs: Path) -> None:
    for label, words in steps:
        clear(*dirs)
        rec.record(((label, words),))
        time.sleep(2)
        rec.outputs[-1]["dumps"] = whose(pids, *dirs)


def inner(workdir: Path, outer_ns: str) -> None:
    glusterd, rec, bricks, point = start_glusterd(workdir, outer_ns)
    dumps, client_dumps = workdir / "dumps", workdir / "client-dumps"
    dumps.mkdir()
    client_dumps.mkdir()
    RUN_DUMPS.mkdir(parents=True, exist_ok=True)
    gfapi = None
    try:
        dumping_volumes(glusterd, bricks, dumps, VOLUME, "r")
        time.sleep(3)
        rec.record(NO_QUOTA)
        subprocess.run(["mount", "-t", "glusterfs", f"{HOST}:/{VOLUME}", str(point)],
                       check=True, timeout=60)
        (point / "f.txt").write_text("client statedump\n")
        gfapi = subprocess.Popen([sys.executable, "-m", "benchmarks.gfapi_client", HOST, VOLUME,
                                  str(client_dumps), str(workdir / "gfapi.log")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 cwd=ROOT)
        ready = gfapi.stdout.readline().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError(f"gfapi client: {ready}")
        fuse, api = fuse_pid(point), int(ready[1])
        pids = {"fuse": fuse, "gfapi": api}
        all_dirs = (dumps, RUN_DUMPS, client_dumps)
        record_dumps(rec, DUMPING, pids, *all_dirs)
        record_dumps(rec, (
            ("statedump client fuse", f"volume statedump {VOLUME} client {HOST}:{fuse}"),
            ("statedump client fuse loopback", f"volume statedump {VOLUME} client 127.0.0.1:{fuse}"),
            ("statedump client gfapi", f"volume statedump {VOLUME} client {HOST}:{api}"),
            ("statedump client gfapi loopback", f"volume statedump {VOLUME} client 127.0.0.1:{api}"),
            ("statedump client gfapi other volume", f"volume statedump sv client {HOST}:{api}"),
            ("statedump client unknown pid", f"volume statedump {VOLUME} client {HOST}:999999"),
            ("statedump client unknown host", f"volume statedump {VOLUME} client 10.213.0.9:{api}"),
        ), pids, *all_dirs)
        for entry in rec.outputs[-14:]:
            entry["args"] = [a.replace(str(fuse), "@FUSE@").replace(str(api), "@GFAPI@")
                             for a in entry["args"]]
            for call in entry["calls"]:
                text = json.dumps(call).replace(f" {fuse}", " @FUSE@").replace(f":{fuse}", ":@FUSE@")
                text = text.replace(f" {api}", " @GFAPI@").replace(f":{api}", ":@GFAPI@")
                call.clear()
                call.update(json.loads(text))
        glusterd.run("volume", "quota", VOLUME, "enable")
        time.sleep(3)
        quotad = daemon_pids(rec).get("Quota Daemon", 0)
        record_dumps(rec, QUOTA, {**pids, "quotad": quotad}, *all_dirs)
        rec.record(SYNC)
        before = daemon_pids(rec)
        brick = f"{HOST}:{bricks}/r3"
        rec.record((("reset-brick start", f"volume reset-brick {VOLUME} {brick} start"),))
        rec.record((("reset-brick commit force",
                     f"volume reset-brick {VOLUME} {brick} {brick} commit force"),))
        time.sleep(5)
        after = daemon_pids(rec)
        rec.outputs[-1]["daemons"] = {
            name: {"running": bool(after.get(name)),
                   "pid changed": before.get(name) != after.get(name)}
            for name in sorted(before)}
    finally:
        if gfapi is not None:
            gfapi.stdin.close()
            try:
                gfapi.wait(30)
            except subprocess.TimeoutExpired:
                gfapi.kill()
        wind_up(glusterd, rec, workdir, point)


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_day2", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
