"""The Python API, embedded in a process of its own, against real daemons and store."""

from __future__ import annotations

import pytest

from gluster_mgmt.cluster import Cluster
from gluster_mgmt.errors import OperationFailed


def test_an_embedding_orchestrator_drives_the_cluster(make_daemons, tmp_path):
    d1, d2 = make_daemons(2)
    d1.cli("peer", "probe", d2.address, check=True)
    with Cluster.attach(d1.store_url) as cluster:
        assert sorted(v.peer.uuid for v in cluster.peers.all()) == sorted([d1.uuid, d2.uuid])
        volume = cluster.volumes.create(
            "api", [f"{d1.address}:{tmp_path}/a1", f"{d2.address}:{tmp_path}/a2"], force=True)
        assert volume.type_name == "Distribute"
        with pytest.raises(OperationFailed) as err:
            cluster.volumes.create("api", [f"{d1.address}:{tmp_path}/a3"], force=True)
        assert str(err.value) == "Volume api already exists"
        cluster.volumes.set("api", [("performance.quick-read", "off")])
        assert cluster.volumes.get("api", "quick-read") == [("performance.quick-read", "off", False)]
    info = d2.cli("volume", "info", "api", check=True).stdout
    assert "performance.quick-read: off" in info
    # a rule of glusterd's that needs the volume, through the daemon and CLI; nothing written
    refused = d2.cli("volume", "set", "api", "performance.stat-prefetch", "off",
                     "cluster.data-self-heal", "on")
    assert refused.returncode == 1
    assert refused.stderr == ("volume set: failed: Cannot set cluster.data-self-heal for a "
                              "non-replicate volume.\n")
    assert "stat-prefetch" not in d1.cli("volume", "info", "api", check=True).stdout
    assert f"Brick2: {d2.address}:{tmp_path}/a2" in info


def test_attach_names_what_is_wrong(store_url):
    with pytest.raises(OperationFailed) as err:
        Cluster.attach(store_url)
    assert "holds 0 clusters" in str(err.value)
