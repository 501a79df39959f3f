from __future__ import annotations

import pytest

from gluster_mgmt import volgen
from gluster_mgmt.model import Brick, Volume, VolumeType
from gluster_mgmt.volgen import Volfile, parse_volfile
from tests.helpers import REFERENCE

VOLS_DIR = REFERENCE / "state" / "vols"
REFERENCE_VOLUMES = ["v1", "rep3", "arb", "disp3"]


def _expected_files(volume: Volume) -> dict[str, str]:
    """Reference file name -> volfile we generate for it."""
    files = {
        f"{volume.name}.tcp-fuse.vol": volgen.client_volfile(volume),
        f"trusted-{volume.name}.tcp-fuse.vol": volgen.client_volfile(volume, trusted=True),
    }
    for brick in volume.bricks:
        files[f"{brick.volfile_id(volume.name)}.vol"] = volgen.brick_volfile(volume, brick)
    shd = volgen.shd_volfile(volume)
    if shd is not None:
        files[f"{volume.name}-shd.vol"] = shd
    return files


def _structure(volfile: Volfile) -> list[tuple[str, str, tuple[str, ...], dict[str, str]]]:
    return [(x.name, x.type, x.subvolumes, x.options_dict) for x in volfile.xlators]


@pytest.mark.parametrize("name", REFERENCE_VOLUMES)
def test_golden_graphs_match_glusterd(volumes: dict, name: str) -> None:
    """Same xlators, types, subvolume order and options as glusterd 10.3 wrote."""
    for file_name, text in _expected_files(volumes[name]).items():
        reference = parse_volfile((VOLS_DIR / name / file_name).read_text())
        assert _structure(parse_volfile(text)) == _structure(reference), file_name


@pytest.mark.parametrize("name", REFERENCE_VOLUMES)
def test_golden_texts_are_byte_identical(volumes: dict, name: str) -> None:
    """Byte equality keeps glusterd's checksums: clients see no change after migration."""
    for file_name, text in _expected_files(volumes[name]).items():
        assert text == (VOLS_DIR / name / file_name).read_text(), file_name


def test_no_shd_volfile_for_distribute(volumes: dict) -> None:
    assert volgen.shd_volfile(volumes["v1"]) is None
    assert not (VOLS_DIR / "v1" / "v1-shd.vol").exists()


def test_parse_round_trip(volumes: dict) -> None:
    text = volgen.client_volfile(volumes["rep3"])
    assert parse_volfile(text).text() == text


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_volfile("volume a\n type x\n")
    with pytest.raises(ValueError):
        parse_volfile("option a b\n")


def test_reconfigured_option_lands_in_its_xlator(volumes: dict) -> None:
    volume = volumes["rep3"].evolve(options={**volumes["rep3"].options,
                                             "network.ping-timeout": "10",
                                             "cluster.quorum-type": "fixed",
                                             "performance.write-behind-window-size": "4MB",
                                             "features.locks-revocation-secs": "5",
                                             "auth.allow": "10.0.0.*",
                                             "diagnostics.brick-log-level": "DEBUG",
                                             "performance.quick-read": "off"})
    client = volgen.build_client_graph(volume)
    assert {x.option("ping-timeout") for x in client.of_type("protocol/client")} == {"10"}
    assert client["rep3-replicate-0"].option("quorum-type") == "fixed"
    assert client["rep3-write-behind"].option("cache-size") == "4MB"  # glusterd maps it so
    assert "rep3-quick-read" not in client.names()
    brick = volgen.build_brick_graph(volume, volume.bricks[0])
    assert brick["rep3-locks"].option("revocation-secs") == "5"
    assert brick["rep3-server"].option("auth.addr./bricks/r1.allow") == "10.0.0.*"
    assert brick["/bricks/r1"].option("log-level") == "DEBUG"
    # client-side options stay out of the brick graph and vice versa
    assert all(x.option("quorum-type") is None for x in brick.xlators)
    assert all(x.option("revocation-secs") is None for x in client.xlators)


def _spread_bricks(count: int) -> tuple[Brick, ...]:
    return tuple(Brick(host_uuid=f"uuid-{i % 3}", hostname=f"node{i % 3}", path=f"/data/b{i}",
                       fsid=7) for i in range(count))


def test_distributed_replicate_structure() -> None:
    volume = Volume(name="dr", uuid="11111111-2222-3333-4444-555555555555",
                    type=VolumeType.REPLICATE, bricks=_spread_bricks(6), replica_count=3,
                    options={"transport.address-family": "inet"})
    client = volgen.build_client_graph(volume)
    clients = [f"dr-client-{i}" for i in range(6)]
    assert client["dr-replicate-0"].subvolumes == tuple(clients[:3])
    assert client["dr-replicate-1"].subvolumes == tuple(clients[3:])
    assert client["dr-replicate-1"].option("afr-pending-xattr") == ",".join(clients[3:])
    assert client["dr-dht"].subvolumes == ("dr-replicate-0", "dr-replicate-1")
    assert client.top.name == "dr" and client.top.type == "debug/io-stats"
    assert client["dr-client-4"].option("remote-host") == "node1"
    shd = volgen.build_shd_graph(volume)
    assert shd is not None
    assert shd.top.subvolumes == ("dr-replicate-0", "dr-replicate-1")
    assert all(x.option("iam-self-heal-daemon") == "yes" for x in shd.of_type("cluster/replicate"))
    # two bricks of the volume on each node share one filesystem
    brick = volgen.build_brick_graph(volume, volume.bricks[0])
    assert brick["dr-posix"].option("shared-brick-count") == "2"
    assert brick.top.subvolumes == ("/data/b0",)


def test_distributed_arbiter_puts_arbiter_on_each_third_brick() -> None:
    volume = Volume(name="da", uuid="u", type=VolumeType.REPLICATE, bricks=_spread_bricks(6),
                    replica_count=3, arbiter_count=1)
    with_arbiter = [b.path for b in volume.bricks
                    if "da-arbiter" in volgen.build_brick_graph(volume, b).names()]
    assert with_arbiter == ["/data/b2", "/data/b5"]
    client = volgen.build_client_graph(volume)
    assert {x.option("arbiter-count") for x in client.of_type("cluster/replicate")} == {"1"}


def test_distributed_disperse_structure() -> None:
    volume = Volume(name="dd", uuid="u", type=VolumeType.DISPERSE, bricks=_spread_bricks(12),
                    disperse_count=6, redundancy_count=2)
    client = volgen.build_client_graph(volume)
    sets = client.of_type("cluster/disperse")
    assert [x.name for x in sets] == ["dd-disperse-0", "dd-disperse-1"]
    assert sets[1].subvolumes == tuple(f"dd-client-{i}" for i in range(6, 12))
    assert {x.option("redundancy") for x in sets} == {"2"}
    assert client["dd-dht"].subvolumes == ("dd-disperse-0", "dd-disperse-1")
    assert "dd-io-threads" in client.names()  # client-io-threads stays on for disperse
    brick = volgen.build_brick_graph(volume, volume.bricks[0])
    assert brick["dd-index"].option("xattrop64-watchlist") == "trusted.ec.dirty"
    shd = volgen.build_shd_graph(volume)
    assert shd is not None and shd.top.subvolumes == ("dd-disperse-0", "dd-disperse-1")
    assert {x.option("self-heal-daemon") for x in shd.of_type("cluster/disperse")} == {"enable"}


def test_plain_distribute_has_dht_over_clients() -> None:
    volume = Volume(name="d", uuid="u", type=VolumeType.DISTRIBUTE, bricks=_spread_bricks(3))
    client = volgen.build_client_graph(volume)
    assert client["d-dht"].subvolumes == ("d-client-0", "d-client-1", "d-client-2")
    assert not client.of_type("cluster/replicate")


def test_trusted_variant_only_adds_credentials(volumes: dict) -> None:
    volume = volumes["v1"]
    plain = volgen.build_client_graph(volume)
    trusted = volgen.build_client_graph(volume, trusted=True)
    for a, b in zip(plain.xlators, trusted.xlators):
        extra = set(b.options_dict) - set(a.options_dict)
        assert extra in (set(), {"username", "password"})


def test_volfile_ids(volumes: dict) -> None:
    assert volgen.volfile_for_id(volumes, "rep3") == volgen.client_volfile(volumes["rep3"], trusted=True)
    assert volgen.volfile_for_id(volumes, "/rep3") == volgen.volfile_for_id(volumes, "rep3.tcp")
    assert volgen.volfile_for_id(volumes, "shd/rep3") == volgen.shd_volfile(volumes["rep3"])
    brick = volumes["v1"].bricks[1]
    assert volgen.volfile_for_id(volumes, "v1.vm.bricks-b2") == volgen.brick_volfile(volumes["v1"], brick)
    assert volgen.volfile_for_id(volumes, "nosuchvol") is None
    assert volgen.volfile_for_id(volumes, "v1.vm.bricks-zz") is None


def test_volgen_is_deterministic(volumes: dict) -> None:
    for volume in volumes.values():
        assert _expected_files(volume) == _expected_files(volume)
