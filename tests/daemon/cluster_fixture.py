"""Real gluster-mgmtd processes for tests: one per loopback address (127.0.0.1, .2, .3 ...),
each with its own state dir and socket, all on the default API port — like real hosts."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from gluster_mgmt.membership.identity import NodeIdentity
from gluster_mgmt.services.supervisor import pid_runs, read_pid
from tests.helpers import child_env, log_tail, wait_for
from tests.servers import in_netns, wait_for_port

#: the unmodified gluster CLI of GlusterFS 10.3
STOCK_GLUSTER = "/usr/sbin/gluster"


class DaemonProcess:
    def __init__(self, workdir: Path, address: str, store_url: str, api_port: int,
                 lease_ttl: float, mgmt_port: int = 24007,
                 extra_args: tuple[str, ...] = (), glusterd_dir: Path | None = None,
                 netns: str | None = None) -> None:
        self.workdir = workdir
        self.address = address
        self.store_url = store_url
        self.api_port = api_port
        self.lease_ttl = lease_ttl
        self.mgmt_port = mgmt_port
        self.extra_args = extra_args
        #: The network namespace it runs in (a host of tests/multihost), None for the caller's.
        self.netns = netns
        self.state_dir = workdir / f"node-{address}"
        #: glusterd's working directory of this node (its glusterd.info: the node's UUID)
        self.glusterd_dir = glusterd_dir or self.state_dir / "glusterd"
        self.socket = self.state_dir / "mgmtd.sock"
        #: glusterd's CLI socket, private per daemon (the stock CLI: --glusterd-sock=)
        self.glusterd_socket = self.state_dir / "glusterd.socket"
        self.log_path = workdir / f"mgmtd-{address}.log"
        self.run_dir = self.state_dir / "run"
        self.log_dir = self.state_dir / "log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(in_netns(self.netns, [
            sys.executable, "-m", "gluster_mgmt.daemon.main", "--state-dir", str(self.state_dir),
             "--glusterd-dir", str(self.glusterd_dir),
             "--store-url", self.store_url, "--address", self.address,
             "--api-port", str(self.api_port), "--socket", str(self.socket),
             "--glusterd-socket", str(self.glusterd_socket),
             "--lease-ttl", str(self.lease_ttl), "--mgmt-port", str(self.mgmt_port),
             "--run-dir", str(self.run_dir), "--log-dir", str(self.log_dir),
             "--config", "/nonexistent", *self.extra_args]),
            stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True)
        log.close()
        wait_for_port(self.address, self.api_port, 60, self.proc)
        wait_for(self.socket.exists, 30, 0.05)
        wait_for(self.glusterd_socket.exists, 30, 0.05)

    @property
    def uuid(self) -> str:
        return NodeIdentity.read(str(self.glusterd_dir)).uuid

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self) -> None:
        self.signal_only(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self.signal(signal.SIGTERM)

    def signal_only(self, sig: int) -> None:
        """Send ``sig`` (SIGSTOP, SIGCONT...) without waiting for the process to exit."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop_all(self) -> None:
        """Stop the daemon and every brick / self-heal process it left running (a stopped
        daemon leaves them running, as glusterd does)."""
        self.stop()
        for pidfile in self.run_dir.rglob("*.pid") if self.run_dir.exists() else ():
            pid = read_pid(str(pidfile))
            # a stale pidfile's pid may belong to someone else by now: check what runs there
            if pid_runs(pid, "glusterfsd") or pid_runs(pid, "glusterfs"):
                os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def cli(self, *args: str, check: bool = False, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run `gluster-mgmt --socket SOCK ARGS...` against this daemon."""
        result = subprocess.run(
            [sys.executable, "-m", "gluster_mgmt.cli.main", "--socket", str(self.socket), *args],
            capture_output=True, text=True, env=child_env(), input=stdin, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"gluster-mgmt {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}\n--- daemon log ---\n{self.log_tail()}")
        return result

    def gluster(self, *args: str, xml: bool = False, remote: bool = False) -> subprocess.CompletedProcess:
        """Run the STOCK `/usr/sbin/gluster --mode=script [--xml] --glusterd-sock=SOCK ARGS`;
        ``remote``: `--remote-host=ADDRESS` instead, the CLI program on 24007."""
        door = f"--remote-host={self.address}" if remote else f"--glusterd-sock={self.glusterd_socket}"
        return subprocess.run(
            [STOCK_GLUSTER, "--mode=script", *(["--xml"] if xml else []), door, *args],
            capture_output=True, text=True, env=child_env(), timeout=120)

    def gluster_default_socket(self, *args: str, xml: bool = False) -> subprocess.CompletedProcess:
        """The STOCK CLI where only the default glusterd socket will do: `volume heal VOL
        info` execs glfsheal, which always fetches its volfile from /var/run/glusterd.socket.
        Run in a private mount namespace whose /run is a tmpfs holding that name as a link to
        this daemon's private socket: nothing is bound on the host's fixed path."""
        words = " ".join(shlex.quote(w) for w in (
            STOCK_GLUSTER, "--mode=script", *(["--xml"] if xml else []), *args))
        script = (f"mount -t tmpfs -o mode=0755,size=1m gm-heal-run /run && "
                  f"ln -s {shlex.quote(str(self.glusterd_socket))} /run/glusterd.socket && "
                  f"exec {words}")
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                              capture_output=True, text=True, env=child_env(), timeout=300)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)
