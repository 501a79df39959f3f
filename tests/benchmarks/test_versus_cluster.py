"""benchmarks/versus_cluster.py: the three-node comparison with glusterd 10.3 runs end to end
at a tiny size (2 volumes), the rows that probe a fourth host and restart a daemon included,
and leaves nothing behind; its report lands in docs/benchmarks.md's Scale section without
disturbing the rest; a row that failed is reported as such. No timing is asserted: the machine
is shared."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.versus_cluster import (COMMANDS, FAILED, FLOOR, GOAL_PREFIX, GROWTH, HEADING,
                                       NOTES_HEADING, Column, STOCK_BINARY, goal_rows, ratios,
                                       render, write_doc)
from tests.multihost.harness import leftover_namespaces, run

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("glusterd", "nsenter", "unshare", "ip", "/usr/sbin/gluster", "/usr/bin/etcd")


@pytest.mark.multihost
def test_three_nodes_at_two_volumes_and_nothing_left(tmp_path: Path) -> None:
    skip_unless_hosts_can_run(TOOLS)
    out = tmp_path / "versus.json"
    # its own process: everything it makes (namespaces, daemons, etcd) ends with it
    # (its work directory in /tmp, not tmp_path: the daemons' socket paths must stay short)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.versus_cluster", "--sizes", "2",
                             "--time-limit", "240", "--json", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-4000:]
    result = json.loads(out.read_text())
    for column in Column:
        row = result["columns"][column.value]["sizes"]["2"]
        floor = [FLOOR[0]] if column in STOCK_BINARY else []
        # every row timed, the probe and restart ones too (none failed: no `*_failed` key)
        assert sorted(row) == sorted([*(label for label, _ in COMMANDS), *floor]), (column, row)
        assert all(0 < value < 60 for value in row.values()), (column, row)
    assert {label for label, _ in GROWTH} <= {label for label, _ in COMMANDS}
    assert HEADING in stdout and stdout.count(GOAL_PREFIX) == len(COMMANDS)
    assert_left_nothing(f"gv{proc.pid % 100000}", stderr)


def skip_unless_hosts_can_run(tools: tuple[str, ...]) -> None:
    """A benchmark of namespace hosts needs root and ``tools``: skipped, saying which, without."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create network and mount namespaces")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {missing} (scripts/install-deps.sh)")


def assert_left_nothing(tag: str, stderr: str) -> None:
    """A finished run left no namespace or bridge named by ``tag``, no work directory (its
    path from the run's log) and no process running from it."""
    assert leftover_namespaces(tag) == []
    assert f"{tag}br" not in run("ip", "-o", "link").stdout
    workdir = re.search(r"work dir (\S+)", stderr)
    assert workdir, stderr[-2000:]
    assert not Path(workdir.group(1)).exists()
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        assert workdir.group(1).encode() not in cmdline, f"left running: {cmdline!r}"


RESULT = {"runs": [{"command": "python -m benchmarks.versus_cluster", "date": "2026-12-01 14:00 UTC",
                    "machine": "vm", "load_before": "1 1 1", "load_after": "1 1 1", "seconds": 9,
                    "store": "etcd, 3 members (one per host)"}],
          "columns": {"glusterd": {"sizes": {"10": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.2),
                                             "100": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.4)}},
                      "gluster_mgmt": {"sizes": {"10": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.1),
                                                 "100": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.1)}},
                      "gluster_mgmt_stock": {"sizes": {"10": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.1),
                                                       "100": dict.fromkeys(("create_s", "set_s", "info_s", "status_s"), 0.3)}}}}

DOC = """# Benchmarks

## Scale: peers and volumes

### Versus glusterd 10.3: one node

| a | b |

### Goals and measured gaps

| goal | measured | gap |
|---|---|---|
| etcd: something | 1 | none |

![scale-peers](img/scale-peers.png)

### Notes on scale

Hand-written.

## Other section
"""


def test_a_long_workdir_is_refused_at_once(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 40)
    run_ = subprocess.run([sys.executable, "-m", "benchmarks.versus_cluster", "--workdir", str(long)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run_.returncode == 2 and "unix sockets under it would pass the 107-byte limit" in run_.stderr


def test_report_goes_into_the_scale_section_and_replaces_itself(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    rows = goal_rows(RESULT)
    assert all(r.startswith(GOAL_PREFIX) for r in rows)
    assert "2.0x at 10, 4.0x at 100 (stock `gluster`: 2.0x, 1.3x)" in rows[0]
    assert rows[0].endswith("| stock gluster: the ratio does not grow with size |")
    write_doc(doc, render(RESULT), rows)
    once = doc.read_text()
    assert once.index("one node") < once.index(HEADING) < once.index("### Goals")
    assert "| 100 | volume set | 400 | 100 | 4.0x | 300 | 1.3x |" in once
    goals = once[once.index("### Goals"):once.index("![scale-peers]")]
    assert goals.splitlines()[-len(rows) - 2:] == ["| etcd: something | 1 | none |", *rows, ""][-len(rows) - 2:]
    assert "faster than glusterd at every size (10, 100 volumes) on `volume create`, " in once
    write_doc(doc, render(RESULT), rows)
    assert doc.read_text() == once
    assert once.replace(render(RESULT).rstrip("\n") + "\n\n", "").replace(
        "\n".join(rows) + "\n", "") == DOC
    # a hand-written part of the subsection stays when the table is rewritten
    notes = f"{NOTES_HEADING} (hand-written)\n\nWhy.\n\n"
    doc.write_text(once.replace("### Goals", notes + "### Goals"))
    write_doc(doc, render(RESULT), rows)
    assert doc.read_text() == once.replace("### Goals", notes + "### Goals")


def test_a_row_that_failed_is_a_result() -> None:
    """glusterd failing a row at a size (it did at 5,100 volumes in the field) reads `failed`,
    says why under the table, and leaves that size out of the ratios, not the report."""
    result = json.loads(json.dumps(RESULT))
    for column, (probe, restart) in (("glusterd", (0.5, 2.0)), ("gluster_mgmt", (0.25, 0.5)),
                                     ("gluster_mgmt_stock", (0.25, 1.0))):
        for size in ("10", "100"):
            result["columns"][column]["sizes"][size] |= {"probe_s": probe, "restart_s": restart}
    gd = result["columns"]["glusterd"]["sizes"]["100"]
    del gd["probe_s"]
    gd["probe_s" + FAILED] = "NotReady: after 600 s: volume list: 40 of 100 volumes"
    text = render(result)
    assert "| 100 | peer probe of a 4th host | failed | 250 | n/a | 250 | n/a |" in text
    assert "| 100 | daemon restart (host 3) | 2000 | 500 | 4.0x | 1000 | 2.0x |" in text
    assert "- glusterd, `gluster`, 100 volumes, probe_s: `NotReady: after 600 s: volume list: " \
           "40 of 100 volumes`" in text
    assert ratios(result, Column.GLUSTER_MGMT, "probe_s") == [("10", 2.0)]
    probe = next(r for r in goal_rows(result) if "peer probe" in r)
    assert "2.0x at 10 (stock `gluster`: 2.0x); glusterd, gluster failed at 100 |" in probe
