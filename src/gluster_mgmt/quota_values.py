"""The values of `volume quota`'s words, as glusterfs reads them (``gf_string2bytesize_int64``,
``gf_string2percent``, ``gf_canonicalize_path``): shared by the daemon and the `gluster-mgmt`
CLI, which checks them before sending as the stock CLI does."""

from __future__ import annotations

import errno
import re

from gluster_mgmt.errors import OperationFailed

#: The stage message of a path that does not exist (its op_ret is -ENOENT, on which the stock
#: CLI adds "please enter the path relative to the volume")
GFID_MISSING = "Failed to get trusted.gfid attribute on path "
INT64_MAX = 2 ** 63 - 1
SIZE_RANGE = f"Please enter an integer value in the range of (1 - {INT64_MAX})"
_SIZE = re.compile(r"\s*(?P<number>[0-9]+(\.[0-9]*)?)\s*(?P<unit>[KMGTP]B)?\s*", re.I)
PERCENT_RANGE = "Please enter a correct value in the range of 0 to 100"
_UNITS = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}
_PERCENT = re.compile(r"\s*(?P<number>[0-9]+(\.[0-9]*)?)\s*%?\s*")


def parse_size(text: str) -> int:
    """``gf_string2bytesize_int64``: a number of bytes, with an optional KB..PB suffix."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise OperationFailed(SIZE_RANGE, errno.EINVAL)
    value = float(match["number"]) * _UNITS.get((match["unit"] or "").upper(), 1)
    if value < 1 or value > INT64_MAX:
        raise OperationFailed(SIZE_RANGE, errno.ERANGE)
    return int(value)


def parse_percent(text: str) -> float:
    """``gf_string2percent``: 0 to 100, with or without '%'."""
    match = _PERCENT.fullmatch(text)
    if match is None or not 0 <= float(match["number"]) <= 100:
        raise OperationFailed(PERCENT_RANGE, errno.EINVAL)
    return float(match["number"])


def canonical_path(path: str) -> str:
    """``gf_canonicalize_path``: one '/' between names, none at the end, '/' first."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)
