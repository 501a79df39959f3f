"""glusterd's `peer probe` of a known peer by another of its addresses: the address becomes
another name of the peer (`peer status` lists it under "Other names:") and bricks may name
the peer by it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

HOSTS = Path("/etc/hosts")


@pytest.fixture
def alias_of_second():
    """A host name for 127.0.0.3 (the second daemon) in /etc/hosts, removed afterwards."""
    name = f"gm-alias-{uuid.uuid4().hex[:8]}"
    line = f"127.0.0.3 {name}\n"
    with HOSTS.open("a") as hosts:
        hosts.write(line)
    try:
        yield name
    finally:
        HOSTS.write_text("".join(l for l in HOSTS.read_text().splitlines(keepends=True)
                                 if l != line))


def test_probe_by_another_address_adds_a_name(cluster3, alias_of_second, tmp_path):
    d1, d2, _ = cluster3
    d1.cli("peer", "probe", d2.address, check=True)
    res = d1.cli("peer", "probe", alias_of_second, check=True)
    assert res.stdout.strip() == (f"peer probe: success. Host {alias_of_second} port 24007 "
                                  "already in peer list")
    status = d1.cli("peer", "status", check=True).stdout
    assert (f"Hostname: {d2.address}\nUuid: {d2.uuid}\nState: Peer in Cluster (Connected)\n"
            f"Other names:\n{alias_of_second}\n") in status
    # a brick named by the new name is the peer's
    d1.cli("volume", "create", "byalias", f"{alias_of_second}:{tmp_path}/b1", "force", check=True)
    info = d2.cli("--xml", "volume", "info", "byalias", check=True).stdout
    assert f"<hostUuid>{d2.uuid}</hostUuid>" in info
    assert d1.cli("peer", "probe", alias_of_second, check=True).stdout.strip().endswith(
        "already in peer list")  # once known, the name answers at once
