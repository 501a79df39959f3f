"""This node's one self-heal daemon, shared by every replicate/disperse volume, as glusterd 10
runs it (shd multiplexing; glusterd-shd-svc.c, glusterd-svc-helper.c).

The process is started for the first volume that needs it, with glusterd's command line for
that volume (``--volfile-id shd/VOL -p RUNDIR/shd/VOL/VOL-shd.pid``); every further volume's
graph is attached to it with GD_BRICK SVC_ATTACH over its ``-S`` socket (``name``
``shd/VOL``, ``input`` the volfile, ``dict`` the volume's ``pidfile``, into which the process
writes its own pid), and detached with SVC_DETACH when the volume stops, its pidfile removed.
The process ends when its last volume stops.

Which volumes a process serves is read back from the pidfiles (one per volume, naming the
process), so a restarted daemon, or one taking over from glusterd, adopts the process as it
finds it. The volume a process was started for (its *anchor*, whose spec the supervisor
keeps) may stop before the others: the supervisor is then handed the spec of a volume still
attached, whose pidfile names the same process, and a restart after a crash starts the
process for that volume.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gluster_mgmt import volgen
from gluster_mgmt.errors import GlusterMgmtError
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.defrag_client import DefragError, brick_op
from gluster_mgmt.mgmt_rpc.gluster_dict import encode_dict
from gluster_mgmt.model import Volume
from gluster_mgmt.services import RunningProcess, ServiceManager
from gluster_mgmt.services.process_specs import SHD_SERVICE

if TYPE_CHECKING:
    from gluster_mgmt.services.process_specs import BrickSpecs

log = logging.getLogger(__name__)

#: Seconds an attach or detach may take (the process builds or tears down a graph).
ATTACH_TIMEOUT = 30.0


def volfile_id(volume: str) -> str:
    """The GETSPEC key, and the SVC_ATTACH/DETACH ``name``, of ``volume``'s shd graph."""
    return f"shd/{volume}"


def option_value(argv: Sequence[str], option: str) -> str | None:
    """The value given to ``option`` (``-S PATH`` style) on a command line."""
    for index, arg in enumerate(argv[:-1]):
        if arg == option:
            return argv[index + 1]
    return None


class SelfHealDaemon:
    """Keeps exactly one self-heal daemon on this node with the wanted volumes attached.

    Driven by the reconciler's passes (one thread at a time): ``converge`` with the volumes
    the store knows and the names of those that need a self-heal daemon here."""

    def __init__(self, specs: BrickSpecs, services: ServiceManager, server: str) -> None:
        """``specs``: the node's BrickSpecs (command line, pidfiles, socket);
        ``server``: where the process fetches its first volfile."""
        self.specs = specs
        self.services = services
        self.server = server
        #: the volume whose spec the supervisor keeps, while a process runs
        self.anchor: str | None = None
        #: the ``-S`` socket of the process (an adopted one keeps the socket it was given)
        self.socket: str | None = None
        #: volumes attached by this daemon to the running process (also read from pidfiles)
        self._attached: set[str] = set()
        self._pid: int | None = None
        #: the last failure to serve each volume
        self.errors: dict[str, str] = {}

    # ------------------------------------------------------------------ one pass
    def converge(self, volumes: Mapping[str, Volume], wanted: Sequence[str]) -> frozenset[str]:
        """Run one process with exactly ``wanted`` attached (stop it when none is); returns
        the volumes served now."""
        wanted = sorted(wanted)
        self.errors = {name: error for name, error in self.errors.items() if name in wanted}
        if not wanted:
            self.stop(volumes)
            return frozenset()
        process = self._running(volumes, wanted)
        if process is None:
            return frozenset()
        attached = self._attached_to(process.pid, volumes)
        for name in wanted:
            if name not in attached:
                try:
                    self._attach(volumes, name)
                except GlusterMgmtError as exc:
                    self._failed(name, exc)
                    continue
                attached.add(name)
            self.errors.pop(name, None)
        for name in sorted(attached - set(wanted)):
            self._detach(name)
            attached.discard(name)
        self._attached = attached
        if self.anchor not in attached:
            self._reanchor(volumes, sorted(attached))
        return frozenset(attached)

    def stop(self, volumes: Mapping[str, Volume]) -> None:
        """No volume needs a self-heal daemon here: end the process (and any other of this
        node's that a volume's pidfile names), and the pidfiles of its volumes."""
        self.services.stop(SHD_SERVICE)
        for name in set(volumes) | self._attached:
            process = self._find(name)
            if process is not None and self._ours(process):
                log.info("stopping self-heal daemon %d (volume %s)", process.pid, name)
                self.services.kill(process.pid)
            if (process is not None and self._ours(process)) or name in self._attached:
                with contextlib.suppress(OSError):
                    os.unlink(self.specs.shd_pidfile(name))
        self.anchor, self.socket, self._pid = None, None, None
        self._attached = set()

    def release(self, name: str, volumes: Mapping[str, Volume]) -> None:
        """glusterd's svcs_stop for one volume (glusterd_shdsvc_stop): its graph detached,
        or, when it is the process's last, the process ended; the next ``converge`` attaches
        it again or starts a new process."""
        if name not in self._attached:
            return
        if self._attached == {name}:
            self.stop(volumes)
            return
        self._detach(name)
        self._attached.discard(name)
        if self.anchor == name:
            self._reanchor(volumes, sorted(self._attached))

    # ------------------------------------------------------------------ the process
    def _running(self, volumes: Mapping[str, Volume], wanted: Sequence[str]
                 ) -> RunningProcess | None:
        """The node's shd process: the supervised one, else one found through the pidfile
        of a volume (left by an earlier daemon or by glusterd), else a new one for the
        first wanted volume. Any other shd process of this node is ended (one per node)."""
        process = None
        states = self.services.status([SHD_SERVICE])
        if self.anchor is not None and states and states[0].running:
            process = self._find(self.anchor)
        if process is None:
            for name in [*wanted, *sorted(set(volumes) - set(wanted))]:
                found = self._find(name)
                if found is not None and self._ours(found):
                    process = self._supervise(volumes.get(name), name, found)
                    break
        if process is None:
            process = self._launch(volumes, wanted[0])
            if process is None:
                return None
        if process.pid != self._pid:
            self._attached = set()  # a new process: nothing attached but what pidfiles say
            self._pid = process.pid
        self.socket = option_value(process.argv, "-S") or (
            self.specs.shd_socket(self.anchor) if self.anchor else None)
        self._end_others(volumes, process.pid)
        return process

    def _supervise(self, volume: Volume | None, name: str, process: RunningProcess
                   ) -> RunningProcess | None:
        """Hand the supervisor the spec of ``name`` for a process its pidfile names."""
        if volume is None:
            return process  # not ours to relaunch (unknown volume); served as found
        try:
            self.services.start(self.specs.shd_spec(volume, self.server))
        except GlusterMgmtError as exc:
            self._failed(name, exc)
            return None
        self.anchor = name
        log.info("self-heal daemon pid %d supervised through volume %s", process.pid, name)
        return self._find(name)

    def _launch(self, volumes: Mapping[str, Volume], name: str) -> RunningProcess | None:
        try:
            self.services.start(self.specs.shd_spec(volumes[name], self.server))
        except (GlusterMgmtError, OSError) as exc:
            self._failed(name, exc)
            return None
        self.anchor = name
        process = self._find(name)
        if process is None:
            self._failed(name, GlusterMgmtError("the self-heal daemon exited after it started"))
        return process

    def _reanchor(self, volumes: Mapping[str, Volume], attached: Sequence[str]) -> None:
        """The anchor volume left the process: the supervisor follows a volume still in it
        (its pidfile names the same process, so nothing is restarted)."""
        for name in attached:
            if name in volumes and self._supervise(volumes[name], name,
                                                   self._find(name)) is not None:
                return

    def _end_others(self, volumes: Mapping[str, Volume], pid: int) -> None:
        """End every other shd process of this node (one per volume, as gluster_mgmt used to
        run them, or a duplicate): their volumes are attached to ``pid`` instead."""
        for name in volumes:
            process = self._find(name)
            if process is not None and process.pid != pid and self._ours(process):
                log.info("stopping self-heal daemon %d of volume %s: one per node",
                         process.pid, name)
                self.services.kill(process.pid)
                with contextlib.suppress(OSError):
                    os.unlink(self.specs.shd_pidfile(name))

    def _attached_to(self, pid: int, volumes: Mapping[str, Volume]) -> set[str]:
        """Volumes whose graph process ``pid`` serves: those whose pidfile it wrote (it
        writes one on each attach), plus those this daemon attached."""
        named = {os.path.basename(os.path.dirname(p))
                 for p in glob.glob(os.path.join(glob.escape(self.specs.run_dir), "shd", "*",
                                                 "*-shd.pid"))}
        attached = {n for n in named if (n in volumes or n in self._attached)
                    and self._names(n, pid)}
        return attached | {n for n in self._attached if n not in named}

    # ------------------------------------------------------------------ attach / detach
    def _attach(self, volumes: Mapping[str, Volume], name: str) -> None:
        text = volgen.volfile_for_id(volumes, volfile_id(name))
        if text is None:
            raise GlusterMgmtError(f"no self-heal volfile for volume {name}")
        pidfile = self.specs.shd_pidfile(name)
        os.makedirs(os.path.dirname(pidfile), exist_ok=True)
        self._call(pg.BrickProc.SVC_ATTACH, name, text.encode(), encode_dict({"pidfile": pidfile}))
        log.info("volume %s attached to the self-heal daemon (pid %s)", name, self._pid)

    def _detach(self, name: str) -> None:
        try:
            self._call(pg.BrickProc.SVC_DETACH, name)
        except GlusterMgmtError as exc:
            log.error("cannot detach volume %s from the self-heal daemon: %s", name, exc)
        else:
            log.info("volume %s detached from the self-heal daemon (pid %s)", name, self._pid)
        with contextlib.suppress(OSError):
            os.unlink(self.specs.shd_pidfile(name))

    def _call(self, proc: pg.BrickProc, name: str, volfile: bytes = b"",
              options: bytes = b"") -> None:
        what = "attach" if proc is pg.BrickProc.SVC_ATTACH else "detach"
        if self.socket is None:
            raise GlusterMgmtError(f"cannot {what} volume {name}: no self-heal daemon")
        try:
            reply = brick_op(self.socket, pg.BrickOpRequest(volfile_id(name), proc, volfile,
                                                            options),
                             proc, ATTACH_TIMEOUT, what="self-heal daemon")
        except DefragError as exc:
            raise GlusterMgmtError(f"cannot {what} volume {name}: {exc}") from None
        if reply.op_ret != 0:
            raise GlusterMgmtError(f"the self-heal daemon refused to {what} volume {name} "
                                   f"(errno {reply.op_errno})")

    # ------------------------------------------------------------------ helpers
    def _find(self, name: str) -> RunningProcess | None:
        return self.services.find(self.specs.shd_pidfile(name), self.specs.glusterfs)

    def _names(self, name: str, pid: int) -> bool:
        process = self._find(name)
        return process is not None and process.pid == pid

    def _ours(self, process: RunningProcess) -> bool:
        """A self-heal daemon of this node (glusterd's or ours)."""
        return f"*replicate*.node-uuid={self.specs.node_uuid}" in process.argv

    def _failed(self, name: str, exc: Exception) -> None:
        if self.errors.get(name) != str(exc):
            log.error("no self-heal daemon for volume %s: %s", name, exc)
        self.errors[name] = str(exc)

