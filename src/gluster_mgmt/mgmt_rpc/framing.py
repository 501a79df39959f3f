"""ONC RPC record marking over TCP (RFC 5531 section 11).

A record is one or more fragments, each behind a 4-byte big-endian header whose top bit
marks the last fragment. GlusterFS sends every message as one last-fragment but accepts
multi-fragment records, so we do the same. The decoder is sans-IO (bytes in, records out)
and bounds the record size: a peer announcing a huge fragment is rejected as soon as the
header is read, before any of it is buffered.
"""

from __future__ import annotations

import struct

__all__ = [
    "DEFAULT_MAX_RECORD_SIZE",
    "LAST_FRAGMENT",
    "MAX_FRAGMENT_SIZE",
    "RecordDecoder",
    "RecordTooLarge",
    "encode_record",
]

LAST_FRAGMENT = 0x80000000
MAX_FRAGMENT_SIZE = 0x7FFFFFFF
#: mgmt messages are small (the biggest are volfiles, a few KiB); 1 MiB leaves ample room.
DEFAULT_MAX_RECORD_SIZE = 1 << 20

_HEADER = struct.Struct(">I")


class RecordTooLarge(ValueError):
    """A record would exceed the configured maximum; the connection must be dropped."""


def encode_record(payload: bytes) -> bytes:
    """Frame one message as a single last-fragment, as GlusterFS does."""
    if len(payload) > MAX_FRAGMENT_SIZE:
        raise RecordTooLarge(f"{len(payload)} bytes do not fit in one fragment")
    return _HEADER.pack(LAST_FRAGMENT | len(payload)) + payload


class RecordDecoder:
    """Reassembles records from a byte stream fed in arbitrary chunks.

    Memory held is at most ``max_record_size`` plus one partial read, whatever the peer sends.
    """

    __slots__ = ("_buf", "_fragments", "_record_size", "max_record_size")

    def __init__(self, max_record_size: int = DEFAULT_MAX_RECORD_SIZE) -> None:
        self.max_record_size = max_record_size
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._record_size = 0

    @property
    def buffered(self) -> int:
        """Bytes held for records not complete yet."""
        return len(self._buf) + self._record_size

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes from the stream; return the records they complete (maybe none).

        Raises :class:`RecordTooLarge` when a fragment header announces more than allowed;
        the decoder is unusable afterwards (the stream cannot be resynchronised).
        """
        buf = self._buf
        buf += data
        records: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (header,) = _HEADER.unpack_from(buf, pos)
            length = header & MAX_FRAGMENT_SIZE
            if self._record_size + length > self.max_record_size:
                raise RecordTooLarge(
                    f"record of at least {self._record_size + length} bytes exceeds "
                    f"the {self.max_record_size}-byte limit"
                )
            if end - pos - 4 < length:
                break
            fragment = bytes(buf[pos + 4:pos + 4 + length])
            pos += 4 + length
            if header & LAST_FRAGMENT:
                if self._fragments:
                    self._fragments.append(fragment)
                    fragment = b"".join(self._fragments)
                    self._fragments = []
                    self._record_size = 0
                records.append(fragment)
            else:
                # headers count too, so floods of empty fragments are bounded as well
                self._fragments.append(fragment)
                self._record_size += 4 + length
        if pos:
            del buf[:pos]
        return records
