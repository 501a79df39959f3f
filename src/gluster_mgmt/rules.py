"""glusterd's fixed facts and naming rules, in one place both sides share.

The thin CLI (which must start in milliseconds and imports nothing heavy) and the model
(which enforces the rules whoever calls it) both read them here, so the CLI never accepts a
name the daemon refuses or words a refusal differently. Standard library only.
"""

from __future__ import annotations

import enum

#: The Gluster mgmt RPC port stock bricks and clients talk to (glusterd's 24007).
MGMT_PORT = 24007
#: glusterd-errno.h: EG_INTRNL, what a failed transaction reports when nothing set an
#: op_errno (gd_sync_task_begin)
EG_INTRNL = 30800
#: `volume sync`'s refusal of the node itself: glusterd's handler says it, before any
#: transaction (op_errno 0, not EG_INTRNL)
SYNC_FROM_LOCALHOST = "sync from localhost not allowed"
#: The key of a reply's data holding the notice that it comes from the last state the daemon
#: saw (its store unreachable); the CLI shows it on stderr.
STALE_KEY = "stale"

#: Names that always mean the machine itself (they resolve to a loopback address): a probe
#: or sync of one is of the node itself, a daemon on a wildcard or loopback address is
#: also known by them.
LOCALHOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Brick hosts glusterd refuses: on every node they would name that node.
LOOPBACK_BRICK_MESSAGE = ("Please provide a valid hostname/ip other than localhost, 127.0.0.1 or "
                          "loopback address (0.0.0.0 to 0.255.255.255).")


def is_loopback_brick_host(host: str) -> bool:
    """``localhost``, ``127.0.0.1`` or an address of 0.0.0.0/8 (the CLI's and glusterd's check)."""
    if host in ("localhost", "127.0.0.1"):
        return True
    parts = host.split(".")
    return parts[0] == "0" and len(parts) == 4 and all(part.isdigit() for part in parts)


VOLUME_NAME_MAX = 256  # glusterd: GD_VOLUME_NAME_MAX = NAME_MAX + 1, in bytes (strlen)
RESERVED_VOLUME_NAMES = frozenset({
    "volume", "type", "help", "subvolumes", "option", "end-volume", "all",
    "volume_not_in_ring", "description", "force", "snap-max-hard-limit",
    "snap-max-soft-limit", "auto-delete", "activate-on-create",
})
_VOLUME_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def volume_name_problem(name: str) -> tuple[bool, str | None]:
    """(valid, message) by the gluster CLI's rules for a volume's name; an invalid name with
    no message is one the CLI answers with its usage text."""
    if not name or name.startswith("-"):
        return False, None
    if name in RESERVED_VOLUME_NAMES:
        return False, f'"{name}" cannot be the name of a volume.'
    if "/" in name:
        return False, None
    if len(name.encode()) > VOLUME_NAME_MAX:
        return False, f"Volume name exceeds {VOLUME_NAME_MAX} characters."
    for char in name:
        if char not in _VOLUME_NAME_CHARS:
            # glusterd's text, its missing space included, so scripts matching it keep working
            return False, (f'Volume name should not contain "{char}" character.\n'
                           "Volume names can onlycontain alphanumeric, '-' and '_' characters.")
    return True, None


def is_power_of_two(count: int) -> bool:
    return count > 0 and count & (count - 1) == 0


def optimal_redundancy(disperse_count: int) -> int | None:
    """The redundancy the gluster CLI proposes for ``disperse_count`` bricks when none is
    given: the largest that leaves a power of 2 of data bricks; None when there is none
    (the CLI then asks before using 1)."""
    data = disperse_count - 1
    candidate = data // 2
    while candidate > 0 and not is_power_of_two(data):
        candidate -= 1
        data -= 1
    return disperse_count - data if candidate else None


def transaction_in_progress(volume: str) -> str:
    """glusterd's refusal while another operation holds the volume's lock."""
    return (f"Another transaction is in progress for {volume}. Please try again after some "
            "time.")


def volume_exists(volume: str) -> str:
    return f"Volume {volume} already exists"


#: `volume status VOL [BRICK] WORD`: the words a brick answers itself (GD_BRICK STATUS),
#: by ``gf_cli_status_type`` bit
BRICK_DUMPS = {"mem": 0x1, "clients": 0x2, "inode": 0x4, "fd": 0x8, "callpool": 0x10,
               "client-list": 0x80}


# -- profile, top, statedump (cli1-xdr.x, cli-cmd-parser.c) ----------------------------------

class StatsOp(enum.IntEnum):
    """``gf1_cli_stats_op``: `volume profile`'s and `volume top`'s ``op``."""

    NONE = 0
    START = 1
    STOP = 2
    INFO = 3
    TOP = 4


class InfoOp(enum.IntEnum):
    """``gf1_cli_info_op``: `profile info`'s ``info-op``."""

    NONE = 0
    ALL = 1
    INCREMENTAL = 2
    CUMULATIVE = 3
    CLEAR = 4


class TopOp(enum.IntEnum):
    """``gf1_cli_top_op``: `top`'s ``top-op`` (NONE with ``clear-stats`` for `top clear`)."""

    NONE = 0
    OPEN = 1
    READ = 2
    WRITE = 3
    OPENDIR = 4
    READDIR = 5
    READ_PERF = 6
    WRITE_PERF = 7


#: `top`'s largest `list-cnt`, and its default.
TOP_LIST_MAX = 100
#: `top read-perf|write-perf`: the largest `bs * count` (10 GB).
TOP_PERF_BYTES_MAX = 10 * 1024 ** 3
#: What a statedump may be limited to (cli_cmd_validate_dumpoption, bricks only).
STATEDUMP_OPTIONS = ("all", "mem", "iobuf", "callpool", "priv", "fd", "inode", "history",
                     "inodectx", "fdctx")
