"""Record what real glusterd 10.3 and the stock ``gluster`` CLI answer to ``get-state``, and
the state file glusterd writes (glusterd-handler.c, glusterd_get_state).

    python -m benchmarks.record_get_state      # from the repository root, as root

One node; a started replica 3 volume ``gs`` (bricks on one host) and a created distribute
volume ``gd``. Each step records its command (text and ``--xml``), exit code, output, the
GLUSTER_CLI calls with their replies, and the state file written (if any). Written to
tests/data/glusterd-10.3/get-state/outputs.json; glusterd runs as in
benchmarks/record_heal.py (own network and mount namespaces). The work directory's path is
recorded as ``@W@``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.record_cli_program import WORKDIR_MARK, Proxy, recorder_main
from benchmarks.volume_ops import GLUSTER_CLI, HOST, ROOT, Glusterd, bricks_online, setup_private_mounts

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "get-state"

#: (step label, words, the state file it writes, relative to the work directory or absolute)
STEPS = (
    ("get-state odir file", "get-state odir @W@/out file state.txt", "@W@/out/state.txt"),
    ("get-state glusterd odir file", "get-state glusterd odir @W@/out/ file gd.txt",
     "@W@/out/gd.txt"),
    ("get-state missing odir", "get-state odir @W@/nope file x.txt", None),
    ("get-state odir a file", "get-state odir @W@/bricks/g1/f file x.txt", None),
    ("get-state bad daemon", "get-state glusterfsd", None),
    ("get-state bad word", "get-state odir", None),
    ("get-state detail", "get-state odir @W@/out file det.txt detail", "@W@/out/det.txt"),
    ("get-state glusterd volumeoptions",
     "get-state glusterd odir @W@/out file vo.txt volumeoptions", "@W@/out/vo.txt"),
    ("get-state detail volumeoptions", "get-state odir @W@/out file x.txt detail volumeoptions",
     "@W@/out/x.txt"),
)


def inner(workdir: Path, outer_ns: str) -> None:
    setup_private_mounts(workdir, outer_ns)
    bricks = workdir / "bricks"
    bricks.mkdir()
    (workdir / "out").mkdir()
    glusterd = Glusterd(workdir)
    glusterd.start()
    proxy = Proxy(workdir / "proxy.sock", "/var/run/glusterd.socket")
    outputs: list[dict[str, Any]] = []
    mark = lambda text: text.replace(str(workdir), WORKDIR_MARK)  # noqa: E731
    try:
        glusterd.run("volume", "create", "gs", "replica", "3",
                     *[f"{HOST}:{bricks}/g{i}" for i in (1, 2, 3)], "force")
        glusterd.run("volume", "start", "gs")
        glusterd.run("volume", "create", "gd", f"{HOST}:{bricks}/d1", "force")
        deadline = time.monotonic() + 60
        while not bricks_online(glusterd, "gs", 3) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        (bricks / "g1" / "f").write_text("a file, not a directory\n")
        for label, words, state in STEPS:
            for xml in (False, True):
                start = len(proxy.log)
                argv = [GLUSTER_CLI, "--mode=script", *(["--xml"] if xml else []),
                        f"--glusterd-sock={proxy.path}",
                        *(w.replace(WORKDIR_MARK, str(workdir)) for w in words.split())]
                res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
                path = Path(state.replace(WORKDIR_MARK, str(workdir))) if state else None
                text = path.read_text() if path is not None and path.exists() else None
                if path is not None and path.exists():
                    path.unlink()
                outputs.append({"step": label, "args": words.split(), "xml": xml,
                                "rc": res.returncode, "stdout": mark(res.stdout),
                                "stderr": mark(res.stderr), "state_file": mark(text) if text else None,
                                "calls": json.loads(mark(json.dumps(proxy.log[start:])))})
    finally:
        glusterd.stop()
        (workdir / "outputs.json").write_text(json.dumps(outputs, indent=1) + "\n")


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_get_state", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
