"""The gluster CLI's grammar of `volume profile`, `volume top`, `volume statedump` and
`volume barrier` (``cli_cmd_volume_profile_parse``, ``cli_cmd_volume_top_parse``,
``cli_cmd_volume_statedump_options_parse``, ``cli_cmd_volume_barrier_cbk``): the same
words, checks and messages, giving the `volume/profile`, `volume/statedump` and
`volume/barrier` requests (numbers as ``gluster_mgmt.rules``' enums).
"""

from __future__ import annotations

from collections.abc import Sequence

from gluster_mgmt.cli.command_words import (
    CliExit,
    Confirm,
    Request,
    canonical_brick,
    unambiguous,
    usage_error,
)
from gluster_mgmt.rules import (
    TOP_LIST_MAX,
    TOP_PERF_BYTES_MAX,
    InfoOp,
    StatsOp,
    TopOp,
)

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

_INFO_OPS = {"incremental": InfoOp.INCREMENTAL, "cumulative": InfoOp.CUMULATIVE,
             "clear": InfoOp.CLEAR}
_TOP_OPS = {"open": TopOp.OPEN, "read": TopOp.READ, "write": TopOp.WRITE,
            "opendir": TopOp.OPENDIR, "readdir": TopOp.READDIR, "read-perf": TopOp.READ_PERF,
            "write-perf": TopOp.WRITE_PERF, "clear": TopOp.NONE}


def _unsupported(message: str) -> CliExit:
    """What gluster_mgmt lacks (an NFS server), said at once."""
    return CliExit(1, err=f"{message}\n")


def parse_volume_profile(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume profile"
    word = unambiguous(words[3], ("start", "stop", "info")) if len(words) >= 4 else None
    if word is None or (word in ("start", "stop") and len(words) > 5) or len(words) > 7:
        raise usage_error(cmd)
    if words[-1] == "nfs":
        raise _unsupported("volume profile nfs: not supported by gluster-mgmt (no NFS server)")
    op = {"start": StatsOp.START, "stop": StatsOp.STOP}.get(word, StatsOp.INFO)
    params: dict[str, Any] = {"name": words[2], "op": int(op), "info_op": 0, "peek": False}
    if op is StatsOp.INFO:
        params["info_op"] = int(InfoOp.ALL)
        extra = list(words[4:])
        if extra[:1] == ["incremental"]:
            params["info_op"], params["peek"] = int(InfoOp.INCREMENTAL), extra[1:2] == ["peek"]
        elif extra[:1] and extra[0] in _INFO_OPS:
            params["info_op"] = int(_INFO_OPS[extra[0]])
        elif extra[:1] == ["peek"]:
            params["peek"] = True
    return Request("volume/profile", params, cmd, {"name": words[2]})


def _positive(value: str, message: str) -> int:
    """A block size or count: decimal digits (gf_is_str_int: no sign), more than zero."""
    if not value.isdigit() or int(value) <= 0:
        raise usage_error("volume top", message)
    return int(value)


def parse_volume_top(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume top"
    word = unambiguous(words[3], tuple(_TOP_OPS)) if len(words) >= 4 else None
    if word is None:
        raise usage_error(cmd)
    params: dict[str, Any] = {"name": words[2], "op": int(StatsOp.TOP),
                              "top_op": int(_TOP_OPS[word]), "clear": word == "clear",
                              "list_count": TOP_LIST_MAX}
    perf = word in ("read-perf", "write-perf")
    rest = list(words[4:])
    if rest[:1] == ["nfs"]:
        raise _unsupported("volume top nfs: not supported by gluster-mgmt (no NFS server)")
    if len(rest) % 2:
        raise usage_error(cmd)
    for key, value in zip(rest[::2], rest[1::2]):
        if key == "brick":
            host, colon, path = value.partition(":")
            if not colon or not host or not path.startswith("/"):
                raise usage_error(cmd, f"wrong brick type: {value}, use "
                                       f"<HOSTNAME>:<export-dir-abs-path>")
            params["brick"] = canonical_brick(value)
        elif key == "list-cnt":
            if not value.lstrip("-").isdigit() or not 0 <= int(value) <= TOP_LIST_MAX:
                raise usage_error(cmd, "list-cnt should be between 0 to 100")
            params["list_count"] = int(value)
        elif perf and key == "bs":
            params["block_size"] = _positive(value, "block size should be an integer greater "
                                                    "than zero")
        elif perf and key == "count":
            params["block_count"] = _positive(value, "count should be an integer greater than "
                                                     "zero")
        else:
            raise usage_error(cmd)
    size, count = params.get("block_size", 0), params.get("block_count", 0)
    if (size > 0) != (count > 0):
        raise usage_error(cmd, "Need to give both 'bs' and 'count'")
    if size * count > TOP_PERF_BYTES_MAX:
        raise usage_error(cmd, f"'bs * count' value {size * count} is greater than maximum "
                               f"allowed value of 10GB")
    return Request("volume/profile", params, cmd, {"name": words[2]})


#: cli_cmd_validate_dumpoption's words, in its order (abbreviations resolve against it)
_DUMP_WORDS = ("all", "nfs", "mem", "iobuf", "callpool", "priv", "fd", "inode", "history",
               "inodectx", "fdctx", "quotad")


def _leading_int(text: str) -> int:
    """C's strtol(text, NULL, 10) for a pid: the leading (signed) digits, 0 without any."""
    import re

    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match[1]) if match else 0


def _client_words(target: str) -> list[str] | None:
    """``HOST:PID`` as cli_cmd_volume_statedump_options_parse takes it (strtok on ``:``, a
    valid internet address, a pid above zero): ``[client, HOST, PID]``, else None."""
    from gluster_mgmt.cli.command_words import valid_internet_address

    tokens = [t for t in target.split(":") if t]
    if len(tokens) < 2 or not valid_internet_address(tokens[0]) or _leading_int(tokens[1]) <= 0:
        return None
    return ["client", tokens[0], tokens[1]]


def parse_volume_statedump(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume statedump"
    if len(words) < 3:
        raise usage_error(cmd)
    options: list[str] | None
    if len(words) >= 5 and words[3] == "client":
        options = _client_words(words[4])
    else:
        options = [unambiguous(w, _DUMP_WORDS) or "" for w in words[3:]]
        if "" in options or {"nfs", "quotad"} <= set(options):
            options = None
    if options is None:
        usage = usage_error(cmd)
        raise CliExit(usage.code, out="Error parsing options\n", err=usage.err)
    return Request("volume/statedump", {"name": words[2], "options": options}, cmd,
                   {"name": words[2]})


def parse_volume_barrier(words: Sequence[str], confirm: Confirm, opts: dict[str, Any]) -> Request:
    cmd = "volume barrier"
    if len(words) != 4:
        raise usage_error(cmd)
    return Request("volume/barrier", {"name": words[2], "barrier": words[3]}, cmd,
                   {"name": words[2]})
