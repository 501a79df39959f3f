"""benchmarks/scale.py --quick on each backend: it runs end to end against the real store
server, and store writes per operation do not grow with the number of peers (issue 15).
No timing is asserted: the machine is shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scale import OPERATIONS, KeptFigures, load_runs
from tests.conftest import selected_backends

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", selected_backends())
def test_quick_scale_writes_constant_in_peers(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    # its own process: whatever it starts (the store server, the agents) ends with it
    run = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--quick", "--backends", backend,
                          "--json", str(out), "--workdir", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(out.read_text())["backends"][backend]
    peers = {int(n): ops for n, ops in result["peers"].items()}
    assert sorted(peers) == [3, 5, 8]
    for op in OPERATIONS:
        # a lease lost and re-granted during the operation (a starved machine) adds its
        # re-announcement: such a figure says nothing about the operation; two must remain
        clean = [n for n in sorted(peers) if not peers[n][op]["lease_renewals"]]
        assert len(clean) >= 2, (f"{op}: leases were renewed during too many runs", peers)
        writes = [peers[n][op]["writes"] for n in clean]
        assert writes[0] > 0, (op, writes)
        assert len(set(writes)) == 1, (f"{op}: store writes grow with N: {writes}",
                                       {n: peers[n][op]["written"] for n in clean})
        assert all(peers[n][op]["reads"] > 0 for n in peers), op
    assert [v["volumes"] for v in result["volumes"]] == [5, 10]
    assert all(v["set_bytes_read"] > 0 for v in result["volumes"])


@pytest.mark.parametrize("backend", selected_backends())
def test_agents_spread_over_processes_are_counted_and_observed(backend: str, tmp_path: Path) -> None:
    """--agent-processes 2 at N = 3, 4: agents 2 to N-1 run in two worker processes; their
    store writes (the brick sign-ins of agents 2 and 3 at `volume start`) are in the
    parent's figures, every agent's observation is waited for, writes stay constant in N."""
    out = tmp_path / "scale.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--backends", backend,
                          "--peers", "3,4", "--volumes", "", "--agent-processes", "2",
                          "--json", str(out), "--workdir", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "1 here, the others in 2 processes" in run.stderr, run.stderr[-4000:]
    peers = {int(n): ops for n, ops in json.loads(out.read_text())["backends"][backend]["peers"].items()}
    assert sorted(peers) == [3, 4]
    for n, ops in peers.items():
        for op, figures in ops.items():
            assert (figures["agents"], figures["agent_processes"]) == (n, 2), (n, op)
            assert figures["seen_p99_s"] >= figures["seen_p50_s"] > 0, (n, op)
        signed_in = [key for key in ops["volume start"]["written"] if key.startswith("ports/")]
        for host in ("agent-002", "agent-003"):  # in the workers
            assert any(host in key for key in signed_in), (n, host, signed_in)
    for op in OPERATIONS:
        if not any(peers[n][op]["lease_renewals"] for n in peers):
            assert peers[3][op]["writes"] == peers[4][op]["writes"] > 0, (op, peers)


def test_a_backend_not_given_keeps_its_figures_in_the_report(tmp_path: Path) -> None:
    """--from-json without one backend's file (another run of it under way) keeps that
    backend's run line, tables and goal rows from the report being rewritten."""
    report = tmp_path / "benchmarks.md"
    report.write_text(
        "# Benchmarks\n\n## Scale: peers and volumes\n\n"
        "- `python -m benchmarks.scale --backends etcd --peers 3 --json e.json` (then)\n"
        "- `python -m benchmarks.scale --backends consul --peers 3 --json c.json` (then)\n\n"
        "### etcd: per operation versus the number of peers N\n\n| N |\n|---:|\n| 3 |\n\n"
        "### consul: per operation versus the number of peers N\n\n| N |\n|---:|\n| 3 |\n\n"
        "### consul: versus the number of volumes (3 bricks each, 3 peers)\n\n| v |\n\n"
        "### Goals and measured gaps\n\n| goal | measured | gap |\n|---|---|---|\n"
        "| etcd: writes | 1 | none |\n| consul: writes | 2 | none |\n"
        "| consul, 10 volumes: rss | 3 | none |\n\n### Notes on scale\n\nby hand\n\n## Next\n")
    kept = KeptFigures.from_report(report, ["consul", "zookeeper"])
    assert kept.backends == ("consul",)
    assert [line.split("--json")[0] for line in kept.runs] == [
        "- `python -m benchmarks.scale --backends consul --peers 3 "]
    assert [t.splitlines()[0] for t in kept.tables] == [
        "### consul: per operation versus the number of peers N",
        "### consul: versus the number of volumes (3 bricks each, 3 peers)"]
    assert kept.goals == ("| consul: writes | 2 | none |", "| consul, 10 volumes: rss | 3 | none |")


def test_a_peers_only_run_joins_an_earlier_runs_volumes_figures(tmp_path: Path) -> None:
    """--from-json full.json peers.json: the peers sweep of the later (peers-only) run
    replaces the earlier one's, the volumes sweep it did not run stays, both runs listed."""
    full, peers_only = tmp_path / "full.json", tmp_path / "peers.json"
    full.write_text(json.dumps({"backends": {"consul": {"peers": {"3": {"x": 1}}, "volumes": [{"volumes": 10}]}},
                                "versus": {}, "runs": [{"command": "full"}]}))
    peers_only.write_text(json.dumps({"backends": {"consul": {"peers": {"3": {"x": 2}, "100": {"x": 3}},
                                                              "volumes": []}},
                                      "versus": {}, "runs": [{"command": "peers"}]}))
    results, versus, runs = load_runs([full, peers_only])
    assert results == {"consul": {"peers": {"3": {"x": 2}, "100": {"x": 3}}, "volumes": [{"volumes": 10}]}}
    assert versus == {}
    assert [run["command"] for run in runs] == ["full", "peers"]
