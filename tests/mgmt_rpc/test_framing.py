"""Record marking: single and multi-fragment records, any chunking, bounded size."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, RecordTooLarge, encode_record


def fragments(payload: bytes, sizes: list[int]) -> bytes:
    """``payload`` split into fragments of the given sizes (the rest in the last one)."""
    out, pos = [], 0
    for size in sizes:
        chunk = payload[pos:pos + size]
        pos += len(chunk)
        out.append(struct.pack(">I", len(chunk)) + chunk)
    out.append(struct.pack(">I", 0x80000000 | (len(payload) - pos)) + payload[pos:])
    return b"".join(out)


def test_we_send_one_last_fragment() -> None:
    assert encode_record(b"abcd") == bytes.fromhex("80000004") + b"abcd"


def test_multi_fragment_record_is_reassembled() -> None:
    decoder = RecordDecoder()
    data = fragments(b"0123456789", [3, 0, 4]) + encode_record(b"next")
    assert decoder.feed(data) == [b"0123456789", b"next"]
    assert decoder.buffered == 0


def test_huge_fragment_header_is_refused_before_buffering() -> None:
    decoder = RecordDecoder(max_record_size=1 << 20)
    with pytest.raises(RecordTooLarge):
        decoder.feed(bytes.fromhex("ffffffff"))


def test_record_limit_counts_every_fragment() -> None:
    decoder = RecordDecoder(max_record_size=1000)
    with pytest.raises(RecordTooLarge):
        decoder.feed(fragments(b"x" * 1100, [400, 400]))


def test_floods_of_empty_fragments_are_bounded() -> None:
    decoder = RecordDecoder(max_record_size=1000)
    with pytest.raises(RecordTooLarge):
        decoder.feed(b"\0\0\0\0" * 1000)


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8), st.data())
def test_any_chunking_and_fragmentation_gives_the_same_records(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(
        fragments(p, data.draw(st.lists(st.integers(0, 100), max_size=4))) for p in payloads
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = RecordDecoder()
    records, start = [], 0
    for cut in [*cuts, len(stream)]:
        records += decoder.feed(stream[start:cut])
        start = cut
    assert records == payloads
    assert decoder.buffered == 0
