from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path

import attrs
import pytest

from gluster_mgmt import volgen
from gluster_mgmt.model import Brick, Volume, VolumeType
from gluster_mgmt.volgen import Graph, parse_volfile
from tests.helpers import REFERENCE, free_port, log_tail, running_process, wait_for

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
    rebalance = volgen.rebalance_volfile(volume)
    if rebalance is not None:
        files[f"{volume.name}-rebalance.vol"] = rebalance
    return files


def _structure(volfile: Graph) -> list[tuple[str, str, tuple[str, ...], dict[str, str]]]:
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


@pytest.mark.parametrize("name", REFERENCE_VOLUMES)
def test_rebalance_volfile_only_with_several_subvolumes(volumes: dict, name: str) -> None:
    """glusterd writes VOL-rebalance.vol only when DHT has more than one child."""
    volume = volumes[name]
    exists = (VOLS_DIR / name / f"{name}-rebalance.vol").exists()
    assert exists == (volume.subvolume_count > 1)
    assert (volgen.rebalance_volfile(volume) is not None) == exists


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
    rebalance = volgen.rebalance_volfile(volumes["v1"])
    assert rebalance is not None
    assert volgen.volfile_for_id(volumes, "rebalance/v1") == rebalance
    assert volgen.volfile_for_id(volumes, "/rebalance/v1") == rebalance
    assert volgen.volfile_for_id(volumes, "rebalance/rep3") is None  # one subvolume: no file
    assert volgen.volfile_for_id(volumes, "rebalance/nosuchvol") is None
    brick = volumes["v1"].bricks[1]
    assert volgen.volfile_for_id(volumes, "v1.vm.bricks-b2") == volgen.brick_volfile(volumes["v1"], brick)
    assert volgen.volfile_for_id(volumes, "nosuchvol") is None
    assert volgen.volfile_for_id(volumes, "v1.vm.bricks-zz") is None


@pytest.mark.parametrize("name", REFERENCE_VOLUMES)
def test_untrusted_callers_get_glusterds_plain_client_volfile(volumes: dict, name: str) -> None:
    """What glusterd serves a client that is neither local nor a peer: VOL.tcp-fuse.vol,
    byte-identical, without the bricks' username and password."""
    reference = (VOLS_DIR / name / f"{name}.tcp-fuse.vol").read_text()
    for key in (name, f"/{name}", f"{name}.tcp"):
        text = volgen.volfile_for_id(volumes, key, trusted=False)
        assert text == reference, key
        assert volumes[name].password not in text
        assert volumes[name].username not in text
    trusted = volgen.volfile_for_id(volumes, name)
    assert trusted == (VOLS_DIR / name / f"trusted-{name}.tcp-fuse.vol").read_text()
    assert volumes[name].password in trusted


@pytest.mark.parametrize("name", REFERENCE_VOLUMES)
def test_untrusted_callers_get_no_volfile_with_credentials(volumes: dict, name: str) -> None:
    """Self-heal, rebalance and brick volfiles all carry the credentials: only for trusted."""
    volume = volumes[name]
    keys = [f"shd/{name}", f"rebalance/{name}", *(b.volfile_id(name) for b in volume.bricks)]
    for key in keys:
        assert volgen.volfile_for_id(volumes, key, trusted=False) is None, key
    assert any(volgen.volfile_for_id(volumes, key) for key in keys)
    assert volgen.volfile_for_id(volumes, "nosuchvol", trusted=False) is None


_CONTROL_CHARACTERS = ["\n", "\r", "\0", "\t", "\x1b", "\x7f"]


@pytest.mark.parametrize("char", _CONTROL_CHARACTERS)
@pytest.mark.parametrize("key", ["auth.allow", "auth.reject", "user.xlator.evil",
                                 "network.ping-timeout", "diagnostics.brick-log-level"])
def test_option_values_cannot_inject_volfile_lines(volumes: dict, key: str, char: str) -> None:
    """Whatever `volume set` let through, no volfile gets an extra line: volgen refuses the
    value and names the option."""
    volume = volumes["rep3"].evolve(options={**volumes["rep3"].options,
                                             key: f"10.0.0.1{char}option evil yes"})
    builders = [lambda: volgen.brick_volfile(volume, volume.bricks[0]),
                lambda: volgen.client_volfile(volume),
                lambda: volgen.client_volfile(volume, trusted=True),
                lambda: volgen.shd_volfile(volume),
                lambda: volgen.volfile_for_id({"rep3": volume}, "rep3", trusted=False)]
    for build in builders:
        with pytest.raises(volgen.VolfileError, match=re.escape(repr(key))):
            build()


def test_option_names_cannot_inject_volfile_lines(volumes: dict) -> None:
    volume = volumes["v1"].evolve(options={"user.xlator.a\noption evil": "yes"})
    with pytest.raises(volgen.VolfileError, match="user.xlator.a"):
        volgen.client_volfile(volume)


def test_graph_text_refuses_control_characters_whatever_built_it() -> None:
    """The last line of defence: a Graph made by anything else is checked as it is written,
    and the error does not repeat the value (it may be a password)."""
    graph = Graph((volgen.Xlator("c", "protocol/client",
                                 options=(("password", "s3cret\noption evil yes"),)),))
    with pytest.raises(volgen.VolfileError, match="'password'") as caught:
        graph.text()
    assert "s3cret" not in str(caught.value)
    with pytest.raises(volgen.VolfileError):
        Graph((volgen.Xlator("c\nvolume x", "protocol/client"),)).text()


def test_printable_values_still_pass(volumes: dict) -> None:
    """Spaces, commas and wildcards are ordinary option values."""
    volume = volumes["rep3"].evolve(options={**volumes["rep3"].options,
                                             "auth.allow": "10.0.0.*,192.168.1.1",
                                             "user.xlator.note": "a b c"})
    text = volgen.brick_volfile(volume, volume.bricks[0])
    assert "option auth.addr./bricks/r1.allow 10.0.0.*,192.168.1.1\n" in text


def test_volgen_is_deterministic(volumes: dict) -> None:
    for volume in volumes.values():
        assert _expected_files(volume) == _expected_files(volume)


# -- decommissioned bricks (remove-brick start) and the rebalance volfile ----------------

def _decommission(volume: Volume, *indexes: int) -> Volume:
    return volume.evolve(bricks=tuple(attrs.evolve(b, decommissioned=True) if i in indexes else b
                                      for i, b in enumerate(volume.bricks)))


def _dht_graphs(volume: Volume) -> dict[str, Graph]:
    """Every graph glusterd builds DHT in (the shd graph has none)."""
    graphs = {"fuse": volgen.build_client_graph(volume),
              "trusted": volgen.build_client_graph(volume, trusted=True)}
    rebalance = volgen.build_rebalance_graph(volume)
    if rebalance is not None:
        graphs["rebalance"] = rebalance
    return graphs


def _assert_decommissioned(volume: Volume, expected: str) -> None:
    graphs = _dht_graphs(volume)
    assert set(graphs) == {"fuse", "trusted", "rebalance"}
    for kind, graph in graphs.items():
        dht = graph[f"{volume.name}-dht"]
        assert dht.option("decommissioned-bricks") == expected, kind
        # set when DHT is created, before the table options, so printed last (dict prepends)
        assert dht.options[-1] == ("decommissioned-bricks", expected), kind
        assert [x.name for x in graph.xlators if x.option("decommissioned-bricks")] == [dht.name]


def test_decommissioned_bricks_on_distribute() -> None:
    volume = Volume(name="d", uuid="u", type=VolumeType.DISTRIBUTE, bricks=_spread_bricks(4))
    _assert_decommissioned(_decommission(volume, 1, 3), "d-client-1,d-client-3")


def test_decommissioned_bricks_on_distributed_replicate() -> None:
    volume = Volume(name="dr", uuid="u", type=VolumeType.REPLICATE, bricks=_spread_bricks(9),
                    replica_count=3)
    _assert_decommissioned(_decommission(volume, 3, 4, 5), "dr-replicate-1")
    # glusterd names an AFR child as soon as any of its bricks is decommissioned
    _assert_decommissioned(_decommission(volume, 0, 8), "dr-replicate-0,dr-replicate-2")


def test_decommissioned_bricks_on_distributed_disperse() -> None:
    volume = Volume(name="dd", uuid="u", type=VolumeType.DISPERSE, bricks=_spread_bricks(12),
                    disperse_count=6, redundancy_count=2)
    _assert_decommissioned(_decommission(volume, *range(6)), "dd-disperse-0")


def test_decommissioned_bricks_behind_parallel_readdir() -> None:
    """With parallel-readdir DHT's children are readdir-ahead xlators, and those are named."""
    volume = Volume(name="pr", uuid="u", type=VolumeType.REPLICATE, bricks=_spread_bricks(4),
                    replica_count=2, options={"performance.parallel-readdir": "on"})
    _assert_decommissioned(_decommission(volume, 2, 3), "pr-readdir-ahead-1")


def test_no_decommissioned_bricks_option_without_decommissioned_bricks() -> None:
    volume = Volume(name="dr", uuid="u", type=VolumeType.REPLICATE, bricks=_spread_bricks(6),
                    replica_count=3)
    for graph in _dht_graphs(volume).values():
        assert all(x.option("decommissioned-bricks") is None for x in graph.xlators)


def test_rebalance_graph_structure() -> None:
    volume = _decommission(
        Volume(name="rb", uuid="u", type=VolumeType.REPLICATE, bricks=_spread_bricks(6),
               replica_count=3, options={"transport.address-family": "inet",
                                         "performance.quick-read": "on",
                                         "features.shard": "on",
                                         "diagnostics.client-log-level": "DEBUG",
                                         "cluster.quorum-type": "fixed"}), 3, 4, 5)
    graph = volgen.build_rebalance_graph(volume)
    assert graph is not None
    assert (graph.top.name, graph.top.type, graph.top.subvolumes) == ("rb", "debug/io-stats",
                                                                      ("rb-dht",))
    assert graph.top.option("log-level") == "DEBUG"
    clients = graph.of_type("protocol/client")
    assert [c.name for c in clients] == [f"rb-client-{i}" for i in range(6)]
    for client in clients:
        assert (client.option("username"), client.option("password")) == (volume.username,
                                                                           volume.password)
        assert client.option("send-gids") is None  # only client_graph_builder adds it
    assert graph["rb-dht"].subvolumes == ("rb-replicate-0", "rb-replicate-1")
    assert graph["rb-dht"].option("decommissioned-bricks") == "rb-replicate-1"
    assert graph["rb-replicate-0"].option("quorum-type") == "fixed"
    # the trusted client graph minus everything above DHT except io-stats
    assert {x.type for x in graph.xlators} == {"protocol/client", "cluster/replicate",
                                               "cluster/distribute", "debug/io-stats"}
    client = volgen.build_client_graph(volume, trusted=True)
    assert "rb-quick-read" in client.names() and "rb-shard" in client.names()
    assert graph.names() == [n for n in client.names() if n.startswith("rb-client-")
                             or n.startswith("rb-replicate-") or n in ("rb-dht", "rb")]


def test_rebalance_graph_keeps_parallel_readdir() -> None:
    """glusterd's readdir-ahead layer is only skipped for quotad and snapd graphs."""
    volume = Volume(name="pr", uuid="u", type=VolumeType.DISTRIBUTE, bricks=_spread_bricks(2),
                    options={"performance.parallel-readdir": "on"})
    graph = volgen.build_rebalance_graph(volume)
    assert graph is not None
    assert graph["pr-dht"].subvolumes == ("pr-readdir-ahead-0", "pr-readdir-ahead-1")


@pytest.mark.parametrize(("volume_type", "bricks", "counts"), [
    (VolumeType.DISTRIBUTE, 1, {}),
    (VolumeType.REPLICATE, 3, {"replica_count": 3}),
    (VolumeType.DISPERSE, 6, {"disperse_count": 6, "redundancy_count": 2}),
])
def test_no_rebalance_volfile_for_single_subvolume(volume_type: VolumeType, bricks: int,
                                                   counts: dict) -> None:
    volume = Volume(name="one", uuid="u", type=volume_type, bricks=_spread_bricks(bricks),
                    **counts)
    assert volgen.build_rebalance_graph(volume) is None
    assert volgen.rebalance_volfile(volume) is None
    assert volgen.volfile_for_id({"one": volume}, "rebalance/one") is None


# -- the stock GlusterFS 10.3 client must load the rebalance graph -----------------------

GLUSTERFS = "/usr/sbin/glusterfs"
GLUSTERFSD = "/usr/sbin/glusterfsd"
needs_glusterfs = pytest.mark.skipif(not os.path.exists(GLUSTERFS),
                                     reason=f"{GLUSTERFS} (GlusterFS 10.3 client) not installed")


def _log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _start_rebalance_client(tmp_path: Path, volume: Volume,
                            ports: list[int]) -> tuple[list[str], Path]:
    """glusterfs without a mount point loads the graph as the rebalance process does; the
    clients are pointed at ``ports`` so no portmapper (glusterd) is asked."""
    volfile = tmp_path / "rebalance.vol"
    text = volgen.rebalance_volfile(volume)
    assert text is not None
    volfile.write_text(text)
    log = tmp_path / "rebalance.log"
    args = [GLUSTERFS, "-N", "-f", str(volfile), "-l", str(log),
            "-p", str(tmp_path / "rebalance.pid")]
    for index, port in enumerate(ports):
        args += ["--xlator-option", f"{volume.client_name(index)}.remote-port={port}"]
    return args, log


@pytest.mark.gluster
@needs_glusterfs
@pytest.mark.parametrize(("volume_type", "count", "counts", "decommissioned", "expected"), [
    (VolumeType.DISTRIBUTE, 4, {}, (2, 3), ["gt-client-2", "gt-client-3"]),
    (VolumeType.REPLICATE, 4, {"replica_count": 2}, (2, 3), ["gt-replicate-1"]),
    (VolumeType.DISPERSE, 6, {"disperse_count": 3, "redundancy_count": 1}, (3, 4, 5),
     ["gt-disperse-1"]),
])
def test_glusterfs_initialises_rebalance_graph(tmp_path: Path, volume_type: VolumeType,
                                               count: int, counts: dict,
                                               decommissioned: tuple[int, ...],
                                               expected: list[str]) -> None:
    """The graph parses, every xlator initialises (an init failure makes glusterfs exit
    before it prints "Final graph") and DHT accepts each decommissioned child by name."""
    bricks = tuple(Brick(host_uuid="h", hostname="127.0.0.1", path=f"/nonexistent/b{i}")
                   for i in range(count))
    volume = _decommission(Volume(name="gt", uuid=str(uuid.uuid4()), type=volume_type,
                                  bricks=bricks, options={"transport.address-family": "inet"},
                                  **counts), *decommissioned)
    closed_port = free_port()  # nothing listens: clients just keep reconnecting
    args, log = _start_rebalance_client(tmp_path, volume, [closed_port] * len(bricks))
    with running_process(args) as process:
        loaded = wait_for(lambda: "Final graph" in _log_text(log) or process.poll() is not None,
                          timeout=20)
        alive = process.poll() is None
        text = _log_text(log)
    assert loaded and alive and "Final graph" in text, log_tail(log)
    assert re.findall(r"decommissioning subvolume (\S+)", text) == expected
    problems = [line for line in text.splitlines()
                if ("] E [" in line or "] W [" in line)
                and "All subvolumes are down" not in line  # AFR: the bricks are not running
                and "cleanup_and_exit" not in line]  # our SIGTERM
    assert not problems, problems


@pytest.mark.gluster
@needs_glusterfs
@pytest.mark.skipif(not os.path.exists(GLUSTERFSD),
                    reason=f"{GLUSTERFSD} (GlusterFS 10.3 brick server) not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="bricks need root (trusted.* xattrs)")
def test_rebalance_graph_authenticates_to_stock_bricks(tmp_path: Path) -> None:
    """With real bricks the rebalance clients log in with the volume's credentials."""
    volume_id = str(uuid.uuid4())
    bricks = tuple(Brick(host_uuid="h", hostname="127.0.0.1", path=str(tmp_path / f"b{i}"))
                   for i in range(2))
    volume = _decommission(Volume(name="gt", uuid=volume_id, type=VolumeType.DISTRIBUTE,
                                  bricks=bricks, options={"transport.address-family": "inet"}), 1)
    ports = [free_port() for _ in bricks]
    with contextlib.ExitStack() as stack:
        for brick, port in zip(bricks, ports):
            path = Path(brick.path)
            (path / ".glusterfs").mkdir(parents=True)
            os.setxattr(path, "trusted.glusterfs.volume-id", uuid.UUID(volume_id).bytes)
            volfile = tmp_path / f"{path.name}.vol"
            volfile.write_text(volgen.brick_volfile(volume, brick, workdir=str(tmp_path)))
            stack.enter_context(running_process(
                [GLUSTERFSD, "-N", "-f", str(volfile), "-l", str(tmp_path / f"{path.name}.log"),
                 "-p", str(tmp_path / f"{path.name}.pid"),
                 "--volfile-id", brick.volfile_id(volume.name), "--brick-name", brick.path,
                 "--brick-port", str(port), "--xlator-option", f"gt-server.listen-port={port}",
                 "--xlator-option", "*-posix.glusterd-uuid=h"]))
        args, log = _start_rebalance_client(tmp_path, volume, ports)
        process = stack.enter_context(running_process(args))

        def attached() -> bool:
            text = _log_text(log)
            return all(f"{volume.client_name(i)}: Connected, attached to remote volume" in text
                       for i in range(len(bricks)))

        connected = wait_for(lambda: attached() or process.poll() is not None, timeout=30)
        assert connected and process.poll() is None, log_tail(log)
    text = _log_text(log)
    assert "decommissioning subvolume gt-client-1" in text
    assert "AUTH_FAILED" not in text and "Authentication failed" not in text
