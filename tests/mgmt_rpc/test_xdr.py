"""XDR packer/unpacker: encodings, and bounds checks that stop hostile lengths early."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gluster_mgmt.mgmt_rpc.xdr import Packer, Unpacker, XdrError


def test_opaque_and_string_are_padded_to_four_bytes() -> None:
    p = Packer()
    p.pack_string("/bricks/b1")
    p.pack_opaque(b"")
    p.pack_uhyper(0xCAED)
    assert p.get_buffer().hex() == "0000000a2f627269636b732f62310000" "00000000" "000000000000caed"


def test_length_past_the_buffer_is_refused_before_reading() -> None:
    u = Unpacker(bytes.fromhex("7fffffff") + b"abc")
    with pytest.raises(XdrError):
        u.unpack_opaque()


def test_opaque_bound_is_enforced() -> None:
    p = Packer()
    p.pack_opaque(b"x" * 401)
    with pytest.raises(XdrError):
        Unpacker(p.get_buffer()).unpack_opaque(400)


def test_truncated_integers_and_padding() -> None:
    with pytest.raises(XdrError):
        Unpacker(b"\0\0\0").unpack_uint()
    with pytest.raises(XdrError):
        Unpacker(b"\0" * 7).unpack_uhyper()
    with pytest.raises(XdrError):  # 1 byte of data but its 3 padding bytes missing
        Unpacker(bytes.fromhex("00000001") + b"a").unpack_opaque()


def test_out_of_range_values_are_refused_when_packing() -> None:
    with pytest.raises(XdrError):
        Packer().pack_uint(-1)
    with pytest.raises(XdrError):
        Packer().pack_int(1 << 31)


def test_bool_is_strict_and_done_checks_trailing_bytes() -> None:
    with pytest.raises(XdrError):
        Unpacker(bytes.fromhex("00000002")).unpack_bool()
    u = Unpacker(bytes.fromhex("0000000100"))
    assert u.unpack_bool() is True
    with pytest.raises(XdrError):
        u.done()


@given(st.lists(st.one_of(
    st.tuples(st.just("uint"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("int"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("uhyper"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("hyper"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("opaque"), st.binary(max_size=64)),
    st.tuples(st.just("string"), st.text(max_size=32)),
)))
def test_roundtrip(items: list[tuple[str, object]]) -> None:
    p = Packer()
    for kind, value in items:
        getattr(p, f"pack_{kind}")(value)
    data = p.get_buffer()
    assert len(data) % 4 == 0
    u = Unpacker(data)
    assert [getattr(u, f"unpack_{kind}")() for kind, _ in items] == [v for _, v in items]
    u.done()
