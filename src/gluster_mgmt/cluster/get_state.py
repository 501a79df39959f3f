"""`gluster get-state [glusterd] [odir DIR] [file NAME] [detail|volumeoptions]`: the serving
node writes its view of the cluster to a file, in glusterd 10.3's format (glusterd-handler.c,
glusterd_get_state: sections ``[Global]``, ``[Global options]``, ``[Peers]``, ``[Volumes]``,
``[Services]``, ``[Misc]``; ``VolumeN.BrickM.key: value`` lines). As in glusterd, the port,
status and space of a brick are given for this node's bricks only; ``detail`` adds each of
those bricks' clients (its answer to `volume status VOL clients`,
glusterd_print_client_details); ``volumeoptions`` writes only ``[Volume Options]``: each
volume's `volume get VOL all` dict as glusterd's dict_foreach walks it (newest first:
``count``, then ``valueN``, ``keyN`` down to 1). Recorded by benchmarks/record_get_state.py
(tests/data/glusterd-10.3/get-state)."""

from __future__ import annotations

import enum
import errno
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from gluster_mgmt.cli.view import VolumeFacts, human_size, option_value, peer_state
from gluster_mgmt.cluster.migration_progress import MigrationRecords, overall_status
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.membership.identity import GLUSTERD_OP_VERSION
from gluster_mgmt.model import REMOVE_BRICK, MigrationStatus
from gluster_mgmt.portmap import BASE_PORT

#: glusterd's default output directory and file name prefix.
DEFAULT_ODIR = "/var/run/gluster/"
DEFAULT_PREFIX = "glusterd_state"
#: The only daemon get-state reports on.
DAEMON = "glusterd"
#: Node-wide services glusterd inits at start, listed whether running or not.
SERVICES = ("bitd", "scrub", "quotad")
_NO_TASK = "00000000-0000-0000-0000-000000000000"
#: glusterd's rebalance status words (glusterd_volume_get_rebalance_status_str), by status.
_REBALANCE_WORDS = ("not_started", "started", "stopped", "completed", "failed",
                    "layout_fix_started", "layout_fix_stopped", "layout_fix_complete",
                    "layout_fix_failed")


class StateKind(enum.IntEnum):
    """The CLI's ``getstate-cmd`` (GF_CLI_GET_STATE_*)."""

    PLAIN = 0
    DETAIL = 1
    VOLUME_OPTIONS = 2

    @classmethod
    def of(cls, value: object) -> "StateKind":
        try:
            return cls(int(value or 0))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise OperationFailed(f"Invalid get-state kind {value!r}: 0 (plain), 1 (detail) "
                                  "or 2 (volumeoptions)", errno.EINVAL) from None


def state_file_path(odir: str | None, filename: str | None, now: float | None = None) -> str:
    """Where the state goes: ``odir`` (default /var/run/gluster/), ``filename`` (default
    glusterd_state_YYYYMMDD_HHMMSS, local time); glusterd's refusals when ``odir`` is not a
    directory."""
    directory = odir or DEFAULT_ODIR
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise OperationFailed(f"Output directory does not exist. {directory} points to "
                                  "a file.", errno.ENOTDIR)
        raise OperationFailed(f"Output directory {directory} does not exist.", errno.ENOENT)
    name = filename or time.strftime(f"{DEFAULT_PREFIX}_%Y%m%d_%H%M%S",
                                     time.localtime(now))
    return directory + ("" if directory.endswith("/") else "/") + name


@attrs.frozen
class LocalBrick:
    """What this node knows of one of its own bricks."""

    port: int
    online: bool
    space_free: int
    space_total: int


@attrs.frozen
class NodeState:
    """Everything the state file says, gathered once (plain data: rendering is pure)."""

    node_uuid: str
    peers: Sequence[Mapping[str, Any]]
    #: Volume.to_dict() of each volume, in name order
    volumes: Sequence[Mapping[str, Any]]
    #: by (volume name, brick path) for this node's bricks
    bricks: Mapping[tuple[str, str], LocalBrick]
    #: volumes whose graph this node's self-heal daemon serves / would serve here
    shd_online: frozenset[str]
    shd_inited: frozenset[str]
    #: (task id, status) of each volume's rebalance task
    rebalance: Mapping[str, tuple[str, MigrationStatus]] = attrs.field(factory=dict)
    op_version: int = GLUSTERD_OP_VERSION
    base_port: int = BASE_PORT
    kind: StateKind = StateKind.PLAIN
    #: ``detail``: each online local brick's `status clients` pairs, by (volume, path)
    clients: Mapping[tuple[str, str], Sequence[Sequence[str]]] = attrs.field(factory=dict)
    #: ``volumeoptions``: each volume's `volume get VOL all` entries, by name
    options: Mapping[str, Sequence[Sequence[Any]]] = attrs.field(factory=dict)


def brick_space(path: str) -> tuple[int, int]:
    """(free, total) bytes of the file system holding ``path``; zeros when it cannot be
    read (glusterd logs and prints 0)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0, 0
    return st.f_bfree * st.f_bsize, st.f_blocks * st.f_bsize


def render(state: NodeState) -> str:
    """The state file's text."""
    if state.kind is StateKind.VOLUME_OPTIONS:
        return render_volume_options(state)
    lines = ["[Global]", f"MYUUID: {state.node_uuid}", f"op-version: {state.op_version}",
             "", "[Global options]", "", "[Peers]"]
    for index, peer in enumerate(state.peers, 1):
        names = list(peer.get("hostnames") or [])
        lines += [f"Peer{index}.primary_hostname: {names[0] if names else ''}",
                  f"Peer{index}.uuid: {peer['uuid']}",
                  f"Peer{index}.state: {peer_state(peer.get('state'))[1]}",
                  f"Peer{index}.connected: "
                  f"{'Connected' if peer.get('connected') else 'Disconnected'}",
                  f"Peer{index}.othernames: {','.join(names[1:])}"]
    lines += ["", "[Volumes]"]
    for index, volume in enumerate(state.volumes, 1):
        lines += _volume_lines(state, index, volume)
    lines += ["", "[Services]"]
    for index, name in enumerate(SERVICES, 1):
        lines += [f"svc{index}.name: {name}", f"svc{index}.online_status: Offline", ""]
    lines += ["", "[Misc]", f"Base port: {state.base_port}"]
    return "\n".join(lines) + "\n"


def render_volume_options(state: NodeState) -> str:
    """``[Volume Options]``: per volume its name, then its `volume get all` dict newest
    first."""
    lines = ["[Volume Options]"]
    for index, volume in enumerate(state.volumes, 1):
        name = volume["name"]
        entries = state.options.get(name) or ()
        lines += [f"Volume{index}.name: {name}", f"Volume{index}.options.count: {len(entries)}"]
        for number in range(len(entries), 0, -1):
            key, value = entries[number - 1][0], option_value(entries[number - 1])
            lines += [f"Volume{index}.options.value{number}: {value}",
                      f"Volume{index}.options.key{number}: {key}"]
    return "\n".join(lines) + "\n"


def _client_lines(prefix: str, pairs: Sequence[Sequence[str]]) -> list[str]:
    """A brick's clients as glusterd_print_client_details writes them."""
    answer = {str(k): str(v) for k, v in pairs}
    count = int(answer.get("clientcount") or 0)
    lines = [f"{prefix}.client_count: {count}"]
    for number in range(1, count + 1):
        key = f"client{number - 1}"
        lines += [f"{prefix}.Client{number}.{what}: {answer.get(f'{key}.{what}', '')}"
                  for what in ("hostname", "bytesread", "byteswrite", "opversion")]
    return lines


def _volume_lines(state: NodeState, index: int, volume: Mapping[str, Any]) -> list[str]:
    facts = VolumeFacts(dict(volume))
    name = facts.name
    options = dict(facts.options)
    profiling = all(options.get(k) in ("on", "yes", "true", "enable", "1") for k in
                    ("diagnostics.latency-measurement", "diagnostics.count-fop-hits"))
    p = f"Volume{index}"
    lines = [f"{p}.name: {name}", f"{p}.id: {facts.uuid}", f"{p}.type: {facts.type_name}",
             f"{p}.transport_type: {facts.transport}", f"{p}.status: {facts.status_name}",
             f"{p}.profile_enabled: {int(profiling)}", f"{p}.brickcount: {facts.brick_count}"]
    for number, brick in enumerate(facts.bricks, 1):
        b = f"{p}.Brick{number}"
        lines += [f"{b}.path: {brick['hostname']}:{brick['path']}",
                  f"{b}.hostname: {brick['hostname']}"]
        if facts.is_arbiter(number - 1):
            lines.append(f"{b}.is_arbiter: 1")
        local = state.bricks.get((name, brick["path"]))
        if brick.get("host_uuid") != state.node_uuid or local is None:
            continue
        lines += [f"{b}.port: {local.port if local.online else 0}", f"{b}.rdma_port: 0",
                  f"{b}.port_registered: {int(local.online)}",
                  f"{b}.status: {'Started' if local.online else 'Stopped'}",
                  f"{b}.spacefree: {local.space_free}Bytes",
                  f"{b}.spacetotal: {local.space_total}Bytes"]
        clients = state.clients.get((name, brick["path"]))
        if state.kind is StateKind.DETAIL and local.online and clients is not None:
            lines += _client_lines(b, clients)
    task_id, status = state.rebalance.get(name, (_NO_TASK, MigrationStatus.NOT_STARTED))
    lines += [f"{p}.snap_count: {facts.snap_count}", f"{p}.stripe_count: 1",
              f"{p}.replica_count: {facts.replica_count}", f"{p}.subvol_count: {facts.dist_count}",
              f"{p}.arbiter_count: {facts.arbiter_count}",
              f"{p}.disperse_count: {facts.disperse_count}",
              f"{p}.redundancy_count: {facts.redundancy_count}",
              f"{p}.quorum_status: not_applicable",
              f"{p}.snapd_svc.online_status: Offline",
              f"{p}.snapd_svc.inited: {facts.status_name == 'Started'}",
              f"{p}.rebalance.id: {task_id}",
              f"{p}.rebalance.status: {_REBALANCE_WORDS[status]}",
              f"{p}.rebalance.failures: 0", f"{p}.rebalance.skipped: 0",
              f"{p}.rebalance.lookedup: 0", f"{p}.rebalance.files: 0",
              f"{p}.rebalance.data: {human_size(0)}", f"{p}.time_left: 0",
              f"{p}.shd_svc.online_status: {'Online' if name in state.shd_online else 'Offline'}",
              f"{p}.shd_svc.inited: {name in state.shd_inited}",
              f"{p}.gsync_count: 0"]
    lines += [f"{p}.options.{key}: {value}" for key, value in facts.options]
    return [*lines, ""]


def write_state(state: NodeState, odir: str | None, filename: str | None) -> str:
    """Write the state file; its path."""
    path = state_file_path(odir, filename)
    try:
        with open(path, "w") as f:
            f.write(render(state))
    except OSError as exc:
        raise OperationFailed(f"Failed to open file at {path}", exc.errno or errno.EIO) from None
    return path


def gather(daemon: Any, cluster: Any, kind: StateKind = StateKind.PLAIN) -> NodeState:
    """This node's state: ``daemon`` the serving Daemon (its runtime: bricks, self-heal
    daemon, its bricks' answers), ``cluster`` its Cluster API (peers, volumes, tasks)."""
    reconciler = daemon.reconciler
    if reconciler is None:
        raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
    volumes = cluster.volumes.info(None)
    records = MigrationRecords(cluster.store, cluster.keys)
    rebalance = {v.name: (v.task.id, overall_status(records.report(v)))
                 for v in volumes if v.task is not None and v.task.kind != REMOVE_BRICK}
    public = []
    for volume in volumes:
        data = volume.to_dict()
        data.pop("username", None)
        data.pop("password", None)
        public.append(data)
    bricks = local_bricks(daemon.uuid, volumes,
                          {v.name: daemon.brick_runtime(v) for v in volumes})
    clients: dict[tuple[str, str], Sequence[Sequence[str]]] = {}
    if kind is StateKind.DETAIL:
        for volume in volumes:
            paths = [path for (name, path), brick in bricks.items()
                     if name == volume.name and brick.online]
            if paths:
                answers = daemon.local_brick_dumps(volume.name, "clients", paths)
                clients.update({(volume.name, path): pairs for path, pairs in answers.items()})
    options = {}
    if kind is StateKind.VOLUME_OPTIONS:
        options = {v.name: [list(entry) for entry in cluster.volumes.get(v.name, "all")]
                   for v in volumes}
    return NodeState(
        daemon.uuid, [view.to_dict() for view in cluster.peers.others()], public, bricks,
        shd_online=frozenset(v.name for v in volumes
                             if any(s["online"] for s in reconciler.shd_status(v))),
        shd_inited=frozenset(v.name for v in volumes if reconciler.needs_shd(v)),
        rebalance=rebalance, kind=kind, clients=clients, options=options)


def local_bricks(node_uuid: str, volumes: Iterable[Any],
                 runtime: Mapping[str, Mapping[str, Mapping[str, Any]]]
                 ) -> dict[tuple[str, str], LocalBrick]:
    """This node's bricks of ``volumes`` (model Volumes), with ``runtime`` (by volume name:
    the brick runtime by brick uuid, as `volume status` has it) and their file systems."""
    bricks = {}
    for volume in volumes:
        for brick in volume.bricks:
            if brick.host_uuid != node_uuid:
                continue
            facts = runtime.get(volume.name, {}).get(brick.uuid, {})
            free, total = brick_space(brick.path)
            bricks[(volume.name, brick.path)] = LocalBrick(
                int(facts.get("port") or 0), bool(facts.get("online")), free, total)
    return bricks
