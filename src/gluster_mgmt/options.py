"""The volume option table and glusterd-compatible validation of `volume set` values.

The table (data/options.json) holds facts of glusterd 10.3: every settable key in glusterd's
own order (volgen applies options in that order, which fixes volfile layout), the xlator type
and option name it lands in, glusterd's default, and the type/range/choices of the option in
its xlator. Code here only interprets that data.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Container, Mapping
from importlib import resources
from typing import Any

import attrs

from gluster_mgmt.errors import (
    VALIDATION_FAILED,
    OptionValueError,
    UnknownOptionError,
    ValidationError,
)

BOOL_TRUE = frozenset({"1", "on", "yes", "true", "enable"})
BOOL_FALSE = frozenset({"0", "off", "no", "false", "disable"})


@attrs.frozen
class MapEntry:
    """One row of glusterd's option map; one key may have several rows (several xlators)."""

    key: str
    xlator: str | None
    # xlator option name; a leading '!' means "handled specially by volgen, not copied as is"
    option: str | None
    default: str | None
    type: str
    xlator_default: str | None = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    op_version: int | None = None
    flags: tuple[str, ...] = ()
    doc: str = "DOC"
    # False where glusterd takes any value: it checks a value only against the option table
    # of the xlator it lands in, and transport.socket.* options are not in protocol/client's
    # or protocol/server's table (client.ssl, server.ssl, ssl.*: tests/data/glusterd-10.3/ssl)
    checked: bool = True
    # False where glusterd's `volume get VOL all` leaves the row out unless the volume sets
    # it: no default in the row and none found in its xlator (NFS's, not built in Debian's
    # 10.3; glusterd's own; options their xlator does not list; cli/volume-get-all.txt)
    volume_get: bool = True

    @property
    def option_name(self) -> str:
        """The option name inside the xlator (glusterd: last key component by default)."""
        if self.option:
            return self.option.lstrip("!")
        return self.key.rsplit(".", 1)[-1]

    @property
    def is_special(self) -> bool:
        return bool(self.option and self.option.startswith("!"))


@attrs.frozen
class OptionTable:
    """All map rows in glusterd's order, plus lookups by key."""

    entries: tuple[MapEntry, ...]
    op_version: int

    @functools.cached_property
    def _by_key(self) -> dict[str, tuple[MapEntry, ...]]:
        grouped: dict[str, list[MapEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(entry.key, []).append(entry)
        return {key: tuple(rows) for key, rows in grouped.items()}

    def keys(self) -> list[str]:
        return list(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def rows(self, key: str) -> tuple[MapEntry, ...]:
        return self._by_key[key]

    def spec(self, key: str) -> MapEntry:
        """The row that decides validation: the first one with a known value type."""
        rows = self._by_key[key]
        return next((r for r in rows if r.type not in ("any", "string")), rows[0])

    def default(self, key: str) -> str | None:
        """What `volume get` shows as default: glusterd's map default, else the xlator's."""
        rows = self._by_key[key]
        for row in rows:
            if row.default is not None:
                return row.default
        return rows[0].xlator_default

    def resolve_key(self, key: str) -> str:
        """Full key for ``key``: exact, or a unique short name (``quick-read``), as glusterd.

        Raises UnknownOptionError with glusterd's "Did you mean" hint.
        """
        if "." not in key:
            matches = {k for k in self._by_key if k.split(".", 1)[1] == key}
            if len(matches) == 1:
                return matches.pop()
            raise UnknownOptionError(key, self.hint(key))
        if key in self._by_key or is_user_key(key):
            return key
        raise UnknownOptionError(key, self.hint(key))

    def resolve_table_key(self, key: str) -> str:
        """:meth:`resolve_key` without the ``user.*`` namespace: glusterd's reset and get
        look a key up in its option map only (``glusterd_check_option_exists``)."""
        if is_user_key(key) and key not in self._by_key:
            raise UnknownOptionError(key, self.hint(key))
        return self.resolve_key(key)

    def hint(self, key: str) -> str | None:
        """glusterd's suggestion: nearest domain, then the two nearest names in it."""
        if "." not in key:
            return _nearest(key, self._words(level=1), 2, "")
        domain, rest = key.split(".", 1)
        best_domain = _nearest(domain, self._words(level=0), 1, "")
        if not best_domain:
            return None
        names = _nearest(rest, self._words(level=1, domain=best_domain), 2, "...")
        return f"{best_domain}.{names}" if names else None

    def _words(self, level: int, domain: str | None = None) -> set[str]:
        words = set()
        for key in self._by_key:
            parts = key.split(".")
            if domain is not None and parts[0] != domain:
                continue
            if len(parts) > level:
                words.add(parts[level])
        return words

    def validate(self, key: str, value: str,
                 loaded: Container[str] | None = None) -> tuple[str, str]:
        """Resolve the key and check the value; returns (full key, value as stored).

        ``loaded``: the xlator types of the volume's graphs. glusterd checks a value only
        through an xlator loaded in one of them (its volgen validation), so an option of an
        xlator the volume does not load (replicate's on a distribute volume, io-cache while
        off) takes any value; an xlator switch and glusterd's own keys are always checked.

        Every value is one line of printable text whatever its type: a value lands in
        volfiles and in glusterd's info files as a line, so a control character would let it
        write lines of its own."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError(f"option {key!r}: key and value must be text, not "
                                  f"{type(key).__name__} and {type(value).__name__}")
        full_key = self.resolve_key(key)
        bad = _CONTROL_CHARACTER.search(value)
        if bad:
            raise ValidationError(f"value of {full_key} contains the control character "
                                  f"{bad.group()!r}: an option value is one line of printable "
                                  "text")
        if full_key.startswith("user.xlator."):
            check_user_xlator(full_key, value)
            return full_key, value
        if is_user_key(full_key):
            check_user_key(full_key)
            return full_key, value
        if loaded is None:
            spec = self.spec(full_key)
            if spec.checked:
                check_value(spec, value)
            return full_key, value
        rows = self._by_key[full_key]
        for row in [r for r in rows if r.type not in ("any", "string")] or rows[:1]:
            if not row.checked:
                continue
            switch = row.is_special and row.type == "bool"
            transport = row.is_special and row.xlator in _TRANSPORT_XLATORS
            if switch or row.xlator is None or (row.xlator in loaded and not transport):
                check_value(row, value)
        return full_key, value


#: volgen hands their special options (``transport.address-family``) to the socket
#: transport, whose values glusterd does not validate.
_TRANSPORT_XLATORS = frozenset({"protocol/server", "protocol/client"})
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[A-Za-z0-9_-]+")


#: glusterd's hooks namespace (``GD_HOOKS_SPECIFIC_KEY``): `volume set` stores any
#: ``user.*`` key with any value unchecked, for the hook scripts (the samba hooks read
#: ``user.cifs`` and ``user.smb``; the ``virt`` group sets ``user.cifs off``); volgen writes
#: none of them into a volfile (``user.xlator.*`` aside).
USER_NAMESPACE = "user."
_USER_KEY = re.compile(r"user\.[^\s\x00-\x1f\x7f=]+")


def is_user_key(key: str) -> bool:
    return key.startswith(USER_NAMESPACE) and len(key) > len(USER_NAMESPACE)


def check_user_key(key: str) -> None:
    """A ``user.*`` key is one word: it is a line's ``key=`` in glusterd's info file."""
    if not _USER_KEY.fullmatch(key):
        raise ValidationError(f"invalid option name {key!r}: a user.* key is one word, "
                              "without whitespace, control characters or '='")


def check_user_xlator(key: str, value: str) -> None:
    """``user.xlator.NAME`` (value: the xlator it is loaded above) and
    ``user.xlator.NAME.OPTION`` (an option of it): names are words, as glusterd loads the
    xlator from ``xlator/user/NAME.so`` and writes ``option OPTION VALUE``."""
    parts = key.split(".")[2:]
    if not 1 <= len(parts) <= 2 or not all(_WORD.fullmatch(p) for p in parts):
        raise ValidationError(f"invalid user xlator option {key!r}: expected "
                              "user.xlator.NAME or user.xlator.NAME.OPTION, names made of "
                              "letters, digits, '-' and '_'")
    if len(parts) == 1 and not _WORD.fullmatch(value):
        raise ValidationError(f"value of {key} must name the xlator it is loaded above "
                              f"(e.g. posix), not {value!r}")


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _nearest(word: str, candidates: set[str], count: int, infix: str) -> str | None:
    """Up to ``count`` candidates at the smallest distance, first in lexical order (as
    glusterd's trie walk finds them), joined ``a or <infix>b``."""
    if not candidates:
        return None
    scored = sorted((_edit_distance(word, c), c) for c in candidates)
    best = scored[0][0]
    tied = [c for d, c in scored if d == best][:count]
    return tied[0] if len(tied) == 1 else f"{tied[0]} or {infix}{tied[1]}"


# -- value parsing -----------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "k": 1024, "mb": 1024**2, "m": 1024**2,
               "gb": 1024**3, "g": 1024**3, "tb": 1024**4, "t": 1024**4, "pb": 1024**5,
               "p": 1024**5}
_TIME_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
               "d": 86400, "days": 86400, "w": 604800, "wk": 604800}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in BOOL_TRUE:
        return True
    if lowered in BOOL_FALSE:
        return False
    raise ValueError(f"'{value}' is not a valid boolean value")


def parse_size(value: str) -> int:
    """Bytes from ``128MB``/``1g``/``4096``; units are binary as in glusterfs."""
    match = re.fullmatch(rf"\s*({_NUMBER})\s*([A-Za-z]*)\s*", value)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f'invalid number format "{value}"')
    number = float(match.group(1))
    if number < 0:
        raise ValueError(f'invalid number format "{value}"')
    return int(number * _SIZE_UNITS[match.group(2).lower()])


def parse_percent(value: str) -> float:
    match = re.fullmatch(rf"\s*({_NUMBER})\s*%?\s*", value)
    if not match:
        raise ValueError(f'invalid percent format "{value}"')
    return float(match.group(1))


def parse_time(value: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", value)
    if not match or match.group(2).lower() not in _TIME_UNITS:
        raise ValueError(f'invalid time format "{value}"')
    return int(match.group(1)) * _TIME_UNITS[match.group(2).lower()]


def parse_int(value: str) -> int:
    try:
        return int(value.strip(), 0)
    except ValueError:
        raise ValueError(f'invalid number format "{value}"') from None


#: io-stats takes the log levels volgen sets for these keys as its option ``log-level``.
_IO_STATS_OPTION = {"brick-log-level": "log-level", "client-log-level": "log-level"}


def _range_message(spec: MapEntry, shown: str, value: str) -> str | None:
    """glusterd's xlator_option_validate_* range text for ``shown`` (the number as the
    xlator prints it), or None when it is in range: both bounds, or only one of them."""
    low, high = spec.min, spec.max
    number = float(shown)
    where = f"'{shown}' in 'option {_IO_STATS_OPTION.get(spec.option_name, spec.option_name)} {value}'"
    if low is not None and high is not None:
        if low == high == 0 or low <= number <= high:
            return None
        return f"{where} is out of range [{low:.0f} - {high:.0f}]"
    if low is not None and number < low:
        return f"{where} is smaller than minimum value '{low:.0f}'"
    if high is not None and number > high:
        return f"{where} is greater than maximum value '{high:.0f}'"
    return None


def check_value(spec: MapEntry, value: str) -> None:
    """Refuse ``value`` the way the option's xlator would, with its message (raises
    OptionValueError). An xlator switch (``performance.quick-read``) is refused by glusterd's
    volgen, which says no more than "Error, Validation Failed"."""
    reason = _value_error(spec, value)
    if reason is not None:
        switch = spec.is_special and spec.type == "bool"
        raise OptionValueError(spec.key, value, VALIDATION_FAILED if switch else reason)


def _value_error(spec: MapEntry, value: str) -> str | None:
    """glusterd 10.3's text for a bad ``value`` (libglusterfs/src/options.c), or None."""
    kind, name = spec.type, _IO_STATS_OPTION.get(spec.option_name, spec.option_name)
    number_format = f'invalid number format "{value}" in option "{name}"'
    if kind == "bool":
        try:
            parse_bool(value)
        except ValueError:
            return f"option {name} {value}: '{value}' is not a valid boolean value"
    elif kind == "int":
        try:
            number = parse_int(value)
        except ValueError:
            return number_format
        return _range_message(spec, str(number), value)
    elif kind == "double":
        try:
            number_f = float(value)
        except ValueError:
            return number_format
        return _range_message(spec, f"{number_f:f}", value)
    elif kind == "size":
        try:
            size = parse_size(value)
        except ValueError:
            return number_format
        return _range_message(spec, str(size), value)
    elif kind == "percent":
        try:
            percent = parse_percent(value)
        except ValueError:
            return f'invalid percent format "{value}" in "option {name}"'
        if not 0 <= percent <= 100:
            return f"'{percent:f}' in 'option {name} {value}' is out of range [0 - 100]"
    elif kind == "percent-or-size":
        try:
            amount = parse_percent(value) if value.strip().endswith("%") else parse_size(value)
        except ValueError:
            return f'invalid number format "{value}" in "option {name}"'
        if value.strip().endswith("%"):
            if not 0 <= amount <= 100:
                return f"'{amount:f}' in 'option {name} {value}' is out of range [0 - 100]"
            return None
        if spec.min is not None and spec.max is not None and not spec.min == spec.max == 0 \
                and not spec.min <= amount <= spec.max:
            return (f"'{float(amount):f}' in 'option {name} {value}' is out of range "
                    f"[{spec.min:.0f} - {spec.max:.0f}]")
    elif kind == "time":
        try:
            seconds = parse_time(value)
        except ValueError:
            return f'invalid time format "{value}" in "option {name}"'
        return _range_message(spec, str(seconds), value)
    elif kind == "path":
        if not value.startswith("/"):
            return f"option {name} {value}: '{value}' is not an absolute path name"
    elif kind in ("enum", "string", "any", "xlator") and spec.choices:
        if value.lower() not in {c.lower() for c in spec.choices}:
            return (f"option {name} {value}: '{value}' is not valid (possible options are "
                    f"{', '.join(spec.choices)}.)")
    return None


# -- loading -----------------------------------------------------------------------------

def _entry_from_json(row: Mapping[str, Any]) -> MapEntry:
    choices = row.get("choices")
    return MapEntry(
        key=row["key"], xlator=row.get("xlator"), option=row.get("option"),
        default=row.get("default"), type=row.get("type") or "string",
        xlator_default=row.get("xlator_default"),
        choices=tuple(choices) if choices else None, min=row.get("min"), max=row.get("max"),
        op_version=row.get("op_version"), flags=tuple(row.get("flags") or ()),
        doc=row.get("doc") or "DOC", checked=row.get("checked", True),
        volume_get=row.get("volume_get", True),
    )


@functools.cache
def option_table() -> OptionTable:
    """The table shipped with the package (loaded once)."""
    text = resources.files("gluster_mgmt").joinpath("data/options.json").read_text("utf-8")
    data = json.loads(text)
    return OptionTable(entries=tuple(_entry_from_json(r) for r in data["options"]),
                       op_version=int(data["op_version"]))


def validate_option(key: str, value: str,
                    loaded: Container[str] | None = None) -> tuple[str, str]:
    """`volume set KEY VALUE` check against the shipped table; returns (full key, value).
    ``loaded``: see OptionTable.validate."""
    return option_table().validate(key, value, loaded)
