"""The words of a gluster command, shared by every parser: each command's usage text, the
:class:`Request` a parse makes, :class:`CliExit` for what to print instead, and the word rules
the gluster CLI applies everywhere (unambiguous prefixes, C's number parsing, brick syntax).
Kept apart from ``cli.parser``'s grammar so that the parsers loaded on demand
(``cli.parse_diagnostics``) build on them without importing the grammar."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

#: How a question is asked: returns True for yes. In script mode it always answers yes.
Confirm = Callable[[str], bool]

#: The usage text of each command, as the gluster CLI prints it after "Usage:".
USAGE = {
    "volume info": "volume info [all|<VOLNAME>]",
    "volume create": (
        "volume create <NEW-VOLNAME> [[replica <COUNT> [arbiter <COUNT>]]|"
        "[replica 2 thin-arbiter 1]] [disperse [<COUNT>]] [disperse-data <COUNT>] "
        "[redundancy <COUNT>] [transport <tcp|rdma|tcp,rdma>] <NEW-BRICK> <TA-BRICK>... "
        "[force]"),
    "volume delete": "volume delete <VOLNAME>",
    "volume start": "volume start <VOLNAME> [force]",
    "volume stop": "volume stop <VOLNAME> [force]",
    "volume add-brick": "volume add-brick <VOLNAME> [<replica> <COUNT> [arbiter <COUNT>]] "
                        "<NEW-BRICK> ... [force]",
    "volume remove-brick": "volume remove-brick <VOLNAME> [replica <COUNT>] <BRICK> ... "
                           "<start|stop|status|commit|force>",
    "volume rebalance": "volume rebalance <VOLNAME> {{fix-layout start} | {start [force]|stop|"
                        "status}}",
    "volume heal": (
        "volume heal <VOLNAME> [enable | disable | full |"
        "statistics [heal-count [replica <HOSTNAME:BRICKNAME>]] |"
        "info [summary | split-brain] |"
        "split-brain {bigger-file <FILE> | latest-mtime <FILE> |"
        "source-brick <HOSTNAME:BRICKNAME> [<FILE>]} |"
        "granular-entry-heal {enable | disable}]"),
    "volume quota": (
        "volume quota <VOLNAME> {enable|disable|list [<path> ...]| list-objects [<path> ...] "
        "| remove <path>| remove-objects <path> | default-soft-limit <percent>}\n"
        "volume quota <VOLNAME> {limit-usage <path> <size> [<percent>]}\n"
        "volume quota <VOLNAME> {limit-objects <path> <number> [<percent>]}\n"
        "volume quota <VOLNAME> {alert-time|soft-timeout|hard-timeout} {<time>}"),
    "volume replace-brick": "volume replace-brick <VOLNAME> <SOURCE-BRICK> <NEW-BRICK> "
                            "{commit force}",
    "volume reset-brick": "volume reset-brick <VOLNAME> <SOURCE-BRICK> {{start} | "
                          "{<NEW-BRICK> commit}}",
    "volume log": "volume log <VOLNAME> rotate [BRICK]",
    "volume sync": "volume sync <HOSTNAME> [all|<VOLNAME>]",
    "volume profile": "volume profile <VOLNAME> {start|info [peek|incremental [peek]|"
                      "cumulative|clear]|stop} [nfs]",
    "volume top": "volume top <VOLNAME> {open|read|write|opendir|readdir|clear} [nfs|brick "
                  "<brick>] [list-cnt <value>] | {read-perf|write-perf} [bs <size> count "
                  "<count>] [brick <brick>] [list-cnt <value>]",
    "volume statedump": "volume statedump <VOLNAME> [[nfs|quotad] [all|mem|iobuf|callpool|"
                        "priv|fd|inode|history]... | [client <hostname:process-id>]]",
    "volume barrier": "volume barrier <VOLNAME> {enable|disable}",
    # two patterns share "volume set"; the gluster CLI shows the one registered last
    "volume set": "volume set <VOLNAME> group <GROUP>",
    "volume reset": "volume reset <VOLNAME> [option] [force]",
    "volume status": "volume status [all | <VOLNAME> [nfs|shd|<BRICK>|quotad]] "
                     "[detail|clients|mem|inode|fd|callpool|tasks|client-list]",
    "volume list": "volume list",
    "volume get": "volume get <VOLNAME|all> <key|all>",
    "peer probe": "peer probe { <HOSTNAME> | <IP-address> }",
    "peer detach": "peer detach { <HOSTNAME> | <IP-address> } [force]",
    "peer status": "peer status",
    "pool list": "pool list",
    "txn list": "txn list",
    "txn show": "txn show <TXN-ID>",
    "import": "import <GLUSTERD-STATE-DIR>",
    "export": "export <DIR>",
    "system:: uuid get": "system:: uuid get",
    "volume clear-locks": "volume clear-locks <VOLNAME> <path> kind {blocked|granted|all}"
                          "{inode [range]|entry [basename]|posix [range]}",
    "get-state": "get-state [<daemon>] [[odir </path/to/output/dir/>] [file <filename>]] "
                 "[detail|volumeoptions]",
}


class CliExit(Exception):
    """Stop here: print ``out`` and ``err`` and exit with ``code``."""

    def __init__(self, code: int, out: str = "", err: str = "") -> None:
        super().__init__(code, out, err)
        self.code = code
        self.out = out
        self.err = err


class Request:
    """A call to make: ``route`` and its ``params``; ``command`` names the gluster command
    (``"volume create"``), ``context`` carries what the renderer needs besides the reply."""

    __slots__ = ("command", "context", "params", "route")

    def __init__(self, route: str, params: dict[str, Any], command: str,
                 context: dict[str, Any] | None = None) -> None:
        self.route = route
        self.params = params
        self.command = command
        self.context = context or {}

    def __repr__(self) -> str:
        return f"Request({self.route!r}, {self.params!r}, command={self.command!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Request) and (self.route, self.params, self.command)
                == (other.route, other.params, other.command))


def usage_error(command: str, *messages: str) -> CliExit:
    """Messages (stderr) then the command's usage (stderr), exit 1: what the gluster CLI
    does for every syntax error."""
    err = "".join(f"{m}\n" for m in messages)
    return CliExit(1, err=err + f"\nUsage:\n{USAGE[command]}\n\n")


def failure(*messages: str, code: int = 1) -> CliExit:
    return CliExit(code, err="".join(f"{m}\n" for m in messages))


def unambiguous(token: str, choices: Sequence[str]) -> str | None:
    """The choice ``token`` names: an exact match, else the only choice it is a prefix of."""
    if not token:
        return None
    matches = []
    for choice in choices:
        if choice == token:
            return choice
        if choice.startswith(token):
            matches.append(choice)
    return matches[0] if len(matches) == 1 else None


def c_strtol(text: str | None) -> int:
    """C's strtol(text, NULL, 0): leading digits in base 10/16/8, 0 when there are none."""
    if not text:
        return 0
    m = re.match(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if not m:
        return 0
    sign = -1 if m.group(1) == "-" else 1
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        return sign * int(digits, 16)
    if digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def strict_int(text: str | None) -> int | None:
    """glusterd's gf_string2int: the whole word must be an integer."""
    if text is None:
        return None
    try:
        return int(text.strip(), 10)
    except ValueError:
        return None


def brick_syntax_ok(word: str) -> bool:
    """HOST:/PATH, split at the last colon, host non-empty, path absolute."""
    colon = word.rfind(":")
    return colon > 0 and word[colon + 1:colon + 2] == "/"


def canonical_brick(word: str) -> str:
    """Collapse repeated slashes and drop a trailing one in the brick's path."""
    host, _, path = word.rpartition(":")
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    return f"{host}:{path}"


# -- addresses: the CLI's valid_internet_address (IPv4, IPv6, host name) -------------------

_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


def is_ipv4(address: str) -> bool:
    return bool(_IPV4.match(address))


def is_ipv6(address: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(address.strip("[]"))
    except ValueError:
        return False
    return True


def is_host_name(address: str) -> bool:
    if not 0 < len(address) <= 255 or ".." in address:
        return False
    if not (address[-1].isascii() and address[-1].isalnum()) and address[-1] != "*":
        return False
    for label in address.split("."):
        if not label:
            continue
        if not (label[0].isascii() and label[0].isalnum() and label[-1].isascii()
                and label[-1].isalnum()):
            return False
        if any(not (c.isascii() and (c.isalnum() or c == "-")) for c in label[1:]):
            return False
    return True


def valid_internet_address(address: str) -> bool:
    return bool(address) and (is_ipv4(address) or is_ipv6(address) or is_host_name(address))
