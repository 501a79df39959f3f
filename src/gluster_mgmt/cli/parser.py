"""gluster's command syntax → a request for the daemon.

Words are matched like the gluster CLI matches them: a word may be abbreviated to any
unambiguous prefix (``gluster vol inf`` works; ``volume re`` is ambiguous). The checks the
gluster CLI makes before sending anything (volume name, brick syntax, loopback hosts,
duplicate bricks, replica/arbiter/disperse counts and their questions) are made here, with
its messages; everything else (does the volume exist, is the option valid...) is the
daemon's business, as it is glusterd's.

A parse either returns a :class:`Request` or raises :class:`CliExit` carrying what to print
and the exit code (1, like the gluster CLI, for a usage error).

One module (~900 lines) on purpose: it is gluster's command grammar, a table of commands with
their usage texts and parsers that share the word matching, the count rules and the questions;
it must also load fast at every CLI start (the naming rules come from ``gluster_mgmt.rules``,
the usage texts and word rules every parser shares from ``cli.command_words``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from gluster_mgmt.rules import (
    BRICK_DUMPS,
    LOOPBACK_BRICK_MESSAGE,
    VOLUME_NAME_MAX,
    is_loopback_brick_host,
    is_power_of_two,
    optimal_redundancy,
    volume_name_problem,
)

from gluster_mgmt.cli.command_words import (
    USAGE,
    CliExit,
    Confirm,
    Request,
    brick_syntax_ok,
    c_strtol,
    canonical_brick,
    failure,
    strict_int,
    unambiguous,
    usage_error,
    valid_internet_address,
)

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

GROUPS_DIR = "/var/lib/glusterd/groups"

REPLICA2_QUESTION = (
    "Replica 2 volumes are prone to split-brain. Use Arbiter or Replica 3 to avoid this. "
    "See: http://docs.gluster.org/en/latest/Administrator-Guide/"
    "Split-brain-and-ways-to-deal-with-it/.\nDo you still want to continue?\n")

DESCRIPTIONS = {
    "volume info": "list information of all volumes",
    "volume create": "create a new volume of specified type with mentioned bricks",
    "volume delete": "delete volume specified by <VOLNAME>",
    "volume start": "start volume specified by <VOLNAME>",
    "volume stop": "stop volume specified by <VOLNAME>",
    "volume add-brick": "add brick to volume <VOLNAME>",
    "volume remove-brick": "remove brick from volume <VOLNAME>",
    "volume rebalance": "rebalance operations",
    "volume heal": "self-heal commands on volume specified by <VOLNAME>",
    "volume quota": "quota translator specific operations",
    "volume replace-brick": "replace-brick operations",
    "volume reset-brick": "reset-brick operations",
    "volume log": "rotate the log file for corresponding volume/brick",
    "volume sync": "sync the volume information from a peer",
    "volume profile": "volume profile operations",
    "volume top": "volume top operations",
    "volume statedump": "perform statedump on bricks",
    "volume barrier": "Barrier/unbarrier file operations on a volume",
    "volume set": "set options for volume <VOLNAME>",
    "volume reset": "reset all the reconfigured options",
    "volume status": "display status of all or specified volume(s)/brick",
    "volume list": "list all volumes in cluster",
    "volume get": "Get the value of the all options or given option for volume <VOLNAME>",
    "peer probe": "probe peer specified by <HOSTNAME>",
    "peer detach": "detach peer specified by <HOSTNAME>",
    "peer status": "list status of peers",
    "pool list": "list all the nodes in the pool (including localhost)",
    "txn list": "list the cluster transactions gluster-mgmt keeps",
    "txn show": "show one transaction and its steps",
    "import": "import the volumes and peers of a stock glusterd state directory",
    "export": "write this node's glusterd 10.3 state directory (to hand the node back to glusterd)",
    "volume clear-locks": "Clear locks held on path",
    "get-state": "Get local state representation of mentioned daemon",
}

#: What `gluster` prints for an unknown word or option (stdout), after its own message.
GLOBAL_USAGE = (
    " Usage: gluster [options] <help> <peer> <pool> <volume>\n"
    " Options:\n"
    " --help  Shows the help information\n"
    " --version  Shows the version\n"
    " --print-logdir  Shows the log directory\n"
    " --print-statedumpdir Shows the state dump directory\n\n")

GLOBAL_HELP = (
    " peer help                - display help for peer commands\n"
    " volume help              - display help for volume commands\n"
    " pool list                - list all the nodes in the pool (including localhost)\n"
    " txn list                 - list the cluster transactions\n"
    " import <DIR>             - import a stock glusterd state directory\n"
    " export <DIR>             - write this node's glusterd state directory (hand-back)\n"
    " (gluster-mgmt also takes --xml, --json, --mode=script and --socket=PATH)\n\n")


# -- helpers ------------------------------------------------------------------------------

def parse_bricks(words: Sequence[str], command: str, notes: list[str]) -> list[str]:
    """Validate and canonicalize new bricks the way the gluster CLI does for create and
    add-brick. Warnings go to ``notes`` (printed, not fatal)."""
    bricks: list[str] = []
    for word in words:
        if not brick_syntax_ok(word):
            raise usage_error(command, *notes,
                              f"Wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>")
        brick = canonical_brick(word)
        host = brick.rpartition(":")[0]
        if is_loopback_brick_host(host):
            raise usage_error(command, *notes, LOOPBACK_BRICK_MESSAGE)
        if not valid_internet_address(host):
            notes.append(f"internet address '{host}' does not conform to standards")
        if brick in bricks:
            raise usage_error(command, *notes, f"Found duplicate exports {brick}")
        bricks.append(brick)
    if not bricks:
        raise usage_error(command, *notes, "No bricks specified")
    return bricks


def parse_existing_bricks(words: Sequence[str], command: str) -> list[str]:
    """Bricks of remove-brick: syntax and duplicates only."""
    bricks: list[str] = []
    for word in words:
        if not brick_syntax_ok(word):
            raise usage_error(command,
                              f"wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>")
        brick = canonical_brick(word)
        if brick in bricks:
            raise usage_error(command, f"Duplicate bricks found {brick}")
        bricks.append(brick)
    return bricks


# -- volume commands ----------------------------------------------------------------------

_CREATE_OPWORDS = ("replica", "transport", "disperse", "redundancy", "disperse-data",
                   "arbiter", "thin-arbiter")


def _disperse_counts(confirm: Confirm, disperse: int, redundancy: int, data: int,
                     count: int) -> tuple[int, int]:
    """The gluster CLI's disperse/redundancy arithmetic and questions (-1 = not given)."""
    cmd = "volume create"
    if data > 0:
        if disperse > 0 and redundancy > 0:
            if disperse != data + redundancy:
                raise usage_error(cmd, f"Disperse count({disperse}) should be equal to sum of "
                                       f"disperse-data count({data}) and redundancy "
                                       f"count({redundancy})")
        elif redundancy > 0:
            disperse = data + redundancy
        elif disperse > 0:
            redundancy = disperse - data
        else:
            if count - data >= data:
                raise usage_error(cmd, "Please provide redundancy count along with "
                                       "disperse-data count")
            if not confirm(f"Redundancy for this configuration is {count - data}. Do you "
                           "want to create the volume with this value ?"):
                raise usage_error(cmd)
            redundancy = count - data
            disperse = count
    if disperse <= 0:
        if count < 3:
            raise usage_error(cmd, "number of bricks must be greater than 2")
        disperse = count
    #: A redundancy given by the user is questioned when it leaves a non-power-of-2 of data
    #: bricks; a proposed one was asked about already.
    given = redundancy != -1
    if not given:
        optimal = optimal_redundancy(disperse)
        if optimal is None:
            if not confirm("There isn't an optimal redundancy value for this configuration. "
                           "Do you want to create the volume with redundancy 1 ?"):
                raise usage_error(cmd)
            redundancy = 1
        else:
            redundancy = optimal
            if redundancy > 1 and not confirm(
                    f"The optimal redundancy for this configuration is {redundancy}. Do you "
                    "want to create the volume with this value ?"):
                raise usage_error(cmd)
    if redundancy < 1 or redundancy > (disperse - 1) // 2:
        raise usage_error(cmd, "redundancy must be greater than or equal to 1 and less than "
                               f"{(disperse + 1) // 2} for a disperse {disperse} volume")
    if disperse - redundancy > 16:
        raise usage_error(cmd, "disperse-data bricks must be less than or equal to 16")
    if given and not is_power_of_two(disperse - redundancy) and not confirm(
            "This configuration is not optimal on most workloads. Do you want to use it ?"):
        raise usage_error(cmd)
    return disperse, redundancy


def parse_volume_create(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume create"
    n = len(words)
    if n < 3:
        raise usage_error(cmd)
    name = words[2]
    valid, message = volume_name_problem(name)
    if not valid:
        raise usage_error(cmd, *([message] if message else []))
    if n < 4:
        raise usage_error(cmd)

    kind: str | None = None  # None, "replicate", "disperse"
    replica: int | None = None
    arbiter: int | None = None
    disperse = redundancy = data = -1
    transport: str | None = None
    index = 3
    for _ in range(3):
        word = unambiguous(words[index], _CREATE_OPWORDS) if index < n else None
        if word is None:
            break
        if word == "replica":
            if kind == "replicate":
                raise usage_error(cmd, "replica option given twice")
            if kind == "disperse":
                raise usage_error(cmd, "replicated-dispersed volume is not supported")
            kind = "replicate"
            if n < index + 2:
                raise usage_error(cmd)
            replica = c_strtol(words[index + 1])
            if replica < 2:
                raise usage_error(cmd, "replica count should be greater than 1")
            index += 2
            if index < n and words[index] == "arbiter":
                count = strict_int(words[index + 1] if index + 1 < n else None)
                if count != 1 or not 2 <= replica <= 3:
                    raise usage_error(
                        cmd, "For arbiter configuration, replica count must be 2 and arbiter "
                             "count must be 1. The 3rd brick of the replica will be the arbiter")
                arbiter = 1
                index += 2
            elif index < n and words[index] == "thin-arbiter":
                raise usage_error(cmd, "thin-arbiter volumes are not supported by gluster-mgmt")
            if arbiter == 1 and replica == 2:
                replica = 3
            if replica == 2 and words[-1] != "force" and not confirm(REPLICA2_QUESTION):
                raise usage_error(cmd)
        elif word == "transport":
            if transport is not None:
                raise usage_error(cmd, "'transport' option given more than one time")
            value = words[index + 1].lower() if index + 1 < n else ""
            if value in ("tcp", "rdma"):
                transport = value
            elif value in ("tcp,rdma", "rdma,tcp"):
                transport = "tcp,rdma"
            else:
                raise usage_error(cmd)
            index += 2
        elif word in ("disperse", "redundancy", "disperse-data"):
            if kind == "replicate":
                raise usage_error(cmd, "replicated-dispersed volume is not supported")
            if word == "disperse":
                if disperse >= 0:
                    raise usage_error(cmd, "disperse option given twice")
                if n < index + 2:
                    raise usage_error(cmd)
                number = strict_int(words[index + 1])
                if number is None:
                    disperse, step = 0, 1  # "disperse" alone: all the bricks
                elif number < 3:
                    raise usage_error(cmd, "disperse count must be greater than 2")
                else:
                    disperse, step = number, 2
            elif word == "disperse-data":
                if data >= 0:
                    raise usage_error(cmd, "disperse-data option given twice")
                if n < index + 2:
                    raise usage_error(cmd)
                number = strict_int(words[index + 1])
                if number is None or not 2 <= number <= 16:
                    raise usage_error(cmd, "disperse-data must be greater than 1 and less than "
                                           "equal to 16")
                data, step = number, 2
            else:
                if redundancy >= 0:
                    raise usage_error(cmd, "redundancy option given twice")
                if n < index + 2:
                    raise usage_error(cmd)
                number = strict_int(words[index + 1])
                if number is None or number < 1:
                    raise usage_error(cmd, "redundancy must be greater than 0")
                redundancy, step = number, 2
            index += step
            kind = "disperse"
        elif word == "arbiter":
            raise usage_error(cmd, "arbiter option must be preceded by replica option.")
        else:  # thin-arbiter
            raise usage_error(cmd, "thin-arbiter option must be preceded by replica option.")

    if index >= n:
        raise usage_error(cmd)
    force = words[-1] == "force"
    end = n - 1 if force else n
    notes: list[str] = []
    bricks = parse_bricks(words[index:end], cmd, notes)
    params: dict[str, Any] = {
        "name": name, "bricks": bricks, "replica": replica, "arbiter": arbiter,
        "disperse": None, "disperse_data": None, "redundancy": None,
        "transport": transport or "tcp", "force": force or bool(opts.get("wignore")),
    }
    if kind == "disperse":
        given_data = data
        disperse, redundancy = _disperse_counts(confirm, disperse, redundancy, data, len(bricks))
        params.update(disperse=disperse, redundancy=redundancy,
                      disperse_data=given_data if given_data > 0 else None)
        if len(bricks) % disperse:
            raise usage_error(cmd, *notes, "number of bricks is not a multiple of disperse count")
    return Request("volume/create", params, cmd, {"name": name, "notes": notes})


def parse_volume_info(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    n = len(words)
    if n == 2 or (n == 3 and words[2] == "all"):
        return Request("volume/info", {"name": None}, "volume info", {"all": True})
    if n == 3:
        if len(words[2].encode()) > VOLUME_NAME_MAX:
            raise CliExit(1, out="Invalid volume name\n")
        return Request("volume/info", {"name": words[2]}, "volume info",
                       {"all": False, "name": words[2]})
    raise usage_error("volume info")


def _name_force(words: Sequence[str], command: str) -> tuple[str, bool]:
    if not 3 <= len(words) <= 4:
        raise usage_error(command)
    if len(words) == 4 and words[3] != "force":
        raise usage_error(command)
    return words[2], len(words) == 4


def parse_volume_start(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    name, force = _name_force(words, "volume start")
    return Request("volume/start", {"name": name, "force": force}, "volume start", {"name": name})


def parse_volume_stop(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    name, force = _name_force(words, "volume stop")
    question = "Stopping volume will make its data inaccessible. Do you want to continue?"
    if name == "gluster_shared_storage":
        question = ("Stopping the shared storage volume(gluster_shared_storage), will affect "
                    "features like snapshot scheduler, geo-replication and NFS-Ganesha. Do you "
                    "still want to continue?")
    if not confirm(question):
        raise CliExit(0)
    return Request("volume/stop", {"name": name, "force": force}, "volume stop", {"name": name})


def parse_volume_delete(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    if len(words) != 3:
        raise usage_error("volume delete")
    name = words[2]
    question = ("Deleting volume will erase all information about the volume. Do you want to "
                "continue?")
    if name == "gluster_shared_storage":
        question = ("Deleting the shared storage volume(gluster_shared_storage), will affect "
                    "features like snapshot scheduler, geo-replication and NFS-Ganesha. Do you "
                    "still want to continue?")
    if not confirm(question):
        raise CliExit(0)
    return Request("volume/delete", {"name": name}, "volume delete", {"name": name})


def parse_volume_list(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    return Request("volume/list", {}, "volume list")


def _strip_spaces(value: str) -> str:
    return "".join(c for c in value if not c.isspace())


def read_group(group: str, groups_dir: str | None = None) -> list[list[str]]:
    """Options of ``volume set NAME group GROUP``: the gluster CLI reads them from
    /var/lib/glusterd/groups/GROUP (one key=value a line, # comments)."""
    path = f"{groups_dir or os.environ.get('GLUSTER_MGMT_GROUPS_DIR') or GROUPS_DIR}/{group}"
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise failure(f"Unable to open file '{path}'. Error: {exc.strerror}") from None
    pairs = []
    for line in lines:
        if line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        value = value.rstrip("\r\n")
        if not key or not sep or not value:
            raise failure(f"'{path}' file format not valid.")
        pairs.append([key, value])
    if not pairs:
        raise failure(f"'{path}' file format not valid.")
    return pairs


def parse_volume_set(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume set"
    n = len(words)
    if n < 3:
        raise usage_error(cmd)
    name = words[2]
    if name in ("help", "help-xml") and n == 3:
        raise failure("volume set help: not available in gluster-mgmt; see "
                      "`gluster-mgmt volume get <VOLNAME> all`")
    if n < 5:
        raise usage_error(cmd)
    if n == 5 and words[3] == "group":
        value = _strip_spaces(words[4])
        if not value:
            raise usage_error(cmd)
        options = read_group(value, opts.get("groups_dir"))
        return Request("volume/set", {"name": name, "options": options}, cmd,
                       {"name": name, "group": value})
    options = []
    for i in range(3, n, 2):
        if i + 1 >= n:
            raise usage_error(cmd)
        key, value = words[i], words[i + 1]
        if not key.startswith("user."):
            value = _strip_spaces(value)
        if not value or key == "group":
            raise usage_error(cmd)
        question = None
        if key == "cluster.enable-shared-storage" and value == "disable":
            question = ("Disabling cluster.enable-shared-storage will delete the shared storage "
                        "volume(gluster_shared_storage), which is used by snapshot scheduler, "
                        "geo-replication and NFS-Ganesha. Do you still want to continue?")
        elif key == "nfs.disable" and value == "off":
            question = ('Gluster NFS is being deprecated in favor of NFS-Ganesha Enter "yes" to '
                        "continue using Gluster NFS")
        if question and not confirm(question):
            raise failure("Aborted by user.")
        options.append([key, value])
    return Request("volume/set", {"name": name, "options": options}, cmd, {"name": name})


def parse_volume_reset(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume reset"
    n = len(words)
    if not 3 <= n <= 5:
        raise usage_error(cmd)
    key: str | None = None
    force = False
    if n >= 4:
        if words[3] == "force":
            force = True
        else:
            key = words[3]
    if n == 5:
        if words[4] != "force":
            raise usage_error(cmd)
        force = True
    if key == "all":
        key = None
    return Request("volume/reset", {"name": words[2], "key": key, "force": force}, cmd,
                   {"name": words[2]})


def parse_volume_get(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    if len(words) != 4:
        raise usage_error("volume get")
    return Request("volume/get", {"name": words[2], "key": words[3]}, "volume get",
                   {"name": words[2]})


#: `status VOL DAEMON WHAT` the stock CLI refuses itself, by daemon (its own words)
_DAEMON_REFUSED = {
    "nfs": (("fd", "detail", "tasks"), "Detail/FD/Tasks status not available for NFS Servers"),
    "shd": (("fd", "clients", "detail", "tasks"),
            "Detail/FD/Clients/Tasks status not available for Self-heal Daemons"),
    "quotad": (("fd", "clients", "detail", "inode"),
               "Detail/FD/Clients/Inode status not available for Quota Daemon"),
}


def parse_volume_status(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """``cli_cmd_volume_status_parse``: after the volume, a status word, a daemon (nfs, shd,
    quotad) or any other word for a brick; then a status word."""
    cmd = "volume status"
    n = len(words)
    status_ops = ("detail", "mem", "clients", "inode", "fd", "callpool", "tasks", "client-list")
    name: str | None = None
    op: str | None = None
    brick: str | None = None
    daemon: str | None = None
    if n == 2:
        pass
    elif n == 3:
        name = None if words[2] == "all" else words[2]
    elif n == 4:
        name = None if words[2] == "all" else words[2]
        if words[3] in status_ops:
            op = words[3]
        elif name is None:
            raise usage_error(cmd, f"{words[3]} is not a valid status option")
        elif words[3] in _DAEMON_REFUSED:
            daemon = words[3]
        elif words[3] in ("snapd", "bitd", "scrub"):
            raise failure(f"volume status {words[3]}: not supported by gluster-mgmt")
        else:
            brick = words[3]
    elif n == 5:
        if words[2] == "all":
            raise usage_error(cmd, 'Cannot specify brick/nfs for "all"')
        if words[4] not in status_ops:
            raise usage_error(cmd, f"{words[4]} is not a valid status option")
        refused, message = _DAEMON_REFUSED.get(words[3], ((), ""))
        if words[4] in refused:
            raise usage_error(cmd, message)
        if words[3] == "snapd":
            raise failure(f"volume status {words[3]} {words[4]}: not supported by gluster-mgmt")
        if words[3] not in _DAEMON_REFUSED and words[4] == "tasks":
            raise usage_error(cmd, "Tasks status not available for bricks")
        name, op = words[2], words[4]
        if words[3] in _DAEMON_REFUSED:
            daemon = words[3]
        else:
            brick = words[3]  # any other word names a brick (bitd, scrub, detail too)
    else:
        raise usage_error(cmd)
    if op not in (None, "detail", "tasks", *BRICK_DUMPS) or \
            (daemon == "quotad" and op == "tasks"):
        raise failure(f"volume status {op}: not supported by gluster-mgmt")
    dump = op if op in BRICK_DUMPS else None
    return Request("volume/status", {"name": name, "detail": op == "detail",
                                     **({"dump": dump} if dump else {}),
                                     **({"brick": brick} if brick else {}),
                                     **({"daemon": daemon} if daemon else {})}, cmd,
                   {"all": name is None, "name": name, "op": op})


def parse_volume_add_brick(words: Sequence[str], confirm: Confirm,
                           opts: dict[str, Any]) -> Request:
    cmd = "volume add-brick"
    n = len(words)
    if n < 4:
        raise usage_error(cmd)
    replica: int | None = None
    arbiter: int | None = None
    index = 3
    if n >= 6 and unambiguous(words[3], ("replica",)):
        replica = c_strtol(words[4])
        if replica < 2:
            raise usage_error(cmd, "replica count should be greater than 1")
        index = 5
        if words[5] == "arbiter":
            arbiter = c_strtol(words[6] if n > 6 else None)
            if arbiter != 1 or replica != 3:
                raise usage_error(cmd, "For arbiter configuration, replica count must be 3 and "
                                       "arbiter count must be 1. The 3rd brick of the replica "
                                       "will be the arbiter")
            index = 7
        if replica == 2 and words[-1] != "force" and not confirm(REPLICA2_QUESTION):
            raise usage_error(cmd)
    force = words[-1] == "force"
    end = n - 1 if force else n
    notes: list[str] = []
    bricks = parse_bricks(words[index:end], cmd, notes)
    return Request("volume/add-brick", {"name": words[2], "bricks": bricks, "replica": replica,
                                        "arbiter": arbiter, "force": force}, cmd,
                   {"name": words[2], "notes": notes})


_REMOVE_ACTIONS = ("start", "commit", "stop", "status", "force")


def parse_volume_remove_brick(words: Sequence[str], confirm: Confirm,
                              opts: dict[str, Any]) -> Request:
    cmd = "volume remove-brick"
    n = len(words)
    if n < 5:
        raise usage_error(cmd)
    replica: int | None = None
    index = 3
    if unambiguous(words[3], ("replica",)):
        if n < 6:
            raise usage_error(cmd)
        replica = c_strtol(words[4])
        if replica < 1:
            raise usage_error(cmd, "replica count should be greater than 0 in case of "
                                   "remove-brick")
        if replica == 2 and words[-1] != "force" and not confirm(REPLICA2_QUESTION):
            raise usage_error(cmd)
        index = 5
    action = unambiguous(words[-1], _REMOVE_ACTIONS)
    if action is None:
        raise usage_error(cmd)
    bricks = parse_existing_bricks(words[index:n - 1], cmd)
    if not bricks:
        raise usage_error(cmd, "No bricks specified")
    question = None
    if action == "force":
        question = ("Remove-brick force will not migrate files from the removed bricks, so "
                    "they will no longer be available on the volume.\nDo you want to continue?")
    elif action == "start":
        question = (
            "It is recommended that remove-brick be run with cluster.force-migration option "
            "disabled to prevent possible data corruption. Doing so will ensure that files "
            "that receive writes during migration will not be migrated and will need to be "
            "manually copied after the remove-brick commit operation. Please check the value "
            "of the option and update accordingly. \nDo you want to continue with your "
            "current cluster.force-migration settings?")
    if words[2] == "gluster_shared_storage":
        question = ("Removing brick from the shared storage volume(gluster_shared_storage), "
                    "will affect features like snapshot scheduler, geo-replication and "
                    "NFS-Ganesha. Do you still want to continue?")
    if question and not confirm(question):
        raise CliExit(0)
    return Request("volume/remove-brick", {"name": words[2], "bricks": bricks,
                                           "replica": replica, "action": action}, cmd,
                   {"name": words[2], "action": action})


#: The tails cli_cmd_volume_defrag_parse accepts, word for word (no abbreviations):
#: (action, fix_layout, force).
_REBALANCE_TAILS = {
    ("start",): ("start", False, False),
    ("stop",): ("stop", False, False),
    ("status",): ("status", False, False),
    ("fix-layout", "start"): ("start", True, False),
    ("start", "force"): ("start", False, True),
}


def parse_volume_rebalance(words: Sequence[str], confirm: Confirm,
                           opts: dict[str, Any]) -> Request:
    """The gluster CLI compares these words with strcmp, so unlike remove-brick's action
    they cannot be abbreviated; anything else is a usage error."""
    cmd = "volume rebalance"
    tail = _REBALANCE_TAILS.get(tuple(words[3:])) if len(words) in (4, 5) else None
    if tail is None:
        raise usage_error(cmd)
    action, fix_layout, force = tail
    return Request("volume/rebalance", {"name": words[2], "action": action,
                                        "fix_layout": fix_layout, "force": force}, cmd,
                   {"name": words[2], "action": action})


def parse_volume_reset_brick(words: Sequence[str], confirm: Confirm,
                             opts: dict[str, Any]) -> Request:
    """`reset-brick VOL SRC start` | `SRC DST commit [force]` (the gluster CLI's checks)."""
    cmd = "volume reset-brick"
    n = len(words)
    if n not in (5, 6, 7):
        raise usage_error(cmd)
    if n == 5 and words[4] != "start":
        raise usage_error(cmd, f"Invalid option '{words[4]}' for reset-brick. Please enter "
                               "valid reset-brick command")
    if n == 6 and words[5] != "commit":
        raise usage_error(cmd, f"Invalid option '{words[5]}' for reset-brick. Please enter "
                               "valid reset-brick command")
    if n == 7 and (words[5], words[6]) != ("commit", "force"):
        raise usage_error(cmd, f"Invalid option '{words[5]} {words[6]}' for reset-brick. "
                               "Please enter valid reset-brick command")
    for word in words[3:4 if n == 5 else 5]:
        if not brick_syntax_ok(word):
            raise usage_error(cmd, f"wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>")
    op = {5: "start", 6: "commit", 7: "commit-force"}[n]
    return Request("volume/reset-brick", {
        "name": words[2], "source": canonical_brick(words[3]), "op": op,
        "destination": canonical_brick(words[4]) if n > 5 else None}, cmd,
        {"name": words[2], "op": op})


def parse_volume_log(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """`volume log VOL rotate [BRICK]`."""
    cmd = "volume log"
    if len(words) not in (4, 5) or words[3] != "rotate":
        raise usage_error(cmd)
    brick = words[4] if len(words) == 5 else None
    if brick is not None and not brick_syntax_ok(brick):
        raise usage_error(cmd, f"wrong brick type: {brick}, use <HOSTNAME>:<export-dir-abs-path>")
    return Request("volume/log-rotate", {"name": words[2],
                                         "brick": canonical_brick(brick) if brick else None},
                   cmd, {"name": words[2]})


def parse_volume_sync(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """`volume sync HOST [all|VOL]` (cli_cmd_sync_volume_cbk): a volume name, or none for
    ``all``; the question is asked outside script mode."""
    cmd = "volume sync"
    if not 3 <= len(words) <= 4:
        raise usage_error(cmd)
    name = words[3] if len(words) == 4 and words[3] != "all" else None
    if not confirm("Sync volume may make data inaccessible while the sync is in progress. "
                   "Do you want to continue?"):
        raise CliExit(0)
    return Request("volume/sync", {"host": words[2], "name": name}, cmd)


def parse_volume_replace_brick(words: Sequence[str], confirm: Confirm,
                               opts: dict[str, Any]) -> Request:
    cmd = "volume replace-brick"
    if len(words) != 7:
        raise usage_error(cmd)
    for word in (words[3], words[4]):
        if not brick_syntax_ok(word):
            raise usage_error(cmd,
                              f"wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>")
    new_host = canonical_brick(words[4]).rpartition(":")[0]
    if is_loopback_brick_host(new_host):
        raise usage_error(cmd, LOOPBACK_BRICK_MESSAGE)
    if words[5] != "commit" or words[6] != "force":
        raise usage_error(cmd, f"Invalid option '{words[5]}' '{words[6]}' for replace-brick. "
                               "Please enter valid replace-brick command")
    return Request("volume/replace-brick", {"name": words[2], "old": canonical_brick(words[3]),
                                            "new": canonical_brick(words[4])}, cmd,
                   {"name": words[2]})


#: `heal VOL WORD`'s heal-op (gf_xl_afr_op_t numbers; cluster.heal.HealOp names them)
_HEAL_ONE_WORD = {"full": 2, "statistics": 7, "enable": 12, "disable": 13}
_HEAL_TWO_WORDS = {("statistics", "heal-count"): 8, ("granular-entry-heal", "enable"): 15,
                   ("granular-entry-heal", "disable"): 16}
_HEAL_INFO = {(): "info", ("summary",): "summary", ("split-brain",): "split-brain"}


def parse_volume_heal(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """The gluster CLI's heal grammar (cli_cmd_volume_heal_options_parse, strcmp words):
    `info` and `split-brain` resolution are glfsheal's (run by the daemon on its node);
    the rest a heal-op for the self-heal daemons."""
    cmd = "volume heal"
    if len(words) < 3:
        raise usage_error(cmd)
    name, rest = words[2], tuple(words[3:])
    context = {"name": name}
    xml = opts.get("format") == "xml"  # glfsheal's --xml; and no "Volume heal failed."
    if rest[:1] == ("info",) and rest[1:] in _HEAL_INFO:
        mode = _HEAL_INFO[rest[1:]]
        return Request("volume/glfsheal", {"name": name, "mode": mode, "xml": xml}, cmd, context)
    if rest[:1] == ("split-brain",):
        if len(rest) == 3 and rest[1] in ("bigger-file", "latest-mtime"):
            return Request("volume/glfsheal", {"name": name, "mode": rest[1], "file": rest[2],
                                               "xml": xml}, cmd, context)
        if len(rest) in (3, 4) and rest[1] == "source-brick" and brick_syntax_ok(rest[2]):
            return Request("volume/glfsheal", {"name": name, "mode": "source-brick",
                                               "brick": rest[2], "xml": xml,
                                               "file": rest[3] if len(rest) == 4 else None},
                           cmd, context)
        raise usage_error(cmd)
    params: dict[str, Any] = {"name": name}
    if not rest:
        params["op"] = 1
    elif len(rest) == 1 and rest[0] in _HEAL_ONE_WORD:
        params["op"] = _HEAL_ONE_WORD[rest[0]]
    elif len(rest) == 2 and rest in _HEAL_TWO_WORDS:
        params["op"] = _HEAL_TWO_WORDS[rest]
    elif len(rest) == 4 and rest[:3] == ("statistics", "heal-count", "replica") and \
            brick_syntax_ok(rest[3]):
        params["op"], params["replica"] = 9, rest[3]
    else:
        raise usage_error(cmd)
    return Request("volume/heal", params, cmd, context)


#: `quota VOL WORD ...`: its type (gf_quota_type; cluster.quota.QuotaOp names them) and
#: how many words it takes after the volume's name (None: a path list)
_QUOTA_WORDS = {"enable": (1, (1,)), "disable": (2, (1,)), "limit-usage": (3, (3, 4)),
                "remove": (4, (2,)), "list": (5, None), "alert-time": (7, (2,)),
                "soft-timeout": (8, (2,)), "hard-timeout": (9, (2,)),
                "default-soft-limit": (10, (2,)), "limit-objects": (12, (3, 4)),
                "list-objects": (13, None), "remove-objects": (14, (2,))}


def parse_volume_quota(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """The gluster CLI's quota grammar (cli_cmd_quota_parse): absolute paths, a size (or an
    object count) of at least 1, a soft limit percent of 0 to 100."""
    from gluster_mgmt.errors import OperationFailed
    from gluster_mgmt.quota_values import INT64_MAX, parse_percent, parse_size

    cmd = "volume quota"
    if len(words) < 4:
        raise usage_error(cmd)
    name, word, rest = words[2], words[3], list(words[4:])
    if word not in _QUOTA_WORDS:
        raise CliExit(1, out=f"Invalid quota option : {word}\n", err=usage_error(cmd).err)
    op, counts = _QUOTA_WORDS[word]
    if counts is not None and len(rest) + 1 not in counts:
        raise usage_error(cmd)
    params: dict[str, Any] = {"name": name, "op": op}
    paths = rest if counts is None else rest[:1] if op in (3, 4, 12, 14) else []
    if any(not p.startswith("/") for p in paths):
        raise usage_error(cmd, "Please enter absolute path")
    if counts is None:
        params["paths"] = rest
    elif paths:
        params["path"] = paths[0]
    elif op not in (1, 2):
        params["value"] = rest[0]
    if op in (3, 12):
        try:
            if op == 3:
                parse_size(rest[1])
            elif not rest[1].isdigit() or not 0 < int(rest[1]) <= INT64_MAX:
                raise OperationFailed(f"Please enter an integer value in the range 1 - {INT64_MAX}")
            if len(rest) == 3:
                parse_percent(rest[2])
        except OperationFailed as exc:
            raise usage_error(cmd, str(exc)) from None
        params["hard_limit"] = rest[1]
        if len(rest) == 3:
            params["soft_limit"] = rest[2]
    if op == 2 and not confirm("Disabling quota will delete all the quota configuration. "
                               "Do you want to continue?"):
        raise CliExit(0)
    return Request("volume/quota", params, cmd, {"name": name})


# -- peers, pool, transactions, import -----------------------------------------------------

def parse_peer_probe(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    if len(words) != 3:
        raise usage_error("peer probe")
    if not valid_internet_address(words[2]):
        err = usage_error("peer probe")
        raise CliExit(1, out=f"{words[2]} is an invalid address\n", err=err.err)
    return Request("peer/probe", {"host": words[2]}, "peer probe")


def parse_peer_detach(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    if not 3 <= len(words) <= 4 or (len(words) == 4 and words[3] != "force"):
        raise usage_error("peer detach")
    question = ("All clients mounted through the peer which is getting detached need to be "
                "remounted using one of the other active peers in the trusted storage pool to "
                "ensure client gets notification on any changes done on the gluster "
                "configuration and if the same has been done do you want to proceed?")
    if not confirm(question):
        raise CliExit(0)
    return Request("peer/detach", {"host": words[2], "force": len(words) == 4}, "peer detach")


def _without_arguments(command: str, route: str) -> "Handler":
    """A command that is its two words and nothing more (`peer status`, `pool list`...)."""
    def parse(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
        if len(words) != 2:
            raise usage_error(command)
        return Request(route, {}, command)
    return parse


parse_peer_status = _without_arguments("peer status", "peer/status")
parse_pool_list = _without_arguments("pool list", "pool/list")
parse_txn_list = _without_arguments("txn list", "txn/list")


def parse_txn_show(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    if len(words) != 3:
        raise usage_error("txn show")
    return Request("txn/show", {"id": words[2]}, "txn show")


def parse_system(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """Of glusterd's ``system::`` commands, ``uuid get``: the node's UUID (glusterd.info's)."""
    if list(words[1:3]) == ["uuid", "get"]:
        if len(words) != 3:
            raise usage_error("system:: uuid get")
        return Request("system/uuid-get", {}, "system:: uuid get")
    return _unsupported(words, confirm, opts)


def parse_volume_clear_locks(words: Sequence[str], confirm: Confirm,
                             opts: dict[str, Any]) -> Request:
    """cli_cmd_volume_clrlks_opts_parse: ``kind``, then the kind and the type words exactly,
    then an optional range or basename; "Error parsing options" (stdout) otherwise."""
    cmd = "volume clear-locks"
    if not 7 <= len(words) <= 8:
        raise usage_error(cmd)
    if words[4] != "kind" or words[5] not in ("blocked", "granted", "all") or \
            words[6] not in ("inode", "entry", "posix"):
        raise CliExit(1, out="Error parsing options\n", err=usage_error(cmd).err)
    params = {"name": words[2], "path": words[3], "kind": words[5], "type": words[6]}
    if len(words) == 8:
        params["args"] = words[7]
    return Request("volume/clear-locks", params, cmd, {"name": words[2]})


#: get-state's last word: GF_CLI_GET_STATE_DETAIL, GF_CLI_GET_STATE_VOLOPTS
_GET_STATE_KINDS = {"detail": 1, "volumeoptions": 2}


def parse_get_state(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """The gluster CLI's grammar (cli_cmd_get_state_parse): an optional daemon (glusterd),
    ``odir DIR`` and ``file NAME`` in any order, ``detail`` or ``volumeoptions`` last. The
    daemon the CLI talks to writes the file on its own host."""
    cmd = "get-state"
    if len(words) > 7:
        raise usage_error(cmd, "Problem parsing arguments. Check usage.")
    params: dict[str, Any] = {}
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("odir", "file"):
            if index + 1 >= len(words):
                raise usage_error(cmd)
            params["odir" if word == "odir" else "filename"] = words[index + 1]
            index += 2
            continue
        last = index == len(words) - 1
        if last and word in _GET_STATE_KINDS:
            params["kind"] = _GET_STATE_KINDS[word]
        elif index > 1 and not last:
            raise usage_error(cmd, "Problem parsing arguments. Check usage.")
        elif word != "glusterd":
            raise usage_error(cmd, "glusterd is the only supported daemon.")
        index += 1
    return Request("get-state", params, cmd)


def parse_state_dir(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    """``import DIR`` / ``export DIR``: the daemon reads or writes a glusterd state directory,
    named absolutely since the daemon has another working directory."""
    if len(words) != 2:
        raise usage_error(words[0])
    return Request(words[0], {"path": os.path.abspath(words[1])}, words[0])


def _help(prefix: str, title: str) -> Callable[..., Request]:
    def show(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
        lines = [f"\n{title}\n{'=' * len(title)}\n"]
        lines += [f"{USAGE[c]} - {DESCRIPTIONS[c]}" for c in USAGE if c.startswith(prefix)]
        raise CliExit(0, out="\n".join(lines) + "\n")
    return show


def _global_help(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    raise CliExit(0, out=GLOBAL_HELP)


def _unsupported(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    raise failure(f"{' '.join(words[:2])}: not supported by gluster-mgmt")


Handler = Callable[[Sequence[str], Confirm, dict], Request]


def _diagnostics(name: str) -> Handler:
    """A parser of ``cli.parse_diagnostics`` (profile, top, statedump, barrier), loaded
    when used."""
    def parse(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
        from gluster_mgmt.cli import parse_diagnostics

        return getattr(parse_diagnostics, name)(words, confirm, opts)
    return parse


#: The command words, as the gluster CLI registers them (unsupported ones included, so that
#: abbreviations are ambiguous exactly where they are for `gluster`).
COMMANDS: dict[str, Any] = {
    "volume": {
        "help": _help("volume", "gluster volume commands"),
        "info": parse_volume_info,
        "create": parse_volume_create,
        "delete": parse_volume_delete,
        "start": parse_volume_start,
        "stop": parse_volume_stop,
        "add-brick": parse_volume_add_brick,
        "remove-brick": parse_volume_remove_brick,
        "rebalance": parse_volume_rebalance,
        "replace-brick": parse_volume_replace_brick,
        "set": parse_volume_set,
        "log": parse_volume_log,
        "sync": parse_volume_sync,
        "reset": parse_volume_reset,
        "geo-replication": _unsupported,
        "profile": _diagnostics("parse_volume_profile"),
        "top": _diagnostics("parse_volume_top"),
        "status": parse_volume_status,
        "heal": parse_volume_heal,
        "statedump": _diagnostics("parse_volume_statedump"),
        "list": parse_volume_list,
        "clear-locks": parse_volume_clear_locks,
        "barrier": _diagnostics("parse_volume_barrier"),
        "get": parse_volume_get,
        "reset-brick": parse_volume_reset_brick,
        "quota": parse_volume_quota,
        "bitrot": _unsupported,
        "tier": _unsupported,
        "ganesha": _unsupported,
    },
    "peer": {
        "probe": parse_peer_probe,
        "detach": parse_peer_detach,
        "status": parse_peer_status,
        "help": _help("peer", "gluster peer commands"),
    },
    "pool": {"list": parse_pool_list},
    "txn": {"list": parse_txn_list, "show": parse_txn_show},
    "import": parse_state_dir,
    "export": parse_state_dir,
    "help": _global_help,
    "snapshot": _unsupported,
    "system::": parse_system,
    "global": _unsupported,
    "get-state": parse_get_state,
    "nfs-ganesha": _unsupported,
}


def parse(words: Sequence[str], confirm: Confirm, opts: dict[str, Any] | None = None) -> Request:
    """Match the command words, then let the command's parser check its arguments."""
    opts = opts or {}
    node: Any = COMMANDS
    if not words:
        raise CliExit(1, out="unrecognized command\n\n" + GLOBAL_USAGE)
    for position, word in enumerate(words):
        key = unambiguous(word, tuple(node))
        if key is None:
            raise CliExit(1, out=f"unrecognized word: {word} (position {position})\n\n"
                                 + GLOBAL_USAGE)
        node = node[key]
        if callable(node):
            return node(list(words), confirm, opts)
    raise CliExit(1, out="unrecognized command\n\n" + GLOBAL_USAGE)
