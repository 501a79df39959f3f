"""XDR (RFC 4506) packing and unpacking with strict bounds checks.

Everything read from the network goes through :class:`Unpacker`, so every length is checked
against the bytes actually present *before* anything is sliced or allocated: a hostile length
field can cost us an exception, never memory.
"""

from __future__ import annotations

import struct

__all__ = ["Packer", "Unpacker", "XdrError"]

_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by len % 4


class XdrError(ValueError):
    """The bytes are not a valid encoding of what was expected (truncated, over-long, ...)."""


def _pad_len(length: int) -> int:
    return -length & 3


class Packer:
    """Appends XDR items to a growing buffer; values out of range raise :class:`XdrError`."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def get_buffer(self) -> bytes:
        return bytes(self._buf)

    def _pack(self, fmt: struct.Struct, value: int) -> None:
        try:
            self._buf += fmt.pack(value)
        except struct.error as exc:
            raise XdrError(f"value {value!r} does not fit: {exc}") from None

    def pack_uint(self, value: int) -> None:
        self._pack(_U32, value)

    def pack_int(self, value: int) -> None:
        self._pack(_I32, value)

    def pack_uhyper(self, value: int) -> None:
        self._pack(_U64, value)

    def pack_hyper(self, value: int) -> None:
        self._pack(_I64, value)

    def pack_bool(self, value: bool) -> None:
        self._buf += _U32.pack(1 if value else 0)

    def pack_fopaque(self, data: bytes) -> None:
        """Fixed-length opaque: the bytes plus zero padding, no length word."""
        self._buf += data
        self._buf += _PAD[len(data) & 3]

    def pack_opaque(self, data: bytes) -> None:
        """Variable-length opaque ``opaque x<>``: length word, bytes, padding."""
        self.pack_uint(len(data))
        self.pack_fopaque(data)

    def pack_string(self, text: str | bytes) -> None:
        """``string x<>``; text is encoded UTF-8 (surrogateescape keeps raw path bytes)."""
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogateescape")
        self.pack_opaque(text)


class Unpacker:
    """Reads XDR items from a buffer; any read past the end raises :class:`XdrError`."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self._data = bytes(data)
        self._pos = offset

    @property
    def position(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise XdrError(f"need {size} bytes at offset {self._pos}, only {self.remaining} left")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def _unpack(self, fmt: struct.Struct) -> int:
        end = self._pos + fmt.size
        if end > len(self._data):
            raise XdrError(f"need {fmt.size} bytes at offset {self._pos}, {self.remaining} left")
        value: int = fmt.unpack_from(self._data, self._pos)[0]
        self._pos = end
        return value

    def unpack_uint(self) -> int:
        return self._unpack(_U32)

    def unpack_int(self) -> int:
        return self._unpack(_I32)

    def unpack_uhyper(self) -> int:
        return self._unpack(_U64)

    def unpack_hyper(self) -> int:
        return self._unpack(_I64)

    def unpack_bool(self) -> bool:
        value = self.unpack_uint()
        if value > 1:
            raise XdrError(f"bool must be 0 or 1, got {value}")
        return value == 1

    def unpack_fopaque(self, size: int) -> bytes:
        data = self._take(size)
        self._take(_pad_len(size))  # padding content is not checked, like the C decoders
        return data

    def unpack_opaque(self, max_len: int | None = None) -> bytes:
        """``opaque x<max_len>``; the length is checked against max_len and the buffer."""
        size = self.unpack_uint()
        if max_len is not None and size > max_len:
            raise XdrError(f"opaque of {size} bytes exceeds its bound {max_len}")
        if size + _pad_len(size) > self.remaining:
            raise XdrError(f"opaque of {size} bytes at offset {self._pos}, {self.remaining} left")
        return self.unpack_fopaque(size)

    def unpack_string(self, max_len: int | None = None) -> str:
        """``string x<>`` decoded UTF-8 with surrogateescape, so any bytes round-trip."""
        return self.unpack_opaque(max_len).decode("utf-8", "surrogateescape")

    def rest(self) -> bytes:
        """Everything not read yet (e.g. procedure arguments after an RPC header)."""
        return self._data[self._pos:]

    def done(self) -> None:
        """Insist the whole buffer was consumed."""
        if self._pos != len(self._data):
            raise XdrError(f"{self.remaining} unexpected trailing bytes")
