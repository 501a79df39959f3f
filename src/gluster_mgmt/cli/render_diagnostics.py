"""What the stock CLI prints for `volume profile`, `volume top`, `volume statedump` and
`volume barrier`, text and ``--xml`` (``gf_cli_profile_volume_cbk``,
``cmd_profile_volume_brick_out``, ``gf_cli_top_volume_cbk``, ``cli_xml_output_vol_profile``,
``cli_xml_output_vol_top``, ``gf_cli_statedump_volume_cbk``, ``gf_cli_barrier_volume_cbk``;
formats re-expressed here), from the `volume/profile` route's reply: the request's words
and the bricks' io-stats answers keyed as glusterd's reply dict (``count``, ``N-brick``,
``N-INTERVAL-FOP-hits``...).
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.command_words import Request
from gluster_mgmt.cli.view import Outcome
from gluster_mgmt.cli.xml_tree import E, cli_output, serialize
from gluster_mgmt.rules import EG_INTRNL, InfoOp, StatsOp, TopOp

#: glusterfs_fop_t in enum order (gf_fop_list's names).
FOPS = (
    "NULL", "STAT", "READLINK", "MKNOD", "MKDIR", "UNLINK", "RMDIR", "SYMLINK", "RENAME", "LINK",
    "TRUNCATE", "OPEN", "READ", "WRITE", "STATFS", "FLUSH", "FSYNC", "SETXATTR", "GETXATTR",
    "REMOVEXATTR", "OPENDIR", "FSYNCDIR", "ACCESS", "CREATE", "FTRUNCATE", "FSTAT", "LK",
    "LOOKUP", "READDIR", "INODELK", "FINODELK", "ENTRYLK", "FENTRYLK", "XATTROP", "FXATTROP",
    "FGETXATTR", "FSETXATTR", "RCHECKSUM", "SETATTR", "FSETATTR", "READDIRP", "FORGET",
    "RELEASE", "RELEASEDIR", "GETSPEC", "FREMOVEXATTR", "FALLOCATE", "DISCARD", "ZEROFILL",
    "IPC", "SEEK", "LEASE", "COMPOUND", "GETACTIVELK", "SETACTIVELK", "PUT", "ICREATE",
    "NAMELINK", "COPY_FILE_RANGE")
#: gf_upcall_flags_t's names (gf_upcall_list).
UPCALLS = ("NULL", "UPCALL", "CI_IATT", "CI_XATTR", "CI_RENAME", "CI_UNLINK", "CI_FORGET",
           "LEASE_RECALL")
_START, _STOP, _INFO, _TOP = StatsOp.START, StatsOp.STOP, StatsOp.INFO, StatsOp.TOP
_INFO_CLEAR = InfoOp.CLEAR
_TOP_OPEN, _TOP_READDIR = TopOp.OPEN, TopOp.READDIR
_TOP_READ_PERF, _TOP_WRITE_PERF = TopOp.READ_PERF, TopOp.WRITE_PERF
#: VOL_TOP_PERF_*_WIDTH
_SPEED, _NAME, _NAME_ALT, _TIME = 4, 47, 44, 26


class ReplyDict:
    """The reply dict's values as the CLI's dict_get_* read them (text parsed as numbers;
    a missing key is None)."""

    def __init__(self, request: Request, response: Response) -> None:
        data = response.data or {}
        self.items: dict[str, str] = {str(k): str(v) for k, v in data.get("request") or ()}
        self.items.update((str(k), str(v)) for k, v in data.get("output") or ())
        if not self.items:  # a failure: the CLI still has its own words
            self.items = {"volname": str(request.params.get("name", "")),
                          "op": str(request.params.get("op", 0)), "count": "0",
                          "info-op": str(request.params.get("info_op", 0))}

    def text(self, key: str) -> str | None:
        return self.items.get(key)

    def int(self, key: str) -> int | None:
        value = self.items.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def float(self, key: str) -> float | None:
        value = self.items.get(key)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _xml_error_no(response: Response) -> int:
    return EG_INTRNL if not response.ok else 0


# -- profile: text ---------------------------------------------------------------------------

def _brick_stats(d: ReplyDict, brick: int, interval: int) -> list[str]:
    """cmd_profile_volume_brick_out: one brick's cumulative or interval stats."""
    p = f"{brick}-{interval}"
    sizes = [1 << i for i in range(32)]
    reads = {s: d.int(f"{p}-read-{s}") or 0 for s in sizes}
    writes = {s: d.int(f"{p}-write-{s}") or 0 for s in sizes}
    fops = []
    total = 0.0
    for i, name in enumerate(FOPS):
        hits = d.int(f"{p}-{i}-hits") or 0
        avg = d.float(f"{p}-{i}-avglatency") or 0.0
        fops.append([name, hits, avg, d.float(f"{p}-{i}-minlatency") or 0.0,
                     d.float(f"{p}-{i}-maxlatency") or 0.0, 0.0])
        total += hits * avg
    if total:
        for fop in fops:
            fop[5] = 100 * ((fop[2] * fop[1]) / total)
        fops.sort(key=lambda fop: fop[5])  # stable, as gf_array_insertionsort
    lines = ["Cumulative Stats:" if interval == -1 else f"Interval {interval} Stats:"]
    row: list[str] = []
    for size in sizes:
        if not reads[size] and not writes[size]:
            continue
        row.append(size)
        if len(row) == 3:
            lines += _block_rows(row, reads, writes) + [" "]
            row = []
    if row:
        lines += _block_rows(row, reads, writes)
    header = False
    for name, hits, avg, low, high, share in fops:
        if not hits:
            continue
        if not header:
            lines.append(f"{'%-latency':>10} {'Avg-latency':>13} {'Min-Latency':>13} "
                         f"{'Max-Latency':>13} {'No. of calls':>14} {'Fop':>11}")
            lines.append(f"{'---------':>10} {'-----------':>13} {'-----------':>13} "
                         f"{'-----------':>13} {'------------':>14} {'----':>11}")
            header = True
        lines.append(f"{share:10.2f} {avg:10.2f} ns {low:10.2f} ns {high:10.2f} ns "
                     f"{hits:14d} {name:>11}")
    for i, name in enumerate(UPCALLS):
        hits = d.int(f"{p}-{i}-upcall-hits") or 0
        if hits:
            lines.append(f"{0.0:10.2f} {0.0:10.2f} us {0.0:10.2f} us {0.0:10.2f} us "
                         f"{hits:14d} {name:>11}")
    lines += [" ", f"{'Duration':>12}: {d.int(f'{p}-duration') or 0} seconds",
              f"{'Data Read':>12}: {d.int(f'{p}-total-read') or 0} bytes",
              f"{'Data Written':>12}: {d.int(f'{p}-total-write') or 0} bytes", " "]
    return lines


def _block_rows(sizes: list[int], reads: dict[int, int], writes: dict[int, int]) -> list[str]:
    return [f"{'Block Size:':>14}" + "".join(f"{s:>19}b+ " for s in sizes),
            f"{'No. of Reads:':>14}" + "".join(f"{reads[s]:>21} " for s in sizes),
            f"{'No. of Writes:':>14}" + "".join(f"{writes[s]:>21} " for s in sizes)]


def profile_text(request: Request, response: Response) -> Outcome:
    d = ReplyDict(request, response)
    op, name = d.int("op") or 0, d.text("volname") or ""
    if not response.ok and response.op_errstr:
        return Outcome(err=f"{response.op_errstr}\n", code=1)
    outcome = "unsuccessful" if not response.ok else "successful"
    words = {_START: "Starting volume profile", _STOP: "Stopping volume profile"}
    if op != _INFO:
        line = f"{words.get(op, 'volume profile')} on {name} has been {outcome} "
        return Outcome(out=f"{line}\n", code=0 if response.ok else 1)
    if not response.ok:
        return Outcome(code=1)
    count = d.int("count") or 0
    if not count:
        return Outcome(err=f"All bricks of volume {name} are down.\n")
    lines: list[str] = []
    for brick in range(1, count + 1):
        title = f"Brick: {d.text(f'{brick}-brick')}"
        lines += [title, "-" * len(title)]
        if d.int("info-op") == _INFO_CLEAR:
            lines.append("Cleared stats." if d.int(f"{brick}-stats-cleared")
                         else "Failed to clear stats.")
            continue
        for which in ("cumulative", "interval"):
            interval = d.int(f"{brick}-{which}")
            if interval is not None:
                lines += _brick_stats(d, brick, interval)
    return Outcome(out=_lines(lines))


# -- top: text --------------------------------------------------------------------------------

def _perf_time(seconds: int, micros: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(seconds)) + f".{micros}"


def top_text(request: Request, response: Response) -> Outcome:
    if not response.ok:
        err = f"{response.op_errstr}\n" if response.op_errstr else ""
        return Outcome(err=err + "volume top unsuccessful\n", code=1)
    d = ReplyDict(request, response)
    count, top_op = d.int("count") or 0, d.int("1-top-op")
    if top_op is None:
        return Outcome(code=1)
    lines: list[str] = []
    members = 0
    for brick in range(1, count + 1):
        name = d.text(f"{brick}-brick")
        if d.int("clear-stats"):
            lines.append(f"Cleared stats for brick {name}" if d.int(f"{brick}-stats-cleared")
                         else f"Failed to clear stats for brick {name}")
            continue
        lines.append(f"Brick: {name}")
        members = d.int(f"{brick}-members") if d.int(f"{brick}-members") is not None else members
        perf = top_op in (_TOP_READ_PERF, _TOP_WRITE_PERF)
        header = True  # the stock CLI's switch: what it prints before the files
        if top_op == _TOP_OPEN:
            if d.text(f"{brick}-current-open") is None:
                header = False  # straight to the files
            elif d.text(f"{brick}-max-open") is None or d.text(f"{brick}-max-openfd-time") is None:
                break
            else:
                lines.append(f"Current open fds: {d.int(f'{brick}-current-open')}, Max open fds: "
                             f"{d.int(f'{brick}-max-open')}, Max openfd time: "
                             f"{d.text(f'{brick}-max-openfd-time')}")
        elif perf:
            throughput, taken = d.float(f"{brick}-throughput"), d.float(f"{brick}-time")
            if throughput is not None and taken is not None:
                lines.append(f"Throughput {throughput:.2f} MBps time {taken / 1e6:.4f} secs")
        elif not _TOP_OPEN < top_op <= _TOP_READDIR:
            break
        if header:
            if not members:
                continue
            lines += ([f"{'MBps':>{_SPEED}} {'Filename':<{_NAME}} {'Time':<{_TIME}}",
                       f"{'====':>{_SPEED}} {'========':<{_NAME}} {'====':<{_TIME}}"] if perf
                      else ["Count\t\tfilename\n======================="])
        for j in range(1, members + 1):
            filename = d.text(f"{brick}-filename-{j}")
            if filename is None:
                break
            value = d.int(f"{brick}-value-{j}") or 0
            if perf:
                stamp = _perf_time(d.int(f"{brick}-time-sec-{j}") or 0,
                                   d.int(f"{brick}-time-usec-{j}") or 0)
                shown = f"{filename:<{_NAME}}" if len(filename) < _NAME else \
                    f"...{filename[len(filename) - _NAME_ALT:]:<{_NAME_ALT}}"
                lines.append(f"{value:>{_SPEED}} {shown} {stamp:<{_TIME}}")
            else:
                lines.append(f"{value}\t\t{filename}")
    return Outcome(out=_lines(lines))


def profile_or_top_text(request: Request, response: Response) -> Outcome:
    return top_text(request, response) if request.params.get("op") == _TOP else \
        profile_text(request, response)


# -- profile and top: --xml -------------------------------------------------------------------

def _profile_stats_xml(E, d: ReplyDict, brick: int, interval: int) -> Any:
    p = f"{brick}-{interval}"
    blocks = E("blockStats", children=[E("block", children=[
        E("size", 1 << i), E("reads", d.int(f"{p}-read-{1 << i}") or 0),
        E("writes", d.int(f"{p}-write-{1 << i}") or 0)]) for i in range(32)])
    fops = E("fopStats")
    for i, name in enumerate(FOPS):
        values = [d.int(f"{p}-{i}-hits"), d.float(f"{p}-{i}-avglatency"),
                  d.float(f"{p}-{i}-minlatency"), d.float(f"{p}-{i}-maxlatency")]
        if any(v is None for v in values):
            continue
        hits, avg, low, high = values
        fops.add(E("fop", children=[E("name", name), E("hits", hits), E("avgLatency", f"{avg:f}"),
                                    E("minLatency", f"{low:f}"), E("maxLatency", f"{high:f}")]))
    for i in range(len(UPCALLS)):
        hits = d.int(f"{p}-{i}-upcall-hits")
        if hits is not None:  # named from the fop list, as the stock CLI does
            fops.add(E("fop", children=[E("name", FOPS[i]), E("hits", hits),
                                        E("avgLatency", f"{0.0:f}"), E("minLatency", f"{0.0:f}"),
                                        E("maxLatency", f"{0.0:f}")]))
    return E("cumulativeStats" if interval == -1 else "intervalStats", children=[
        blocks, fops, E("duration", d.int(f"{p}-duration") or 0),
        E("totalRead", d.int(f"{p}-total-read") or 0),
        E("totalWrite", d.int(f"{p}-total-write") or 0)])


def profile_xml(request: Request, response: Response) -> Outcome:

    d = ReplyDict(request, response)
    op = d.int("op") or 0
    body = E("volProfile", children=[E("volname", d.text("volname") or ""), E("profileOp", op)])
    if op == _INFO:
        count = d.int("count") or 0
        body.add(E("brickCount", count))
        for brick in range(1, count + 1):
            element = E("brick", children=[E("brickName", d.text(f"{brick}-brick") or "")])
            if d.int("info-op") == _INFO_CLEAR:
                element.add(E("clearStats", "Cleared stats." if d.int(f"{brick}-stats-cleared")
                              else "Failed to clear stats."))
            else:
                for which in ("cumulative", "interval"):
                    interval = d.int(f"{brick}-{which}")
                    if interval is not None:
                        element.add(_profile_stats_xml(E, d, brick, interval))
            body.add(element)
    return Outcome(out=serialize(_with_errno(cli_output(response, body), response)))


def _with_errno(root: Any, response: Response) -> Any:
    root.children[1].text = str(_xml_error_no(response))
    return root


def top_xml(request: Request, response: Response) -> Outcome:
    """cli_xml_output_vol_top, written only once the command succeeded (a failure prints
    the text); `top clear` makes the stock CLI's XML writer fail: exit 2, nothing printed."""

    if not response.ok:
        return top_text(request, response)
    d = ReplyDict(request, response)
    count, top_op = d.int("count") or 0, d.int("1-top-op")
    if top_op is None or not _TOP_OPEN <= top_op <= _TOP_WRITE_PERF:
        return Outcome(code=2)
    body = E("volTop", children=[E("brickCount", count), E("topOp", top_op)])
    for brick in range(1, count + 1):
        members = d.int(f"{brick}-members") or 0
        element = E("brick", children=[E("name", d.text(f"{brick}-brick") or ""),
                                       E("members", members)])
        perf = top_op in (_TOP_READ_PERF, _TOP_WRITE_PERF)
        if top_op == _TOP_OPEN:
            element.add(E("currentOpen", d.int(f"{brick}-current-open") or 0),
                        E("maxOpen", d.int(f"{brick}-max-open") or 0),
                        E("maxOpenTime", d.text(f"{brick}-max-openfd-time") or ""))
        elif perf:
            throughput, taken = d.float(f"{brick}-throughput"), d.float(f"{brick}-time")
            if throughput is not None and taken is not None:
                element.add(E("throughput", f"{throughput:f}"), E("timeTaken", f"{taken:f}"))
        for j in range(1, members + 1):
            file = E("file", children=[E("filename", d.text(f"{brick}-filename-{j}") or ""),
                                       E("count", d.int(f"{brick}-value-{j}") or 0)])
            if perf:
                seconds, micros = d.int(f"{brick}-time-sec-{j}") or 0, d.int(f"{brick}-time-usec-{j}") or 0
                file.add(E("time", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
                           + f".{micros:06d} " + time.strftime("%z", time.localtime(seconds))))
            element.add(file)
        body.add(element)
    return Outcome(out=serialize(cli_output(response, body)))


def profile_or_top_xml(request: Request, response: Response) -> Outcome:
    return top_xml(request, response) if request.params.get("op") == _TOP else \
        profile_xml(request, response)


# -- statedump and barrier ----------------------------------------------------------------------

def statedump_text(request: Request, response: Response) -> Outcome:
    if response.ok:
        return Outcome(out="volume statedump: success\n")
    return Outcome(err=f"volume statedump: failed: {response.op_errstr}\n", code=1)


def statedump_xml(request: Request, response: Response) -> Outcome:

    message = "Volume statedump successful" if response.ok else response.op_errstr
    root = cli_output(response, E("cliOp", "volStatedump"), E("output", message))
    return Outcome(out=serialize(_with_errno(root, response)))


def barrier_text(request: Request, response: Response) -> Outcome:
    """The stock CLI prints this for --xml too."""
    if response.ok:
        return Outcome(out="volume barrier: command successful\n")
    detail = f" : {response.op_errstr}" if len(response.op_errstr or "") > 1 else ""
    return Outcome(err=f"volume barrier: command unsuccessful{detail}\n", code=1)


TEXT: dict[str, Callable[[Request, Response], Outcome]] = {
    "volume/profile": profile_or_top_text,
    "volume/statedump": statedump_text,
    "volume/barrier": barrier_text,
}
XML: dict[str, Callable[[Request, Response], Outcome]] = {
    "volume/profile": profile_or_top_xml,
    "volume/statedump": statedump_xml,
    "volume/barrier": barrier_text,
}
