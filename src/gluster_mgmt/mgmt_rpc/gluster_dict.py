"""GlusterFS dict blobs, the ``xdata``/``dict`` opaque fields of mgmt messages.

Layout (``dict_serialize``), big-endian and without XDR padding::

    i32 count; count x { i32 keylen; i32 vallen; key bytes; 0x00; value bytes }

Values carry no type: strings travel with their trailing NUL and integers as decimal text
plus NUL, so :func:`encode_dict` applies those conventions and :func:`decode_dict` returns
raw bytes (use :func:`value_text` to read a string value).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from .xdr import XdrError

__all__ = ["DictValue", "decode_dict", "encode_dict", "value_text"]

DictValue = str | bytes | int

_I32 = struct.Struct(">i")
_PAIR = struct.Struct(">ii")
_ENTRY_MIN = _PAIR.size + 1  # two lengths and the key's NUL


def _value_bytes(value: DictValue) -> bytes:
    if isinstance(value, bool):
        raise TypeError("dict values are str, bytes or int")
    if isinstance(value, int):
        return str(value).encode() + b"\0"  # what dict_set_int32 serialises
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape") + b"\0"
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise TypeError(f"unsupported dict value type {type(value).__name__}")


def encode_dict(items: Mapping[str, DictValue]) -> bytes:
    """Serialise like ``dict_allocate_and_serialize``; an empty mapping gives ``b""``.

    Empty means an empty opaque on the wire: ``dict_unserialize`` rejects a zero-size blob
    but the reply parsers skip it entirely when its length is 0.
    """
    if not items:
        return b""
    parts = [_I32.pack(len(items))]
    for key, value in items.items():
        raw_key = key.encode("utf-8", "surrogateescape")
        if b"\0" in raw_key:
            raise ValueError(f"dict key {key!r} contains NUL")
        raw_value = _value_bytes(value)
        parts.append(_PAIR.pack(len(raw_key), len(raw_value)))
        parts.append(raw_key + b"\0" + raw_value)
    return b"".join(parts)


def decode_dict(blob: bytes) -> dict[str, bytes]:
    """Parse a dict blob; ``b""`` is the empty dict. Raises :class:`XdrError` if malformed.

    Every length is checked against the bytes left, so a hostile count or length cannot make
    us allocate or loop more than the blob's size allows.
    """
    if not blob:
        return {}
    size = len(blob)
    if size < 4:
        raise XdrError("dict blob shorter than its count")
    (count,) = _I32.unpack_from(blob, 0)
    if count < 0 or count * _ENTRY_MIN > size - 4:
        raise XdrError(f"dict count {count} impossible in {size} bytes")
    pos = 4
    result: dict[str, bytes] = {}
    for _ in range(count):
        if size - pos < _PAIR.size:
            raise XdrError("dict entry header truncated")
        keylen, vallen = _PAIR.unpack_from(blob, pos)
        pos += _PAIR.size
        if keylen < 0 or vallen < 0 or keylen + 1 + vallen > size - pos:
            raise XdrError(f"dict entry lengths {keylen}/{vallen} past the end of the blob")
        key_end = pos + keylen
        if blob[key_end] != 0:
            raise XdrError("dict key not NUL-terminated")
        key = blob[pos:key_end].decode("utf-8", "surrogateescape")
        pos = key_end + 1
        result[key] = bytes(blob[pos:pos + vallen])
        pos += vallen
    if pos != size:
        raise XdrError(f"{size - pos} trailing bytes after dict entries")
    return result


def value_text(value: bytes) -> str:
    """A string value without the trailing NUL GlusterFS stores with it."""
    if value.endswith(b"\0"):
        value = value[:-1]
    return value.decode("utf-8", "surrogateescape")
