"""``--xml`` outputs: the schema of ``gluster --xml`` (cliOutput, opRet, opErrno, opErrstr,
then volInfo / volStatus / volList / peerStatus / volCreate / volGetopts / cliOp+output...).

Serialization copies libxml2's pretty-printing as glusterd's CLI uses it: two-space indent,
``<empty/>`` elements, and elements mixing text and children (``<brick>``) written inline.

Exit codes follow the gluster CLI in XML mode: 0 once the XML is written, even when opRet is
-1 (scripts read opRet), except ``volume get`` which exits 1 on failure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from gluster_mgmt.cli import render_brick_dump
from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.command_words import Request
from gluster_mgmt.cli.xml_tree import E, cli_output, serialize
from gluster_mgmt.rules import EG_INTRNL, SYNC_FROM_LOCALHOST
from gluster_mgmt.cli.view import (
    Outcome,
    VolumeFacts,
    option_value,
    peer_state,
    pool_order,
    task_label,
    task_status_name,
)

def _doc(response: Response, *body: E, op_errstr: str | None = None, code: int = 0) -> Outcome:
    return Outcome(out=serialize(cli_output(response, *body, op_errstr=op_errstr)), code=code)


def _str_output(response: Response, op: str | None, message: str | None,
                op_errstr: str | None = None, code: int = 0) -> Outcome:
    """gluster's cli_xml_output_str: the common elements, then cliOp and output."""
    body = []
    if op:
        body.append(E("cliOp", op))
    if message:
        body.append(E("output", message))
    return _doc(response, *body, op_errstr=op_errstr, code=code)


# -- volume info / list -----------------------------------------------------------------------

def volume_element(volume: dict[str, Any]) -> E:
    facts = VolumeFacts(volume)
    bricks = E("bricks")
    for index, brick in enumerate(facts.bricks):
        name = facts.brick_name(brick)
        host_uuid = brick.get("host_uuid", "")
        bricks.add(E("brick", name, attrs={"uuid": host_uuid}, children=[
            E("name", name), E("hostUuid", host_uuid),
            E("isArbiter", 1 if facts.is_arbiter(index) else 0)]))
    options = E("options", children=[
        E("option", children=[E("name", key), E("value", value)])
        for key, value in facts.options])
    return E("volume", children=[
        E("name", facts.name), E("id", facts.uuid), E("status", facts.status_code),
        E("statusStr", facts.status_name), E("snapshotCount", facts.snap_count),
        E("brickCount", facts.brick_count), E("distCount", facts.dist_count),
        E("replicaCount", facts.replica_count), E("arbiterCount", facts.arbiter_count),
        E("disperseCount", facts.disperse_count), E("redundancyCount", facts.redundancy_count),
        E("type", facts.type_code), E("typeStr", facts.type_name),
        E("transport", facts.transport_code), bricks,
        E("optCount", len(facts.options)), options])


def volume_info(request: Request, response: Response) -> Outcome:
    volumes = response.data.get("volumes") or [] if response.ok else []
    listing = E("volumes", children=[volume_element(v) for v in volumes])
    listing.add(E("count", len(volumes)))
    return _doc(response, E("volInfo", children=[listing]))


def volume_list(request: Request, response: Response) -> Outcome:
    names = response.data.get("volumes") or [] if response.ok else []
    return _doc(response, E("volList", children=[E("count", len(names))]
                            + [E("volume", n) for n in names]))


# -- volume status ----------------------------------------------------------------------------

def _node(hostname: str, path: str, peerid: str, online: bool, port: Any, rdma_port: Any,
          pid: Any) -> E:
    tcp = str(port) if online and port else "N/A"
    rdma = str(rdma_port) if online and (port or rdma_port) and rdma_port else "N/A"
    return E("node", children=[
        E("hostname", hostname), E("path", path), E("peerid", peerid),
        E("status", 1 if online else 0), E("port", tcp),
        E("ports", children=[E("tcp", tcp), E("rdma", rdma)]),
        E("pid", -1 if pid is None else pid)])


_DETAIL_FIELDS = (("sizeTotal", "size_total"), ("sizeFree", "size_free"), ("device", "device"),
                  ("blockSize", "block_size"), ("mntOptions", "mnt_options"),
                  ("fsName", "fs_name"), ("inodeSize", "inode_size"),
                  ("inodesTotal", "inodes_total"), ("inodesFree", "inodes_free"))


def _status_tasks(volume: dict[str, Any]) -> E:
    """cli_xml_output_vol_status_tasks: a remove-brick task ends with its <params> bricks."""
    tasks = E("tasks")
    for task in volume.get("tasks") or []:
        element = E("task", children=[E("type", task.get("type", "")),
                                      E("id", task.get("id", "")),
                                      E("status", task.get("status_code", 0)),
                                      E("statusStr", task_label(task))])
        if task.get("type") == "Remove brick":
            element.add(E("params", children=[E("brick", b) for b in task.get("bricks") or []]))
        tasks.add(element)
    return tasks


def _elements(spec: list[tuple[str, Any]]) -> list[E]:
    """(tag, text or nested spec) pairs as elements."""
    return [E(tag, children=_elements(value)) if isinstance(value, list) else E(tag, value)
            for tag, value in spec]


def _dump_element(element: E, volume: dict[str, Any]) -> tuple[E, bool]:
    """A brick dump's volume: glusterd's count, each node with what it said of itself
    (no tasks), and whether the CLI wrote it all (see ``render_brick_dump.xml_children``).
    The daemon glusterd asks for `status VOL shd|quotad WHAT` has no peerid in its dict:
    the CLI's node stops after its name and path, and the document with it."""
    element.add(E("nodeCount", volume["node_count"]))
    for daemon in volume.get("self_heal") or []:  # the one asked (no bricks then)
        element.add(E("node", children=[E("hostname", daemon["name"]),
                                        E("path", daemon["hostname"])]))
        return element, False
    for brick in volume.get("bricks") or []:
        node = _node(brick["hostname"], brick["path"], brick.get("host_uuid", ""),
                     bool(brick.get("online")), brick.get("port"), brick.get("rdma_port"),
                     brick.get("pid"))
        spec, complete = render_brick_dump.xml_children(brick, volume["dump"])
        element.add(node.add(*_elements(spec)))
        if not complete:
            return element, False
    return element, True


def status_volume_element(volume: dict[str, Any], detail: bool, tasks_only: bool = False,
                          whole: bool = True) -> tuple[E, bool]:
    """One volume's <volume>, and whether the CLI's document goes on after it (False: a
    dump it could not write to the end). ``whole``: no tasks for one brick or daemon."""
    element = E("volume", children=[E("volName", volume["name"])])
    if tasks_only:
        return element.add(_status_tasks(volume)), True
    if volume.get("dump"):
        return _dump_element(element, volume)
    nodes = []
    for brick in volume.get("bricks") or []:
        node = _node(brick["hostname"], brick["path"], brick.get("host_uuid", ""),
                     bool(brick.get("online")), brick.get("port"), brick.get("rdma_port"),
                     brick.get("pid"))
        if detail:
            node.add(*(E(tag, brick[key]) for tag, key in _DETAIL_FIELDS
                       if brick.get(key) is not None))
        nodes.append(node)
    if not detail:
        nodes += [_node(shd.get("name") or "Self-heal Daemon", shd["hostname"],
                        shd.get("host_uuid", ""),
                        bool(shd.get("online")), None, None, shd.get("pid"))
                  for shd in volume.get("self_heal") or []]
    element.add(E("nodeCount", len(nodes)), *nodes)
    if not detail and whole:
        element.add(_status_tasks(volume))
    return element, True


def volume_status(request: Request, response: Response) -> Outcome:
    detail = bool(request.params.get("detail"))
    tasks_only = request.context.get("op") == "tasks"
    if not response.ok:
        message = response.op_errstr or "Unable to obtain volume status information."
        return _str_output(response, "volStatus", message)
    volumes = response.data.get("volumes") or []
    if not request.context.get("all") and (not volumes or volumes[0].get("not_started")):
        message = (f"Volume {volumes[0]['name']} is not started" if volumes
                   else f"Volume {request.params['name']} does not exist")
        failed = Response(-1, response.op_errno, message, {})
        return _str_output(failed, "volStatus", message)
    whole = not (request.params.get("brick") or request.params.get("daemon"))
    listing = E("volumes")
    for volume in volumes:
        if volume.get("not_started"):
            continue
        element, complete = status_volume_element(volume, detail, tasks_only, whole)
        listing.add(element)
        if not complete:
            break
    errstr = (volumes[0].get("op_errstr") or None) if volumes else None  # a daemon's refusal
    return _doc(response, E("volStatus", children=[listing]), op_errstr=errstr)


# -- volume operations ------------------------------------------------------------------------

def _volume_id(response: Response) -> str | None:
    volume = response.data.get("volume") or {}
    return volume.get("uuid") or volume.get("id") or response.data.get("id")


def volume_create(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _doc(response)
    return _doc(response, E("volCreate", children=[E("volume", children=[
        E("name", request.params["name"]), E("id", _volume_id(response) or "")])]))


def _generic(op: str) -> Callable[[Request, Response], Outcome]:
    def render(request: Request, response: Response) -> Outcome:
        if not response.ok:
            return _doc(response)
        volume = E("volume", children=[E("name", request.params["name"])])
        volume_id = _volume_id(response)
        if volume_id:
            volume.add(E("id", volume_id))
        return _doc(response, E(op, children=[volume]))
    return render


def volume_set(request: Request, response: Response) -> Outcome:
    message = "Set volume successful" if response.ok else "Set volume unsuccessful"
    return _str_output(response, "volSet", message)


def volume_reset(request: Request, response: Response) -> Outcome:
    message = response.op_errstr or response.data.get("message") or (
        "reset volume successful" if response.ok else "reset volume unsuccessful")
    return _str_output(response, "volReset", message)


def volume_add_brick(request: Request, response: Response) -> Outcome:
    if not response.ok and response.op_errstr:
        message = response.op_errstr
    else:
        message = "Add Brick successful" if response.ok else "Add Brick unsuccessful"
    return _str_output(response, "volAddBrick", message)


#: The CLI's precedence for the aggregate status: in progress > failed > stopped >
#: completed > not started (lower wins). glusterd's table stops at "failed" and reads past
#: it for the fix-layout codes; here they rank like their plain counterparts, and anything
#: else (the reset-by-replace/reset-brick codes) ranks last.
_AGGREGATE_RANK = {1: 1, 4: 2, 2: 3, 3: 4, 0: 5, 5: 1, 8: 2, 6: 3, 7: 4}


def rebalance_status_elements(nodes: list[dict[str, Any]],
                              remove_brick: bool = False) -> list[E]:
    """cli_xml_output_vol_rebalance_status: nodeCount counts every node, nodes that never
    started get no <node>; for a remove-brick skipped files count as failures."""
    elements = [E("nodeCount", len(nodes))]
    totals = {"files": 0, "size": 0, "lookups": 0, "failures": 0, "skipped": 0}
    overall = -1
    status = 0
    overall_elapsed = 0.0
    for node in nodes:
        status = int(node.get("status") or 0)
        if status == 0:  # GF_DEFRAG_STATUS_NOT_STARTED
            continue
        failures = int(node.get("failures") or 0)
        skipped = int(node.get("skipped") or 0)
        if remove_brick:
            failures, skipped = failures + skipped, 0
        counts = {"files": int(node.get("files") or 0), "size": int(node.get("size") or 0),
                  "lookups": int(node.get("lookups") or 0), "failures": failures,
                  "skipped": skipped}
        for key, value in counts.items():
            totals[key] += value
        elapsed = float(node.get("run_time") or 0)
        overall_elapsed = max(overall_elapsed, elapsed)
        elements.append(E("node", children=[
            E("nodeName", node.get("hostname", "")), E("id", node.get("node_uuid", "")),
            *(E(key, value) for key, value in counts.items()),
            E("status", status), E("statusStr", task_status_name(status)),
            E("runtime", f"{elapsed:.2f}")]))
        if overall == -1:
            overall = status
        if _AGGREGATE_RANK.get(status, 6) <= _AGGREGATE_RANK.get(overall, 6):
            overall = status
    if overall == -1:
        overall = status  # no node started: the last status read (0 when there is none)
    elements.append(E("aggregate", children=[
        *(E(key, value) for key, value in totals.items()),
        E("status", overall), E("statusStr", task_status_name(overall)),
        E("runtime", f"{overall_elapsed:.2f}")]))
    return elements


def volume_remove_brick(request: Request, response: Response) -> Outcome:
    action = request.params["action"]
    if action in ("status", "stop"):
        # gf_cli3_remove_brick_status_cbk: on failure glusterd's dict is never read, so the
        # element stays empty; on success opErrstr is glusterd's (normally empty)
        if not response.ok:
            message = response.op_errstr or f"volume remove-brick {action}: failed"
            return _doc(response, E("volRemoveBrick"), op_errstr=message)
        element = E("volRemoveBrick")
        if response.data.get("task_id"):
            element.add(E("task-id", response.data["task_id"]))
        element.add(*rebalance_status_elements(list(response.data.get("nodes") or []),
                                               remove_brick=True))
        return _doc(response, element)
    word = {"start": "start", "commit": "commit", "force": "commit force"}.get(action, action)
    if not response.ok and response.op_errstr:
        message = response.op_errstr
    else:
        message = f"Remove Brick {word} {'successful' if response.ok else 'unsuccessful'}"
    element = E("volRemoveBrick")
    if response.data.get("task_id"):
        element.add(E("task-id", response.data["task_id"]))
    return _doc(response, element, op_errstr=message)


#: gf_cli_defrag_type, what <op> reports: the command as the CLI sent it.
_DEFRAG_START, _DEFRAG_STOP, _DEFRAG_STATUS, _DEFRAG_START_LAYOUT_FIX, _DEFRAG_START_FORCE = (
    1, 2, 3, 4, 5)


def volume_rebalance(request: Request, response: Response) -> Outcome:
    """gf_cli_defrag_volume_cbk in XML mode. A failed stop/status never reaches the
    volRebalance writer: it is cli_xml_output_str's cliOp/output document, and the exit code
    is then op_ret's (1); every other reply is volRebalance (task-id when glusterd sent one,
    op, and for stop/status the per-node table), exit 0."""
    params = request.params
    action = params["action"]
    if action in ("stop", "status") and not response.ok:
        default = (f"rebalance volume {params['name']} stop failed" if action == "stop"
                   else "Failed to get the status of rebalance process")
        return _str_output(response, "volRebalance", response.op_errstr or default, code=1)
    if action == "stop":
        op = _DEFRAG_STOP
    elif action == "status":
        op = _DEFRAG_STATUS
    elif params.get("fix_layout"):
        op = _DEFRAG_START_LAYOUT_FIX
    elif params.get("force"):
        op = _DEFRAG_START_FORCE
    else:
        op = _DEFRAG_START
    element = E("volRebalance")
    if response.data.get("task_id"):
        element.add(E("task-id", response.data["task_id"]))
    element.add(E("op", op))
    if action in ("stop", "status"):
        element.add(*rebalance_status_elements(list(response.data.get("nodes") or [])))
    return _doc(response, element)


def volume_replace_brick(request: Request, response: Response) -> Outcome:
    message = response.op_errstr if (not response.ok and response.op_errstr) else (
        "replace-brick commit force operation successful" if response.ok
        else "replace-brick commit force operation failed")
    return _doc(response, op_errstr=message)


def volume_reset_brick(request: Request, response: Response) -> Outcome:
    """No cliOp: the stock CLI's own success words in opErrstr, else glusterd's error."""
    op = request.context["op"].replace("-", " ")
    message = f"reset-brick {op} operation successful" if response.ok else (
        response.op_errstr or f"reset-brick {op} operation failed")
    return _doc(response, op_errstr=message)


def volume_log_rotate(request: Request, response: Response) -> Outcome:
    message = "log rotate successful" if response.ok else response.op_errstr
    return _str_output(response, "volLogRotate", message)


def volume_sync(request: Request, response: Response) -> Outcome:
    """cli_xml_output_str("volSync", the text's own message); op_errno as glusterd's (0 for
    its handler's refusal, EG_INTRNL for a failed transaction)."""
    from gluster_mgmt.cli.render_human import sync_message

    if not response.ok:
        errno_ = 0 if response.op_errstr == SYNC_FROM_LOCALHOST else EG_INTRNL
        response = Response(response.op_ret, errno_, response.op_errstr, response.data)
    return _str_output(response, "volSync", sync_message(response))


def volume_get(request: Request, response: Response) -> Outcome:
    if not response.ok:
        message = (f"volume get option: failed: {response.op_errstr}" if response.op_errstr
                   else "volume get option: failed")
        return _str_output(response, "volGetopts", message, code=1)
    options = response.data.get("options") or []
    element = E("volGetopts", children=[E("count", len(options))])
    element.add(*(E("Opt", children=[E("Option", entry[0]), E("Value", option_value(entry))])
                  for entry in options))
    return _doc(response, element)


# -- peers -----------------------------------------------------------------------------------

def peer_element(peer: dict[str, Any], local: bool = False) -> E:
    names = list(peer.get("hostnames") or [])
    element = E("peer", children=[E("uuid", peer["uuid"]), E("hostname", names[0] if names
                                                              else "")])
    if local:
        return element.add(E("connected", 1))
    if names:
        element.add(E("hostnames", children=[E("hostname", n) for n in names]))
    element.add(E("connected", 1 if peer.get("connected") else 0))
    state_id, state = peer_state(peer.get("state"))
    if state_id is not None:
        element.add(E("state", state_id))
    return element.add(E("stateStr", state))


def peer_status(request: Request, response: Response) -> Outcome:
    peers = response.data.get("peers") or [] if response.ok else []
    return _doc(response, E("peerStatus", children=[peer_element(p) for p in peers]))


def pool_list(request: Request, response: Response) -> Outcome:
    from gluster_mgmt.cli.view import is_local_peer

    peers = pool_order(response.data.get("peers") or []) if response.ok else []
    return _doc(response, E("peerStatus", children=[peer_element(p, is_local_peer(p))
                                                    for p in peers]))


def uuid_get(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _doc(response)
    return _doc(response, E("uuidGenerate", children=[E("uuid", response.data["uuid"])]))


def _peer_op(request: Request, response: Response) -> Outcome:
    message = response.op_errstr or response.data.get("message") or "success"
    if response.ok:
        return _str_output(response, None, message, op_errstr="")
    return _str_output(response, None, None, op_errstr=message)


# -- gluster_mgmt's own ------------------------------------------------------------------

def _txn_element(txn: dict[str, Any]) -> E:
    element = E("txn", children=[E(key, txn[key]) for key in
                                 ("id", "operation", "state", "coordinator", "started",
                                  "finished", "error") if txn.get(key) is not None])
    steps = txn.get("steps")
    if steps:
        element.add(E("steps", children=[
            E("step", children=[E("name", s.get("name", "")), E("state", s.get("state", "")),
                                E("targets", children=[E("target", t)
                                                       for t in s.get("targets") or []])]
              + ([E("error", s["error"])] if s.get("error") else []))
            for s in steps]))
    return element


def txn_list(request: Request, response: Response) -> Outcome:
    txns = response.data.get("transactions") or [] if response.ok else []
    return _doc(response, E("txnList", children=[E("count", len(txns))]
                            + [_txn_element(t) for t in txns]))


def txn_show(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _doc(response)
    return _doc(response, _txn_element(response.data.get("transaction") or {}))


def state_dir(request: Request, response: Response) -> Outcome:
    """``import`` and ``export``: what moved between the store and the glusterd directory."""
    if not response.ok:
        return _doc(response)
    data = response.data
    element = E(request.route, children=[E("volume", v) for v in data.get("volumes") or []]
                + [E("peer", p) for p in data.get("peers") or []])
    return _doc(response, element)


def _as_text(request: Request, response: Response) -> Outcome:
    """`volume heal`: the stock CLI has no XML for it (gf_cli_heal_volume_cbk prints its
    text; glfsheal writes its own --xml)."""
    from gluster_mgmt.cli import render_human

    return render_human.RENDERERS[request.route](request, response)


def volume_quota(request: Request, response: Response) -> Outcome:
    from gluster_mgmt.cli import render_quota

    return render_quota.xml(request, response)


RENDERERS: dict[str, Callable[[Request, Response], Outcome]] = {
    "volume/quota": volume_quota,
    "volume/heal": _as_text,
    "volume/glfsheal": _as_text,
    "volume/info": volume_info,
    "volume/list": volume_list,
    "volume/status": volume_status,
    "volume/create": volume_create,
    "volume/start": _generic("volStart"),
    "volume/stop": _generic("volStop"),
    "volume/delete": _generic("volDelete"),
    "volume/set": volume_set,
    "volume/reset": volume_reset,
    "volume/get": volume_get,
    "volume/add-brick": volume_add_brick,
    "volume/remove-brick": volume_remove_brick,
    "volume/rebalance": volume_rebalance,
    "volume/replace-brick": volume_replace_brick,
    "volume/reset-brick": volume_reset_brick,
    "volume/log-rotate": volume_log_rotate,
    "volume/sync": volume_sync,
    "peer/probe": _peer_op,
    "peer/detach": _peer_op,
    "peer/status": peer_status,
    "pool/list": pool_list,
    "system/uuid-get": uuid_get,
    "get-state": _as_text,
    "volume/clear-locks": _as_text,
    "txn/list": txn_list,
    "txn/show": txn_show,
    "import": state_dir,
    "export": state_dir,
}


def render(request: Request, response: Response) -> Outcome:
    return RENDERERS[request.route](request, response)
