"""Versus glusterd 10.3 on three nodes (issue 15): where glusterd's costs grow with the
number of volumes is the cross-node work, so the comparison that matters runs on a cluster.

Three hosts, each a network namespace on a bridge plus a mount namespace of its own
(tests/multihost: ``Network`` and ``GlusterHost``: /var/lib/glusterd, /var/log/glusterfs and
/run private to the host). One side after the other on the same hosts:

- **glusterd**: stock glusterd 10.3 on each host, the other two probed from host 1;
- **gluster_mgmt**: gluster-mgmtd on each host on a 3-member etcd cluster (one member per
  host, as the multi-host tests run it), the other two probed from host 1.

Volumes of 3 bricks (one per host) are created, never started (no brick process: the 2 cores
measure the management daemons), up to each size; at each size ``volume set VOL opt``,
``volume info`` (all) and ``volume status VOL`` are timed, median of 5 (after two untimed
``volume info``), and ``volume create`` as the median of the creates that reached that size. Every command is a whole stock CLI
process run on host 1 (``nsenter`` into its namespaces, the same for every column): ``gluster``
against glusterd; against gluster-mgmtd both ``gluster-mgmt`` and the stock ``gluster`` binary
(its GLUSTER_CLI program), which take turns for the creates.

Those four are flat on glusterd's side; what grows with the number of volumes there is the
peer handshake, which carries every volume. Two more rows time it, once per size and column
(``GROWTH``; ``render`` words their exact definitions): probing a fourth host (a new node,
running the side's daemon) until it lists every peer and every volume, and restarting the
daemon on host 3 until it answers for the last volume with every peer connected. A failure
(glusterd has failed at 5,100 volumes in the field) is recorded in the row, not raised.

    python -m benchmarks.versus_cluster --json benchmarks/results/scale/versus-3nodes.json

Needs root, iproute2, util-linux, glusterfs-server and etcd. A time limit bounds the run (a
size a side could not finish is left out); whatever happens, every daemon, store member,
namespace and mount made here is removed before the process exits.
"""

from __future__ import annotations

import argparse
import datetime
import enum
import importlib.util
import itertools
import json
import os
import re
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from benchmarks.report import the_command
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.helpers import child_env, wait_for
from tests.multihost.glusterd_hosts import GlusterHost
from tests.multihost.harness import Network, leftover_namespaces, run

HOSTS = 3
#: the host the "peer probe" row probes (index HOSTS: the fourth), and the one it restarts
FOURTH, RESTARTED = HOSTS, HOSTS - 1
STORE = "etcd"
#: gluster-mgmtd's REST port and store lease, as the multi-host tests run it
API_PORT = 24012
LEASE_TTL = 6.0
#: Where ``--output`` puts this run's part of docs/benchmarks.md.
SCALE_SECTION = "## Scale: peers and volumes"
HEADING = "### Versus glusterd 10.3: three nodes, volumes of 3 bricks (never started)"
GOALS_HEADING = "### Goals and measured gaps"
#: Where the subsection's hand-written part starts (kept when the table is rewritten).
NOTES_HEADING = "#### Reading the three-node table"
#: The goal rows this module owns in the goals table (replaced on each --output).
GOAL_PREFIX = "| three nodes: "
REPEATS = 5
#: the longest --workdir: gluster-mgmtd's sockets lie 60-odd characters below it
#: (gm-versus3-XXXXXXXX/mgmtd/node-ADDRESS/glusterd.socket), and a socket path has 107 bytes
WORKDIR_MAX = 40
now = time.perf_counter


class Column(enum.Enum):
    """Who answers and through which CLI."""

    GLUSTERD = "glusterd"
    GLUSTER_MGMT = "gluster_mgmt"
    #: gluster-mgmtd answering the stock ``gluster`` binary
    GLUSTER_MGMT_STOCK = "gluster_mgmt_stock"


TITLES = {Column.GLUSTERD: "glusterd, `gluster`", Column.GLUSTER_MGMT: "gluster-mgmtd, `gluster-mgmt`",
          Column.GLUSTER_MGMT_STOCK: "gluster-mgmtd, stock `gluster`"}
#: The rows whose glusterd side grows with the number of volumes (the peer handshake sends
#: every volume): (key of a size's row, the row as the tables name it)
GROWTH = (("probe_s", "peer probe of a 4th host"), ("restart_s", "daemon restart (host 3)"))
#: (key of a size's row, the command as the tables name it)
COMMANDS = (("create_s", "volume create"), ("set_s", "volume set"),
            ("info_s", "volume info (all)"), ("status_s", "volume status VOL"), *GROWTH)
#: A row's key plus this: why that row failed at that size (the row has no time then).
FAILED = "_failed"
#: How often the growth rows ask (each asking is a whole CLI process: polling flat out would
#: take a core from the daemons being timed), and for how long at most.
POLL = 0.1
POLL_LIMIT = 600.0
#: What a peer's line of ``peer status`` says once it is a member, connected (both CLIs).
IN_CLUSTER = "Peer in Cluster (Connected)"
VOLUME_NAME = re.compile(r"vol\d{4}")
#: The columns running the stock ``gluster`` binary, whose floor is timed too: a command
#: asking the daemon nothing but a constant (`system:: getwd`), i.e. what the binary costs by
#: itself (it runs ``gsyncd --version``, a Python start, before its first call)
STOCK_BINARY = (Column.GLUSTERD, Column.GLUSTER_MGMT_STOCK)
FLOOR = ("floor_s", ("system::", "getwd"))


class OutOfTime(Exception):
    """The side's share of the time limit is spent: the sizes finished so far stand."""


class NotReady(Exception):
    """A polled condition did not hold in time (the message: what was still missing)."""


def log(message: str) -> None:
    """A progress line on stderr, named by the benchmark running (this one, or one built on it)."""
    print(f"[{Path(sys.argv[0]).stem} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# ============================================================================ the hosts
@attrs.define
class Hosts:
    """The hosts: the three of the cluster (the volumes' bricks are there), the fourth the
    growth rows probe (or as many more as ``count`` says), and everything run on them;
    ``teardown`` removes it all."""

    workdir: Path
    count: int = HOSTS + 1
    #: names the namespaces and links (with this process's id: two runs never clash)
    tag: str = "gv"
    network: Network = attrs.field(default=attrs.Factory(
        lambda self: Network(self.count, tag=f"{self.tag}{os.getpid() % 100000}"), takes_self=True))
    hosts: list[GlusterHost] = attrs.field(factory=list)
    servers: list = attrs.field(factory=list)
    daemons: list[DaemonProcess] = attrs.field(factory=list)

    def create(self) -> "Hosts":
        self.network.create()
        for host in self.network.hosts:
            self.hosts.append(GlusterHost(host, self.workdir / f"host{host.index}").create())
        return self

    def bricks(self, side: str, volume: str) -> list[str]:
        """One brick per host, under the side's own directory (a path of the other side's
        volume would be "already part of a volume")."""
        paths = [self.workdir / side / f"bricks-{h.host.index}" for h in self.cluster]
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
        return [f"{h.host.address}:{path / volume}" for h, path in zip(self.cluster, paths)]

    @property
    def cluster(self) -> list[GlusterHost]:
        """The three hosts the volumes are on (the fourth joins only for the probe row)."""
        return self.hosts[:HOSTS]

    def pids(self) -> list[int]:
        """Every process in the hosts' network namespaces (daemons, store members, bricks)."""
        return [int(pid) for host in self.network.hosts
                for pid in run("ip", "netns", "pids", host.netns, check=False).stdout.split()
                if pid.isdigit()]

    def teardown(self) -> None:
        """Each step on its own: one failing leaves nothing else behind."""
        for daemon in self.daemons:
            _quietly(daemon.stop_all)
        for server in self.servers:
            _quietly(server.kill)
        for host in self.hosts:
            _quietly(host.stop_glusterd)
            _quietly(host.kill_services)  # the mount namespace goes with its last process
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        tag = self.network.tag
        self.network.teardown()
        left = leftover_namespaces(tag)
        if left:
            log(f"warning: namespaces left: {left}")


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 (teardown goes on: report, remove the rest)
        log(f"teardown: {action}: {exc}")


# ============================================================================ timing
Argv = Callable[..., list[str]]


@attrs.frozen
class Timer:
    """Runs one column's CLI on host 1 as a whole process and times it."""

    host: GlusterHost
    argv: Argv
    env: dict[str, str] | None = None

    def __call__(self, *words: str, expect: str | None = None) -> float:
        """Seconds; the command must succeed, or (``expect``) fail saying that."""
        argv = [*self.host.enter, *self.argv(*words)]
        t0 = now()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                stdin=subprocess.DEVNULL, env=self.env)
        elapsed = now() - t0
        output = result.stdout + result.stderr
        ok = result.returncode == 0 if expect is None else expect in output
        if not ok:
            raise RuntimeError(f"{' '.join(words)} ({result.returncode}): {output.strip()[-2000:]}")
        return elapsed

    def ask(self, *words: str) -> tuple[bool, str]:
        """Whether the command succeeded, and what it printed (for polling: never raises)."""
        try:
            result = subprocess.run([*self.host.enter, *self.argv(*words)], capture_output=True,
                                    text=True, timeout=120, stdin=subprocess.DEVNULL, env=self.env)
        except subprocess.TimeoutExpired:
            return False, f"{' '.join(words)}: no answer in 120 s"
        return result.returncode == 0, result.stdout + result.stderr


#: A column's CLI on each host, by host index (the fourth last).
Door = list[Timer]


@attrs.frozen
class Daemons:
    """A side's daemons by host index, as the growth rows stop, renew and start them."""

    stop: Callable[[int], None]
    #: start it; returns once its process runs (gluster-mgmtd: once its sockets exist, before
    #: which no CLI reaches it either), the caller polls for the rest
    launch: Callable[[int], None]
    #: a stopped daemon's state removed: its next start is a new node
    forget: Callable[[int], None]


def poll(missing: Callable[[], str | None], limit: float) -> None:
    """Every POLL seconds until ``missing`` says nothing is (returns None)."""
    end = time.monotonic() + limit
    while (still := missing()) is not None:
        if time.monotonic() > end:
            raise NotReady(f"after {limit:.0f} s: {still}")
        time.sleep(POLL)


def peers_missing(cli: Timer, peers: int) -> str | None:
    """None when ``peers`` peers are listed, each in the cluster and connected."""
    ok, output = cli.ask("peer", "status")
    joined = output.count(IN_CLUSTER)
    return None if ok and joined == peers and f"Number of Peers: {peers}\n" in output else \
        f"peer status: {joined} of {peers} peers '{IN_CLUSTER}': {output.strip()[-300:]}"


def volumes_missing(cli: Timer, volumes: int) -> str | None:
    ok, output = cli.ask("volume", "list")
    listed = sum(bool(VOLUME_NAME.fullmatch(line.strip())) for line in output.splitlines())
    return None if ok and listed == volumes else \
        f"volume list: {listed} of {volumes} volumes: {output.strip()[-300:]}"


def volume_missing(cli: Timer, volume: str) -> str | None:
    ok, output = cli.ask("volume", "info", volume)
    return None if ok and f"Volume Name: {volume}" in output else \
        f"volume info {volume}: {output.strip()[-300:]}"


def time_probe(door: Door, address: str, volumes: int, limit: float) -> float:
    """From the start of ``peer probe`` of the fourth host on host 1 until the fourth host's
    own CLI shows every other host in the cluster and connected, and lists every volume."""
    fourth = door[FOURTH]
    t0 = now()
    door[0]("peer", "probe", address)
    poll(lambda: peers_missing(fourth, HOSTS) or volumes_missing(fourth, volumes), limit)
    return now() - t0


def renew_fourth(door: Door, daemons: Daemons, address: str, limit: float) -> None:
    """Untimed, after the probe row: the fourth host detached, and a new node again (stopped,
    its state removed, started: no peers, no volumes), ready for the next size's probe."""
    try:
        door[0]("peer", "detach", address)
    except RuntimeError:
        door[0]("peer", "detach", address, "force")
    every_view_whole(door, limit)
    daemons.stop(FOURTH)
    daemons.forget(FOURTH)
    daemons.launch(FOURTH)
    poll(lambda: peers_missing(door[FOURTH], 0) or volumes_missing(door[FOURTH], 0), limit)


def time_restart(door: Door, daemons: Daemons, volume: str, limit: float) -> float:
    """The daemon of host 3 stopped (untimed), then from its start until its own CLI answers
    ``volume info`` for ``volume`` and shows both other hosts in the cluster and connected."""
    third = door[RESTARTED]
    daemons.stop(RESTARTED)
    t0 = now()
    daemons.launch(RESTARTED)
    poll(lambda: volume_missing(third, volume) or peers_missing(third, HOSTS - 1), limit)
    elapsed = now() - t0
    every_view_whole(door, limit)
    return elapsed


def every_view_whole(door: Door, limit: float) -> None:
    """Untimed: until each host of the cluster lists the two others, in the cluster and
    connected, and no one else (the next size's creates need every peer; glusterd's
    restarted host sees the others before they see it)."""
    for cli in door[:HOSTS]:
        poll(lambda: peers_missing(cli, HOSTS - 1), limit)


def growth_rows(door: Door, daemons: Daemons, fourth: str, volumes: int, deadline: float) -> dict[str, Any]:
    """The GROWTH rows of one column at one size; a row that fails says why instead."""
    row: dict[str, Any] = {}
    limit = min(POLL_LIMIT, max(60.0, deadline - time.monotonic()))
    steps = (("probe_s", lambda: time_probe(door, fourth, volumes, limit)),
             ("renew" + FAILED, lambda: renew_fourth(door, daemons, fourth, limit)),
             ("restart_s", lambda: time_restart(door, daemons, f"vol{volumes:04d}", limit)))
    for label, step in steps:
        try:
            value = step()
        except Exception as exc:  # noqa: BLE001 (a result: glusterd fails at some sizes)
            key = label if label.endswith(FAILED) else label + FAILED
            row[key] = f"{type(exc).__name__}: {exc}"[:1000]
            log(f"{label}: {row[key]}")
        else:
            if value is not None:
                row[label] = value
    return row


def measure(doors: dict[Column, Door], daemons: Daemons, hosts: Hosts, sizes: Sequence[int],
            deadline: float, out: dict[str, dict[str, Any]]) -> None:
    """Fill ``out[column]["sizes"]`` size by size (the columns share one daemon: they take
    turns for the creates). A size not finished by ``deadline`` is left out."""
    timers = {column: door[0] for column, door in doors.items()}
    columns = list(timers)
    for timer in timers.values():  # untimed: the first commands after start-up
        for _ in range(2):
            timer("volume", "info")
    made = 0
    for size in sizes:
        creates: dict[Column, list[float]] = {c: [] for c in columns}
        while made < size:
            if time.monotonic() > deadline:
                raise OutOfTime(f"out of time at {made} volumes, before {size}")
            column = columns[made % len(columns)]
            made += 1
            volume = f"vol{made:04d}"
            bricks = hosts.bricks(columns[0].value, volume)
            creates[column].append(timers[column]("volume", "create", volume, *bricks, "force"))
        for column in columns:
            timer = timers[column]
            row = {"create_s": statistics.median(creates[column] or [float("nan")])}
            flips = itertools.cycle(("off", "on"))
            for label, words, expect in (
                    ("set_s", lambda: ("volume", "set", "vol0001", "performance.quick-read", next(flips)), None),
                    ("info_s", lambda: ("volume", "info"), None),
                    # no volume is started: both daemons say so, after their checks
                    ("status_s", lambda: ("volume", "status", "vol0001"), "is not started")):
                row[label] = statistics.median(timer(*words(), expect=expect) for _ in range(REPEATS))
            if column in STOCK_BINARY:
                label, words_ = FLOOR
                row[label] = statistics.median(timer(*words_) for _ in range(REPEATS))
            row |= growth_rows(doors[column], daemons, hosts.hosts[FOURTH].host.address, size, deadline)
            out[column.value]["sizes"][str(size)] = row
            log(f"{column.value} {size} volumes: " + ", ".join(
                f"{k} {v * 1000:.0f} ms" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
                + f" (load {load()})")


@contextmanager
def side(out: dict[str, dict[str, Any]], columns: Sequence[Column]) -> Iterator[None]:
    """One side's record: its load averages, and why it stopped early (if it did)."""
    for column in columns:
        out[column.value] = {"sizes": {}, "load_before": load()}
    try:
        yield
    except OutOfTime as exc:
        for column in columns:
            out[column.value]["stopped"] = str(exc)
        log(str(exc))
    except Exception as exc:
        for column in columns:
            out[column.value]["error"] = f"{type(exc).__name__}: {exc}"[:3000]
        raise
    finally:
        for column in columns:
            out[column.value]["load_after"] = load()


# ============================================================================ the two sides
def glusterd_side(hosts: Hosts, sizes: Sequence[int], deadline: float, out: dict[str, Any]) -> None:
    """glusterd 10.3 on the three hosts, peers of one pool; stopped again at the end (also
    on failure: the other side needs the hosts' ports)."""
    try:
        _glusterd_side(hosts, sizes, deadline, out)
    finally:
        for host in hosts.hosts:
            host.stop_glusterd()


def _glusterd_side(hosts: Hosts, sizes: Sequence[int], deadline: float, out: dict[str, Any]) -> None:
    with side(out, [Column.GLUSTERD]):
        t0 = now()
        for host in hosts.hosts:  # the fourth too, not probed
            host.start_glusterd()
        first = hosts.hosts[0]
        for host in hosts.cluster[1:]:
            result = first.gluster("peer", "probe", host.host.address)
            if result.returncode != 0:
                raise RuntimeError(f"peer probe {host.host.address}: {result.stdout}{result.stderr}")

        def connected(host: GlusterHost) -> bool:
            return host.gluster("peer", "status").stdout.count("Peer in Cluster (Connected)") == HOSTS - 1
        for host in hosts.cluster:
            if not wait_for(lambda: connected(host), 90, 0.5):
                raise RuntimeError(f"{host.host.address}: peers not connected: "
                                   f"{host.gluster('peer', 'status').stdout}")
        out[Column.GLUSTERD.value]["ready_s"] = now() - t0
        door = glusterd_door(hosts)
        daemons = Daemons(stop=lambda i: hosts.hosts[i].stop_glusterd(),
                          launch=lambda i: hosts.hosts[i].launch_glusterd(),
                          forget=lambda i: hosts.hosts[i].forget_glusterd())
        measure({Column.GLUSTERD: door}, daemons, hosts, sizes, deadline, out)


def glusterd_door(hosts: Hosts) -> Door:
    """The stock CLI against glusterd, on each host."""
    return [Timer(host, lambda *words: [STOCK_GLUSTER, "--mode=script", *words]) for host in hosts.hosts]


def cli_env(workdir: Path) -> dict[str, str]:
    """gluster-mgmt's environment as installed by pip: its bytecode compiled once and cached
    (here in the work directory; a development shell's PYTHONDONTWRITEBYTECODE=1 would make
    every CLI start compile the package)."""
    import gluster_mgmt

    env = dict(child_env(), PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(gluster_mgmt.__file__).parent)],
                   env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)
    return env


def mgmt_side(hosts: Hosts, sizes: Sequence[int], deadline: float, out: dict[str, Any]) -> None:
    """gluster-mgmtd on the three hosts on a 3-member etcd (a member per host), peers of one
    cluster; both CLIs on host 1."""
    from tests.servers import start_cluster

    columns = [Column.GLUSTER_MGMT, Column.GLUSTER_MGMT_STOCK]
    with side(out, columns):
        env = cli_env(hosts.workdir)
        t0 = now()
        hosts.servers = start_cluster(STORE, hosts.workdir / "store",
                                      [(h.host.address, h.host.netns) for h in hosts.cluster])
        root = f"vs{uuid.uuid4().hex[:8]}"
        # the fourth host (not probed here) has no store member: it uses host 1's
        for index in range(len(hosts.hosts)):
            start_mgmtd(hosts, index, root, member=index if index < HOSTS else 0)
        first = hosts.daemons[0]
        for daemon in hosts.daemons[1:HOSTS]:
            first.cli("peer", "probe", daemon.address, check=True)
        if not wait_for(lambda: first.gluster("pool", "list").stdout.count("Connected") == HOSTS, 90, 0.5):
            raise RuntimeError(f"pool not connected: {first.gluster('pool', 'list').stdout}")
        for column in columns:
            out[column.value]["ready_s"] = now() - t0
        doors = mgmt_doors(hosts, env)
        daemons = Daemons(stop=lambda i: hosts.daemons[i].stop(), launch=lambda i: hosts.daemons[i].start(),
                          forget=lambda i: shutil.rmtree(hosts.daemons[i].state_dir, ignore_errors=True))
        measure(doors, daemons, hosts, sizes, deadline, out)


def start_mgmtd(hosts: Hosts, index: int, root: str, member: int) -> DaemonProcess:
    """gluster-mgmtd on host ``index`` (in its namespaces) on the store member ``member``
    (hosts.servers), keys under ``root``; returns once its sockets exist."""
    host = hosts.hosts[index]
    daemon = DaemonProcess(hosts.workdir / "mgmtd", host.host.address, hosts.servers[member].url(root),
                           API_PORT, LEASE_TTL, wrapper=tuple(host.enter))
    daemon.workdir.mkdir(exist_ok=True)
    hosts.daemons.append(daemon)
    daemon.start()
    return daemon


def mgmt_doors(hosts: Hosts, env: dict[str, str]) -> dict[Column, Door]:
    """Both CLIs against gluster-mgmtd, on each host that runs one (hosts.daemons, in host order)."""
    script = Path(sys.executable).parent / "gluster-mgmt"
    mgmt = [str(script)] if script.exists() else [sys.executable, "-m", "gluster_mgmt.cli.main"]
    return {
        Column.GLUSTER_MGMT: [Timer(host, lambda *words, d=daemon: [
            *mgmt, "--socket", str(d.socket), "--mode=script", *words], env)
            for host, daemon in zip(hosts.hosts, hosts.daemons)],
        Column.GLUSTER_MGMT_STOCK: [Timer(host, lambda *words, d=daemon: [
            STOCK_GLUSTER, "--mode=script", f"--glusterd-sock={d.glusterd_socket}", *words])
            for host, daemon in zip(hosts.hosts, hosts.daemons)]}


# ============================================================================ the run
def this_run(module: str = "benchmarks.versus_cluster") -> dict[str, str]:
    """How this run was made (``module``'s command line), for the report's heading bullet."""
    return {"command": the_command(module),
            "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}, "
                       f"Python {platform.python_version()}",
            "load_before": load(),
            "store": f"an {STORE} cluster of {HOSTS} members (one per host)"}


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Both sides, one after the other, each with half the time limit; everything made is
    removed before this returns (or raises)."""
    result: dict[str, Any] = {"runs": [this_run()], "sizes": args.sizes, "repeats": REPEATS, "columns": {}}
    hosts = Hosts(Path(tempfile.mkdtemp(prefix="gm-versus3-", dir=args.workdir)))
    sides = [lambda deadline, run_side=run_side: run_side(hosts, args.sizes, deadline, result["columns"])
             for run_side in (glusterd_side, mgmt_side)]
    return run_sides(result, hosts, sides, args.time_limit, args.keep)


#: A side of the comparison, run until its deadline (time.monotonic()).
Side = Callable[[float], None]


def run_sides(result: dict[str, Any], hosts: Hosts, sides: Sequence[Side], time_limit: float,
              keep: bool) -> dict[str, Any]:
    """``sides`` one after the other on ``hosts``, each with an equal share of ``time_limit``;
    a side that fails is logged (its record says why) and the next runs. SIGTERM and a hang
    unwind like Ctrl-C; whatever happens, everything made on the hosts (and their work
    directory, unless ``keep``) is removed before this returns ``result``."""
    workdir = hosts.workdir
    started = time.monotonic()
    # SIGTERM (and an alarm past the limit, for a hang no timeout caught) unwind like Ctrl-C
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGALRM, _interrupted)
    signal.alarm(int(time_limit) + 300)
    try:
        hosts.create()
        log(f"hosts {[h.host.address for h in hosts.hosts]}, work dir {workdir} (load {load()})")
        share = time_limit / len(sides)
        for number, run_side in enumerate(sides, 1):
            deadline = min(time.monotonic() + share, started + time_limit)
            try:
                run_side(deadline)
            except Exception as exc:  # noqa: BLE001 (recorded; the other side still runs)
                log(f"side {number} failed: {type(exc).__name__}: {exc}")
    except KeyboardInterrupt as exc:  # the sizes finished so far are still reported
        result["interrupted"] = str(exc)
        log(f"interrupted ({exc}): cleaning up, reporting the sizes finished")
    finally:
        signal.alarm(0)
        hosts.teardown()
        if keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["runs"][0]["load_after"] = load()
    result["runs"][0]["seconds"] = round(time.monotonic() - started)
    return result


# ============================================================================ report
@attrs.frozen
class Sweep:
    """What a comparison sweeps, as its verdict and goal rows word it."""

    #: (key of a size's row, the command as the tables name it)
    commands: Sequence[tuple[str, str]] = COMMANDS
    #: the goals table's rows of this comparison start with this (replaced on each --output)
    goal_prefix: str = GOAL_PREFIX
    #: what a size is called ("faster at every {noun}", "the ratio grows with {noun}")
    noun: str = "size"
    #: a size in a sentence ("at {} ...")
    size: str = "{}"
    #: the sizes of a verdict, in brackets
    sizes: str = "{} volumes"
    #: the table's first column, and the plot's x axis
    size_header: str = "volumes"
    #: what each panel of the plot's title says first
    panel: str = "3 nodes"
    #: the plot's x axis marked at the sizes measured only (few sizes, close together)
    ticks_at_sizes: bool = False


def ratios(result: dict[str, Any], against: Column, label: str) -> list[tuple[str, float]]:
    """(size, glusterd / ``against``) at every size both finished."""
    columns = result["columns"]
    gd = columns.get(Column.GLUSTERD.value, {}).get("sizes", {})
    gm = columns.get(against.value, {}).get("sizes", {})
    return [(n, gd[n][label] / gm[n][label]) for n in sorted(set(gd) & set(gm), key=int)
            if gd[n].get(label) and gm[n].get(label)]


def failed_sizes(result: dict[str, Any], column: Column, label: str) -> list[str]:
    sizes = result["columns"].get(column.value, {}).get("sizes", {})
    return [n for n in sorted(sizes, key=int) if label + FAILED in sizes[n]]


def run_lines(result: dict[str, Any]) -> list[str]:
    """A bullet per run: its command, date, machine, load and length."""
    return [f"- `{run_['command']}` ({run_['date']}; {run_['machine']}; load average "
            f"{run_['load_before']} before, {run_.get('load_after', '?')} after; "
            f"{run_.get('seconds', '?')} s)" for run_ in result["runs"]]


def render(result: dict[str, Any], image: str | None = None) -> str:
    lines = [HEADING, "", *run_lines(result)]
    lines += ["", "Three hosts (network and mount namespaces of their own on a bridge, "
              "tests/multihost's harness), one side after the other: glusterd 10.3 on each, "
              f"peers probed; then gluster-mgmtd on each on {result['runs'][0]['store']}, "
              "peers probed. Volumes of 3 bricks, one per host, created with `force`, never "
              "started. Whole CLI processes run on host 1 (`nsenter` into its namespaces, the "
              f"same for every column); median of {result.get('repeats', 3)} (`volume create`: of the creates that "
              "reached that size, the two gluster-mgmtd CLIs taking turns); `volume status` of a "
              "volume not started (every daemon answers that it is not started). "
              "ratio = glusterd / the column to its left; it \"grows\" when larger at the largest size than "
              f"at the smallest and never {NOISE:.0%} smaller than at the size before.", "",
              "The last two rows of each size time what grows with the number of volumes on "
              "glusterd's side, the peer handshake (it carries every volume); once per size and "
              "column, each column's own CLI asking the host concerned every "
              f"{POLL * 1000:.0f} ms (a whole CLI process each time), after that size's other rows:", "",
              "- **peer probe of a 4th host**: a fourth host on the same bridge runs the side's "
              "daemon as a new node (no peers, no volumes; gluster-mgmtd on host 1's etcd "
              "member). Timed from the start of `peer probe HOST4` on host 1 until, on host 4, "
              f"`peer status` shows all three others `{IN_CLUSTER}` and `volume list` lists every "
              "volume. Then, untimed, `peer detach HOST4` from host 1, and host 4's daemon is "
              "stopped, its state removed and started again: the next size probes a new node too.",
              "- **daemon restart (host 3)**: host 3's daemon stopped (SIGTERM, untimed), then timed "
              "from its start until, on host 3, `volume info VOL` of the last volume created "
              f"answers and `peer status` shows both others `{IN_CLUSTER}` (gluster-mgmtd's start "
              "returns once its sockets exist, about when a CLI could first reach it; the polling "
              "starts then).", "",
              "A row that failed at a size reads `failed` (why: under the table).", ""]
    lines += [*table(result), "", *verdict(result), ""]
    if image:
        lines += [f"![scale-versus-3nodes]({image})", ""]
    return "\n".join(lines)


def table(result: dict[str, Any], sweep: Sweep = Sweep()) -> list[str]:
    """The table (a row per size and command, a column per CLI and daemon, with the ratios),
    the stock binary's floor, and why a side stopped or a row failed."""
    columns = result["columns"]
    lines = []
    for column in Column:
        record = columns.get(column.value, {})
        for key in ("error", "stopped"):
            if record.get(key):
                lines += [f"{TITLES[column]}: {key}: `{record[key][:500]}`", ""]
    lines += [f"| {sweep.size_header} | command | glusterd, `gluster` (ms) | gluster-mgmtd, `gluster-mgmt` (ms) "
              "| ratio | gluster-mgmtd, stock `gluster` (ms) | ratio |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    every = {n for record in columns.values() for n in record.get("sizes", {})}
    for size in sorted(every, key=int):
        for label, command in sweep.commands:
            rows = [columns.get(c.value, {}).get("sizes", {}).get(size) for c in Column]
            values = [row.get(label) if row else None for row in rows]
            gd = values[0]
            cells = []
            for index, (row, value) in enumerate(zip(rows, values)):
                cells.append(f"{value * 1000:.0f}" if value is not None else
                             "failed" if row and label + FAILED in row else "n/a")
                if index:
                    cells.append(f"{gd / value:.1f}x" if gd and value else "n/a")
            lines.append(f"| {size} | {command} | " + " | ".join(cells) + " |")
    floors = {c: [r[FLOOR[0]] for r in columns.get(c.value, {}).get("sizes", {}).values()
                  if FLOOR[0] in r] for c in STOCK_BINARY}
    if all(floors.values()):
        lines += ["", "The stock `gluster` binary's floor (`system:: getwd`: the daemon answers a "
                  "constant), median over the sizes: " + ", ".join(
                      f"{statistics.median(floors[c]) * 1000:.0f} ms against "
                      f"{'glusterd' if c is Column.GLUSTERD else 'gluster-mgmtd'}"
                      for c in STOCK_BINARY) + "."]
    failures = [f"- {TITLES[c]}, {sweep.sizes.format(size)}, {key.removesuffix(FAILED)}: `{why[:400]}`"
                for c in Column for size, row in columns.get(c.value, {}).get("sizes", {}).items()
                for key, why in row.items() if key.endswith(FAILED)]
    if failures:
        lines += ["", "Failed:", "", *failures]
    return lines


#: a ratio falling by less than this from one size to the next is noise, not a fall
NOISE = 0.10


def grows(values: Sequence[float]) -> bool:
    """Larger at the largest size than at the smallest, never falling by more than NOISE
    from one size to the next (the machine is shared: medians move by a few percent)."""
    return len(values) > 1 and values[-1] > values[0] and \
        all(b >= a * (1 - NOISE) for a, b in zip(values, values[1:]))


def verdict(result: dict[str, Any], sweep: Sweep = Sweep()) -> list[str]:
    """Per CLI against gluster-mgmtd: on which commands it is faster than glusterd at every
    size, and on which the ratio grows (never falls) with size."""
    lines = []
    for column in (Column.GLUSTER_MGMT, Column.GLUSTER_MGMT_STOCK):
        faster, growing, sizes = [], [], set()
        for label, command in sweep.commands:
            pairs = ratios(result, column, label)
            sizes |= {n for n, _ in pairs}
            if pairs and all(r >= 1 for _, r in pairs):
                faster.append(f"`{command}`")
            if grows([r for _, r in pairs]):
                growing.append(f"`{command}`")
        if sizes:
            lines.append(f"- {TITLES[column]}: faster than glusterd at every {sweep.noun} "
                         f"({sweep.sizes.format(', '.join(sorted(sizes, key=int)))}) on "
                         f"{', '.join(faster) or 'no command'}; the ratio grows with {sweep.noun} on "
                         f"{', '.join(growing) or 'no command'}.")
    return lines or ["- no size both sides finished."]


def goal_rows(result: dict[str, Any], sweep: Sweep = Sweep()) -> list[str]:
    """Issue 15's goal "faster than glusterd at every size both can run, and the ratio
    growing with size", per command (by default: on three nodes, volumes the size)."""
    rows = []
    at = sweep.size.format
    for label, command in sweep.commands:
        mine = ratios(result, Column.GLUSTER_MGMT, label)
        stock = ratios(result, Column.GLUSTER_MGMT_STOCK, label)
        if not mine:
            rows.append(f"{sweep.goal_prefix}faster than glusterd at every {sweep.noun}, ratio growing: "
                        f"`{command}` | not measured | unknown |")
            continue
        gaps = []
        for name, pairs in (("gluster-mgmt", mine), ("stock gluster", stock)):
            slower = [n for n, r in pairs if r < 1]
            if slower:
                gaps.append(f"{name} slower at {', '.join(map(at, slower))}")
            if not grows([r for _, r in pairs]):
                gaps.append(f"{name}: the ratio does not grow with {sweep.noun}")
        measured = ", ".join(f"{r:.1f}x at {at(n)}" for n, r in mine)
        if stock:
            measured += " (stock `gluster`: " + ", ".join(f"{r:.1f}x" for _, r in stock) + ")"
        for column in Column:
            failed = failed_sizes(result, column, label)
            if failed:
                measured += f"; {TITLES[column].replace('`', '')} failed at {', '.join(map(at, failed))}"
                if column is not Column.GLUSTERD:
                    gaps.append(f"{TITLES[column].replace('`', '')} failed at {', '.join(map(at, failed))}")
        rows.append(f"{sweep.goal_prefix}faster than glusterd at every {sweep.noun}, ratio growing: `{command}` | "
                    f"{measured} | {'; '.join(gaps) or 'none'} |")
    return rows


def plot(result: dict[str, Any], path: Path, sweep: Sweep = Sweep()) -> bool:
    """A panel per row of the table, ms versus the size, one line per column; False when nothing to plot."""
    columns = result["columns"]
    if not any(columns.get(c.value, {}).get("sizes") for c in Column):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, (len(sweep.commands) + 1) // 2, figsize=(14, 7))
    for ax, (label, command) in zip(axes.flat, sweep.commands):
        for column in Column:
            sizes = columns.get(column.value, {}).get("sizes", {})
            xs = [n for n in sorted(sizes, key=int) if sizes[n].get(label) is not None]
            ax.plot([int(n) for n in xs], [sizes[n][label] * 1000 for n in xs], marker="o",
                    label=TITLES[column].replace("`", ""))
        if label in dict(GROWTH):  # seconds against minutes: only a log scale shows both
            ax.set(title=f"{sweep.panel}: {command} (ms, log)", xscale="log", yscale="log",
                   xlabel=sweep.size_header)
        else:
            ax.set(title=f"{sweep.panel}: {command} (ms)", xscale="log", xlabel=sweep.size_header,
                   ylim=(0, None))
        if sweep.ticks_at_sizes:
            every = sorted({int(n) for c in columns.values() for n in c.get("sizes", {})})
            ax.set_xticks(every, [str(n) for n in every])
            ax.minorticks_off()
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_doc(path: Path, section: str, rows: list[str], heading: str = HEADING,
              notes_heading: str = NOTES_HEADING, goal_prefix: str = GOAL_PREFIX) -> None:
    """Put this run's subsection (it starts with ``heading``) into the Scale section of
    ``path`` (replacing an earlier one, its hand-written part from ``notes_heading`` on kept;
    new: before the goals table) and its rows into the goals table (replacing the earlier
    ones, those starting with ``goal_prefix``; nothing else touched)."""
    text = path.read_text()
    start = text.find(SCALE_SECTION)
    if start < 0:
        raise SystemExit(f"{path}: no '{SCALE_SECTION}' section (run benchmarks.scale --output first)")
    old = text.find(heading, start)
    if old >= 0:
        ends = [i for i in (text.find("\n### ", old + 1), text.find("\n## ", old + 1)) if i >= 0]
        end = min(ends) + 1 if ends else len(text)
        notes = text.find(f"\n{notes_heading}", old, end)
        kept = text[notes + 1:end].rstrip("\n") + "\n\n" if notes >= 0 else ""
        text = text[:old] + section.rstrip("\n") + "\n\n" + kept + text[end:]
    else:
        at = text.find(GOALS_HEADING, start)
        if at < 0:
            raise SystemExit(f"{path}: no '{GOALS_HEADING}' in the Scale section")
        text = text[:at] + section.rstrip("\n") + "\n\n" + text[at:]
    at = text.find(GOALS_HEADING, start)
    lines = text[at:].split("\n")
    table_end = next(i for i, line in enumerate(lines) if i > 2 and not line.startswith("|"))
    kept = [line for line in lines[:table_end] if not line.startswith(goal_prefix)]
    text = text[:at] + "\n".join([*kept, *rows, *lines[table_end:]])
    path.write_text(text)


# ============================================================================ command line
def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every comparison with glusterd takes (this one, versus_peers)."""
    parser.add_argument("--time-limit", type=float, default=2400.0,
                        help="seconds for the whole run, half per side (default 2400)")
    parser.add_argument("--json", type=Path, help="write the raw figures there")
    parser.add_argument("--from-json", type=Path, help="run nothing: report this earlier --json")
    parser.add_argument("--output", type=Path,
                        help="put the table and goal rows into this Markdown file's Scale section")
    parser.add_argument("--plot", type=Path, help="write a PNG plot there")
    parser.add_argument("--workdir", type=Path, help="where the temporary work directory goes")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")


def check_run_options(parser: argparse.ArgumentParser, args: argparse.Namespace, least: int,
                      sizes_wanted: str) -> None:
    """``--sizes`` into sorted integers, each at least ``least`` (``sizes_wanted`` says so
    otherwise), and the limits of the other run options."""
    try:
        args.sizes = sorted({int(n) for n in args.sizes.split(",") if n})
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not args.sizes or args.sizes[0] < least:
        parser.error(f"--sizes needs {sizes_wanted}")
    if args.time_limit < 60:
        parser.error("--time-limit must be at least 60 s")
    if args.workdir is not None and len(str(args.workdir.resolve())) > WORKDIR_MAX:
        parser.error(f"--workdir {args.workdir}: longer than {WORKDIR_MAX} characters, the daemons' "
                     "unix sockets under it would pass the 107-byte limit of a socket path")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,300", help="volume counts (default 10,100,300)")
    add_run_options(parser)
    args = parser.parse_args(argv)
    check_run_options(parser, args, 1, "at least one count >= 1")
    return args


@attrs.frozen
class Report:
    """What a comparison's ``main`` renders and writes, its own parts."""

    name: str
    #: the programs a run needs besides root (scripts/install-deps.sh installs them)
    tools: tuple[str, ...]
    bench: Callable[[argparse.Namespace], dict[str, Any]]
    render: Callable[[dict[str, Any], str | None], str]
    sweep: Sweep
    heading: str
    notes_heading: str


def run_report(args: argparse.Namespace, report: Report) -> int:
    """Run (or read ``--from-json``), then print the section and its goal rows, and write
    them (``--output``) with the plot (``--plot``); 1 when a side failed or the run stopped
    short."""
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        if os.geteuid() != 0:
            raise SystemExit(f"{report.name}: needs root (network and mount namespaces)")
        if args.plot and importlib.util.find_spec("matplotlib") is None:  # before the run, not after
            raise SystemExit(f"{report.name}: --plot needs matplotlib (pip install -e '.[bench]')")
        for tool in report.tools:
            if shutil.which(tool) is None:
                raise SystemExit(f"{report.name}: {tool} missing (scripts/install-deps.sh)")
        result = report.bench(args)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
    image = None
    if args.plot and plot(result, args.plot, report.sweep):
        base = args.output.parent if args.output else Path(".")
        image = os.path.relpath(args.plot, base)
    section, rows = report.render(result, image), goal_rows(result, report.sweep)
    print(section + "\n" + "\n".join(rows))
    if args.output:
        write_doc(args.output, section, rows, report.heading, report.notes_heading, report.sweep.goal_prefix)
    failed = [c for c, record in result["columns"].items() if record.get("error")]
    return 1 if failed or result.get("interrupted") or len(result["columns"]) < len(Column) else 0


def main(argv: list[str] | None = None) -> int:
    return run_report(parse_args(argv), Report(
        "versus_cluster", ("glusterd", "nsenter", "unshare", "ip", STOCK_GLUSTER, "/usr/bin/etcd"),
        bench, render, Sweep(), HEADING, NOTES_HEADING))

if __name__ == "__main__":
    sys.exit(main())
