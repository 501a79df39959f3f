"""Hosts of the multi-host harness that run stock glusterd 10.3: each host gets a mount
namespace of its own next to its network namespace, held open by one waiting process, where
/var/lib/glusterd and /var/log/glusterfs are bind mounts of the host's directories and /run is
a tmpfs (glusterd's socket, its pidfiles under /run/gluster). glusterd, gluster-mgmtd, the
bricks and the stock CLI of a host all run in both its namespaces (``nsenter -t HOLDER -m
-n``); FUSE clients mount from the root namespace over the bridge. ``/proc/HOLDER/root``
reads the host's files from outside.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import attrs

from tests.helpers import wait_for
from tests.multihost.harness import Host

GLUSTERD_DIR = Path("/var/lib/glusterd")
#: What the host's mount namespace binds, set up once before the holder waits.
SETUP = '''\
set -e
mount --bind "$1/glusterd" /var/lib/glusterd
mount --bind "$1/log" /var/log/glusterfs
mount -t tmpfs tmpfs /run
mkdir -p /run/gluster
echo ready > "$1/ready"
exec sleep infinity
'''


@attrs.define
class GlusterHost:
    """One host's namespaces and the stock glusterd running there (if any)."""

    host: Host
    workdir: Path
    holder: subprocess.Popen | None = None
    glusterd: subprocess.Popen | None = None

    @property
    def enter(self) -> list[str]:
        """The prefix that runs a command in this host's mount and network namespaces."""
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n"]

    def path(self, inside: str) -> Path:
        """A path of the host's view, readable from the root namespace."""
        assert self.holder is not None
        return Path(f"/proc/{self.holder.pid}/root") / inside.lstrip("/")

    def create(self) -> "GlusterHost":
        """The host's directories (glusterd's as the package leaves it: hooks, groups) and its
        mount namespace."""
        for part in ("glusterd", "log"):
            (self.workdir / part).mkdir(parents=True, exist_ok=True)
        for part in ("hooks", "groups"):
            if (GLUSTERD_DIR / part).is_dir():
                shutil.copytree(GLUSTERD_DIR / part, self.workdir / "glusterd" / part, symlinks=True)
        self.holder = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{self.host.netns}", "unshare", "--mount",
             "--propagation", "private", "bash", "-c", SETUP, "setup", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_for(lambda: (self.workdir / "ready").exists() or self.holder.poll() is not None, 20):
            raise RuntimeError(f"host {self.host.address}: mount namespace not set up")
        if self.holder.poll() is not None:
            raise RuntimeError(f"host {self.host.address}: mount namespace set-up failed")
        return self

    def run(self, *argv: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run([*self.enter, *argv], capture_output=True, text=True, timeout=timeout)

    def gluster(self, *args: str, socket: Path | None = None) -> subprocess.CompletedProcess:
        """The stock CLI on this host (glusterd's socket, or ``socket``)."""
        sock = [f"--glusterd-sock={socket}"] if socket else []
        return self.run("/usr/sbin/gluster", "--mode=script", *sock, *args)

    def launch_glusterd(self) -> None:
        """Start glusterd without waiting for it (a caller timing its start-up polls itself)."""
        log = self.workdir / "glusterd.log"
        self.glusterd = subprocess.Popen([*self.enter, "glusterd", "-N", f"--log-file={log}"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)

    def start_glusterd(self) -> None:
        self.launch_glusterd()
        log = self.workdir / "glusterd.log"
        socket = self.path("/run/glusterd.socket")
        if not wait_for(lambda: socket.exists() and self.gluster("peer", "status").returncode == 0, 60, 0.3):
            raise RuntimeError(f"glusterd on {self.host.address} did not come up:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")

    def forget_glusterd(self) -> None:
        """glusterd's state removed (it must be stopped): its next start is a new node, with a
        new UUID, no peers and no volumes; the package's hooks and groups stay."""
        for entry in (self.workdir / "glusterd").iterdir():
            if entry.name in ("hooks", "groups"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def stop_glusterd(self) -> None:
        """SIGTERM, as ``systemctl stop glusterd``: glusterd goes, its bricks stay."""
        if self.glusterd is not None and self.glusterd.poll() is None:
            self.glusterd.send_signal(signal.SIGTERM)
            self.glusterd.wait(60)
        self.glusterd = None

    def service_pids(self) -> dict[str, str]:
        """pidfile (relative to /run/gluster) -> pid, for every brick and self-heal daemon."""
        run = self.path("/run/gluster")
        return {str(p.relative_to(run)): p.read_text().strip()
                for sub in ("vols", "shd") for p in sorted((run / sub).rglob("*.pid"))}

    def processes(self, process_name: str | None = None) -> set[str]:
        """The pids running in this host's mount namespace (those started with
        ``--process-name process_name`` when given)."""
        assert self.holder is not None
        namespace, found = os.readlink(f"/proc/{self.holder.pid}/ns/mnt"), set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") != namespace:
                    continue
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if process_name is None or process_name.encode() in argv:
                found.add(entry)
        return found

    def kill_services(self) -> None:
        """Whatever this host started that still runs in its mount namespace (teardown)."""
        if self.holder is None:
            return
        for pid in self.processes():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        self.holder.wait(10)
