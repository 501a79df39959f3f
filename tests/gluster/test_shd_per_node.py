"""One self-heal daemon per node, as glusterd 10 runs it: three gluster-mgmtd daemons with
real bricks, replica 3 volumes (a brick on each node) started one after the other; each node
keeps exactly one glustershd process (a `pgrep -c`), every volume's graph attached to it
(SVC_ATTACH: its pidfile names the process, `volume status` lists it for every volume), heals
reach the attached graphs, and `volume stop` detaches a volume, the process ending with the
last one. On every store backend (one cluster per backend, one test)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.services.supervisor import read_pid
from tests.helpers import wait_for

pytestmark = pytest.mark.gluster

VOLUMES = ("sa", "sb", "sc")


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


def status_shd_pids(daemon, volume: str) -> dict[str, int]:
    """`volume status VOL --xml` (stock CLI): the self-heal daemon's pid by node UUID."""
    root = ET.fromstring(daemon.gluster("volume", "status", volume, xml=True).stdout)
    return {node.findtext("peerid"): int(node.findtext("pid") or 0)
            for node in root.iter("node") if node.findtext("hostname") == "Self-heal Daemon"}


def heal_count_ok(daemon, volume: str) -> bool:
    out = daemon.gluster("volume", "heal", volume, "statistics", "heal-count").stdout
    return out.count("Number of entries: 0") == 3


def test_one_self_heal_daemon_per_node_whatever_the_volumes(gluster_daemons, tmp_path):
    daemons = gluster_daemons(3)
    d1 = daemons[0]
    for other in daemons[1:]:
        d1.cli("peer", "probe", other.address, check=True)

    def settled(count: int, volumes: tuple[str, ...]) -> bool:
        """Each node runs ``count`` glustershd, the pidfile of each of ``volumes`` naming it."""
        for daemon in daemons:
            pids = shd_pids(daemon)
            if len(pids) != count or any(pidfile_pid(daemon, v) != pids[0] for v in volumes):
                return False
        return True

    def context() -> str:
        return "\n".join(f"{d.address}: {shd_pids(d)} {[pidfile_pid(d, v) for v in VOLUMES]}\n"
                         f"{d.log_tail(15)}" for d in daemons)

    for name in VOLUMES:
        bricks = [f"{d.address}:{tmp_path / name / d.address}" for d in daemons]
        d1.cli("volume", "create", name, "replica", "3", *bricks, "force", check=True)

    d1.cli("volume", "start", "sa", check=True)
    assert wait_for(lambda: settled(1, ("sa",)), 60, 0.5), context()
    first = {d.uuid: shd_pids(d)[0] for d in daemons}
    for name in ("sb", "sc"):  # attached to the running process, none started
        d1.cli("volume", "start", name, check=True)
        assert wait_for(lambda: settled(1, VOLUMES[:VOLUMES.index(name) + 1]), 60, 0.5), context()
        assert {d.uuid: shd_pids(d)[0] for d in daemons} == first, context()
    for name in VOLUMES:  # volume status lists the one process per node for every volume
        assert wait_for(lambda: status_shd_pids(d1, name) == first, 30, 0.5), \
            (name, status_shd_pids(d1, name), first)
    # XLATOR_OP reaches an attached graph (not the one the process was started for)
    assert wait_for(lambda: heal_count_ok(d1, "sc"), 90, 1), \
        d1.gluster("volume", "heal", "sc", "statistics", "heal-count").stdout

    # stopping the volume the processes were started for detaches it; they keep running
    d1.cli("--mode=script", "volume", "stop", "sa", check=True)
    assert wait_for(lambda: settled(1, ("sb", "sc")) and all(
        pidfile_pid(d, "sa") is None for d in daemons), 60, 0.5), context()
    assert {d.uuid: shd_pids(d)[0] for d in daemons} == first, context()
    assert wait_for(lambda: heal_count_ok(d1, "sb"), 90, 1), \
        d1.gluster("volume", "heal", "sb", "statistics", "heal-count").stdout

    # started again: attached again to the same processes
    d1.cli("volume", "start", "sa", check=True)
    assert wait_for(lambda: settled(1, VOLUMES), 60, 0.5), context()
    assert {d.uuid: shd_pids(d)[0] for d in daemons} == first, context()

    for name in VOLUMES:  # the last volume's stop ends them
        d1.cli("--mode=script", "volume", "stop", name, check=True)
    assert wait_for(lambda: settled(0, ()), 60, 0.5), context()
