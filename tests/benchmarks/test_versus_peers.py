"""benchmarks/versus_peers.py: the comparison with glusterd 10.3 as the number of nodes grows
runs end to end in its quick mode (N = 3 then 4, 2 volumes, one started with real brick
processes) and leaves nothing behind; its report lands in docs/benchmarks.md's Scale section
after the three-node one without disturbing the rest. No timing is asserted: the machine is
shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.versus_cluster import FLOOR, STOCK_BINARY, Column, goal_rows
from benchmarks.versus_cluster import HEADING as THREE_NODES
from benchmarks.versus_peers import CPU, HEADING, IDLE, NOTES_HEADING, SWEEP, render
from benchmarks.versus_peers import main as versus_peers
from tests.benchmarks.test_versus_cluster import DOC, assert_left_nothing, skip_unless_hosts_can_run

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("glusterd", "glusterfsd", "nsenter", "unshare", "ip", "/usr/sbin/gluster", "/usr/bin/etcd")


@pytest.mark.multihost
def test_quick_sweep_of_three_then_four_nodes_and_nothing_left(tmp_path: Path) -> None:
    skip_unless_hosts_can_run(TOOLS)
    out = tmp_path / "peers.json"
    # its own process: everything it makes (namespaces, daemons, bricks, etcd) ends with it
    # (its work directory in /tmp, not tmp_path: the daemons' socket paths must stay short)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.versus_peers", "--quick",
                             "--time-limit", "300", "--json", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-4000:]
    result = json.loads(out.read_text())
    for column in Column:
        sizes = result["columns"][column.value]["sizes"]
        assert sorted(sizes) == ["3", "4"], (column, sizes)
        for row in sizes.values():
            floor = [FLOOR[0]] if column in STOCK_BINARY else []
            cpu = row.pop(CPU)
            assert sorted(row) == sorted([*(label for label, _ in SWEEP.commands), *floor, "joined_s"])
            assert all(0 < value < 60 for value in row.values()), (column, row)
            # the daemons' CPU per command: counted (a command costs its daemons something)
            assert sorted(cpu) == sorted([IDLE, *(label for label, _ in SWEEP.commands)])
            assert all(0 <= value < 60 for value in cpu.values()) and cpu["create_s"] > 0, (column, cpu)
    assert HEADING in stdout and stdout.count(SWEEP.goal_prefix) == len(SWEEP.commands)
    assert_left_nothing(f"gp{proc.pid % 100000}", stderr)


ROW = {"create_s": 0.1, "set_s": 0.1, "status_s": 0.05, "info_s": 0.05}
RESULT = {"runs": [{"command": "python -m benchmarks.versus_peers", "date": "2026-12-01 21:00 UTC",
                    "machine": "vm", "load_before": "1 1 1", "load_after": "1 1 1", "seconds": 9,
                    "store": "an etcd cluster of 3 members (one per host)"}],
          "volumes": 10, "creates": 3, "repeats": 5,
          "columns": {"glusterd": {"sizes": {"3": {k: v * 2 for k, v in ROW.items()} | {CPU: {"set_s": 0.04, IDLE: 0.01}},
                                             "12": {k: v * 8 for k, v in ROW.items()}}},
                      "gluster_mgmt": {"sizes": {"3": ROW, "12": ROW}},
                      "gluster_mgmt_stock": {"sizes": {"3": {k: v * 2 for k, v in ROW.items()},
                                                       "12": {k: v * 3 for k, v in ROW.items()}}}}}


def test_report_goes_after_the_three_node_one_and_replaces_itself(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC.replace("### Goals", f"{THREE_NODES}\n\n| x |\n\n### Goals"))
    (tmp_path / "peers.json").write_text(json.dumps(RESULT))
    assert versus_peers(["--from-json", str(tmp_path / "peers.json"), "--output", str(doc)]) == 0
    once = doc.read_text()
    assert once.index(THREE_NODES) < once.index(HEADING) < once.index("### Goals")
    assert "| 12 | volume set | 800 | 100 | 8.0x | 300 | 2.7x |" in once
    assert "| 3 | volume set | 40 | n/a | n/a |" in once
    assert "(CPU seconds per second, nothing asked; subtracted above): glusterd 0.01 at N=3." in once
    rows = goal_rows(RESULT, SWEEP)
    assert all(r.startswith(SWEEP.goal_prefix) for r in rows) and len(rows) == len(SWEEP.commands)
    assert rows[0].endswith("| 2.0x at N=3, 8.0x at N=12 (stock `gluster`: 1.0x, 2.7x) | none |")
    assert "faster than glusterd at every N (N = 3, 12) on `volume create`" in once
    goals = once[once.index("### Goals"):once.index("![scale-peers]")]
    assert goals.count(SWEEP.goal_prefix) == len(rows)
    notes = f"{NOTES_HEADING} (hand-written)\n\nWhy.\n\n"
    doc.write_text(once.replace("### Goals", notes + "### Goals"))
    assert versus_peers(["--from-json", str(tmp_path / "peers.json"), "--output", str(doc)]) == 0
    assert doc.read_text() == once.replace("### Goals", notes + "### Goals")
    assert render(RESULT).startswith(HEADING)


def test_a_size_below_the_bricks_hosts_is_refused_at_once() -> None:
    run_ = subprocess.run([sys.executable, "-m", "benchmarks.versus_peers", "--sizes", "2,6"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run_.returncode == 2 and "each >= 3" in run_.stderr
