"""`gluster get-state [glusterd] [odir DIR] [file NAME] [detail|volumeoptions]` through the
STOCK `gluster` binary and `gluster-mgmt`, against one gluster-mgmtd with real bricks: its output and the state
file it writes equal glusterd 10.3's for the same situation (a started replica 3 volume and
a created distribute volume on one node; tests/data/glusterd-10.3/get-state, recorded by
benchmarks/record_get_state.py), normalised for UUIDs, ports, sizes, the clients' ports and
byte counts (`detail`: the self-heal daemon's connection to each brick) and the work
directory; the refusals (missing directory, a file as directory, another daemon, bad words)
too."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "get-state" /
                       "outputs.json").read_text())
MARK = "@W@"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PORT = re.compile(r"\.port: [1-9][0-9]*$", re.M)
_SPACE = re.compile(r"\.space(free|total): [0-9]+Bytes$", re.M)
#: `detail`'s clients: their ports and byte counts
_CLIENT = re.compile(r"(\.Client\d+\.hostname: [^:\n]+:)\d+$", re.M)
_BYTES = re.compile(r"(\.Client\d+\.bytes(read|write)): \d+$", re.M)


def normalise(text: str | None) -> str | None:
    if text is None:
        return None
    text = _UUID.sub("U", text)
    text = _BYTES.sub(r"\1: N", _CLIENT.sub(r"\1P", text))
    return _SPACE.sub(r".space\1: NBytes", _PORT.sub(".port: P", text))


def test_get_state_equals_glusterd(gluster_daemon, tmp_path):
    daemon = gluster_daemon
    bricks = tmp_path / "bricks"
    (tmp_path / "out").mkdir()
    host = daemon.address
    daemon.cli("volume", "create", "gs", "replica", "3",
               *[f"{host}:{bricks}/g{i}" for i in (1, 2, 3)], "force", check=True)
    daemon.cli("volume", "start", "gs", check=True)
    daemon.cli("volume", "create", "gd", f"{host}:{bricks}/d1", "force", check=True)
    (bricks / "g1" / "f").write_text("a file, not a directory\n")
    # the bricks have signed in (their ports are registered) and the self-heal daemon serves gs
    assert wait_for(lambda: daemon.gluster("volume", "status", "gs").stdout.count(" Y ") == 4,
                    60, 0.5), daemon.gluster("volume", "status", "gs").stdout

    for entry in RECORDED:
        words = [w.replace(MARK, str(tmp_path)) for w in entry["args"]]
        xml = entry["xml"]
        runs = {"stock": lambda: daemon.gluster(*words, xml=xml),
                "gluster-mgmt": lambda: daemon.cli(*(["--xml"] if xml else []), *words)}
        for door, run in runs.items():
            got = run()
            state = None
            if entry["state_file"] is not None:
                path = tmp_path / entry["args"][entry["args"].index("odir") + 1].replace(
                    f"{MARK}/", "") / entry["args"][entry["args"].index("file") + 1]
                state = path.read_text() if path.exists() else None
                path.unlink(missing_ok=True)
            ours = [got.stdout, got.stderr, got.returncode, normalise(state)]
            ours = [x.replace(str(tmp_path), MARK) if isinstance(x, str) else x for x in ours]
            want = [entry["stdout"], entry["stderr"], entry["rc"], normalise(entry["state_file"])]
            assert ours == want, (door, entry["step"], xml, daemon.log_tail())
