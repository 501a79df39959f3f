"""Volume operations: gluster_mgmt against stock glusterd 10.3, both driving real bricks.

In one run this measures, for gluster_mgmt (``gluster-mgmtd`` + the ``gluster-mgmt`` CLI, on the
embedded store), for gluster-mgmtd driven by the stock ``gluster`` binary (its GLUSTER_CLI
program on glusterd's socket) and for Debian's stock glusterd 10.3 (+ the same ``gluster``):

1. the wall time of one CLI command (``volume info``, ``volume set``, ``volume get``,
   ``volume status``, ``volume list``, ``pool list``, --xml info/status and the bare
   ``--version`` start-up), and of ``peer probe`` / ``peer detach`` of a second node of the same
   kind (its own network namespace, a veth pair away);
2. ``volume create`` (2-brick distribute and replica 3), ``volume start`` (the command, and until
   every brick listens), ``volume set``, ``volume stop`` (the command, and until every brick is
   gone) and ``volume delete``: median of ``--runs`` runs;
3. from ``volume set VOL performance.quick-read`` to the stock FUSE client's volfile re-fetch
   (its log line "Volume file changed").

    python -m benchmarks.volume_ops [--runs N] [--output docs/benchmarks.md]   # from the repository root

Isolation: each system runs in a network namespace of its own (``gm-bench-*``, created and
deleted here: only its loopback, so nothing reaches or collides with 127.0.0.x:24007 outside)
and a private mount namespace (``unshare -m``) where /run is a fresh tmpfs and /var/lib/glusterd
and /var/log/glusterfs are bind mounts of directories in the work directory; bricks live in the
work directory too. glusterd is started through a symlink named ``glusterd-bench`` so that
``pgrep -x glusterd`` elsewhere does not see it. At the end, whatever happens, every process left
in the namespace is killed by pid, the namespace is deleted (which drops its mounts) and the
work directory is removed. Needs root, /dev/fuse, iproute2, util-linux and glusterfs-server.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks.report import the_command, write_section
from tests.helpers import log_tail, wait_for

#: The repository root: the inner process runs ``-m benchmarks.volume_ops`` from there.
ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Volume operations vs glusterd 10.3"
NOTES_HEADING = "### Notes"
STOCK_SECTION = "## The stock gluster CLI: gluster-mgmtd vs glusterd 10.3"
SYSTEMS = ("glusterd", "gluster_mgmt", "gluster_mgmt_stock")
#: The second node of `peer probe`: its own network namespace, joined to the system's by a
#: veth pair on this /24 (private to the two namespaces; glusterd takes every 127/8 address
#: for itself, so a peer cannot be on loopback).
PEER_NET = "10.214.9"
PEER_ADDR = f"{PEER_NET}.2"
#: The name bricks and the mount use; 127.0.0.0/8 is all loopback, and gluster's CLI refuses
#: localhost / 127.0.0.1 as brick hosts.
HOST = "127.0.0.2"
GLUSTERFSD = "/usr/sbin/glusterfsd"
GLUSTER_CLI = "/usr/sbin/gluster"
BRICK_BASE_PORT = 49152
RUN_DIR = "/run/gluster"
LOG_DIR = "/var/log/glusterfs"
MGMT_SOCKET = "/run/gluster-mgmt/mgmtd.sock"
CMD_TIMEOUT = 120.0
WAIT_LIMIT = 60.0

now = time.perf_counter


def log(msg: str) -> None:
    print(f"[volume_ops {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ================================================================== the systems under test
class System:
    """One management daemon inside the namespaces: start/stop it and run its CLI."""

    label = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        #: Environment of the daemon and the CLI (None: this process's).
        self.env: dict[str, str] | None = None

    def prepare(self) -> None:
        """Anything to do before the daemon starts (untimed)."""

    def daemon_argv(self) -> list[str]:
        raise NotImplementedError

    def cli_argv(self, *words: str) -> list[str]:
        raise NotImplementedError

    def start(self) -> float:
        """Start the daemon; return the seconds until its CLI answers ``volume info``."""
        with open(self.workdir / "daemon.out", "ab") as out:
            t0 = now()
            self.proc = subprocess.Popen(self.daemon_argv(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=self.env)
        proc = self.proc

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {proc.returncode}: "
                                   f"{self.daemon_tail()}")
            return self.run("volume", "info", check=False)[0] == 0

        if not wait_for(answers, t0 + WAIT_LIMIT - now(), 0.05):
            raise RuntimeError(f"{self.label} did not answer within {WAIT_LIMIT:g} s")
        return now() - t0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)

    @property
    def cli_env(self) -> dict[str, str] | None:
        """The CLI's environment (None: this process's)."""
        return self.env

    def daemon_tail(self) -> str:
        return log_tail(self.workdir / "daemon.out")

    def run(self, *words: str, check: bool = True,
            env: dict[str, str] | None = None) -> tuple[int, str, float]:
        """Run one CLI command; (exit code, output, wall seconds)."""
        argv = self.cli_argv(*words)
        t0 = now()
        res = subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT,
                             stdin=subprocess.DEVNULL, check=False, env=env or self.cli_env)
        elapsed = now() - t0
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): "
                               f"{res.stdout}{res.stderr}\n--- daemon ---\n{self.daemon_tail()}")
        return res.returncode, res.stdout + res.stderr, elapsed


class Glusterd(System):
    label = "glusterd"

    def daemon_argv(self) -> list[str]:
        # argv[0]'s basename starting with "glusterd" selects glusterfsd's glusterd mode; the
        # process is named glusterd-bench, so `pgrep -x glusterd` in other tests spares it.
        link = self.workdir / "glusterd-bench"
        if not link.exists():
            link.symlink_to(GLUSTERFSD)
        return [str(link), "-N", "--log-level", "INFO", "-p", "/run/glusterd.pid"]

    def cli_argv(self, *words: str) -> list[str]:
        return [GLUSTER_CLI, "--mode=script", *words]


class GlusterMgmt(System):
    """gluster-mgmtd driven by its own CLI, ``gluster-mgmt`` (REST on its unix socket)."""

    label = "gluster_mgmt"
    #: its address, and the store both nodes of the `peer probe` rows share (set by inner)
    address = HOST
    store_url: str | None = None

    def prepare(self) -> None:
        # As installed by pip: bytecode compiled once and cached. (A development shell may set
        # PYTHONDONTWRITEBYTECODE=1 with no __pycache__ in the tree: every CLI start then
        # compiles the package from source; cli_cost measures that case separately.) The cache
        # goes to the work directory, never into the source tree.
        import gluster_mgmt

        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(self.workdir / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env = env
        package = Path(gluster_mgmt.__file__).parent
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=env,
                       check=True, timeout=300, stdout=subprocess.DEVNULL)

    def daemon_argv(self) -> list[str]:
        return [sys.executable, "-m", "gluster_mgmt.daemon.main",
                "--state-dir", str(self.workdir / "state"), "--address", self.address,
                *(["--store-url", self.store_url] if self.store_url else []),
                "--api-port", "24012", "--mgmt-port", "24007", "--socket", MGMT_SOCKET,
                "--run-dir", RUN_DIR, "--log-dir", LOG_DIR, "--config", "/nonexistent"]

    def cli_argv(self, *words: str) -> list[str]:
        script = Path(sys.executable).parent / "gluster-mgmt"
        base = [str(script)] if script.exists() else [sys.executable, "-m", "gluster_mgmt.cli.main"]
        return [*base, "--socket", MGMT_SOCKET, "--mode=script", *words]


class GlusterMgmtStock(GlusterMgmt):
    """gluster-mgmtd driven by the STOCK ``gluster`` binary of GlusterFS 10.3, on the
    GLUSTER_CLI program the daemon serves on glusterd's socket (/var/run/glusterd.socket, here
    in the private /run): the same binary and socket as the glusterd side."""

    label = "gluster_mgmt_stock"

    @property
    def cli_env(self) -> dict[str, str] | None:
        # as on the glusterd side: the CLI runs `gsyncd --version` (Python) at every start,
        # which must not see gluster_mgmt's bytecode cache prefix
        return None

    def cli_argv(self, *words: str) -> list[str]:
        return [GLUSTER_CLI, "--mode=script", *words]


SYSTEM_CLASSES: dict[str, type[System]] = {
    "glusterd": Glusterd, "gluster_mgmt": GlusterMgmt, "gluster_mgmt_stock": GlusterMgmtStock}


# ================================================================== observation helpers
def listening_brick_ports() -> set[int]:
    """TCP ports >= 49152 listening in this network namespace: only bricks listen there."""
    ports: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port >= BRICK_BASE_PORT:
                    ports.add(port)
    return ports


def bricks_online(system: System, volume: str, count: int) -> bool:
    code, out, _ = system.run("--xml", "volume", "status", volume, check=False)
    if code != 0:
        return False
    try:
        nodes = ET.fromstring(out[out.find("<"):]).findall(".//volStatus/volumes/volume/node")
    except ET.ParseError:
        return False
    bricks = [n for n in nodes if (n.findtext("path") or "").startswith("/")]
    return len(bricks) == count and all(n.findtext("status") == "1" for n in bricks)


LAYOUTS = {"dist2": ((), 2), "rep3": (("replica", "3"), 3)}


# ================================================================== the measurements (inner)
def lifecycle(system: System, runs: int, bricks_dir: Path, res: dict) -> None:
    for i in range(runs):
        for layout, (words, count) in LAYOUTS.items():
            name = f"{layout}x{i}"
            paths = [bricks_dir / f"{name}-b{k}" for k in range(count)]
            before = listening_brick_ports()
            rec = res.setdefault(layout, {})

            rec.setdefault("create", []).append(system.run(
                "volume", "create", name, *words, *[f"{HOST}:{p}" for p in paths], "force")[2])
            t0 = now()
            rec.setdefault("start", []).append(system.run("volume", "start", name)[2])
            up = wait_for(lambda b=before, c=count: len(listening_brick_ports() - b) >= c,
                          WAIT_LIMIT, 0.002)
            if not up:
                raise RuntimeError(f"{name}: bricks not listening after {WAIT_LIMIT:g} s")
            rec.setdefault("start_bricks_up", []).append(now() - t0)
            if not wait_for(lambda n=name, c=count: bricks_online(system, n, c), WAIT_LIMIT, 0.1):
                raise RuntimeError(f"{name}: `volume status` never showed every brick online")
            rec.setdefault("set", []).append(
                system.run("volume", "set", name, "performance.quick-read", "off")[2])
            ports = listening_brick_ports() - before
            t0 = now()
            rec.setdefault("stop", []).append(system.run("volume", "stop", name)[2])
            if not wait_for(lambda p=ports: not (listening_brick_ports() & p), WAIT_LIMIT, 0.002):
                raise RuntimeError(f"{name}: bricks still listening after stop")
            rec.setdefault("stop_bricks_gone", []).append(now() - t0)
            rec.setdefault("delete", []).append(system.run("volume", "delete", name)[2])
            log(f"{system.label} {name}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rec.items()))


def cli_cost(system: System, count: int, res: dict) -> None:
    vol = "clivol"
    for _ in range(3):  # warm-up
        system.run("volume", "info", vol)
    samples: dict[str, list[float]] = {"version": [], "info": [], "status": [], "set": [],
                                       "get": [], "get_all": [], "list": [], "info_xml": [],
                                       "status_xml": [], "pool": []}
    for i in range(count):
        samples["version"].append(system.run("--version", check=False)[2])
        samples["info"].append(system.run("volume", "info", vol)[2])
        samples["status"].append(system.run("volume", "status", vol)[2])
        samples["set"].append(system.run("volume", "set", vol, "performance.quick-read",
                                         "off" if i % 2 == 0 else "on")[2])
        samples["get"].append(system.run("volume", "get", vol, "performance.quick-read")[2])
        samples["get_all"].append(system.run("volume", "get", vol, "all")[2])
        samples["list"].append(system.run("volume", "list")[2])
        samples["info_xml"].append(system.run("--xml", "volume", "info", vol)[2])
        samples["status_xml"].append(system.run("--xml", "volume", "status", vol)[2])
        samples["pool"].append(system.run("pool", "list")[2])
    if type(system) is GlusterMgmt:  # the Python CLI's own costs
        nocache = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                       PYTHONPYCACHEPREFIX=str(system.workdir / "no-pycache"))
        samples["info_nocache"] = [system.run("volume", "info", vol, env=nocache)[2]
                                   for _ in range(count)]
        samples.update(in_process_calls(vol, count))
    res.update(samples)


def in_process_calls(vol: str, count: int) -> dict[str, list[float]]:
    """gluster_mgmt only: the same requests from an already running Python process (the CLI's
    client class, a new connection each), i.e. the command without the CLI's process start."""
    from gluster_mgmt.cli.client import Client

    calls = {"rpc_info": ("volume/info", lambda i: {"name": vol}),
             "rpc_status": ("volume/status", lambda i: {"name": vol, "detail": False}),
             "rpc_set": ("volume/set", lambda i: {"name": vol, "options": [
                 ["performance.quick-read", "off" if i % 2 == 0 else "on"]]})}
    out: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(count):
        for name, (route, params) in calls.items():
            t0 = now()
            with Client(MGMT_SOCKET) as client:
                reply = client.call(route, params(i))
            out[name].append(now() - t0)
            if not reply.ok:
                raise RuntimeError(f"{route}: {reply.op_errstr}")
    return out


def peer_count(words: tuple[str, ...]) -> int:
    """How many nodes `pool list` shows (the stock binary, any daemon it reaches)."""
    out = subprocess.run([GLUSTER_CLI, "--mode=script", *words, "pool", "list"],
                         capture_output=True, text=True, timeout=CMD_TIMEOUT, check=False)
    return len(out.stdout.splitlines()) - 1 if out.returncode == 0 else -1


def peer_ops(system: System, runs: int, res: dict) -> None:
    """`peer probe` and `peer detach` of the second node (its own namespace, PEER_ADDR), each
    run starting from two one-node clusters: between the timed commands, untimed waits until
    both sides see the pool they should (glusterd finishes a probe's handshake after the
    command returns)."""
    remote = (f"--remote-host={PEER_ADDR}",)
    for i in range(runs):
        if not wait_for(lambda: peer_count(remote) == 1, WAIT_LIMIT, 0.2):
            raise RuntimeError(f"peer {PEER_ADDR} still in a pool before probe {i}")
        res.setdefault("probe", []).append(system.run("peer", "probe", PEER_ADDR)[2])
        if not wait_for(lambda: "Peer in Cluster (Connected)" in system.run(
                "peer", "status", check=False)[1] and peer_count(remote) == 2, WAIT_LIMIT, 0.1):
            raise RuntimeError(f"probe {i}: {PEER_ADDR} never in the cluster")
        res.setdefault("detach", []).append(system.run("peer", "detach", PEER_ADDR)[2])
        log(f"{system.label} peer {i}: probe {res['probe'][-1]:.3f}, detach {res['detach'][-1]:.3f}")


def refetch(system: System, runs: int, workdir: Path, res: dict) -> None:
    """From the start of `volume set` to the client's "Volume file changed"."""
    vol = "clivol"
    point = workdir / "mnt"
    point.mkdir(exist_ok=True)
    client_log = workdir / "client.log"
    out = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={client_log}",
                          f"{HOST}:/{vol}", str(point)], capture_output=True, text=True,
                         timeout=CMD_TIMEOUT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"mount failed: {out.stdout}{out.stderr}\n{log_tail(client_log)}")
    try:
        (point / "probe").write_text("x\n")
        value = "on"  # cli_cost left it "on" or "off"; the first set below may be a no-op
        system.run("volume", "set", vol, "performance.quick-read", value)
        time.sleep(1.0)
        marker = "Volume file changed"
        for i in range(runs):
            value = "off" if value == "on" else "on"
            with open(client_log, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                offset = fh.tell()
            argv = system.cli_argv("volume", "set", vol, "performance.quick-read", value)
            t0 = now()
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            t_cmd = t_seen = None
            buf = b""
            deadline = t0 + 30.0
            while (t_cmd is None or t_seen is None) and now() < deadline:
                if t_cmd is None and proc.poll() is not None:
                    t_cmd = now() - t0
                if t_seen is None:
                    with open(client_log, "rb") as fh:
                        fh.seek(offset)
                        buf += fh.read()
                        offset = fh.tell()
                    if marker.encode() in buf:
                        t_seen = now() - t0
                time.sleep(0.001)
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if t_seen is None or proc.returncode != 0:
                raise RuntimeError(f"set {value}: rc {proc.returncode}, client saw no change")
            res.setdefault("set_cmd", []).append(t_cmd)
            res.setdefault("refetch", []).append(t_seen)
            log(f"{system.label} refetch {i}: set {t_cmd:.3f} s, client notified {t_seen:.3f} s")
            time.sleep(0.5)
            (point / f"after-{i}").write_text("still works\n")  # the mount still works
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=60, check=False)


def namespaces() -> str:
    return ",".join(os.readlink(f"/proc/self/ns/{kind}") for kind in ("mnt", "net"))


def setup_private_mounts(workdir: Path, outer_ns: str, hooks: bool = True) -> None:
    """Only in mount and network namespaces of our own (not the outer process's): /run a
    tmpfs, private glusterd dirs."""
    mine, theirs = namespaces().split(","), outer_ns.split(",")
    if len(theirs) != 2 or mine[0] == theirs[0] or mine[1] == theirs[1]:
        raise SystemExit("volume_ops: refusing to run outside private mount/network namespaces")
    lib, logs = workdir / "lib", workdir / "log"
    if Path("/var/lib/glusterd").is_dir():
        shutil.copytree("/var/lib/glusterd", lib, symlinks=True)  # groups + hooks, as installed
        (lib / "glusterd.info").unlink(missing_ok=True)  # a fresh node: a UUID of its own
    if not hooks:
        shutil.rmtree(lib / "hooks", ignore_errors=True)
    lib.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    Path("/var/lib/glusterd").mkdir(parents=True, exist_ok=True)
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    for argv in (["mount", "-t", "tmpfs", "-o", "mode=0755,size=64m", "gm-bench-run", "/run"],
                 ["mount", "--bind", str(lib), "/var/lib/glusterd"],
                 ["mount", "--bind", str(logs), LOG_DIR]):
        subprocess.run(argv, check=True, timeout=30)
    Path(RUN_DIR).mkdir(parents=True, exist_ok=True)


def start_profiler(system: System, workdir: Path) -> subprocess.Popen:
    """py-spy attached to gluster-mgmtd: every thread, waiting ones included (--idle), as
    collapsed stacks (one line per stack and its sample count)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    assert system.proc is not None
    return subprocess.Popen([str(spy), "record", "--pid", str(system.proc.pid), "--rate", "200",
                             "--idle", "--threads", "--format", "raw",
                             "-o", str(workdir / "profile.txt")],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "py-spy.err", "wb"),
                            stdin=subprocess.DEVNULL)


def inner(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir
    setup_private_mounts(workdir, args.outer_ns, hooks=not args.no_hooks)
    system: System = SYSTEM_CLASSES[args.inner](workdir)
    if isinstance(system, GlusterMgmt):
        system.store_url = f"local://{workdir}/store.db"  # the peer node's too
    res: dict = {"system": args.inner, "lifecycle": {}, "cli": {}, "refetch": {}, "peer": {}}
    code = 1
    profiler = None
    try:
        system.prepare()
        _, ver, _ = system.run("--version", check=False)
        res["version"] = ver.strip().splitlines()[0] if ver.strip() else "?"
        res["daemon_ready"] = system.start()
        log(f"{system.label}: ready after {res['daemon_ready']:.2f} s")
        for words in (("volume", "info"), ("volume", "status"), ("--xml", "volume", "status"),
                      ("volume", "set", "nosuchvol", "performance.quick-read", "off")):
            system.run(*words, check=False)  # warm-up, untimed
        if args.profile and isinstance(system, GlusterMgmt):
            profiler = start_profiler(system, workdir)
        bricks = workdir / "bricks"
        bricks.mkdir()
        lifecycle(system, args.runs, bricks, res["lifecycle"])
        system.run("volume", "create", "clivol", *[f"{HOST}:{bricks}/clivol-b{k}" for k in (0, 1)],
                   "force")
        system.run("volume", "start", "clivol")
        if not wait_for(lambda: bricks_online(system, "clivol", 2), WAIT_LIMIT, 0.1):
            raise RuntimeError("clivol: bricks never online")
        cli_cost(system, args.cli_runs, res["cli"])
        refetch(system, args.runs, workdir, res["refetch"])
        system.run("volume", "stop", "clivol", check=False)
        if args.peer_ready:
            try:
                peer_ops(system, args.runs, res["peer"])
            except Exception as exc:  # noqa: BLE001 (reported; the other rows stand)
                res["peer_error"] = f"{type(exc).__name__}: {exc}"
                log(f"{system.label}: peer rows FAILED: {res['peer_error']}")
        else:
            res["peer_error"] = "the peer node did not start (see its daemon.out)"
        code = 0
    except Exception as exc:  # noqa: BLE001 (reported to the outer process)
        res["error"] = f"{type(exc).__name__}: {exc}"
        log(f"{system.label}: FAILED: {res['error']}")
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            try:
                profiler.wait(60)
            except subprocess.TimeoutExpired:
                profiler.kill()
        system.stop()
        (workdir / "result.json").write_text(json.dumps(res, indent=1))
    return code


def peer_node(args: argparse.Namespace) -> int:
    """The second node of the `peer probe` rows, in its own namespaces: the same kind of
    daemon at PEER_ADDR (gluster-mgmtd on the system's store), until SIGTERM."""
    workdir: Path = args.workdir
    setup_private_mounts(workdir, args.outer_ns)
    system = SYSTEM_CLASSES[args.peer](workdir)
    if isinstance(system, GlusterMgmt):
        system.address = PEER_ADDR
        system.store_url = f"local://{workdir.parent}/store.db"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        system.prepare()
        system.start()
        (workdir / "ready").write_text("ready\n")
        stop.wait(args.time_limit)
    finally:
        system.stop()
    return 0


def start_peer(system: str, ns: str, sysdir: Path, args: argparse.Namespace
               ) -> subprocess.Popen | None:
    """Namespace ``ns``-p, linked to ``ns`` by a veth pair (PEER_NET.1 there, PEER_ADDR
    here), running :func:`peer_node`; None when it did not come up (the peer rows are then
    reported missing, the others still run)."""
    peer_dir = sysdir / "peer"
    peer_dir.mkdir()
    pns, link = f"{ns}-p", f"gmb{os.getpid() % 100000}{system[-2:]}"
    try:
        for argv in (["ip", "netns", "add", pns],
                     ["ip", "link", "add", f"{link}a", "netns", ns, "type", "veth", "peer",
                      "name", f"{link}b", "netns", pns],
                     ["ip", "-n", ns, "addr", "add", f"{PEER_NET}.1/24", "dev", f"{link}a"],
                     ["ip", "-n", pns, "addr", "add", f"{PEER_ADDR}/24", "dev", f"{link}b"],
                     ["ip", "-n", ns, "link", "set", f"{link}a", "up"],
                     ["ip", "-n", pns, "link", "set", f"{link}b", "up"],
                     ["ip", "-n", pns, "link", "set", "lo", "up"]):
            subprocess.run(argv, check=True, timeout=30, capture_output=True)
    except subprocess.CalledProcessError as exc:
        log(f"{system}: no peer namespace: {exc.stderr}")
        return None
    proc = subprocess.Popen(
        ["ip", "netns", "exec", pns, "unshare", "-m", "--propagation", "private",
         sys.executable, "-m", "benchmarks.volume_ops", "--peer", system,
         "--workdir", str(peer_dir), "--outer-ns", namespaces(),
         "--time-limit", str(args.time_limit)],
        start_new_session=True, stdin=subprocess.DEVNULL, cwd=ROOT,
        stdout=open(peer_dir / "peer.out", "wb"), stderr=subprocess.STDOUT)
    if not wait_for(lambda: (peer_dir / "ready").exists() or proc.poll() is not None,
                    WAIT_LIMIT, 0.1) or not (peer_dir / "ready").exists():
        log(f"{system}: the peer node did not start: {log_tail(peer_dir / 'peer.out')}")
    return proc


def stop_peer(proc: subprocess.Popen | None, ns: str) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)
    sweep_namespace(f"{ns}-p")
    subprocess.run(["ip", "netns", "del", f"{ns}-p"], timeout=30, check=False)


# ================================================================== orchestration (outer)
def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, **kw)


def sweep_namespace(ns: str) -> None:
    """Kill, by pid, every process left in our namespace (bricks, self-heal, clients)."""
    for sig, pause in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0), (signal.SIGKILL, 5.0)):
        pids = [int(p) for p in run(["ip", "netns", "pids", ns]).stdout.split() if p.isdigit()]
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_for(lambda: not any(Path(f"/proc/{p}").exists() and not _zombie(p) for p in pids),
                 pause, 0.1)
    log(f"warning: processes left in {ns}: {run(['ip', 'netns', 'pids', ns]).stdout.split()}")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def bench_system(system: str, workdir: Path, args: argparse.Namespace,
                 inner_argv: list[str] | None = None) -> dict:
    """Run ``system``'s inner half (default: this module's, with a peer node for the peer
    rows; benchmarks/scale.py passes its own, ``--outer-ns`` and the rest appended) in fresh
    network and mount namespaces, then clean them up whatever happened; its result.json."""
    ns = f"gm-bench-{ {'glusterd': 'gd', 'gluster_mgmt': 'gm'}.get(system, 'gs')}-{os.getpid()}"
    sysdir = workdir / system
    sysdir.mkdir(parents=True)
    log(f"{system}: network namespace {ns}, work dir {sysdir}")
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    proc = peer = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True,
                       timeout=30)
        if inner_argv is None:
            peer = start_peer(system, ns, sysdir, args)
            ready = (sysdir / "peer" / "ready").exists()
            inner_argv = [sys.executable, "-m", "benchmarks.volume_ops", "--inner", system,
                          "--runs", str(args.runs), "--cli-runs", str(args.cli_runs),
                          *(["--profile", str(args.profile)] if args.profile else []),
                          *(["--no-hooks"] if args.no_hooks else []),
                          *(["--peer-ready"] if ready else [])]
        argv = ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
                *inner_argv, "--workdir", str(sysdir), "--outer-ns", namespaces()]
        proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, cwd=ROOT)
        try:
            proc.wait(args.time_limit)
        except subprocess.TimeoutExpired:
            log(f"{system}: over the time limit ({args.time_limit:g} s), stopping it")
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(20)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)
        stop_peer(peer, ns)
        sweep_namespace(ns)
        subprocess.run(["ip", "netns", "del", ns], timeout=30, check=False)
    if getattr(args, "profile", None) and (sysdir / "profile.txt").exists():
        args.profile.mkdir(parents=True, exist_ok=True)
        shutil.copy(sysdir / "profile.txt", args.profile / f"{system}-profile.txt")
        log(f"{system}: py-spy profile in {args.profile / f'{system}-profile.txt'}")
    result_file = sysdir / "result.json"
    if not result_file.exists():
        return {"system": system, "error": "no result (killed?)"}
    return json.loads(result_file.read_text())


# ================================================================== report
def med(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def cell(values: list[float] | None) -> str:
    if not values:
        return "n/a"
    m = statistics.median(values)
    return f"{m:.3f} ({min(values):.3f}–{max(values):.3f})"


def ratio(a: list[float] | None, b: list[float] | None) -> str:
    ma, mb = med(a), med(b)
    if ma is None or mb is None or mb == 0:
        return "n/a"
    r = ma / mb
    return f"{r:.2f}×" + (" ⚠" if r > 1.10 else "")


ROWS = [  # (label, path into the result)
    ("`--version` (CLI process start-up, no daemon call)", ("cli", "version")),
    ("`volume info VOL`", ("cli", "info")),
    ("`volume status VOL`", ("cli", "status")),
    ("`volume set VOL performance.quick-read on/off`", ("cli", "set")),
    ("`volume get VOL performance.quick-read`", ("cli", "get")),
    ("`volume get VOL all`", ("cli", "get_all")),
    ("`volume list`", ("cli", "list")),
    ("`--xml volume info VOL`", ("cli", "info_xml")),
    ("`--xml volume status VOL`", ("cli", "status_xml")),
    ("`pool list`", ("cli", "pool")),
    ("`volume info VOL`, no bytecode cache (`PYTHONDONTWRITEBYTECODE=1`, empty cache)",
     ("cli", "info_nocache")),
    ("daemon round trip, `volume/info` (in-process client, no CLI start)", ("cli", "rpc_info")),
    ("daemon round trip, `volume/status` (in-process client)", ("cli", "rpc_status")),
    ("daemon round trip, `volume/set` (in-process client)", ("cli", "rpc_set")),
    ("`volume create` distribute, 2 bricks", ("lifecycle", "dist2", "create")),
    ("`volume start` distribute (command)", ("lifecycle", "dist2", "start")),
    ("`volume start` distribute → both bricks listening", ("lifecycle", "dist2", "start_bricks_up")),
    ("`volume set` distribute (started)", ("lifecycle", "dist2", "set")),
    ("`volume stop` distribute (command)", ("lifecycle", "dist2", "stop")),
    ("`volume stop` distribute → bricks gone", ("lifecycle", "dist2", "stop_bricks_gone")),
    ("`volume delete` distribute", ("lifecycle", "dist2", "delete")),
    ("`volume create` replica 3", ("lifecycle", "rep3", "create")),
    ("`volume start` replica 3 (command)", ("lifecycle", "rep3", "start")),
    ("`volume start` replica 3 → 3 bricks listening", ("lifecycle", "rep3", "start_bricks_up")),
    ("`volume set` replica 3 (started)", ("lifecycle", "rep3", "set")),
    ("`volume stop` replica 3 (command)", ("lifecycle", "rep3", "stop")),
    ("`volume stop` replica 3 → bricks gone", ("lifecycle", "rep3", "stop_bricks_gone")),
    ("`volume delete` replica 3", ("lifecycle", "rep3", "delete")),
    ("`volume set` with a FUSE mount (command)", ("refetch", "set_cmd")),
    ("`volume set` → client logs \"Volume file changed\"", ("refetch", "refetch")),
    ("`peer probe HOST` (a second node, in its own network namespace)", ("peer", "probe")),
    ("`peer detach HOST`", ("peer", "detach")),
]


GM_ONLY = ("info_nocache", "rpc_info", "rpc_status", "rpc_set")


def pick(result: dict, path: tuple[str, ...]) -> list[float] | None:
    node = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, list) else None


def pick1(result: dict, key: str) -> list[float] | None:
    return [result[key]] if isinstance(result.get(key), (int, float)) else None


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def render(results: dict[str, dict], command: str, args: argparse.Namespace) -> str:
    gm, gd = results.get("gluster_mgmt", {}), results.get("glusterd", {})
    lines = [
        SECTION,
        "",
        (f"Produced by `{command}` on {datetime.date.today().isoformat()}, on this project's "
        f"development machine: {machine()}. glusterd: `{gd.get('version', '?')}` (Debian "
        f"glusterfs-server); gluster_mgmt: `{gm.get('version', '?')}`, embedded store (`local://`)."),
        "",
        (f"Seconds, median (min–max) of {args.runs} runs ({args.cli_runs} for the single CLI "
        "commands); ratio = gluster_mgmt / glusterd (⚠ above 1.10: gluster_mgmt slower). Every "
        "command is timed as a whole process (`subprocess.run` of the CLI), as a user or a "
        "script sees it."),
        "",
        "| what | gluster_mgmt | glusterd 10.3 | ratio |",
        "|---|--:|--:|--:|",
        (f"| daemon start → CLI answers `volume info` | {cell(pick1(gm, 'daemon_ready'))} "
        f"| {cell(pick1(gd, 'daemon_ready'))} | {ratio(pick1(gm, 'daemon_ready'), pick1(gd, 'daemon_ready'))} |"),
    ]
    for label, path in ROWS:
        a, b = pick(gm, path), pick(gd, path)
        lines.append(f"| {label} | {cell(a)} | {cell(b)} | {ratio(a, b)} |")
    for name, res in (("gluster_mgmt", gm), ("glusterd", gd)):
        for key in ("error", "peer_error"):
            if res.get(key):
                lines += ["", f"**{name} failed:** `{res[key][:300]}`"]
    slower = [label for label, path in ROWS if path[-1] != "version" and path[-1] not in GM_ONLY
              and ratio(pick(gm, path), pick(gd, path)).endswith("⚠")]
    complete = all(pick(gm, path) and (pick(gd, path) or path[-1] in GM_ONLY)
                   for _, path in ROWS)
    lines += ["", ("gluster_mgmt is slower than glusterd (ratio > 1.10) on: "
                   + "; ".join(slower) + ".") if slower else
              "gluster_mgmt is no slower than glusterd (ratio ≤ 1.10) on every row."
              if complete else "Incomplete run: see the failures above.", ""]
    method = " ".join(METHOD)
    if args.no_hooks:
        method = method.replace("hooks included", "its hook scripts removed (`--no-hooks`)")
    lines.append(method)
    return "\n".join(lines) + "\n"


def render_stock(results: dict[str, dict], command: str, args: argparse.Namespace) -> str:
    """The same commands through the same stock `gluster` binary: gluster-mgmtd (its
    GLUSTER_CLI program on glusterd's socket) next to glusterd 10.3."""
    gs, gd = results.get("gluster_mgmt_stock", {}), results.get("glusterd", {})
    rows = [(label, path) for label, path in ROWS if path[-1] not in GM_ONLY]
    lines = [
        STOCK_SECTION,
        "",
        (f"Produced by `{command}` on {datetime.date.today().isoformat()} (the run of the "
         f"section above), on {machine()}. Both columns run Debian's `/usr/sbin/gluster` "
         f"({gd.get('version', '?')}), unmodified, in `--mode=script`: against gluster-mgmtd "
         "(embedded store) through the GLUSTER_CLI program it serves on "
         "`/var/run/glusterd.socket`, and against glusterd 10.3 on the same socket path, each "
         "in its own namespaces as above."),
        "",
        (f"Seconds, median (min–max) of {args.runs} runs ({args.cli_runs} for the single "
         "commands); ratio = gluster-mgmtd / glusterd (⚠ above 1.10: gluster-mgmtd slower)."),
        "",
        "| command (stock `gluster`) | gluster-mgmtd | glusterd 10.3 | ratio |",
        "|---|--:|--:|--:|",
    ]
    for label, path in rows:
        a, b = pick(gs, path), pick(gd, path)
        lines.append(f"| {label} | {cell(a)} | {cell(b)} | {ratio(a, b)} |")
    for name, res in (("gluster-mgmtd (stock CLI)", gs), ("glusterd", gd)):
        for key in ("error", "peer_error"):
            if res.get(key):
                lines += ["", f"**{name} failed:** `{res[key][:300]}`"]
    slower = [label for label, path in rows if path[-1] != "version"
              and ratio(pick(gs, path), pick(gd, path)).endswith("⚠")]
    complete = all(pick(gs, path) and pick(gd, path) for _, path in rows)
    lines += ["", ("gluster-mgmtd is slower than glusterd (ratio > 1.10) on: "
                   + "; ".join(slower) + ".") if slower else
              "gluster-mgmtd is no slower than glusterd (ratio ≤ 1.10) on every row."
              if complete else "Incomplete run: see the failures above.", "",
              ("`peer probe` / `peer detach`: the second node is the same kind of daemon in a "
               f"network namespace of its own, reached over a veth pair ({PEER_NET}.1 ↔ "
               f"{PEER_ADDR}; glusterd treats every 127/8 address as itself); each run starts "
               "from two one-node clusters, and between the timed commands the benchmark waits "
               "(untimed) until `peer status` shows the peer in the cluster and connected, and "
               "after detach until the peer's own `pool list` (`--remote-host`) shows it alone "
               "again. gluster-mgmtd's two nodes share the embedded store's file.")]
    return "\n".join(lines) + "\n"


METHOD = [
    ("How: each system runs in a network namespace of its own (loopback only) and a private "
    "mount namespace (/run a tmpfs, /var/lib/glusterd — a copy of the installed one, hooks "
    "included — and /var/log/glusterfs bind-mounted from a temporary directory), one system "
    "after the other on the otherwise busy machine. glusterd runs in the foreground (`-N`, "
    "log level INFO) with Debian's /etc/glusterfs/glusterd.vol; gluster-mgmtd with "
    f"`--address {HOST}` and its embedded store in a temporary state dir. Bricks are "
    f"`{HOST}:/tmp/...` with `force` (same file system as /). Each run creates, starts, sets "
    "`performance.quick-read off` on, stops and deletes a fresh 2-brick distribute volume, then "
    "a fresh replica 3 one. \"→ bricks listening\" is from the start of `volume start` until "
    "every brick's TCP port (≥ 49152) listens in the namespace (polled every 2 ms; `volume "
    "status` is then checked to show every brick online); \"→ bricks gone\" until those ports "
    "are closed. The CLI rows are on a started 2-brick volume. The re-fetch rows use a stock "
    f"`mount -t glusterfs {HOST}:/VOL` client, toggling `performance.quick-read` and polling "
    "the client log every 1 ms for \"Volume file changed\" (the CLI's exit is timed in parallel)."),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs of each volume operation (default 5)")
    p.add_argument("--cli-runs", type=int, default=20,
                   help="repetitions of each single CLI command (default 20)")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help="comma-separated, in run order (default: "
                        "glusterd,gluster_mgmt,gluster_mgmt_stock)")
    p.add_argument("--output", type=Path, default=None,
                   help=f"Markdown file whose '{SECTION[3:]}' section is (re)written")
    p.add_argument("--time-limit", type=float, default=900.0, help="seconds per system")
    p.add_argument("--profile", type=Path, default=None,
                   help="DIR: record gluster-mgmtd with py-spy (all threads, idle included) into "
                        "DIR/gluster_mgmt-profile.txt (slows it: do not publish those numbers)")
    p.add_argument("--no-hooks", action="store_true",
                   help="run glusterd without the installed hook scripts (/var/lib/glusterd/hooks)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, results)")
    p.add_argument("--inner", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--peer", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--peer-ready", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--outer-ns", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 1 <= args.cli_runs <= 500:
        p.error("--runs must be 1..50 and --cli-runs 1..500")
    args.system_list = [s for s in args.systems.split(",") if s]
    for s in args.system_list:
        if s not in SYSTEMS:
            p.error(f"unknown system {s!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.inner:
        return inner(args)
    if args.peer:
        return peer_node(args)
    if os.geteuid() != 0:
        raise SystemExit("volume_ops: needs root (network and mount namespaces, FUSE, bricks)")
    for tool in (GLUSTERFSD, GLUSTER_CLI, "/sbin/mount.glusterfs", "/dev/fuse"):
        if not os.path.exists(tool):
            raise SystemExit(f"volume_ops: {tool} missing (Debian's glusterfs-server/-client)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    workdir = Path(tempfile.mkdtemp(prefix="gm-bench-vol-"))
    results: dict[str, dict] = {}
    try:
        for system in args.system_list:
            results[system] = bench_system(system, workdir, args)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    command = the_command("benchmarks.volume_ops")
    section = render(results, command, args)
    print(section)
    stock = render_stock(results, command, args) if "gluster_mgmt_stock" in results else None
    if stock:
        print(stock)
    if args.output is not None:
        # the hand-written "### Notes" part of each section is kept
        write_section(args.output, SECTION, section, keep=NOTES_HEADING)
        if stock:
            write_section(args.output, STOCK_SECTION, stock, keep=NOTES_HEADING)
    return 0 if not any(r.get("error") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
