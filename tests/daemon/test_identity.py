"""The daemon's identity is glusterd's: the UUID of glusterd.info in its glusterd working
directory, created there in glusterd's format when missing; a damaged file stops the daemon
with a message naming the file and the line, never a start under another identity."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys

from tests.helpers import REFERENCE, REPO, child_env

NODE2 = REFERENCE / "three-nodes" / "node2" / "glusterd.info"


def test_a_node_without_glusterd_info_gets_one_in_glusterd_s_format(make_daemons):
    (daemon,) = make_daemons(1)
    path = daemon.glusterd_dir / "glusterd.info"
    uuid = daemon.uuid
    assert path.read_text() == f"UUID={uuid}\noperating-version=100000\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert daemon.cli("system::", "uuid", "get", check=True).stdout == f"UUID: {uuid}\n"
    assert f"{uuid}\tlocalhost" in daemon.cli("pool", "list", check=True).stdout
    daemon.stop()
    daemon.start()  # the same identity after a restart
    assert daemon.cli("system::", "uuid", "get", check=True).stdout == f"UUID: {uuid}\n"
    assert path.read_text() == f"UUID={uuid}\noperating-version=100000\n"


def test_a_node_that_ran_glusterd_keeps_glusterd_s_uuid(make_daemons, tmp_path):
    workdir = tmp_path / "glusterd"
    workdir.mkdir()
    shutil.copy(NODE2, workdir / "glusterd.info")
    (daemon,) = make_daemons(1, glusterd_dirs=[workdir])
    uuid = NODE2.read_text().split()[0].removeprefix("UUID=")
    assert daemon.cli("system::", "uuid", "get", check=True).stdout == f"UUID: {uuid}\n"
    assert (workdir / "glusterd.info").read_text() == NODE2.read_text()


def test_a_malformed_glusterd_info_stops_the_daemon_naming_file_and_line(tmp_path):
    workdir = tmp_path / "glusterd"
    workdir.mkdir()
    bad = "UUID=2a17f7f0-4393-48d6-9f76-8db4e14a2772\noperating-version=10.3\n"
    (workdir / "glusterd.info").write_text(bad)
    socket = tmp_path / "mgmtd.sock"
    result = subprocess.run(
        [sys.executable, "-m", "gluster_mgmt.daemon.main", "--config", "/nonexistent",
         "--state-dir", str(tmp_path / "state"), "--glusterd-dir", str(workdir),
         "--address", "127.0.0.2", "--socket", str(socket), "--run-dir", str(tmp_path / "run"),
         "--log-dir", str(tmp_path / "log")],
        capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=120)
    assert result.returncode == 1
    assert f"{workdir / 'glusterd.info'}, line 2: operating-version='10.3' is not a number" in \
        result.stderr
    assert (workdir / "glusterd.info").read_text() == bad
    assert not socket.exists() and not (tmp_path / "state" / "cluster.json").exists()
