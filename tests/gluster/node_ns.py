"""A daemon with its own /run/gluster and /var/lib/glusterd (a private mount namespace), so
the stock CLI and the processes that read those fixed paths (quotad, glfsheal, the CLI's
quota list) see that node's files: shared by the tests of commands that read them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.helpers import child_env


class Node:
    """A daemon with /var/run/gluster and /var/lib/glusterd of its own."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon

    @staticmethod
    def wrapper(state_dir: Path) -> tuple[str, ...]:
        run, glusterd = state_dir / "run", state_dir / "glusterd"
        script = ('mkdir -p "$1" "$2" && mount --bind "$1" /run/gluster && '
                  'mount --bind "$2" /var/lib/glusterd && shift 2 && '
                  'exec "$@" --run-dir /run/gluster')
        return ("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                str(run), str(glusterd))

    def stock(self, *words: str, xml: bool = False) -> subprocess.CompletedProcess:
        """The stock CLI on this node: in its mount namespace, on its glusterd socket."""
        assert self.daemon.proc is not None
        argv = [STOCK_GLUSTER, "--mode=script", *(["--xml"] if xml else []),
                f"--glusterd-sock={self.daemon.glusterd_socket}", *words]
        return subprocess.run(["nsenter", "-m", "-t", str(self.daemon.proc.pid), *argv],
                              capture_output=True, text=True, env=child_env(), timeout=120)

    def ours(self, *words: str, xml: bool = False) -> subprocess.CompletedProcess:
        return self.daemon.cli(*(["--xml"] if xml else []), "--mode=script", *words)
