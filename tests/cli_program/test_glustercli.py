"""glustercli (PyPI), the Python bindings that exec `gluster --mode=script [--xml]` and parse its
output, driving gluster-mgmtd through the STOCK gluster binary on the daemon's private
glusterd socket (glustercli's own `set_gluster_path` / `set_gluster_socket`), on every store
backend. What glustercli returns must equal what it returns for glusterd 10.3's output of the
same commands (tests/data/glusterd-10.3/cli-program, three-nodes/cli).

glustercli 0.8.6 (the latest) does not implement `volume.optget`: its `parse_volume_options`
raises NotImplementedError whatever the daemon says; `volume get` is read here through
glustercli's own executor (`volume_execute_xml`, its --xml error check included) instead.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile

import pytest

from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.helpers import REFERENCE

# a test dependency (setup.cfg [test], installed by scripts/setup-venv.sh): missing, this fails
import glustercli.cli as glustercli  # noqa: E402
from glustercli.cli import parsers, peer, utils, volume  # noqa: E402

RECORDING = json.loads((REFERENCE / "cli-program" / "outputs.json").read_text())
THREE_NODES = REFERENCE / "three-nodes"
WORKDIR_MARK = "@W@"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def recorded(line: str, xml: bool, nth: int = 0) -> dict:
    """glusterd 10.3's answer to ``line`` (the ``nth`` one recorded with that --xml flag)."""
    return [e for e in RECORDING if " ".join(e["args"]) == line and e["xml"] == xml][nth]


@pytest.fixture
def use_daemon(monkeypatch):
    """use_daemon(d): glustercli runs the stock CLI against daemon ``d``'s glusterd socket
    (module globals of glustercli, restored after the test)."""

    def use(daemon) -> None:
        monkeypatch.setattr(utils, "GLUSTERCMD", utils.GLUSTERCMD)
        monkeypatch.setattr(utils, "GLUSTERD_SOCKET", utils.GLUSTERD_SOCKET)
        glustercli.set_gluster_path(STOCK_GLUSTER)
        glustercli.set_gluster_socket(str(daemon.glusterd_socket))

    return use


@pytest.fixture
def workdir():
    """Bricks under a directory shaped as the recording's (``/tmp/gm-record-cli-XXXXXXXX``)."""
    path = tempfile.mkdtemp(prefix="gm-record-cli-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def without_uuids(volumes: list[dict]) -> list[dict]:
    """glustercli's parsed volumes with the volume's and the bricks' UUIDs blanked (each run
    makes its own)."""
    return json.loads(_UUID.sub("<UUID>", json.dumps(volumes)))


def test_glustercli_volume_lifecycle_equals_glusterd(make_daemons, use_daemon, workdir):
    (daemon,) = make_daemons(1)
    assert daemon.address == "127.0.0.2"  # the host of the recording's bricks
    use_daemon(daemon)
    bricks = [f"127.0.0.2:{workdir}/bricks/b{i}" for i in (1, 2)]
    mark = lambda text: text.replace(WORKDIR_MARK, workdir)  # noqa: E731

    created = volume.create("v1", bricks, force=True)
    assert created == recorded(f"volume create v1 {' '.join(bricks)} force".replace(
        workdir, WORKDIR_MARK), False)["stdout"].strip()
    with pytest.raises(glustercli.GlusterCmdException) as exists:
        volume.create("v1", [f"127.0.0.2:{workdir}/bricks/b3"], force=True)
    want = recorded("volume create v1 127.0.0.2:@W@/bricks/b3 force", False)
    assert exists.value.args[0] == (want["rc"], want["stdout"], want["stderr"])

    assert volume.optset("v1", {"nfs.disable": "on"}) == \
        recorded("volume set v1 nfs.disable on", False)["stdout"].strip()
    volume.optset("v1", {"performance.quick-read": "off"})
    with pytest.raises(glustercli.GlusterCmdException) as unknown:
        volume.optset("v1", {"no.such.option": "on"})
    want = recorded("volume set v1 no.such.option on", False)
    assert unknown.value.args[0][0] == want["rc"]
    assert unknown.value.args[0][2].startswith("volume set: failed: option : no.such.option "
                                               "does not exist\nDid you mean ")

    volume.optset("v1", {"user.note": "hello"})  # as the recording: a hook-namespace key
    # read back: volume info (glusterd's v1 after the same three sets), and volume get
    glusterd_info = parsers.parse_volume_info(mark(recorded("volume info", True, 1)["stdout"]))
    ours = volume.info("v1")
    assert without_uuids(ours) == without_uuids([v for v in glusterd_info if v["name"] == "v1"])
    assert {"name": "nfs.disable", "value": "on"} in ours[0]["options"]
    assert volume.info("v1", group_subvols=True)[0]["subvols"][1]["bricks"][0]["name"] == bricks[1]
    assert volume.vollist() == ["v1"]
    got = utils.volume_execute_xml(["get", "v1", "nfs.disable"])
    assert got == recorded("volume get v1 nfs.disable", True)["stdout"].strip()
    with pytest.raises(NotImplementedError):  # glustercli's own gap (see the docstring)
        volume.optget("v1", "nfs.disable")

    assert volume.start("v1") == recorded("volume start v1", False)["stdout"].strip()
    assert volume.info("v1")[0]["status"] == "Started"
    with pytest.raises(glustercli.GlusterCmdException) as again:
        volume.start("v1")
    want = recorded("volume start v1", False, 1)
    assert again.value.args[0] == (want["rc"], want["stdout"], want["stderr"])

    assert volume.stop("v1") == recorded("volume stop v1", False)["stdout"].strip()
    assert volume.delete("v1") == recorded("volume delete v1", False)["stdout"].strip()
    with pytest.raises(glustercli.GlusterCmdException) as gone:
        volume.delete("nope")
    want = recorded("volume delete nope", False)
    assert gone.value.args[0] == (want["rc"], want["stdout"], want["stderr"])
    assert volume.vollist() == []
    assert volume.info() == []


def test_glustercli_peer_probe_status_and_pool(make_daemons, use_daemon):
    """Three daemons joined by glustercli's peer.probe; peer.pool on the first equals what it
    parses from glusterd 10.3's `pool list --xml` on node 1 of its three-node cluster (the
    other nodes, in probe order, then localhost), with our addresses and UUIDs."""
    d1, d2, d3 = make_daemons(3)
    use_daemon(d1)
    assert peer.pool() == parsers.parse_pool_list(recorded("pool list", True)["stdout"]
                                                  .replace(_UUID.search(recorded("pool list", True)
                                                                        ["stdout"])[0], d1.uuid))
    assert peer.status() == []
    assert peer.probe(d2.address) == "peer probe: success"
    assert peer.probe(d3.address) == "peer probe: success"
    assert peer.probe(d1.address) == \
        recorded("peer probe 127.0.0.2", False)["stdout"].strip()  # glusterd: localhost

    node1 = (THREE_NODES / "cli" / "node1-pool-list.xml").read_text()
    for (address, uuid), daemon in zip((("10.214.0.2", "814ba6e7-fe60-4f22-be2e-b9e08daea6c6"),
                                        ("10.214.0.3", "f68787a6-cedb-4a5e-9d01-37c5d62cdb79"),
                                        ("10.214.0.1", "9bbd8fda-d359-4e16-9c2d-9a7bce4bc5bb")),
                                       (d2, d3, d1)):
        node1 = node1.replace(address, daemon.address).replace(uuid, daemon.uuid)
    expected = parsers.parse_pool_list(node1)
    assert peer.pool() == expected
    assert [p["hostname"] for p in expected] == [d2.address, d3.address, "localhost"]
    assert peer.status() == expected[:2]  # peer status: the same peers, without this node

    use_daemon(d3)  # another node sees the whole pool too, itself as localhost
    pool = peer.pool()
    assert pool[-1] == {"uuid": d3.uuid, "hostname": "localhost", "connected": "Connected"}
    assert {(p["uuid"], p["connected"]) for p in pool[:-1]} == \
        {(d1.uuid, "Connected"), (d2.uuid, "Connected")}

    use_daemon(d1)
    assert peer.detach(d3.address) == "peer detach: success"
    assert peer.status() == expected[:1]
