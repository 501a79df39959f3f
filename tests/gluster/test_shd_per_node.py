"""One self-heal daemon per node, as glusterd 10 runs it: three gluster-mgmtd daemons with
real bricks, replica 3 volumes (a brick on each node) started one after the other; each node
keeps exactly one glustershd process (a `pgrep -c`), every volume's graph attached to it
(SVC_ATTACH: its pidfile names the process, `volume status` lists it for every volume), heals
reach the attached graphs, and `volume stop` detaches a volume, the process ending with the
last one: each node as glusterd 10.3's was after the same steps (tests/data/glusterd-10.3/shd,
recorded by benchmarks/record_shd_mux.py). On every store backend (one cluster per backend,
one test)."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.services.supervisor import read_pid
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

VOLUMES = ("sa", "sb", "sc")
#: glusterd 10.3 doing the same (benchmarks/record_shd_mux.py)
RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "shd" / "outputs.json").read_text())


def shd_pids(daemon) -> list[int]:
    """`pgrep -f` for this node's glustershd processes (its UUID is on their command line)."""
    out = subprocess.run(["pgrep", "-f", f"node-uuid={daemon.uuid}"],
                         capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in out.split()
                  if "--process-name glustershd" in _cmdline(int(pid)))


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pidfile_pid(daemon, volume: str) -> int | None:
    return read_pid(str(daemon.run_dir / "shd" / volume / f"{volume}-shd.pid"))


def observed(daemon, step: str) -> dict:
    """What benchmarks/record_shd_mux.py notes of glusterd's node after ``step``, for this
    node: its glustershd count, the volumes' pidfiles, its rows of `volume status --xml`."""
    pids = shd_pids(daemon)
    pidfiles = {}
    for volume in VOLUMES:
        pid = pidfile_pid(daemon, volume)
        pidfiles[volume] = None if pid is None else "the process" if pid in pids else str(pid)
    status = {}
    for volume in VOLUMES:
        out = daemon.gluster("volume", "status", volume, xml=True).stdout
        try:
            nodes = list(ET.fromstring(out).iter("node"))
        except ET.ParseError:
            nodes = []
        status[volume] = [{"status": n.findtext("status"),
                           "pid": "the process" if int(n.findtext("pid") or -1) in pids
                           else n.findtext("pid")}
                          for n in nodes if n.findtext("hostname") == "Self-heal Daemon"
                          and n.findtext("peerid") == daemon.uuid]
    return {"step": step, "glustershd_count": len(pids), "pidfiles": pidfiles,
            "status_self_heal_daemon": status}


def recorded(step: str) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step]
    return {k: v for k, v in entry.items() if k != "command_lines"}


def heal_count_ok(daemon, volume: str) -> bool:
    out = daemon.gluster("volume", "heal", volume, "statistics", "heal-count").stdout
    return out.count("Number of entries: 0") == 3


def test_one_self_heal_daemon_per_node_whatever_the_volumes(gluster_daemons, tmp_path):
    daemons = gluster_daemons(3)
    d1 = daemons[0]
    for other in daemons[1:]:
        d1.cli("peer", "probe", other.address, check=True)

    def same_as_glusterd(step: str) -> None:
        """Each node as glusterd's was after the same step (the pidfiles are written by the
        process itself on attach: waited for)."""
        want = recorded(step)
        assert wait_for(lambda: all(observed(d, step) == want for d in daemons), 60, 0.5), \
            (want, [observed(d, step) for d in daemons], d1.log_tail(15))

    def shd_of_each_node() -> dict[str, int]:
        return {d.uuid: shd_pids(d)[0] for d in daemons}

    for name in VOLUMES:
        bricks = [f"{d.address}:{tmp_path / name / d.address}" for d in daemons]
        d1.cli("volume", "create", name, "replica", "3", *bricks, "force", check=True)

    d1.cli("volume", "start", "sa", check=True)
    same_as_glusterd("started sa")
    first = shd_of_each_node()
    for name in ("sb", "sc"):  # attached to the running processes, none started
        d1.cli("volume", "start", name, check=True)
        same_as_glusterd(f"started {name}")
        assert shd_of_each_node() == first
    # XLATOR_OP reaches an attached graph (not the one the processes were started for)
    assert wait_for(lambda: heal_count_ok(d1, "sc"), 90, 1), \
        d1.gluster("volume", "heal", "sc", "statistics", "heal-count").stdout

    # stopping the volume the processes were started for detaches it; they keep running
    d1.cli("--mode=script", "volume", "stop", "sa", check=True)
    same_as_glusterd("stopped sa")
    assert shd_of_each_node() == first
    assert wait_for(lambda: heal_count_ok(d1, "sb"), 90, 1), \
        d1.gluster("volume", "heal", "sb", "statistics", "heal-count").stdout
    d1.cli("volume", "start", "sa", check=True)  # attached again
    same_as_glusterd("started sc")
    assert shd_of_each_node() == first
    d1.cli("--mode=script", "volume", "stop", "sa", check=True)

    for name in ("sb", "sc"):  # the last volume's stop ends them
        d1.cli("--mode=script", "volume", "stop", name, check=True)
        same_as_glusterd(f"stopped {name}")
