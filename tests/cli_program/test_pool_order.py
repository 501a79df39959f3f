"""`pool list` and `peer status` list the peers as glusterd 10.3 does: the other peers in the
order the node came to know them (glusterd appends each new friend to its peer list), the
local node last. Three daemons under the UUIDs of the three-node recording
(tests/data/glusterd-10.3/three-nodes), formed the same way: node 1 probes node 2, then 3.
Node 3 lists node 1 (9bbd…) before node 2 (814b…): join order, not UUID order.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.helpers import REFERENCE

THREE_NODES = REFERENCE / "three-nodes"
RECORDED_ADDRESS = "10.214.0.{}"


def rows(text: str) -> list[tuple[str, ...]]:
    """`pool list`'s rows without the header: (uuid, hostname, state)."""
    return [tuple(field.strip() for field in line.split("\t"))
            for line in text.splitlines()[1:] if line.strip()]


def xml_peers(text: str) -> list[tuple[str, str, str]]:
    return [(p.findtext("uuid"), p.findtext("hostname"), p.findtext("connected"))
            for p in ET.fromstring(text).findall("./peerStatus/peer")]


def test_pool_list_orders_peers_as_glusterd(make_daemons, tmp_path):
    dirs = []
    for n in (1, 2, 3):
        workdir = tmp_path / f"glusterd-{n}"
        workdir.mkdir()
        shutil.copy(THREE_NODES / f"node{n}" / "glusterd.info", workdir / "glusterd.info")
        dirs.append(workdir)
    daemons = make_daemons(3, glusterd_dirs=dirs)
    d1, d2, d3 = daemons
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("peer", "probe", d3.address, check=True)

    def ours(text: str) -> str:  # the recording's addresses are the daemons' here
        for n, daemon in enumerate(daemons, 1):
            text = text.replace(RECORDED_ADDRESS.format(n), daemon.address)
        return text

    for n, daemon in enumerate(daemons, 1):
        recorded = THREE_NODES / "cli" / f"node{n}-pool-list"
        want_rows = rows(ours(recorded.with_suffix(".txt").read_text()))
        want_xml = xml_peers(ours(recorded.with_suffix(".xml").read_text()))
        assert rows(daemon.gluster("pool", "list").stdout) == want_rows, f"node {n}"
        assert xml_peers(daemon.gluster("pool", "list", xml=True).stdout) == want_xml, f"node {n}"
        assert rows(daemon.cli("pool", "list", check=True).stdout) == want_rows, f"node {n}"
        assert xml_peers(daemon.cli("--xml", "pool", "list", check=True).stdout) == want_xml
        # peer status: the same order, without the local node
        peers = [p[0] for p in want_rows[:-1]]
        status = ET.fromstring(daemon.gluster("peer", "status", xml=True).stdout)
        assert [p.findtext("uuid") for p in status.findall("./peerStatus/peer")] == peers
