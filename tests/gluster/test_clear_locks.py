"""`volume clear-locks` through the STOCK `gluster` binary and `gluster-mgmt`, against one
gluster-mgmtd with real bricks and a stock FUSE mount on which a process holds a POSIX write
lock: the daemon mounts the volume itself and asks the locks translators, as glusterd does.
Each answer equals glusterd 10.3's for the same step (tests/data/glusterd-10.3/clear-locks,
recorded by benchmarks/record_clear_locks.py, steps in the same order: the lock is cleared at
the same one), and the lock is really gone afterwards (another process takes it at once)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.record_clear_locks import LOCK_HOLDER
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "clear-locks" /
                       "outputs.json").read_text())
MARK = "@W@"
#: takes the lock without waiting: exit 0 when it is free
def summary_sorted(text: str) -> str:
    """The bricks' summary lines come in the order AFR got their answers: sorted."""
    first, *rest = text.split("\n", 1)
    return "\n".join([first, *sorted(rest[0].splitlines())]) if rest else text


TRY_LOCK = ("import fcntl, sys\n"
            "fcntl.lockf(open(sys.argv[1], 'r+'), fcntl.LOCK_EX | fcntl.LOCK_NB)\n")


def test_clear_locks_equals_glusterd(gluster_daemon, mounts, tmp_path):
    daemon = gluster_daemon
    bricks = tmp_path / "bricks"
    host = daemon.address
    daemon.cli("volume", "create", "cl", "replica", "3",
               *[f"{host}:{bricks}/c{i}" for i in (1, 2, 3)], "force", check=True)
    daemon.cli("volume", "start", "cl", check=True)
    daemon.cli("volume", "create", "sv", f"{host}:{bricks}/s1", "force", check=True)
    assert wait_for(lambda: daemon.gluster("volume", "status", "cl").stdout.count(" Y ") >= 3,
                    60, 0.5)
    point, _ = mounts("cl", host)
    target = point / "f.txt"
    target.write_text("locked by a process\n")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        try_lock = [sys.executable, "-c", TRY_LOCK, str(target)]
        assert subprocess.run(try_lock, capture_output=True).returncode != 0  # held
        for entry in RECORDED:
            words, xml = entry["args"], entry["xml"]
            # the stock CLI answers the text steps, gluster-mgmt the --xml ones (the same
            # text); refusals of the words themselves through both, in both forms
            doors = ([daemon.gluster(*words, xml=xml), daemon.cli(*(["--xml"] if xml else []), *words)]
                     if entry["rc"] and not entry["calls"]
                     else [daemon.cli("--xml", *words) if xml else daemon.gluster(*words)])
            for got in doors:
                ours = [summary_sorted(got.stdout.replace(str(tmp_path), MARK)),
                        got.stderr.replace(str(tmp_path), MARK), got.returncode]
                want = [summary_sorted(entry["stdout"]), entry["stderr"], entry["rc"]]
                assert ours == want, \
                    (entry["step"], xml, daemon.log_tail())
            if entry["step"] == "granted posix range" and not xml:
                # the lock is gone: another process gets it at once
                assert subprocess.run(try_lock, capture_output=True).returncode == 0
    finally:
        holder.kill()
        holder.wait()
