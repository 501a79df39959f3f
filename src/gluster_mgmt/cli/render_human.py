"""gluster's human-readable outputs, from the daemon's replies.

Formats follow glusterd 10.3's CLI exactly (see tests/data/glusterd-10.3/cli):
widths, the " " lines between sections, trailing spaces, and which lines go to stderr
(failures, "No volumes present", "Volume X is not started").
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from gluster_mgmt.cli import render_brick_dump
from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.command_words import Request
from gluster_mgmt.cli.view import (
    Outcome,
    VolumeFacts,
    human_size,
    option_value,
    peer_state,
    pool_order,
    task_label,
    task_status_name,
)

LINE = "-" * 78  # CLI_BRICK_STATUS_LINE_LEN
BRICK_FIELD = 43  # CLI_VOL_STATUS_BRICK_LEN


def _lines(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def _fail(prefix: str, response: Response) -> Outcome:
    text = f"{prefix}: failed: {response.op_errstr}" if response.op_errstr else f"{prefix}: failed"
    return Outcome(err=text + "\n", code=1)


# -- volume info / list ---------------------------------------------------------------------

def volume_info_text(volumes: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for volume in volumes:
        facts = VolumeFacts(volume)
        out += [" ", f"Volume Name: {facts.name}", f"Type: {facts.type_name}",
                f"Volume ID: {facts.uuid}", f"Status: {facts.status_name}",
                f"Snapshot Count: {facts.snap_count}",
                f"Number of Bricks: {facts.number_of_bricks()}",
                f"Transport-type: {facts.transport}", "Bricks:"]
        for index, brick in enumerate(facts.bricks):
            suffix = " (arbiter)" if facts.is_arbiter(index) else ""
            out.append(f"Brick{index + 1}: {facts.brick_name(brick)}{suffix}")
        if facts.options:
            out.append("Options Reconfigured:")
            out += [f"{key}: {value}" for key, value in facts.options]
    return _lines(*out)


def volume_info(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err=(response.op_errstr or "volume info: failed") + "\n", code=1)
    volumes = response.data.get("volumes") or []
    if not volumes:
        if request.context.get("all", True):
            return Outcome(err="No volumes present\n")
        return Outcome(err=f"Volume {request.params['name']} does not exist\n", code=1)
    return Outcome(out=volume_info_text(volumes))


def volume_list(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err=(response.op_errstr or "volume list: failed") + "\n", code=1)
    names = response.data.get("volumes") or []
    if not names:
        return Outcome(err="No volumes present in cluster\n")
    return Outcome(out=_lines(*names))


# -- volume status ----------------------------------------------------------------------------

def _brick_status_line(label: str, port: Any, rdma_port: Any, online: bool, pid: Any) -> str:
    """One row of the status table: the label wrapped at 43 columns, then the columns."""
    text = ""
    rest = label
    while len(rest) > BRICK_FIELD:
        text += rest[:BRICK_FIELD] + "\n"
        rest = rest[BRICK_FIELD:]
    text += rest + " " * (BRICK_FIELD - len(rest) + 1)
    pid_text = "N/A" if pid is None or pid == -1 else str(pid)
    flag = "Y" if online else "N"
    if (port or rdma_port) and online:
        text += f"{port or 0:<10}{rdma_port or 0:<11}{flag:<8}{pid_text:<5}"
    else:
        text += f"{'N/A':<10}{'N/A':<11}{flag:<8}{pid_text:<5}"
    return text


def _detail_lines(label: str, brick: dict[str, Any]) -> list[str]:
    online = bool(brick.get("online"))

    def field(name: str, value: Any) -> str:
        return f"{name:<20} : {value if value not in (None, '') else 'N/A'!s:<20}"

    pid = brick.get("pid")
    lines = [LINE, field("Brick", label)]
    if online:
        lines += [field("TCP Port", brick.get("port") or 0),
                  field("RDMA Port", brick.get("rdma_port") or 0)]
    else:
        lines += [field("TCP Port", "N/A"), field("RDMA Port", "N/A")]
    free, total = brick.get("size_free"), brick.get("size_total")
    lines += [
        field("Online", "Y" if online else "N"),
        field("Pid", "N/A" if pid is None or pid == -1 else pid),
        field("File System", brick.get("fs_name")),
        field("Device", brick.get("device")),
        field("Mount Options", brick.get("mnt_options")),
        field("Inode Size", brick.get("inode_size")),
        field("Disk Space Free", human_size(int(free)) if free is not None else None),
        field("Total Disk Space", human_size(int(total)) if total is not None else None),
        field("Inode Count", brick.get("inodes_total") or None),
        field("Free Inodes", brick.get("inodes_free") or None),
    ]
    return lines


_RESET_STATUSES = (9, 10)  # GF_DEFRAG_STATUS_RESET_DUE_{REPLACE,RESET}_BRC


def _tasks_lines(volume: dict[str, Any]) -> list[str]:
    """cli_print_volume_status_tasks: a remove-brick task lists its bricks before Status."""
    lines = [f"Task Status of Volume {volume['name']}", LINE]
    tasks = volume.get("tasks") or []
    if not tasks:
        return lines + ["There are no active volume tasks", " "]
    for task in tasks:
        kind = str(task.get("type", ""))
        task_id = task.get("id", "")
        if kind == "Rebalance" and task.get("status_code") in _RESET_STATUSES:
            task_id = "None"  # a rebalance reset by replace/reset-brick shows no id
        lines += [f"{'Task':<20} : {kind:<20}", f"{'ID':<20} : {task_id:<20}"]
        if kind == "Remove brick":
            lines.append(f"{'Removed bricks:':<20}")
            lines += [f"{b:<20}" for b in task.get("bricks") or []]
        lines += [f"{'Status':<20} : {task_label(task):<20}", " "]
    return lines


def volume_status_block(volume: dict[str, Any], detail: bool = False,
                        tasks_only: bool = False, err: list[str] | None = None,
                        whole: bool = True) -> list[str]:
    """The CLI's text for one volume; ``err`` gets what it writes to stderr, ``whole`` is
    False for one brick or daemon (no task section then)."""
    if tasks_only:
        return _tasks_lines(volume)
    if volume.get("dump"):  # what each brick said of itself
        return render_brick_dump.text_lines(volume, [] if err is None else err)
    lines = [f"Status of volume: {volume['name']}"]
    if not detail:
        lines += [f"{'Gluster process':<{BRICK_FIELD}} TCP Port  RDMA Port  Online  Pid", LINE]
    for brick in volume.get("bricks") or []:
        label = f"Brick {brick['hostname']}:{brick['path']}"
        if detail:
            lines += _detail_lines(label, brick)
        else:
            lines.append(_brick_status_line(label, brick.get("port"), brick.get("rdma_port"),
                                            bool(brick.get("online")), brick.get("pid")))
    if not detail:
        for shd in volume.get("self_heal") or []:
            name = shd.get("name") or "Self-heal Daemon"  # or "Quota Daemon"
            lines.append(_brick_status_line(f"{name} on {shd['hostname']}", 0, 0,
                                            bool(shd.get("online")), shd.get("pid")))
    lines.append(" ")
    if not detail and whole:
        lines += _tasks_lines(volume)
    return lines


def volume_status(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err=(response.op_errstr
                            or "Unable to obtain volume status information.") + "\n", code=1)
    volumes = response.data.get("volumes") or []
    detail = bool(request.params.get("detail"))
    tasks_only = request.context.get("op") == "tasks"
    err: list[str] = []
    if not request.context.get("all"):
        if not volumes:
            return Outcome(err=f"Volume {request.params['name']} does not exist\n", code=1)
        volume = volumes[0]
        if volume.get("not_started"):
            return Outcome(err=f"Volume {volume['name']} is not started\n", code=1)
        whole = not (request.params.get("brick") or request.params.get("daemon"))
        out = volume_status_block(volume, detail, tasks_only, err, whole)
        return Outcome(out=_lines(*out), err=_lines(*err) if err else "")
    if not volumes:
        return Outcome(err="No volumes present\n")
    out: list[str] = []
    for volume in volumes:
        if volume.get("not_started"):
            err.append(f"Volume {volume['name']} is not started")
            out.append(" ")  # what the gluster CLI prints for a failed volume of "all"
        else:
            out += volume_status_block(volume, detail, tasks_only, err)
    return Outcome(out=_lines(*out), err=_lines(*err))


# -- volume operations ------------------------------------------------------------------------

def volume_create(request: Request, response: Response) -> Outcome:
    name = request.params["name"]
    if not response.ok:
        return _fail(f"volume create: {name}", response)
    return Outcome(out=f"volume create: {name}: success: please start the volume to access "
                       "data\n")


def _simple(verb: str) -> Callable[[Request, Response], Outcome]:
    def render(request: Request, response: Response) -> Outcome:
        name = request.params["name"]
        if not response.ok:
            return _fail(f"volume {verb}: {name}", response)
        return Outcome(out=f"volume {verb}: {name}: success\n")
    return render


def volume_set(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _fail("volume set", response)
    return Outcome(out="volume set: success\n")


def volume_reset(request: Request, response: Response) -> Outcome:
    message = response.op_errstr or response.data.get("message") or (
        "reset volume successful" if response.ok else "reset volume unsuccessful")
    if not response.ok:
        return Outcome(err=f"volume reset: failed: {message}\n", code=1)
    return Outcome(out=f"volume reset: success: {message}\n")


def volume_get(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _fail("volume get option", response)
    options = response.data.get("options") or []
    lines = [f"{'Option':<40} {'Value':<39}", f"{'------':<40} {'-----':<39}"]
    if response.data.get("warning"):
        lines.insert(0, str(response.data["warning"]))
    lines += [f"{entry[0]:<40} {option_value(entry):<39}" for entry in options]
    return Outcome(out=_lines(*lines))


def volume_add_brick(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err=f"volume add-brick: failed: {response.op_errstr}\n", code=1)
    return Outcome(out="volume add-brick: success\n")


_REMOVE_WORDS = {"start": "start", "commit": "commit", "force": "commit force",
                 "stop": "stop", "status": "status"}
_REBAL_ESTIMATE_SEC_UPPER_LIMIT = 60 * 24 * 3600  # glusterd compares *hours* against it
_REBAL_ESTIMATE_START_TIME = 600
_REMOVE_STOP_NOTE = (
    "'remove-brick' process may be in the middle of a file migration.\nThe process will be "
    "fully stopped once the migration of the file is complete.\nPlease check remove-brick "
    "process for completion before doing any further brick related tasks on the volume.")


def _hms(seconds: int) -> str:
    """gluster's "%8d:%02d:%02d"."""
    return f"{seconds // 3600:>8}:{seconds % 3600 // 60:02}:{seconds % 3600 % 60:02}"


_LAYOUT_FIX_STARTED = 5  # GF_DEFRAG_STATUS_LAYOUT_FIX_STARTED: first of the fix-layout codes


def rebalance_status_lines(nodes: list[dict[str, Any]], remove_brick: bool = False) -> list[str]:
    """gf_cli_print_rebalance_status: nodes that never started are left out, and the
    estimate lines follow the table. For remove-brick skipped files count as failures; for
    a rebalance whose first node reports a fix-layout status the table has only the node,
    status and run time columns (fix-layout moves no files)."""
    first = int(nodes[0].get("status") or 0) if nodes else 0
    fix_layout = not remove_brick and first >= _LAYOUT_FIX_STARTED
    if fix_layout:
        lines = [f"{'Node':>35} {'status':>41} {'run time in h:m:s':>27}",
                 f"{'---------':>35} {'-----------':>41} {'------------':>27}"]
    else:
        header = "{:>40} {:>16} {:>13} {:>13} {:>13} {:>13} {:>20} {:>18}"
        lines = [header.format("Node", "Rebalanced-files", "size", "scanned", "failures",
                               "skipped", "status", "run time in h:m:s"),
                 header.format("---------", "-----------", "-----------", "-----------",
                               "-----------", "-----------", "------------", "--------------")]
    max_time = max_elapsed = 0
    show_estimates = False
    for node in nodes:
        status = int(node.get("status") or 0)
        if status == 0:  # GF_DEFRAG_STATUS_NOT_STARTED
            continue
        if status == 1:  # GF_DEFRAG_STATUS_STARTED
            show_estimates = True
        elapsed = float(node.get("run_time") or 0)
        max_elapsed = max(max_elapsed, int(elapsed))  # time_t: the fraction is dropped
        max_time = max(max_time, int(node.get("time_left") or 0))
        hostname = node.get("hostname") or "(null)"
        if fix_layout:
            lines.append(f"{hostname:>35} {task_status_name(status):>50} {_hms(int(elapsed))}")
            continue
        failures = int(node.get("failures") or 0)
        skipped = int(node.get("skipped") or 0)
        if remove_brick:
            failures, skipped = failures + skipped, 0
        lines.append(f"{hostname:>40} {int(node.get('files') or 0):>16}"
                     f" {human_size(int(node.get('size') or 0)):>13}"
                     f" {int(node.get('lookups') or 0):>13} {failures:>13} {skipped:>13}"
                     f" {task_status_name(status):>20} {_hms(int(elapsed))}")
    if max_time:
        if max_time // 3600 < _REBAL_ESTIMATE_SEC_UPPER_LIMIT:
            lines.append(f"Estimated time left for rebalance to complete : {_hms(max_time)}")
        else:
            lines.append("Estimated time left for rebalance to complete : > 2 months. Please "
                         "try again later.")
    elif show_estimates:
        if max_elapsed <= _REBAL_ESTIMATE_START_TIME:
            lines.append("The estimated time for rebalance to complete will be unavailable "
                         "for the first 10 minutes.")
        else:
            lines.append("Rebalance estimated time unavailable. Please try again later.")
    return lines


def volume_remove_brick(request: Request, response: Response) -> Outcome:
    action = request.params["action"]
    word = _REMOVE_WORDS.get(action, "unknown")
    if action in ("status", "stop"):
        # gf_cli3_remove_brick_status_cbk: the status table, for stop followed by a warning
        if not response.ok:
            return _fail(f"volume remove-brick {word}", response)
        lines = rebalance_status_lines(list(response.data.get("nodes") or []),
                                       remove_brick=True)
        if action == "stop":
            lines.append(_REMOVE_STOP_NOTE)
        return Outcome(out=_lines(*lines))
    if not response.ok:
        message = response.op_errstr or f"Remove Brick {word} unsuccessful"
        return Outcome(err=f"volume remove-brick {word}: failed: {message}\n", code=1)
    lines = [f"volume remove-brick {word}: success"]
    if action == "start" and response.data.get("task_id"):
        lines.append(f"ID: {response.data['task_id']}")
    if action == "commit":
        lines.append("Check the removed bricks to ensure all files are migrated.\nIf files "
                     "with data are found on the brick path, copy them via a gluster mount "
                     "point before re-purposing the removed brick. ")
    return Outcome(out=_lines(*lines))


_REBALANCE_STOP_NOTE = (
    "rebalance process may be in the middle of a file migration.\nThe process will be fully "
    "stopped once the migration of the file is complete.\nPlease check rebalance process for "
    "completion before doing any further brick related tasks on the volume.\n")


def volume_rebalance(request: Request, response: Response) -> Outcome:
    """gf_cli_defrag_volume_cbk: one "volume rebalance: VOL: success|failed[: MSG]" line, after
    the status table for a successful stop or status. A successful stop's message is the
    note, a newline, then glusterd's op_errstr (so normally it ends in an empty line)."""
    name = request.params["name"]
    action = request.params["action"]
    errstr = response.op_errstr or ""
    lines: list[str] = []
    if action == "stop":
        if response.ok:
            message = _REBALANCE_STOP_NOTE + errstr
        else:
            message = errstr or f"rebalance volume {name} stop failed"
    elif action == "status":
        if response.ok:
            message = errstr
        else:
            message = errstr or "Failed to get the status of rebalance process"
    elif response.ok:  # start, start force and fix-layout start share the wording
        message = (f"Rebalance on {name} has been started successfully. Use rebalance status "
                   "command to check status of the rebalance process.\n"
                   f"ID: {response.data.get('task_id') or '(null)'}")
    else:
        message = errstr or f"Starting rebalance on volume {name} has been unsuccessful."
    tail = f": {message}" if message else ""
    if not response.ok:
        return Outcome(err=f"volume rebalance: {name}: failed{tail}\n", code=1)
    if action in ("stop", "status"):
        lines = rebalance_status_lines(list(response.data.get("nodes") or []))
    lines.append(f"volume rebalance: {name}: success{tail}")
    return Outcome(out=_lines(*lines))


def volume_replace_brick(request: Request, response: Response) -> Outcome:
    if not response.ok:
        message = response.op_errstr or "replace-brick commit force operation failed"
        return Outcome(err=f"volume replace-brick: failed: {message}\n", code=1)
    return Outcome(out="volume replace-brick: success: replace-brick commit force operation "
                       "successful\n")


def volume_reset_brick(request: Request, response: Response) -> Outcome:
    """The stock CLI prints its own words on success, whatever glusterd said."""
    if not response.ok:
        message = response.op_errstr or f"reset-brick {request.context['op']} operation failed"
        return Outcome(err=f"volume reset-brick: failed: {message}\n", code=1)
    op = request.context["op"].replace("-", " ")
    return Outcome(out=f"volume reset-brick: success: reset-brick {op} operation successful\n")


def volume_log_rotate(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err=f"volume log-rotate: failed: {response.op_errstr}\n", code=1)
    return Outcome(out="volume log-rotate: success\n")


def volume_sync(request: Request, response: Response) -> Outcome:
    """gf_cli_sync_volume_cbk's words."""
    return (Outcome(out="volume sync: success\n") if response.ok
            else Outcome(err=f"{sync_message(response)}\n", code=1))


def sync_message(response: Response) -> str:
    if response.ok:
        return "volume sync: success"
    return (f"volume sync: failed: {response.op_errstr}" if response.op_errstr
            else "volume sync: failed")


# -- peers -----------------------------------------------------------------------------------

def _peer_op(verb: str) -> Callable[[Request, Response], Outcome]:
    def render(request: Request, response: Response) -> Outcome:
        message = response.op_errstr or response.data.get("message") or ""
        if not response.ok:
            text = f"peer {verb}: failed: {message}" if message else f"peer {verb}: failed"
            return Outcome(err=text + "\n", code=1)
        # glusterd's informational successes read "success. <why nothing was done>"
        return Outcome(out=f"peer {verb}: success. {message}\n" if message else f"peer {verb}: success\n")
    return render


def peer_status(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err="peer status: failed\n", code=1)
    peers = response.data.get("peers") or []
    lines = [f"Number of Peers: {len(peers)}"]
    for peer in peers:
        names = list(peer.get("hostnames") or [])
        _, state = peer_state(peer.get("state"))
        connected = "Connected" if peer.get("connected") else "Disconnected"
        lines.append(f"\nHostname: {names[0] if names else ''}\nUuid: {peer['uuid']}\n"
                     f"State: {state} ({connected})")
        if len(names) > 1:
            lines.append("Other names:")
            lines += names[1:]
    return Outcome(out=_lines(*lines))


def pool_list(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return Outcome(err="pool list: failed\n", code=1)
    peers = pool_order(response.data.get("peers") or [])
    if not peers:
        return Outcome()
    width = max([8] + [len((p.get("hostnames") or [""])[0]) for p in peers])
    lines = [f"UUID\t\t\t\t\t{'Hostname':<{width}}\tState"]
    for peer in peers:
        name = (peer.get("hostnames") or [""])[0]
        state = "Connected" if peer.get("connected") else "Disconnected"
        lines.append(f"{peer['uuid']}\t{name:<{width}}\t{state} ")
    return Outcome(out=_lines(*lines))


def uuid_get(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _fail("system:: uuid get", response)
    return Outcome(out=_lines(f"UUID: {response.data['uuid']}"))


def clear_locks(request: Request, response: Response) -> Outcome:
    """gf_cli_clearlocks_volume_cbk (the same text with --xml)."""
    if not response.ok:
        return Outcome(err=f"Volume clear-locks unsuccessful\n{response.op_errstr}\n", code=1)
    return Outcome(out=_lines("Volume clear-locks successful", response.data["summary"]))


def get_state(request: Request, response: Response) -> Outcome:
    """gf_cli_get_state_cbk (the same text with --xml)."""
    if not response.ok:
        return Outcome(err=f"Failed to get daemon state: {response.op_errstr}\n"
                       if response.op_errstr else "Failed to get daemon state. Check glusterd "
                       "log file for more details\n", code=1)
    return Outcome(out=_lines(f"glusterd state dumped to {response.data['path']}"))


# -- gluster_mgmt's own commands ------------------------------------------------------------

def _when(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, (int, float)):
        import time

        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return str(value)


def txn_list(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _fail("txn list", response)
    txns = response.data.get("transactions") or []
    if not txns:
        return Outcome(out="No transactions\n")
    lines = [f"{'ID':<38}{'State':<14}{'Started':<21}Operation"]
    for txn in txns:
        lines.append(f"{txn.get('id', ''):<38}{txn.get('state', ''):<14}"
                     f"{_when(txn.get('started')):<21}{txn.get('operation', '')}")
    return Outcome(out=_lines(*lines))


def txn_show(request: Request, response: Response) -> Outcome:
    if not response.ok:
        return _fail("txn show", response)
    txn = response.data.get("transaction") or {}
    lines = [f"{'ID':<12}: {txn.get('id', '')}", f"{'Operation':<12}: {txn.get('operation', '')}",
             f"{'State':<12}: {txn.get('state', '')}",
             f"{'Coordinator':<12}: {txn.get('coordinator') or '-'}",
             f"{'Started':<12}: {_when(txn.get('started'))}",
             f"{'Finished':<12}: {_when(txn.get('finished'))}"]
    if txn.get("error"):
        lines.append(f"{'Error':<12}: {txn['error']}")
    steps = txn.get("steps") or []
    if steps:
        lines.append("Steps:")
        for number, step in enumerate(steps, 1):
            targets = ", ".join(str(t) for t in step.get("targets") or [])
            line = f"  {number}. {step.get('name', '')} [{step.get('state', '')}]"
            if targets:
                line += f" on {targets}"
            if step.get("error"):
                line += f": {step['error']}"
            lines.append(line)
    return Outcome(out=_lines(*lines))


def state_dir(request: Request, response: Response) -> Outcome:
    """``import`` and ``export``: what moved between the store and the glusterd directory."""
    if not response.ok:
        return _fail(request.route, response)
    data = response.data
    lines = [f"{request.route}: success" + (f": {data['message']}" if data.get("message") else "")]
    if data.get("files"):
        lines.append(f"Wrote {data['files']} files under {data['path']}")
    if data.get("volumes"):
        lines.append("Volumes: " + " ".join(str(v) for v in data["volumes"]))
    if data.get("peers"):
        lines.append("Peers: " + " ".join(str(p) for p in data["peers"]))
    return Outcome(out=_lines(*lines))


#: gf_cli_heal_volume_cbk's words per heal-op: (operation, what, tail)
_HEAL_WORDS = {
    1: ("Launching heal operation ", "to perform index self heal",
        "\nUse heal info commands to check status."),
    2: ("Launching heal operation ", "to perform full self heal",
        "\nUse heal info commands to check status."),
    7: ("Gathering ", "crawl statistics", ""),
    8: ("Gathering ", "count of entries to be healed", ""),
    9: ("Gathering ", "count of entries to be healed per replica", ""),
    12: ("", "Enable heal", ""), 13: ("", "Disable heal", ""),
    15: ("", "Enable granular entry heal", ""), 16: ("", "Disable granular entry heal", ""),
}


def volume_heal(request: Request, response: Response) -> Outcome:
    """gf_cli_heal_volume_cbk (the stock CLI prints this text for --xml too)."""
    name, op = request.params["name"], int(request.params["op"])
    operation, what, tail = _HEAL_WORDS.get(op, ("Gathering ", "invalid heal op", ""))
    if not response.ok:
        err = (f"{operation}{what} on volume {name} has been unsuccessful:\n"
               f"{response.op_errstr}\n") if response.op_errstr else ""
        return Outcome(err=err, code=1)
    lines = [f"{operation}{what} on volume {name} has been successful {tail}"]
    if op not in (7, 8, 9):
        return Outcome(out=_lines(*lines))
    bricks = response.data.get("bricks") or []
    if not bricks:
        return Outcome(out=_lines(*lines), err=f"All bricks of volume {name} are down.\n", code=1)
    output = dict(response.data.get("output") or [])
    for index, brick in enumerate(bricks):
        lines += (_heal_statistics(index, brick, output) if op == 7
                  else _heal_count(index, brick, output))
    return Outcome(out=_lines(*lines))


def _heal_count(index: int, brick: dict[str, Any], output: dict[str, str]) -> list[str]:
    """cmd_heal_volume_statistics_heal_count_out."""
    lines = [f"\nBrick {brick['hostname']}:{brick['path']}"]
    if output.get(f"{index}-status"):
        lines.append(f"Status: {output[f'{index}-status']}")
    if f"{index}-shd-status" not in output:
        count = output.get(f"{index}-hardlinks")
        lines.append("No gathered input for this brick" if count is None
                     else f"Number of entries: {count}")
    return lines


def _heal_statistics(index: int, brick: dict[str, Any], output: dict[str, str]) -> list[str]:
    """cmd_heal_volume_statistics_out: each crawl the brick's self-heal daemon made."""
    lines = ["------------------------------------------------",
             f"\nCrawl statistics for brick no {index}", f"Hostname of brick {brick['hostname']}"]
    for crawl in range(int(output.get(f"statistics-{index}-count") or 0)):
        field = lambda key: output.get(f"statistics_{key}-{index}-{crawl}", "")  # noqa: E731
        lines.append(f"\nStarting time of crawl: {field('strt_time')}")
        lines.append("Crawl is in progress" if field("inprogress") == "1"
                     else f"Ending time of crawl: {field('end_time')}")
        lines += [f"Type of crawl: {field('crawl_type')}",
                  f"No. of entries healed: {field('healed_cnt')}",
                  f"No. of entries in split-brain: {field('sb_cnt')}",
                  f"No. of heal failed entries: {field('heal_failed_cnt')}"]
    return lines


def volume_glfsheal(request: Request, response: Response) -> Outcome:
    """glfsheal's own output (the daemon ran it), then what the stock CLI adds when it
    fails: "Volume heal failed." (not with --xml), and glfsheal's exit status."""
    if not response.ok:
        return Outcome(err=_lines(response.op_errstr or "Volume heal failed."), code=1)
    rc, out = int(response.data.get("rc") or 0), str(response.data.get("output") or "")
    if rc and not request.params.get("xml"):
        out += "Volume heal failed.\n"
    return Outcome(out=out, code=rc)


def volume_quota(request: Request, response: Response) -> Outcome:
    from gluster_mgmt.cli import render_quota

    return render_quota.human(request, response)


RENDERERS: dict[str, Callable[[Request, Response], Outcome]] = {
    "volume/quota": volume_quota,
    "volume/heal": volume_heal,
    "volume/glfsheal": volume_glfsheal,
    "volume/info": volume_info,
    "volume/list": volume_list,
    "volume/status": volume_status,
    "volume/create": volume_create,
    "volume/start": _simple("start"),
    "volume/stop": _simple("stop"),
    "volume/delete": _simple("delete"),
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
    "peer/probe": _peer_op("probe"),
    "peer/detach": _peer_op("detach"),
    "peer/status": peer_status,
    "pool/list": pool_list,
    "system/uuid-get": uuid_get,
    "get-state": get_state,
    "volume/clear-locks": clear_locks,
    "txn/list": txn_list,
    "txn/show": txn_show,
    "import": state_dir,
    "export": state_dir,
}


def render(request: Request, response: Response) -> Outcome:
    return RENDERERS[request.route](request, response)
