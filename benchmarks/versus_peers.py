"""Versus glusterd 10.3 as the number of nodes grows (issue 15): glusterd's transactions lock,
stage and commit on every peer of the pool, and the status of a started volume asks every
peer, so its time for these grows with the number of nodes; gluster-mgmtd's is a constant
number of store round trips (a 3-member etcd) whatever the number of nodes.

The hosts of benchmarks/versus_cluster (network and mount namespaces on a bridge), as many as
the largest size; one side after the other, each growing its cluster size by size by
starting its daemon on the next hosts and probing them from host 1:

- **glusterd**: stock glusterd 10.3 on each host of the pool;
- **gluster_mgmt**: gluster-mgmtd on each host on a 3-member etcd (a member on each of hosts
  1-3; a host beyond those uses one of the three members' URLs, in turn).

A few volumes of 3 bricks on hosts 1-3 (created with ``force``, never started) and one more,
started (real brick processes on hosts 1-3), made at the first size. At each size, every
command a whole CLI process on host 1, as versus_cluster runs them: ``volume create`` (the
median of a few creates at that size, deleted again untimed, so that the number of volumes
stays fixed), ``volume set VOL opt`` (a value flipped), ``volume status VOL`` of the started
volume and ``volume info`` (all), median of 5; the stock binary's floor (``system:: getwd``).
And the CPU the side's daemons spend per command beyond their idle rate, summed over every
host: every host shares this machine's cores, so that is the work which serialises here and
would spread over real hosts.

    python -m benchmarks.versus_peers --json benchmarks/results/scale/versus-peers.json

Needs root, iproute2, util-linux, glusterfs-server and etcd. A time limit bounds the run (a
size a side could not finish is left out); whatever happens, every daemon, brick process,
store member, namespace and mount made here is removed before the process exits.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from benchmarks.versus_cluster import (FLOOR, HOSTS, NOISE, POLL_LIMIT, REPEATS,
                                       STOCK_BINARY, STORE, TITLES, Column, Door, Hosts,
                                       OutOfTime, Report, Sweep, add_run_options, check_run_options,
                                       cli_env, glusterd_door, load, log, mgmt_doors, now,
                                       peers_missing, poll, run_lines, run_report, run_sides, side,
                                       start_mgmtd, table, this_run, verdict)
from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.multihost.glusterd_hosts import GlusterHost

MODULE = "benchmarks.versus_peers"
SIZES = "3,6,12,24"
QUICK_SIZES, QUICK_VOLUMES = "3,4", 2
#: the volumes never started, besides the started one
VOLUMES = 10
#: ``volume create``s timed per column at each size (then deleted: the volumes stay VOLUMES + 1)
CREATES = 3
STARTED = "live"
#: the volume whose option ``volume set`` flips (one never started: no brick's graph switches)
SET_VOLUME = "vol0001"
HEADING = "### Versus glusterd 10.3: the number of nodes N (a few volumes, one started)"
NOTES_HEADING = "#### Reading the nodes table"
SWEEP = Sweep(commands=(("create_s", "volume create"), ("set_s", "volume set"),
                        ("status_s", "volume status VOL (started)"), ("info_s", "volume info (all)")),
              goal_prefix="| N nodes: ", noun="N", size="N={}", sizes="N = {}", size_header="N", panel="N nodes",
              ticks_at_sizes=True)


# ============================================================================ the pools
#: Brings a side's pool to the given number of hosts (started, probed, every peer connected).
Grow = Callable[[int], None]
#: The pids of a side's daemons on every host of its pool (store members included), whose
#: CPU time is counted per command.
Pids = Callable[[], list[int]]
#: A size's row's key for the CPU seconds the side's daemons spent per command, by row key.
CPU = "cpu_s"
TICK = os.sysconf("SC_CLK_TCK")
#: The key of a size's CPU record for the daemons' CPU seconds per second when nothing is asked.
IDLE = "idle"
#: How long a sample of the daemons' CPU rate lasts, and how long a settling waits at most.
SETTLE_SAMPLE, SETTLE_LIMIT = 0.5, 30.0


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of ``pids`` and of their children waited for (glusterd's hook
    scripts), in seconds; a process gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def bricks_missing(cli: Door, volume: str) -> str | None:
    """None when ``volume status VOL --xml`` on host 1 shows its 3 bricks online."""
    ok, output = cli[0].ask("volume", "status", volume, "--xml")
    try:
        nodes = ET.fromstring(output).findall(".//volStatus/volumes/volume/node") if ok else []
    except ET.ParseError:
        nodes = []
    online = [n for n in nodes if (n.findtext("path") or "").startswith("/") and n.findtext("status") == "1"]
    return None if len(online) == HOSTS else f"volume status {volume}: {len(online)} of {HOSTS} bricks online"


def every_peer_connected(door: Door, size: int, limit: float) -> None:
    """Until each of the first ``size`` hosts lists the others, in the cluster and connected."""
    for cli in door[:size]:
        poll(lambda: peers_missing(cli, size - 1), limit)


def kill_bricks(host: GlusterHost) -> None:
    """The brick processes running in ``host``'s mount namespace (glusterd's side leaves its
    bricks running when it stops; the other side's bricks need their ports)."""
    for pid in host.processes():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("glusterfsd", "glusterfs"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def idle_rate(pids: list[int]) -> float:
    """The daemons' CPU seconds per second over a second when nothing is asked of them
    (lease renewals, pings, watches)."""
    cpu, t0 = cpu_seconds(pids), now()
    time.sleep(1.0)
    return (cpu_seconds(pids) - cpu) / (now() - t0)


def settle(pids: list[int], idle: float) -> None:
    """Until the daemons are back near their idle rate, at most SETTLE_LIMIT seconds:
    glusterd runs an operation's post hook scripts (bash, Python) after its CLI returned, and
    they must not land in the next row's time or CPU."""
    end = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < end:
        cpu, t0 = cpu_seconds(pids), now()
        time.sleep(SETTLE_SAMPLE)
        rate = (cpu_seconds(pids) - cpu) / (now() - t0)
        if rate <= idle * 1.5 + 0.02:
            return
    log(f"the daemons did not settle in {SETTLE_LIMIT:.0f} s: {rate:.2f} CPU s/s, idle {idle:.2f}")


@attrs.frozen
class CpuMeter:
    """The CPU a side's daemons spend on what runs inside ``measured`` beyond their idle
    rate, the tail after it included (it waits until they settle)."""

    pids: list[int]
    idle: float

    def __call__(self, measured: Callable[[], Any]) -> tuple[Any, float]:
        settle(self.pids, self.idle)
        cpu, t0 = cpu_seconds(self.pids), now()
        value = measured()
        settle(self.pids, self.idle)
        return value, max(0.0, cpu_seconds(self.pids) - cpu - self.idle * (now() - t0))


# ============================================================================ measuring
def measure(doors: Callable[[], dict[Column, Door]], grow: Grow, pids: Pids, hosts: Hosts,
            args: argparse.Namespace, deadline: float, out: dict[str, dict[str, Any]]) -> None:
    """Fill ``out[column]["sizes"]`` size by size; the volumes are made at the first size,
    through the first column's CLI. A size not finished by ``deadline`` is left out."""
    grow(args.sizes[0])
    columns = list(doors())
    stock = next(c for c in columns if c in STOCK_BINARY)
    lead = doors()[columns[0]][0]
    for index in range(1, args.volumes + 1):
        name = f"vol{index:04d}"
        lead("volume", "create", name, *hosts.bricks(columns[0].value, name), "force")
    lead("volume", "create", STARTED, *hosts.bricks(columns[0].value, STARTED), "force")
    lead("volume", "start", STARTED)
    poll(lambda: bricks_missing(doors()[stock], STARTED), POLL_LIMIT)
    flips = itertools.cycle(("off", "on"))
    for size in args.sizes:
        if time.monotonic() > deadline:
            raise OutOfTime(f"out of time before N = {size}")
        t0 = now()
        grow(size)
        joined = now() - t0
        every = doors()
        poll(lambda: bricks_missing(every[stock], STARTED), POLL_LIMIT)
        timers = {column: door[0] for column, door in every.items()}
        for timer in timers.values():  # untimed: the first commands after the pool grew
            for _ in range(2):
                timer("volume", "info")
        daemons = pids()
        time.sleep(2.0)  # the pool's joining settled, then its idle rate
        meter = CpuMeter(daemons, idle_rate(daemons))
        creates: dict[Column, list[float]] = {c: [] for c in columns}
        create_cpu: dict[Column, float] = dict.fromkeys(columns, 0.0)
        made = []
        for turn in range(args.creates * len(columns)):
            column = columns[turn % len(columns)]
            name = f"new{size:02d}x{turn:02d}"
            elapsed, cpu = meter(lambda: timers[column](
                "volume", "create", name, *hosts.bricks(columns[0].value, name), "force"))
            creates[column].append(elapsed)
            create_cpu[column] += cpu
            made.append(name)
        for name in made:  # untimed: the number of volumes stays fixed
            timers[columns[0]]("volume", "delete", name)
        for column in columns:
            timer = timers[column]
            row: dict[str, Any] = {"create_s": statistics.median(creates[column])}
            cpu = {"create_s": create_cpu[column] / args.creates, IDLE: meter.idle}
            for label, words in (
                    ("set_s", lambda: ("volume", "set", SET_VOLUME, "performance.quick-read", next(flips))),
                    ("status_s", lambda: ("volume", "status", STARTED)),
                    ("info_s", lambda: ("volume", "info"))):
                times, spent = meter(lambda: [timer(*words()) for _ in range(REPEATS)])
                row[label] = statistics.median(times)
                cpu[label] = spent / REPEATS
            if column in STOCK_BINARY:
                label, words_ = FLOOR
                row[label] = statistics.median(timer(*words_) for _ in range(REPEATS))
            row["joined_s"] = joined
            out[column.value]["sizes"][str(size)] = row | {CPU: cpu}
            log(f"{column.value} N = {size}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in row.items())
                + ", daemons' CPU per command above idle: " + ", ".join(
                    f"{k} {v * 1000:.0f} ms" for k, v in cpu.items() if k != IDLE)
                + f", idle {cpu[IDLE]:.2f} CPU s/s"
                + f" (load {load()})")


# ============================================================================ the two sides
def glusterd_side(hosts: Hosts, args: argparse.Namespace, deadline: float, out: dict[str, Any]) -> None:
    """glusterd 10.3 on the pool's hosts; stopped again at the end, its bricks too (also on
    failure: the other side needs the hosts' ports)."""
    try:
        with side(out, [Column.GLUSTERD]):
            door = glusterd_door(hosts)
            running: list[GlusterHost] = []

            def grow(size: int) -> None:
                new = hosts.hosts[len(running):size]
                for host in new:
                    host.start_glusterd()
                    running.append(host)
                for host in new:
                    if host is not hosts.hosts[0]:
                        door[0]("peer", "probe", host.host.address)
                every_peer_connected(door, size, POLL_LIMIT)

            measure(lambda: {Column.GLUSTERD: door}, grow,
                    lambda: [h.glusterd.pid for h in running if h.glusterd], hosts, args, deadline, out)
    finally:
        for host in hosts.hosts:
            host.stop_glusterd()
            kill_bricks(host)


def mgmt_side(hosts: Hosts, args: argparse.Namespace, deadline: float, out: dict[str, Any]) -> None:
    """gluster-mgmtd on the pool's hosts on a 3-member etcd (members on hosts 1-3; the hosts
    beyond use the members in turn); both CLIs on host 1."""
    from tests.servers import start_cluster

    columns = [Column.GLUSTER_MGMT, Column.GLUSTER_MGMT_STOCK]
    with side(out, columns):
        env = cli_env(hosts.workdir)
        hosts.servers = start_cluster(STORE, hosts.workdir / "store",
                                      [(h.host.address, h.host.netns) for h in hosts.cluster])
        root = f"vp{uuid.uuid4().hex[:8]}"

        def grow(size: int) -> None:
            new = range(len(hosts.daemons), size)
            for index in new:
                start_mgmtd(hosts, index, root, member=index % HOSTS)
            for index in new:
                if index:
                    hosts.daemons[0].cli("peer", "probe", hosts.daemons[index].address, check=True)
            every_peer_connected(mgmt_doors(hosts, env)[Column.GLUSTER_MGMT_STOCK], size, POLL_LIMIT)

        measure(lambda: mgmt_doors(hosts, env), grow,
                lambda: [p.pid for p in (*(d.proc for d in hosts.daemons), *(s.proc for s in hosts.servers)) if p],
                hosts, args, deadline, out)


# ============================================================================ the run
def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Both sides, one after the other, each with half the time limit; everything made is
    removed before this returns (or raises)."""
    result: dict[str, Any] = {"runs": [this_run(MODULE)], "sizes": args.sizes, "volumes": args.volumes,
                              "creates": args.creates, "repeats": REPEATS, "columns": {}}
    hosts = Hosts(Path(tempfile.mkdtemp(prefix="gm-peers-", dir=args.workdir)), count=args.sizes[-1], tag="gp")
    sides = [lambda deadline, run_side=run_side: run_side(hosts, args, deadline, result["columns"])
             for run_side in (glusterd_side, mgmt_side)]
    return run_sides(result, hosts, sides, args.time_limit, args.keep)


# ============================================================================ report
def render(result: dict[str, Any], image: str | None = None) -> str:
    lines = [HEADING, "", *run_lines(result)]
    volumes, creates = result.get("volumes", VOLUMES), result.get("creates", CREATES)
    lines += ["", f"N hosts (network and mount namespaces of their own on a bridge, "
              "tests/multihost's harness, as in the three-node table), one side after the "
              "other, each growing its pool size by size (its daemon started on the next hosts, "
              "probed from host 1, until every host lists every other `Peer in Cluster "
              "(Connected)`): glusterd 10.3 on each host; then gluster-mgmtd on each host on "
              f"{result['runs'][0]['store'].replace('one per host', 'on hosts 1-3')}, the hosts "
              "beyond 3 on those members' URLs in turn. At the first size: "
              f"{volumes} volumes of 3 bricks on hosts 1-3, created with `force`, never started, "
              f"and one more, `{STARTED}`, started (a brick process on each of hosts 1-3, which "
              "`volume status` asks). Whole CLI processes run on host 1 (`nsenter` into its "
              "namespaces, the same for every column), median of "
              f"{result.get('repeats', REPEATS)}: `volume create` of {creates} volumes per column "
              "at each size (3 bricks on hosts 1-3, `force`; deleted again untimed: the number of "
              f"volumes stays {volumes + 1}), `volume set {SET_VOLUME}` (a volume never started) "
              f"flipping an option, `volume status {STARTED}`, `volume info` (all). ratio = "
              "glusterd / the column to its left; it \"grows\" when larger at the largest N than "
              f"at the smallest and never {NOISE:.0%} smaller than at the N before. All hosts "
              f"share this machine's {os.cpu_count()} cores.", ""]
    lines += [*table(result, SWEEP), "", *cpu_table(result), "", *verdict(result, SWEEP), ""]
    if image:
        lines += [f"![scale-versus-peers]({image})", ""]
    return "\n".join(lines)


def cpu_table(result: dict[str, Any]) -> list[str]:
    """CPU time of each side's daemons per command: how much of a side's wall time is work
    that real hosts would share out (here every host shares the same cores)."""
    columns = result["columns"]
    every = {n for record in columns.values() for n in record.get("sizes", {})}
    if not any(CPU in row for record in columns.values() for row in record.get("sizes", {}).values()):
        return []
    lines = ["CPU time of the side's daemons per command, summed over every host of the pool, "
             "beyond their idle rate (user and system time from /proc: every glusterd, with the "
             "hook scripts it ran; every gluster-mgmtd and the 3 etcd members; brick processes "
             "and the CLI not counted). Each row's commands start with the daemons back near their "
             "idle rate and are counted until they are again (glusterd runs an operation's post "
             "hook scripts after its CLI returned); `volume create`: the mean of the creates, the "
             "others: of the 5. ms:", "",
             "| N | command | " + " | ".join(f"{TITLES[c]}" for c in Column) + " |",
             "|---:|---|" + "---:|" * len(Column)]
    for size in sorted(every, key=int):
        for label, command in SWEEP.commands:
            cells = []
            for column in Column:
                cpu = columns.get(column.value, {}).get("sizes", {}).get(size, {}).get(CPU, {})
                cells.append(f"{cpu[label] * 1000:.0f}" if label in cpu else "n/a")
            lines.append(f"| {size} | {command} | " + " | ".join(cells) + " |")
    idle = {c: [(n, row[CPU][IDLE]) for n, row in sorted(columns.get(c.value, {}).get("sizes", {}).items(),
                                                         key=lambda item: int(item[0])) if IDLE in row.get(CPU, {})]
            for c in (Column.GLUSTERD, Column.GLUSTER_MGMT)}
    if any(idle.values()):
        lines += ["", "The daemons' idle rate (CPU seconds per second, nothing asked; subtracted above): "
                  + "; ".join(f"{'glusterd' if c is Column.GLUSTERD else 'gluster-mgmtd and etcd'} "
                              + ", ".join(f"{v:.2f} at N={n}" for n, v in pairs)
                              for c, pairs in idle.items() if pairs) + "."]
    return lines


# ============================================================================ command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=SIZES, help=f"numbers of nodes, each >= {HOSTS} (default {SIZES})")
    parser.add_argument("--volumes", type=int, default=VOLUMES,
                        help=f"volumes never started, besides the started one (default {VOLUMES})")
    parser.add_argument("--creates", type=int, default=CREATES,
                        help=f"volume creates timed per column at each size (default {CREATES})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a CI run: N = {QUICK_SIZES}, {QUICK_VOLUMES} volumes")
    add_run_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.volumes = QUICK_SIZES, QUICK_VOLUMES
    check_run_options(parser, args, HOSTS, f"at least one number of nodes, each >= {HOSTS} (the bricks' hosts)")
    if args.volumes < 1 or args.creates < 1:
        parser.error("--volumes and --creates must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    return run_report(parse_args(argv), Report(
        "versus_peers", ("glusterd", "glusterfsd", "nsenter", "unshare", "ip", STOCK_GLUSTER, "/usr/bin/etcd"),
        bench, render, SWEEP, HEADING, NOTES_HEADING))

if __name__ == "__main__":
    sys.exit(main())
