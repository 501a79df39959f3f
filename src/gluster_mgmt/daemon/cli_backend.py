"""The third front door: the stock ``gluster`` binary's GLUSTER_CLI calls, answered by the
same REST routes the ``gluster-mgmt`` CLI uses (``daemon.routes`` through ``rest.Api``, so
validation, messages and error mapping exist once), re-encoded as the dicts glusterd 10.3
sends (``glusterd-handler.c``, ``glusterd-op-sm.c``, ``glusterd-utils.c``: the keys
``cli-rpc-ops.c`` reads).

The unix socket also serves DUMP, HANDSHAKE GETSPEC and PORTMAP like 24007 (``glfsheal``
fetches the trusted client volfile there): those calls go to the node's current mgmt backend.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from gluster_mgmt import rules
from gluster_mgmt.rules import EG_INTRNL, TOP_LIST_MAX
from gluster_mgmt.cli.view import VolumeFacts, option_value, peer_state, pool_order
from gluster_mgmt.cluster.quota import LISTS
from gluster_mgmt.cluster.brick_dump import BrickDump, StatusDaemon, answer_pairs, brick_pairs
from gluster_mgmt.cluster.volumes import OPTION_NOT_SET
from gluster_mgmt.mgmt_rpc.cli_program import (
    CliProc,
    CliRequest,
    CliResult,
    GetVolumeFlag,
    ListFriendsFlag,
    StatusFlag,
    glusterd_dict,
)
from gluster_mgmt.mgmt_rpc.gluster_dict import DictValue, value_text
from gluster_mgmt.mgmt_rpc.server import PeerInfo, VolfileReply
from gluster_mgmt.quota_values import GFID_MISSING
from gluster_mgmt.volgen import GLUSTERD_WORKDIR

if TYPE_CHECKING:
    from gluster_mgmt.daemon.mgmt_backend import StoreMgmtBackend
    from gluster_mgmt.daemon.rest import Api

log = logging.getLogger(__name__)

#: glusterd-errno.h: EG_NOVOL, GET_VOLUME's "Volume does not exist" (EG_INTRNL, what a
#: failed transaction reports when nothing set an op_errno (gd_sync_task_begin): rules')
EG_NOVOL = 30806
#: Procedures glusterd runs as a transaction (glusterd_op_begin_synctask)
_TRANSACTIONS = frozenset({CliProc.CREATE_VOLUME, CliProc.START_VOLUME, CliProc.STOP_VOLUME,
                           CliProc.DELETE_VOLUME, CliProc.SET_VOLUME, CliProc.RESET_VOLUME,
                           CliProc.STATUS_VOLUME, CliProc.HEAL_VOLUME, CliProc.DEFRAG_VOLUME,
                           CliProc.ADD_BRICK, CliProc.REMOVE_BRICK, CliProc.LOG_ROTATE,
                           CliProc.PROFILE_VOLUME, CliProc.TOP_VOLUME,
                           CliProc.STATEDUMP_VOLUME, CliProc.BARRIER_VOLUME,
                           CliProc.CLRLOCKS_VOLUME, CliProc.SYNC_VOLUME})
#: What the handlers of add-brick and remove-brick refuse themselves, before any transaction
#: (op_errno 0, as glusterd answers them): the volume's name and the brick and replica counts
#: (__glusterd_handle_add_brick, __glusterd_handle_remove_brick)
_REFUSED_BY_HANDLER: dict[CliProc, tuple[str, ...]] = {
    CliProc.ADD_BRICK: ("Unable to get volinfo for volume name ", "Incorrect number of bricks "
                        "supplied ", "Incorrect replica count ", "Operation failed"),
    CliProc.REMOVE_BRICK: ("Incorrect brick ", "replica count (", "given replica count ",
                           "number of bricks provided ", "need "),
    CliProc.SYNC_VOLUME: (rules.SYNC_FROM_LOCALHOST,),
}
#: Procedures answered without the store (nor anything else that blocks)
_WITHOUT_STORE = frozenset({CliProc.GETWD, CliProc.UUID_GET})
#: GF_CLI_FLAG_OP_FORCE of the ``flags`` dict value (start, stop, deprobe)
FLAG_FORCE = 1
#: gf1_cluster_type values the CLI sends in ``type``
_CREATE_TYPES = {2: "replicate", 4: "disperse"}
#: glusterd's port in ``friendN.port``
_GLUSTERD_PORT = 24007
#: REPLACE_BRICK's ``operation``: the only one the CLI sends
REPLACE_COMMIT_FORCE = "GF_REPLACE_OP_COMMIT_FORCE"


#: RESET_BRICK's ``operation`` (``GF_RESET_OP_*``) as the REST route's word
RESET_OPERATIONS = {"GF_RESET_OP_START": "start", "GF_RESET_OP_COMMIT": "commit",
                    "GF_RESET_OP_COMMIT_FORCE": "commit-force"}


class RemoveBrickCommand(enum.IntEnum):
    """``gf1_op_commands``: remove-brick's ``command``."""

    START = 1
    COMMIT = 2
    STOP = 3
    STATUS = 4
    COMMIT_FORCE = 5

    @property
    def action(self) -> str:
        """The REST route's word."""
        return "force" if self is RemoveBrickCommand.COMMIT_FORCE else self.name.lower()


class DefragCommand(enum.IntEnum):
    """``gf_defrag_type``: DEFRAG_VOLUME's ``rebalance-command`` (the ones the CLI sends)."""

    START = 1
    STOP = 2
    STATUS = 3
    START_LAYOUT_FIX = 4
    START_FORCE = 5

Pairs = list[tuple[str, DictValue]]


def profile_params(request: CliRequest) -> dict[str, Any]:
    """The `volume/profile` route's parameters from the stock CLI's dict (profile's
    ``op``/``info-op``/``peek``; top's ``top-op``/``clear-stats``/``list-cnt``/``brick``/
    ``blk-size``/``blk-cnt``)."""
    return {"name": _text(request, "volname"), "op": _int(request, "op"),
            "info_op": _int(request, "info-op"), "peek": bool(_int(request, "peek")),
            "top_op": _int(request, "top-op"), "clear": bool(_int(request, "clear-stats")),
            "list_count": _int(request, "list-cnt") if "list-cnt" in request.dict else TOP_LIST_MAX,
            "brick": _text(request, "brick", None), "block_size": _int(request, "blk-size"),
            "block_count": _int(request, "blk-cnt")}


def not_supported(proc: CliProc) -> CliResult:
    """What every procedure gluster_mgmt does not have answers: a clear refusal, at once."""
    name = proc.name.lower().replace("_", "-")
    return CliResult.failed(f"{name} is not supported by gluster-mgmtd", errno.EOPNOTSUPP)


@attrs.frozen
class _VolumeSnapshot:
    """Every volume as one `volume info` (all) read them: by name, in listing order, and
    each one's successor (the CLI's NEXT call answered in constant time)."""

    volumes: dict[str, dict[str, Any]]
    order: tuple[str, ...]
    after: dict[str, str | None]

    @classmethod
    def of(cls, volumes: list[dict[str, Any]]) -> _VolumeSnapshot:
        order = tuple(v["name"] for v in volumes)
        return cls({v["name"]: v for v in volumes}, order,
                   dict(zip(order, (*order[1:], None))))


class _Reply(Exception):
    """A procedure's early answer (a failure found while building it)."""

    def __init__(self, result: CliResult) -> None:
        super().__init__(result.op_errstr)
        self.result = result


class ServingNode(Protocol):
    """What the CLI door needs of the daemon: its identity and its current mgmt backend
    (which follows the node from cluster to cluster)."""

    uuid: str
    mgmt_backend: "StoreMgmtBackend | None"


class CliBackend:
    """GLUSTER_CLI on glusterd's socket, plus the mgmt procedures of that socket."""

    def __init__(self, daemon: ServingNode, api: "Api") -> None:
        self.daemon = daemon
        self.api = api
        #: the volumes as the last `volume info` (all) read them (replaced whole, never
        #: changed: commands answered at once share it safely)
        self._volume_snapshot = _VolumeSnapshot.of([])
        self._procs: dict[CliProc, Callable[[CliRequest], CliResult]] = {
            CliProc.GETWD: lambda r: CliResult(text=GLUSTERD_WORKDIR),
            CliProc.UUID_GET: lambda r: CliResult(dict=glusterd_dict([("uuid", self.daemon.uuid)])),
            CliProc.LIST_FRIENDS: self._list_friends,
            CliProc.GET_VOLUME: self._get_volume,
            CliProc.LIST_VOLUME: self._list_volume,
            CliProc.STATUS_VOLUME: self._status_volume,
            CliProc.GET_VOL_OPT: self._get_vol_opt,
            CliProc.CREATE_VOLUME: self._create_volume,
            CliProc.START_VOLUME: lambda r: self._volume_op(r, "volume/start", force=True),
            CliProc.STOP_VOLUME: lambda r: self._volume_op(r, "volume/stop", force=True),
            CliProc.DELETE_VOLUME: lambda r: self._volume_op(r, "volume/delete"),
            CliProc.SET_VOLUME: self._set_volume,
            CliProc.RESET_VOLUME: self._reset_volume,
            CliProc.PROBE: self._probe,
            CliProc.DEPROBE: self._deprobe,
            CliProc.ADD_BRICK: self._add_brick,
            CliProc.REMOVE_BRICK: self._remove_brick,
            CliProc.REPLACE_BRICK: self._replace_brick,
            CliProc.DEFRAG_VOLUME: self._defrag_volume,
            CliProc.HEAL_VOLUME: self._heal_volume,
            CliProc.QUOTA: self._quota,
            CliProc.RESET_BRICK: self._reset_brick,
            CliProc.LOG_ROTATE: self._log_rotate,
            CliProc.PROFILE_VOLUME: self._profile_volume,
            CliProc.TOP_VOLUME: self._profile_volume,
            CliProc.STATEDUMP_VOLUME: lambda r: self._done("volume/statedump", {
                "name": _text(r, "volname"), "options": _text(r, "options", "").split()}),
            CliProc.BARRIER_VOLUME: lambda r: self._done("volume/barrier", {
                "name": _text(r, "volname"), "barrier": _text(r, "barrier")}),
            CliProc.GET_STATE: self._get_state,
            CliProc.SYNC_VOLUME: lambda r: self._done("volume/sync", {
                "host": _text(r, "hostname"), "name": _text(r, "volname", None)}),
            CliProc.CLRLOCKS_VOLUME: self._clear_locks,
        }

    # -- GLUSTER_CLI ---------------------------------------------------------------------

    async def cli_call(self, request: CliRequest) -> CliResult:
        handler = self._procs.get(request.proc)
        if handler is None:
            return not_supported(request.proc)
        try:
            if request.proc in _WITHOUT_STORE:
                return handler(request)  # no store read: at once, without a thread's hop
            snapshot = self._volume_snapshot
            if self._in_snapshot(request, snapshot):
                return self._get_volume(request, snapshot)
            return await asyncio.to_thread(handler, request)  # routes block on the store
        except _Reply as reply:
            result = reply.result
        if request.proc in _TRANSACTIONS:
            refused_early = self._refused_before_transaction(request, result)
            result = attrs.evolve(result, op_errno=0 if refused_early else EG_INTRNL)
        elif request.proc in (CliProc.REPLACE_BRICK, CliProc.RESET_BRICK):
            result = attrs.evolve(result, op_errno=0)  # glusterd's mgmt_v3 phases set none
        return result

    @staticmethod
    def _in_snapshot(request: CliRequest, snapshot: _VolumeSnapshot) -> bool:
        """A `volume info` (all) call after its first, answered at once from ``snapshot``
        (a call per volume: a thread's hop each was a good part of the command)."""
        if request.proc is not CliProc.GET_VOLUME or _int(request, "flags") != GetVolumeFlag.NEXT:
            return False
        name = _text(request, "volname", None)
        return name is not None and name in snapshot.volumes

    @staticmethod
    def _refused_before_transaction(request: CliRequest, result: CliResult) -> bool:
        """glusterd's handlers refuse some requests themselves, with op_errno 0 (create: an
        existing name; heal: a missing volume; add-brick, remove-brick: _REFUSED_BY_HANDLER);
        the REST errno is not glusterd's."""
        name = request.dict.get("volname")
        if request.proc is CliProc.HEAL_VOLUME:  # the heal handler's own lookup
            return name is not None and result.op_errstr == f"Volume {value_text(name)} does not exist"
        if request.proc is CliProc.CREATE_VOLUME:
            return name is not None and result.op_errstr == rules.volume_exists(value_text(name))
        return result.op_errstr.startswith(_REFUSED_BY_HANDLER.get(request.proc, ()))

    def _route(self, route: str, params: dict[str, Any]) -> dict[str, Any]:
        """The REST route's data, or raise _Reply with its failure (op_errstr and errno as the
        REST API gives them: one error mapping for both doors)."""
        _, reply = self.api.handle("POST", f"/v1/{route}", json.dumps(params).encode(), None, True)
        if reply["op_ret"] != 0:
            raise _Reply(CliResult(-1, reply["op_errno"], reply["op_errstr"]))
        return reply["data"]

    def _done(self, route: str, params: dict[str, Any]) -> CliResult:
        """A command whose success the CLI prints without a reply dict."""
        self._route(route, params)
        return CliResult()

    # -- peers ---------------------------------------------------------------------------

    def _list_friends(self, request: CliRequest) -> CliResult:
        pool = request.flags == ListFriendsFlag.POOL_NODES
        try:
            peers = self._route("pool/list" if pool else "peer/status", {})["peers"]
        except _Reply as reply:
            return CliResult(-1, reply.result.op_errno)  # the reply has no op_errstr
        pairs: Pairs = []
        for index, peer in enumerate(pool_order(peers), 1):
            pairs += friend_pairs(index, peer, local=pool and peer.get("hostnames") == ["localhost"],
                                  node_uuid=self.daemon.uuid)
        pairs.append(("count", len(peers)))
        return CliResult(dict=glusterd_dict(pairs))

    def _probe(self, request: CliRequest) -> CliResult:
        data = self._route("peer/probe", {"host": _text(request, "hostname")}) or {}
        # glusterd's set_probe_error_str: a success that did nothing says why in op_errstr
        data = data if isinstance(data, dict) else {}
        return CliResult(op_errno=int(data.get("errno") or 0), op_errstr=str(data.get("message") or ""))

    def _deprobe(self, request: CliRequest) -> CliResult:
        self._route("peer/detach", {"host": _text(request, "hostname"),
                                    "force": bool(_int(request, "flags") & FLAG_FORCE)})
        return CliResult()

    # -- volume info, list, get ------------------------------------------------------------

    def _get_volume(self, request: CliRequest, snapshot: _VolumeSnapshot | None = None) -> CliResult:
        flags = _int(request, "flags")
        name = _text(request, "volname", None)
        if flags == GetVolumeFlag.ONE:
            try:
                volumes = self._route("volume/info", {"name": name})["volumes"]
            except _Reply:
                return CliResult(-1, EG_NOVOL, "Volume does not exist",
                                 glusterd_dict([("count", 0)]))
        elif flags == GetVolumeFlag.NEXT:
            volumes = self._next_volume(name, snapshot)
            if volumes is None:
                return CliResult(-1, 0, "", glusterd_dict([("count", 0)]))
        else:
            volumes = []
        pairs: Pairs = []
        for index, volume in enumerate(volumes):
            pairs += volume_pairs(index, volume)
        pairs.append(("count", len(volumes)))
        return CliResult(dict=glusterd_dict(pairs))

    def _next_volume(self, name: str | None,
                     snapshot: _VolumeSnapshot | None = None) -> list[dict[str, Any]] | None:
        """`volume info` (all): the CLI asks for one volume at a time, the one after the last
        it got (none: the first). The first call reads every volume once, and the calls
        after it are answered from that snapshot (one listing per command, not one per
        volume, which made the command quadratic: 36 s at 1,000 volumes on three nodes); a
        name the snapshot lacks (another command's newer snapshot) reads the store again.
        None: ``name`` is not a volume."""
        snapshot = snapshot or self._volume_snapshot
        if name is None or name not in snapshot.volumes:
            snapshot = _VolumeSnapshot.of(self._route("volume/info", {"name": None})["volumes"])
            self._volume_snapshot = snapshot
        if name is None:
            return [snapshot.volumes[n] for n in snapshot.order[:1]]
        if name not in snapshot.volumes:
            return None
        after = snapshot.after[name]
        return [snapshot.volumes[after]] if after is not None else []

    def _list_volume(self, request: CliRequest) -> CliResult:
        names = self._route("volume/list", {})["volumes"]
        return CliResult(dict=glusterd_dict(
            [*((f"volume{i}", n) for i, n in enumerate(names)), ("count", len(names))]))

    def _get_vol_opt(self, request: CliRequest) -> CliResult:
        key = _text(request, "key")
        try:
            options = self._route("volume/get", {"name": _text(request, "volname"),
                                                 "key": key})["options"]
        except _Reply as reply:
            if reply.result.op_errno == OPTION_NOT_SET:  # glusterd: dict_get_str's -ENOENT
                return CliResult(-errno.ENOENT, 0, "", dict=glusterd_dict([("key1", key)]))
            raise
        pairs: Pairs = []
        for index, entry in enumerate(options, 1):
            pairs += [(f"key{index}", entry[0]), (f"value{index}", option_value(entry))]
        pairs.append(("count", len(options)))
        return CliResult(dict=glusterd_dict(pairs))

    # -- volume status -----------------------------------------------------------------------

    def _status_volume(self, request: CliRequest) -> CliResult:
        cmd = StatusFlag(_int(request, "cmd"))
        if cmd & StatusFlag.ALL:  # the CLI then asks for each volume in turn
            names = self._route("volume/list", {})["volumes"]
            return CliResult(dict=glusterd_dict(
                [("cmd", int(cmd)), *((f"vol{i}", n) for i, n in enumerate(names)),
                 ("vol_count", len(names))]))
        sub = cmd & StatusFlag.MASK
        dump = next((k for k in BrickDump if k == sub), None)
        named = _STATUS_DAEMONS.get(cmd & StatusFlag.DAEMONS)
        if (sub not in (StatusFlag.NONE, StatusFlag.DETAIL, StatusFlag.TASKS) and dump is None) or \
                cmd & ~(StatusFlag.MASK | StatusFlag.VOL | StatusFlag.BRICK | StatusFlag.DAEMONS) or \
                (cmd & StatusFlag.DAEMONS and (named is None or cmd & StatusFlag.BRICK)) or \
                (named is not None and sub in (StatusFlag.DETAIL, StatusFlag.TASKS)):
            return not_supported(CliProc.STATUS_VOLUME)  # the stock CLI sends none of these
        name = _text(request, "volname")
        params = {"name": name, "detail": bool(cmd & StatusFlag.DETAIL),
                  "dump": dump.word if dump else None,
                  "brick": _text(request, "brick") if cmd & StatusFlag.BRICK else None,
                  "daemon": named.value if named else None}
        volume = self._route("volume/status", params)["volumes"][0]
        return CliResult(op_errstr=volume.get("op_errstr") or "",
                         dict=glusterd_dict(status_pairs(volume, cmd)))

    # -- volume operations ---------------------------------------------------------------------

    def _create_volume(self, request: CliRequest) -> CliResult:
        kind = _CREATE_TYPES.get(_int(request, "type"))
        params: dict[str, Any] = {
            "name": _text(request, "volname"),
            "bricks": _text(request, "bricks").split(),
            "transport": _text(request, "transport", None),
            "force": bool(_int(request, "force")),
        }
        if kind == "replicate":
            params["replica"] = _int(request, "replica-count")
            params["arbiter"] = _int(request, "arbiter-count") or None
        elif kind == "disperse":
            params["disperse"] = _int(request, "disperse-count") or None
            params["redundancy"] = _int(request, "redundancy-count") or None
        volume = self._route("volume/create", params)["volume"]
        return CliResult(dict=glusterd_dict([("volname", volume["name"]),
                                             ("volume-id", volume.get("uuid") or "")]))

    def _volume_op(self, request: CliRequest, route: str, force: bool = False) -> CliResult:
        name = _text(request, "volname")
        params: dict[str, Any] = {"name": name}
        if force:
            params["force"] = bool(_int(request, "flags") & FLAG_FORCE)
        data = self._route(route, params)
        volume = data.get("volume") or {}
        return CliResult(dict=glusterd_dict([("volname", name), *(
            [("vol-id", volume["uuid"])] if volume.get("uuid") else [])]))

    def _set_volume(self, request: CliRequest) -> CliResult:
        name = _text(request, "volname")
        options = []  # key1/value1... until a key is missing ("count" counts words)
        while f"key{len(options) + 1}" in request.dict:
            i = len(options) + 1
            options.append([_text(request, f"key{i}"), _text(request, f"value{i}")])
        data = self._route("volume/set", {"name": name, "options": options})
        volume = data.get("volume") or {}
        return CliResult(dict=glusterd_dict([("volname", name), *(
            [("vol-id", volume["uuid"])] if volume.get("uuid") else [])]))

    def _reset_volume(self, request: CliRequest) -> CliResult:
        key = _text(request, "key", "all")
        data = self._route("volume/reset", {"name": _text(request, "volname"),
                                            "key": None if key == "all" else key,
                                            "force": bool(_int(request, "force"))})
        return CliResult(op_errstr=str(data.get("message") or ""))

    def _clear_locks(self, request: CliRequest) -> CliResult:
        """`volume clear-locks VOL PATH kind KIND TYPE [ARGS]`: the summary in
        ``lk-summary`` (the CLI prints it after "Volume clear-locks successful")."""
        data = self._route("volume/clear-locks", {
            "name": _text(request, "volname"), "path": _text(request, "path"),
            "kind": _text(request, "kind"), "type": _text(request, "type"),
            "args": _text(request, "opts", None)})
        echo: Pairs = [(k, value_text(v)) for k, v in request.dict.items()]
        return CliResult(dict=glusterd_dict([*echo, ("lk-summary", data["summary"])]))

    def _get_state(self, request: CliRequest) -> CliResult:
        """`get-state [glusterd] [odir DIR] [file NAME] [detail|volumeoptions]`: the reply is
        the request with ``ofilepath`` added (the CLI prints "glusterd state dumped to
        PATH")."""
        echo: Pairs = [(k, value_text(v)) for k, v in request.dict.items()]
        try:
            path = self._route("get-state", {"odir": _text(request, "odir", None),
                                             "filename": _text(request, "filename", None),
                                             "kind": _int(request, "getstate-cmd")})["path"]
        except _Reply as reply:
            return CliResult(-1, 0, reply.result.op_errstr, glusterd_dict(echo))
        return CliResult(dict=glusterd_dict([*echo, ("ofilepath", path)]))

    def _heal_volume(self, request: CliRequest) -> CliResult:
        """`volume heal VOL [full|statistics...|enable|disable]` (never `info`: the CLI
        runs glfsheal for that). The reply is the op context: the request, each brick's
        ``N-hostname``/``N-path``, ``count``, then the self-heal daemons' answers."""
        name = _text(request, "volname")
        params: dict[str, Any] = {"name": name, "op": _int(request, "heal-op")}
        if "per-replica-cmd-hostname" in request.dict:
            params["replica"] = (f"{_text(request, 'per-replica-cmd-hostname')}:"
                                 f"{_text(request, 'per-replica-cmd-path')}")
        data = self._route("volume/heal", params)
        pairs: Pairs = [(k, value_text(v)) for k, v in request.dict.items()]
        for i, brick in enumerate(data["bricks"]):
            pairs += [(f"{i}-hostname", brick["hostname"]), (f"{i}-path", brick["path"])]
        if data["bricks"]:
            pairs.append(("count", len(data["bricks"])))
        pairs += [(key, value) for key, value in data["output"]]
        return CliResult(dict=glusterd_dict(pairs))

    def _quota(self, request: CliRequest) -> CliResult:
        """`volume quota VOL ...`: glusterd's part only. For `list` that is its checks, the
        default soft limit and (with paths) the list mount: the stock CLI then reads
        quota.conf and asks quotad, or reads the mount, itself. The reply dict is the request
        (plus ``default-soft-limit``); every failure has op_errno EG_INTRNL, a missing path
        op_ret -ENOENT."""
        count = _int(request, "count")
        params: dict[str, Any] = {
            "name": _text(request, "volname"), "op": _int(request, "type"), "read": False,
            "path": _text(request, "path", None), "hard_limit": _text(request, "hard-limit", None),
            "soft_limit": _text(request, "soft-limit", None), "value": _text(request, "value", None),
            "paths": [_text(request, f"path{i}") for i in range(count)]}
        echoed: Pairs = [(k, value_text(v)) for k, v in request.dict.items()]
        try:
            data = self._route("volume/quota", params)
        except _Reply as reply:
            message = reply.result.op_errstr
            op_ret = -errno.ENOENT if message.startswith(GFID_MISSING) else -1
            return CliResult(op_ret, EG_INTRNL, message, glusterd_dict(echoed))
        if data["op"] in LISTS:
            echoed.insert(0, ("default-soft-limit", data["default_soft_limit"]))
        return CliResult(dict=glusterd_dict(echoed))

    def _profile_volume(self, request: CliRequest) -> CliResult:
        """`volume profile ...` and `volume top ...` (both PROFILE_VOLUME): the reply is the
        request with the bricks' io-stats answers (``count``, ``N-brick``, ``N-...``); a
        failure too carries the request and ``count`` 0 (the --xml output prints them)."""
        pairs: Pairs = [(k, value_text(v)) for k, v in request.dict.items()]
        try:
            data = self._route("volume/profile", profile_params(request))
        except _Reply as reply:
            return attrs.evolve(reply.result, op_errno=EG_INTRNL,
                                dict=glusterd_dict([*pairs, ("count", 0)]))
        return CliResult(dict=glusterd_dict([*pairs, *((k, v) for k, v in data["output"])]))

    # -- bricks and data migration --------------------------------------------------------------

    def _add_brick(self, request: CliRequest) -> CliResult:
        name = _text(request, "volname")
        replica = _int(request, "replica-count")
        arbiter = _int(request, "arbiter-count")
        data = self._route("volume/add-brick", {
            "name": name, "bricks": _text(request, "bricks").split(),
            "replica": replica or None, "arbiter": arbiter or None,
            "force": bool(_int(request, "force"))})
        return CliResult(dict=glusterd_dict([("volname", name),
                                             ("vol-id", data["volume"].get("uuid") or "")]))

    def _replace_brick(self, request: CliRequest) -> CliResult:
        operation = _text(request, "operation")
        if operation != REPLACE_COMMIT_FORCE:  # the CLI sends nothing else since 3.7
            return CliResult.failed(f"replace-brick {operation} is not supported, only commit force")
        name = _text(request, "volname")
        data = self._route("volume/replace-brick", {"name": name, "old": _text(request, "src-brick"),
                                                    "new": _text(request, "dst-brick")})
        return CliResult(dict=glusterd_dict([("volname", name),
                                             ("vol-id", data["volume"].get("uuid") or "")]))

    def _reset_brick(self, request: CliRequest) -> CliResult:
        """`reset-brick VOL SRC start | SRC DST commit [force]`: the reply is the request
        with the volume's id (the CLI prints its own success words)."""
        operation = _text(request, "operation")
        op = RESET_OPERATIONS.get(operation)
        if op is None:
            return CliResult.failed(f"reset-brick {operation} is not supported", errno.EINVAL)
        data = self._route("volume/reset-brick", {
            "name": _text(request, "volname"), "source": _text(request, "src-brick"), "op": op,
            "destination": _text(request, "dst-brick", None)})
        return CliResult(dict=glusterd_dict([*((k, value_text(v)) for k, v in request.dict.items()),
                                             ("vol-id", data["volume"].get("uuid") or "")]))

    def _log_rotate(self, request: CliRequest) -> CliResult:
        """`volume log VOL rotate [BRICK]`: the request, its ``rotate-key``, the volume's id."""
        name = _text(request, "volname")
        data = self._route("volume/log-rotate", {"name": name, "brick": _text(request, "brick", None)})
        return CliResult(dict=glusterd_dict([*((k, value_text(v)) for k, v in request.dict.items()),
                                             ("rotate-key", int(data["rotate_key"]))]))

    def _remove_brick(self, request: CliRequest) -> CliResult:
        """start, commit and force (status and stop come as DEFRAG_VOLUME): a started or
        committed task answers its id, which the CLI prints."""
        name = _text(request, "volname")
        try:
            action = RemoveBrickCommand(_int(request, "command")).action
        except ValueError:
            return CliResult.failed(f"Unknown remove-brick command {_int(request, 'command')}",
                                    errno.EINVAL)
        bricks = _bricks(request)
        # glusterd answers a commit (or force) with the id of the task it ends, if any
        task_id = self._task_id(name) if action in ("commit", "force") else None
        data = self._route("volume/remove-brick", {
            "name": name, "bricks": bricks, "action": action,
            "replica": _int(request, "replica-count") or None})
        task_id = data.get("task_id") or task_id
        return CliResult(dict=glusterd_dict([
            ("volname", name), ("vol-id", data["volume"].get("uuid") or ""),
            *([("remove-brick-id", task_id)] if task_id else [])]))

    def _task_id(self, name: str) -> str | None:
        """The id of the volume's task, if any: what remove-brick commit and force answer."""
        try:
            volumes = self._route("volume/info", {"name": name})["volumes"]
        except _Reply:
            return None  # the command itself then says why
        task = volumes[0].get("task") if volumes else None
        return task.get("id") if isinstance(task, dict) else None

    def _defrag_volume(self, request: CliRequest) -> CliResult:
        """`rebalance VOL [fix-layout] start [force] | stop | status`, and `remove-brick ...
        stop | status` (``command`` 3 or 4 with the bricks)."""
        name = _text(request, "volname")
        try:
            command = DefragCommand(_int(request, "rebalance-command"))
        except ValueError:
            return CliResult.failed(
                f"Unknown rebalance command {_int(request, 'rebalance-command')}", errno.EINVAL)
        remove_brick = _int(request, "command") in (RemoveBrickCommand.STOP, RemoveBrickCommand.STATUS)
        if command in (DefragCommand.STATUS, DefragCommand.STOP):
            action = "status" if command is DefragCommand.STATUS else "stop"
            if remove_brick:
                data = self._route("volume/remove-brick", {"name": name, "bricks": _bricks(request),
                                                           "action": action})
            else:
                data = self._route("volume/rebalance", {"name": name, "action": action})
            id_key = "remove-brick-id" if remove_brick else "rebalance-id"
            return CliResult(dict=glusterd_dict(migration_pairs(data, id_key)))
        data = self._route("volume/rebalance", {
            "name": name, "action": "start", "fix_layout": command is DefragCommand.START_LAYOUT_FIX,
            "force": command is DefragCommand.START_FORCE})
        return CliResult(dict=glusterd_dict([
            ("volname", name), ("rebalance-command", int(command)),
            ("vol-id", data["volume"].get("uuid") or ""), ("rebalance-id", data["task_id"])]))

    # -- the mgmt procedures of the same socket (DUMP, GETSPEC, PORTMAP) -------------------

    async def getspec(self, volfile_id: str, peer: PeerInfo) -> bytes | VolfileReply | None:
        return await self.daemon.mgmt_backend.getspec(volfile_id, peer)

    async def signin(self, brick: str, port: int, pid: int, peer: PeerInfo) -> None:
        await self.daemon.mgmt_backend.signin(brick, port, pid, peer)

    async def signout(self, brick: str, port: int, peer: PeerInfo) -> None:
        await self.daemon.mgmt_backend.signout(brick, port, peer)

    async def port_by_brick(self, brick: str) -> int | None:
        return await self.daemon.mgmt_backend.port_by_brick(brick)

    async def connection_closed(self, conn_id: int) -> None:
        """Connection ids are per listener: the 24007 backend's signed-in bricks are not
        ours to drop (a brick signs in on 24007)."""

    async def volume_id(self, name: str) -> str | None:
        return await self.daemon.mgmt_backend.volume_id(name)


# -- glusterd's dicts, from the REST data ------------------------------------------------------

def _text(request: CliRequest, key: str, default: Any = ...) -> Any:
    raw = request.dict.get(key)
    if raw is None:
        if default is ...:
            raise _Reply(CliResult.failed(f"Unable to get {key} from the request", errno.EINVAL))
        return default
    return value_text(raw)


def _int(request: CliRequest, key: str) -> int:
    raw = request.dict.get(key)
    try:
        return int(value_text(raw)) if raw is not None else 0
    except ValueError:
        raise _Reply(CliResult.failed(f"Unable to get {key} from the request",
                                      errno.EINVAL)) from None


def _bricks(request: CliRequest) -> list[str]:
    """``brick1``... of remove-brick (``count`` is absent in its status and stop)."""
    bricks = []
    while f"brick{len(bricks) + 1}" in request.dict:
        bricks.append(_text(request, f"brick{len(bricks) + 1}"))
    return bricks


def migration_pairs(data: dict[str, Any], id_key: str) -> Pairs:
    """What glusterd's status (and stop) of a rebalance or remove-brick answers
    (glusterd_defrag_volume_status_update / _add_rebalance_status): one numbered group of
    counters per node, the task's id, the node count."""
    pairs: Pairs = []
    nodes = list(data.get("nodes") or [])
    for i, node in enumerate(nodes, 1):
        pairs += [(f"node-uuid-{i}", node["node_uuid"]), (f"files-{i}", int(node["files"])),
                  (f"size-{i}", int(node["size"])), (f"lookups-{i}", int(node["lookups"])),
                  (f"status-{i}", int(node["status"])), (f"failures-{i}", int(node["failures"])),
                  (f"skipped-{i}", int(node["skipped"])),
                  (f"run-time-{i}", f"{float(node['run_time']):f}"),
                  (f"time-left-{i}", int(node.get("time_left") or 0))]
        if i == 1 and data.get("task_id"):
            pairs.append((id_key, data["task_id"]))
        pairs.append((f"node-name-{i}", node["hostname"]))
    if not nodes and data.get("task_id"):
        pairs.append((id_key, data["task_id"]))
    pairs += [("count", len(nodes)), ("volname", data.get("volume") or "")]
    return pairs


def friend_pairs(index: int, peer: dict[str, Any], local: bool, node_uuid: str) -> Pairs:
    """``gd_add_peer_detail_to_dict`` (the local node of `pool list`: uuid, localhost, 1)."""
    prefix = f"friend{index}"
    if local:
        return [(f"{prefix}.uuid", node_uuid), (f"{prefix}.hostname", "localhost"),
                (f"{prefix}.connected", 1)]
    state_id, state = peer_state(peer.get("state"))
    hostnames = list(peer.get("hostnames") or [peer["uuid"]])
    pairs: Pairs = [(f"{prefix}.uuid", peer["uuid"]), (f"{prefix}.hostname", hostnames[0]),
                    (f"{prefix}.port", _GLUSTERD_PORT), (f"{prefix}.stateId", state_id or 0),
                    (f"{prefix}.state", state), (f"{prefix}.connected", int(bool(peer.get("connected"))))]
    pairs += [(f"{prefix}.hostname{i}", h) for i, h in enumerate(hostnames)]
    pairs.append((f"{prefix}.hostname_count", len(hostnames)))
    return pairs


def volume_pairs(index: int, volume: dict[str, Any]) -> Pairs:
    """``glusterd_add_volume_detail_to_dict``: ``dist_count`` is glusterd's dist_leaf_count
    (bricks per subvolume) and ``type`` the base type: the CLI derives the rest."""
    facts = VolumeFacts(volume)
    p = f"volume{index}"
    pairs: Pairs = [
        (f"{p}.name", facts.name), (f"{p}.type", facts.base_type),
        (f"{p}.status", facts.status_code), (f"{p}.brick_count", facts.brick_count),
        (f"{p}.dist_count", facts.subvolume_size), (f"{p}.replica_count", facts.replica_count),
        (f"{p}.disperse_count", facts.disperse_count),
        (f"{p}.redundancy_count", facts.redundancy_count),
        (f"{p}.arbiter_count", facts.arbiter_count), (f"{p}.transport", facts.transport_code),
        (f"{p}.thin_arbiter_count", 0), (f"{p}.volume_id", facts.uuid),
        (f"{p}.rebalance", 0), (f"{p}.snap_count", facts.snap_count),
    ]
    for i, brick in enumerate(facts.bricks, 1):
        pairs += [(f"{p}.brick{i}", facts.brick_name(brick)),
                  (f"{p}.brick{i}.uuid", brick.get("host_uuid") or "")]
    pairs += [(f"{p}.brick{i + 1}.isArbiter", 1)
              for i in range(facts.brick_count) if facts.is_arbiter(i)]
    pairs += [(f"{p}.option.{k}", str(v)) for k, v in facts.options]
    pairs.append((f"{p}.opt_count", len(facts.options)))
    return pairs


def _brick_port(entry: dict[str, Any]) -> int:
    return int(entry.get("port") or 0) if entry.get("online") else 0


#: the daemon `status VOL nfs|shd|quotad` names, by its bit
_STATUS_DAEMONS = {StatusFlag.NFS: StatusDaemon.NFS, StatusFlag.SHD: StatusDaemon.SHD,
                   StatusFlag.QUOTAD: StatusDaemon.QUOTAD}


def status_pairs(volume: dict[str, Any], cmd: StatusFlag) -> Pairs:
    """The op context glusterd's status commit leaves (``glusterd_add_brick_to_dict``,
    ``glusterd_add_node_to_dict``, ``glusterd_aggr_brick_mount_dirs``' tasks): bricks, then
    the self-heal daemons as "other" nodes, then the tasks (a whole volume's status only)."""
    detail = bool(cmd & StatusFlag.DETAIL)
    pairs: Pairs = [("volname", volume["name"]), ("cmd", int(cmd))]
    bricks = list(volume.get("bricks") or [])
    for i, brick in enumerate(bricks):
        b = f"brick{i}"
        pairs += [(f"{b}.hostname", brick["hostname"]), (f"{b}.path", brick["path"]),
                  (f"{b}.peerid", brick.get("host_uuid") or ""), (f"{b}.port", _brick_port(brick)),
                  (f"{b}.rdma_port", int(brick.get("rdma_port") or 0)),
                  (f"{b}.pid", int(brick["pid"]) if brick.get("pid") else -1),
                  (f"{b}.status", int(bool(brick.get("online"))))]
        if detail:
            pairs += list(_detail_pairs(b, brick))
    named = cmd & (StatusFlag.SHD | StatusFlag.QUOTAD)
    dump = next((k for k in BrickDump if k == cmd & StatusFlag.MASK), None)
    others = list(volume.get("self_heal") or []) \
        if named or not cmd & (StatusFlag.MASK | StatusFlag.BRICK) else []
    for j, shd in enumerate(others, len(bricks)):
        b = f"brick{j}"
        pairs += [(f"{b}.hostname", shd.get("name") or "Self-heal Daemon"),
                  (f"{b}.path", shd["hostname"])]
        if not (named and dump):  # glusterd names the daemon it asked by uuid, no peerid
            pairs.append((f"{b}.peerid", shd.get("host_uuid") or ""))
        pairs += [(f"{b}.port", 0), (f"{b}.pid", int(shd["pid"]) if shd.get("pid") else -1),
                  (f"{b}.status", int(bool(shd.get("online"))))]
    tasks = list(volume.get("tasks") or [])
    for t, task in enumerate(tasks):
        pairs += [(f"task{t}.type", task["type"]), (f"task{t}.id", task["id"]),
                  (f"task{t}.status", int(task.get("status_code") or 0))]
        if task.get("bricks"):
            pairs += [(f"task{t}.brick{k}", b) for k, b in enumerate(task["bricks"], 1)]
            pairs.append((f"task{t}.count", len(task["bricks"])))
    if dump is None and not cmd & (StatusFlag.BRICK | StatusFlag.DAEMONS):
        pairs.append(("tasks", len(tasks)))
    pairs += [("type", -1),  # glusterd 10.3 sends -1 (no tier)
              ("brick-index-max", len(bricks) - 1), ("other-count", len(others))]
    if dump is None:
        pairs.append(("count", len(bricks) + len(others)))
    elif dump is BrickDump.CLIENT_LIST:  # the bricks' clients counted by process
        pairs += [(key, value) for key, value in volume.get("client_list") or []]
        pairs.append(("count", volume["node_count"]))
    else:  # what each brick (or the daemon asked) said of itself
        answers = {i: answer_pairs(b["dump"]) for i, b in enumerate([*bricks, *others])
                   if "dump" in b}
        pairs += brick_pairs(answers)
        pairs.append(("count", volume["node_count"]))
    pairs.append(("hot_brick_count", -1))
    return pairs


#: ``glusterd_add_brick_detail_to_dict``'s keys in its order (the REST field of each)
_DETAIL_KEYS = (("block_size", "block_size"), ("free", "size_free"), ("total", "size_total"),
                ("total_inodes", "inodes_total"), ("free_inodes", "inodes_free"),
                ("device", "device"), ("fs_name", "fs_name"), ("mnt_options", "mnt_options"),
                ("inode_size", "inode_size"))


def _detail_pairs(prefix: str, brick: dict[str, Any]) -> Iterator[tuple[str, DictValue]]:
    for key, field in _DETAIL_KEYS:
        if brick.get(field) not in (None, ""):
            yield f"{prefix}.{key}", brick[field]
