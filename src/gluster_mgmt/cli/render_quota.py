"""What the stock CLI prints for `volume quota` (gf_cli_quota_cbk, print_quota_list_*,
cli_quota_xml_output, cli_quota_object_xml_output; widths and words are glusterfs's), from
the daemon's answer: for `list`, each path's limit (hard limit, soft limit percent or -1)
and usage (size, files, directories) as read from the volume's quota xattrs.

Exit codes as the stock CLI's: a failed change 1 (0 with --xml), a failed `list` 2."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

    from gluster_mgmt.cli.client import Response
    from gluster_mgmt.cli.command_words import Request

from gluster_mgmt.cli.view import Outcome
from gluster_mgmt.cli.xml_tree import E, serialize
from gluster_mgmt.quota_values import GFID_MISSING
from gluster_mgmt.rules import EG_INTRNL

#: gf_quota_type of `list` and `list-objects`
LIST, LIST_OBJECTS = 5, 13
#: the stock CLI's hint after a path that does not exist (op_ret -ENOENT)
PATH_HINT = "please enter the path relative to the volume"
USAGE_HEADER = ("                  Path                   Hard-limit  Soft-limit      Used  "
                "Available  Soft-limit exceeded? Hard-limit exceeded?\n" + "-" * 127 + "\n")
OBJECTS_HEADER = ("                  Path                   Hard-limit   Soft-limit      Files"
                  "       Dirs     Available  Soft-limit exceeded? Hard-limit exceeded?\n"
                  + "-" * 143 + "\n")
_UNITS = (("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10))


def human_size(n: int) -> str:
    """gf_uint64_2human_readable."""
    for unit, size in _UNITS:
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}Bytes"


def _percent(text: str) -> float:
    return float(text.strip().rstrip("%") or 0)


def _figures(row: dict[str, Any], default_sl: str, objects: bool) -> dict[str, Any] | None:
    """print_quota_list_output's arithmetic; None when the path has no limit."""
    if not row.get("limit"):
        return None
    hard, soft = row["limit"]
    if soft < 0:
        sl_num, sl_str = _percent(default_sl) * hard / 100, default_sl
    else:
        sl_num, sl_str = soft * hard / 100, f"{soft}%"
    size, files, dirs = row["usage"]
    used = files + dirs if objects else size
    if hard > used:
        avail, hl, sl = hard - used, False, used > sl_num
    else:
        avail, hl, sl = 0, True, True
    return {"hard": hard, "sl_str": sl_str, "sl_num": int(sl_num), "avail": avail,
            "sl": "Yes" if sl else "No", "hl": "Yes" if hl else "No"}


def _line(row: dict[str, Any], default_sl: str, objects: bool) -> str:
    path = row["path"]
    if row.get("error"):
        return ""
    if row.get("usage") is None:  # print_quota_list_empty
        if objects:
            return f"{path:<40} {'N/A':>9} {'N/A':>9} {'N/A':>12} {'N/A':>10} {'N/A':>10} " \
                   f"{'N/A':>15} {'N/A':>20}\n"
        return f"{path:<40} {'N/A':>7} {'N/A':>9} {'N/A':>10} {'N/A':>7} {'N/A':>15} {'N/A':>20}\n"
    size, files, dirs = row["usage"]
    f = _figures(row, default_sl, objects)
    if objects:
        if f is None:
            return f"{path:<40} {'N/A':>9} {'N/A':>9} {files:>10} {dirs:>10} {'N/A':>11} " \
                   f"{'N/A':>15} {'N/A':>20}\n"
        return (f"{path:<40} {f['hard']:>9} {f['sl_str']:>9}({f['sl_num']}) {files:>10}"
                f"{dirs:>10} {f['avail']:>11} {f['sl']:>15} {f['hl']:>20}\n")
    if f is None:
        return f"{path:<36} {'N/A':>10} {'N/A':>10} {human_size(size):>14} {'N/A':>9} " \
               f"{'N/A':>15} {'N/A':>18}\n"
    return (f"{path:<40} {human_size(f['hard']):>7} {f['sl_str']:>7}"
            f"({human_size(f['sl_num'])}) {human_size(size):>8} {human_size(f['avail']):>7} "
            f"{f['sl']:>15} {f['hl']:>20}\n")


def _errors(rows: list[dict[str, Any]]) -> str:
    return "".join(f"{r['path']:<40} {r['error']}\n" for r in rows if r.get("error"))


def _op_ret(response: Response) -> int:
    return -2 if response.op_errstr.startswith(GFID_MISSING) else -1


def human(request: Request, response: Response) -> Outcome:
    listing = int(request.params["op"]) in (LIST, LIST_OBJECTS)
    if not response.ok:
        hint = f"{PATH_HINT}\n" if _op_ret(response) == -2 else ""
        message = response.op_errstr or ""
        err = f"quota command failed : {message}\n" if message else "quota command : failed\n"
        return Outcome(err=err + hint, code=2 if listing else 1)
    if not listing:
        return Outcome(out="volume quota : success\n")
    data = response.data
    objects = int(request.params["op"]) == LIST_OBJECTS
    if data.get("unconfigured"):
        kind = " inode" if objects else ""
        return Outcome(out=f"quota: No{kind} quota configured on volume {data['name']}\n")
    rows = data.get("limits") or []
    default = data.get("default_soft_limit") or "80%"
    body = "".join(_line(r, default, objects) for r in rows)
    return Outcome(out=(OBJECTS_HEADER if objects else USAGE_HEADER) + body, err=_errors(rows))


def xml(request: Request, response: Response) -> Outcome:

    listing = int(request.params["op"]) in (LIST, LIST_OBJECTS)

    def document(op_ret: int, op_errno: int, errstr: str, *body: E) -> str:
        return serialize(E("cliOutput", children=[E("opRet", op_ret), E("opErrno", op_errno),
                                                  E("opErrstr", errstr), *body]))

    if not response.ok:
        out = document(_op_ret(response), EG_INTRNL, response.op_errstr, E("cliOp", "volQuota"))
        return Outcome(out=out, code=2 if listing else 0)
    if not listing:
        return Outcome(out=document(0, 0, "", E("cliOp", "volQuota")))
    data = response.data
    objects = int(request.params["op"]) == LIST_OBJECTS
    if data.get("unconfigured"):
        kind = " inode" if objects else ""
        message = f"No{kind} quota configured on volume {data['name']}"
        return Outcome(out=document(-1, 0, message, E("cliOp", "volQuota")))
    default = data.get("default_soft_limit") or "80%"
    limits = E("volQuota")
    for row in data.get("limits") or []:
        if row.get("error") or row.get("usage") is None:
            continue
        size, files, dirs = row["usage"]
        f = _figures(row, default, objects)
        na = "N/A"
        fields = [("path", row["path"]), ("hard_limit", f["hard"] if f else na),
                  ("soft_limit_percent", f["sl_str"] if f else na),
                  ("soft_limit_value", f["sl_num"] if f else na)]
        if objects:
            fields += [("file_count", files), ("dir_count", dirs),
                       ("available", f["avail"] if f else na)]
        else:
            fields += [("used_space", size), ("avail_space", f["avail"] if f else na)]
        fields += [("sl_exceeded", f["sl"] if f else na), ("hl_exceeded", f["hl"] if f else na)]
        limits.add(E("limit", children=[E(tag, value) for tag, value in fields]))
    return Outcome(out=document(0, 0, "", limits))
