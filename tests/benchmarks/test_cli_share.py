"""benchmarks/cli_share.py: the daemon's share of a stock `gluster` command, both sides up at
once and measured interleaved, runs end to end on two sets of three hosts and leaves nothing
behind. No timing is asserted: the machine is shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli_share import LABELS, render
from tests.benchmarks.test_versus_cluster import skip_unless_hosts_can_run
from tests.multihost.harness import leftover_namespaces, run

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("glusterd", "nsenter", "unshare", "ip", "/usr/sbin/gluster", "/usr/bin/etcd")


@pytest.mark.multihost
def test_both_sides_measured_interleaved_and_nothing_left(tmp_path: Path) -> None:
    skip_unless_hosts_can_run(TOOLS)
    out = tmp_path / "share.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cli_share", "--volumes", "2", "--calls", "4",
                           "--rounds", "2", "--repeats", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    for kind, count in (("calls", 4), ("commands", 2)):
        for side in ("glusterd", "gluster-mgmtd"):
            times = result[kind][side]
            assert sorted(times) == sorted(LABELS)
            assert all(len(times[label]) == count and all(0 < t < 60 for t in times[label])
                       for label in LABELS), (kind, side, times)
    assert proc.stdout.strip() == render(result).strip()
    for tag in (f"csg{proc_pid_tag(result)}", f"csm{proc_pid_tag(result)}"):
        assert leftover_namespaces(tag) == []
        assert f"{tag}br" not in run("ip", "-o", "link").stdout


def proc_pid_tag(result: dict) -> str:
    return str(result["pid"] % 100000)
