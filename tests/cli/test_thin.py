"""The CLI is a thin client: running a command loads no store client and no store code,
and costs little more than starting Python."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import pytest

from tests.cli.test_client import (  # noqa: F401 (the stub daemon fixture)
    _Handler,
    _Server,
    daemon,
)

#: What a CLI command must never import (store clients, the store layer, its plugin loader).
FORBIDDEN = ("etcd3", "grpc", "consul", "kazoo", "requests", "gluster_mgmt.store", "stevedore")

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _forbidden(modules) -> list[str]:
    return sorted(m for m in modules
                  if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


@pytest.fixture
def stub_with_volumes(daemon, reference_volumes):  # noqa: F811
    for _ in range(20):
        daemon.reply({"volumes": reference_volumes})
    return daemon


def test_a_command_imports_no_store_code(stub_with_volumes):
    script = (
        "import io, json, sys\n"
        "from gluster_mgmt.cli.main import run\n"
        "out = io.StringIO()\n"
        f"code = run(['--socket={stub_with_volumes.path}', 'volume', 'info', '--xml'],"
        " io.StringIO(), out, sys.stderr)\n"
        "assert code == 0 and '<volInfo>' in out.getvalue(), out.getvalue()\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=_env(), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert "gluster_mgmt.cli.render_xml" in modules
    assert _forbidden(modules) == [], (
        "the CLI pulled in store code; gluster_mgmt/__init__.py must import its public names "
        "lazily (PEP 562 __getattr__) for the console script to stay thin")


def test_importtime_of_the_console_script_path(tmp_path):
    """`python -X importtime -m gluster_mgmt.cli.main`, as the console script runs it."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gluster_mgmt.cli.main",
         f"--socket={tmp_path / 'absent.sock'}", "volume", "list"],
        capture_output=True, text=True, env=_env(), timeout=60, check=False)
    assert result.stdout == ("Connection failed. Please check if gluster daemon is "
                             "operational.\n")
    imported = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:") and "|" in line]
    assert "gluster_mgmt.cli.client" in imported
    assert _forbidden(imported) == []


def _timed(argv: list[str], runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=_env(), timeout=60, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def test_startup_cost(stub_with_volumes, record_property):
    """Median wall time of `volume info` against a stub daemon, minus bare interpreter
    startup. gluster's own CLI takes 0.05-0.07 s a command; Python alone takes about that,
    so the CLI's own share must stay small. The bound is loose for loaded CI machines; the
    measurement is recorded (pytest --junitxml, or -s to see it)."""
    python = _timed([sys.executable, "-c", "pass"])
    cli = _timed([sys.executable, "-m", "gluster_mgmt.cli.main",
                  f"--socket={stub_with_volumes.path}", "volume", "info"])
    record_property("python_startup_s", round(python, 4))
    record_property("cli_volume_info_s", round(cli, 4))
    print(f"\npython -c pass: {python:.3f}s, gluster-mgmt volume info: {cli:.3f}s, "
          f"CLI overhead: {cli - python:.3f}s")
    assert cli - python < 0.5
