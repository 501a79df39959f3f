"""GlusterFS dict blobs: the reference encoding, and strict decoding of hostile blobs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict, value_text
from gluster_mgmt.mgmt_rpc.xdr import XdrError

# docs/protocol.md section 11: the xdata of a client GETSPEC
GETSPEC_XDATA = bytes.fromhex(
    "00000002 0000000e 00000002 6d696e2d 6f702d76 65727369 6f6e0031 00000000"
    "0e000000 076d6178 2d6f702d 76657273 696f6e00 31303030 303000"
)


def test_encoding_matches_glusterfs() -> None:
    assert encode_dict({"min-op-version": 1, "max-op-version": "100000"}) == GETSPEC_XDATA


def test_empty_dict_is_an_empty_blob() -> None:
    assert encode_dict({}) == b""
    assert decode_dict(b"") == {}


def test_decoding_keeps_raw_values() -> None:
    decoded = decode_dict(GETSPEC_XDATA)
    assert decoded == {"min-op-version": b"1\0", "max-op-version": b"100000\0"}
    assert value_text(decoded["max-op-version"]) == "100000"


@pytest.mark.parametrize("blob", [
    b"\0\0\0",                                             # shorter than the count
    struct.pack(">i", -1),                                 # negative count
    struct.pack(">i", 0x7FFFFFFF),                         # count impossible for the size
    struct.pack(">iii", 1, 100, 1) + b"k\0v",              # key length past the end
    struct.pack(">iii", 1, 1, -5) + b"k\0v",               # negative value length
    struct.pack(">iii", 1, 1, 1) + b"kXv",                 # key not NUL-terminated
    struct.pack(">iii", 1, 1, 1) + b"k\0vEXTRA",           # trailing garbage
])
def test_malformed_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(XdrError):
        decode_dict(blob)


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: "\0" not in k),
                       st.binary(max_size=40), max_size=10))
def test_roundtrip(items: dict[str, bytes]) -> None:
    assert decode_dict(encode_dict(items)) == items


@given(st.binary(max_size=200))
def test_random_blobs_decode_or_raise_xdr_error(blob: bytes) -> None:
    try:
        decode_dict(blob)
    except XdrError:
        pass
