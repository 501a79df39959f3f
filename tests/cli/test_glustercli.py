"""glustercli (PyPI), a real consumer of `gluster --xml`, must read our XML as it reads
glusterd's own."""

from __future__ import annotations

import pytest

from gluster_mgmt.cli.render import render
from tests.cli.conftest import LOCAL_PEER, ok, reference_text, request_for, status_entry

parsers = pytest.importorskip("glustercli.cli.parsers")


def ours(line: str, data: dict) -> str:
    return render(request_for(line), ok(data), "xml").out


def test_volume_info_parses_the_same(reference_volumes):
    expected = parsers.parse_volume_info(reference_text("volume-info.xml"))
    got = parsers.parse_volume_info(ours("volume info", {"volumes": reference_volumes}))
    assert got == expected
    assert [v["name"] for v in got] == ["arb", "disp3", "rep3", "v1"]
    grouped = parsers.parse_volume_info(ours("volume info", {"volumes": reference_volumes}),
                                        group_subvols=True)
    assert grouped == parsers.parse_volume_info(reference_text("volume-info.xml"),
                                                group_subvols=True)


def test_volume_status_detail_parses_the_same(reference_volumes):
    rep3 = [v for v in reference_volumes if v["name"] == "rep3"]
    volinfo = parsers.parse_volume_info(ours("volume info rep3", {"volumes": rep3}))
    status = ours("volume status rep3 detail", {"volumes": [status_entry(rep3[0], True)]})
    expected = parsers.parse_volume_status(reference_text("volume-status-detail-rep3.xml"),
                                           volinfo, group_subvols=True)
    assert parsers.parse_volume_status(status, volinfo, group_subvols=True) == expected
    assert expected[0]["health"] == "up"


def test_volume_list_peer_status_pool_list_parse_the_same(reference_volumes):
    names = [v["name"] for v in reference_volumes]
    assert parsers.parse_volume_list(ours("volume list", {"volumes": names})) == \
        parsers.parse_volume_list(reference_text("volume-list.xml"))
    assert parsers.parse_peer_status(ours("peer status", {"peers": []})) == \
        parsers.parse_peer_status(reference_text("peer-status.xml"))
    assert parsers.parse_pool_list(ours("pool list", {"peers": [LOCAL_PEER]})) == \
        parsers.parse_pool_list(reference_text("pool-list.xml"))
