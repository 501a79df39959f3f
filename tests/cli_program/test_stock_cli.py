"""The STOCK `/usr/sbin/gluster --mode=script [--xml] --glusterd-sock=SOCK` against real
gluster-mgmtd daemons (GLUSTER_CLI on glusterd's socket), on every store backend.

Outputs are compared with what glusterd 10.3 printed (tests/data/glusterd-10.3/cli/) for the
same state (imported with `gluster-mgmt import`), and, where no recording exists, with our own
Python CLI, which tests/cli holds to those recordings.
"""

from __future__ import annotations

import os
import re
import socket

import pytest

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
from gluster_mgmt.mgmt_rpc.rpc_message import Reply, decode_message, encode_call

from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.helpers import REFERENCE, glusterd_state, wait_for

pytestmark = pytest.mark.skipif(not os.access(STOCK_GLUSTER, os.X_OK),
                                reason="the stock gluster CLI (GlusterFS 10.3) is not installed")

CLI = REFERENCE / "cli"
REFERENCE_UUID = "2a17f7f0-4393-48d6-9f76-8db4e14a2772"


def reference(name: str, node_uuid: str) -> str:
    return (CLI / name).read_text().replace(REFERENCE_UUID, node_uuid)


def same_as_ours(daemon, *args: str) -> None:
    """The stock CLI prints what our Python CLI prints (text and --xml), with the same code.
    opErrno aside: this door gives glusterd's (EG_INTRNL for a failed transaction), the REST
    API an errno."""
    for xml in (False, True):
        stock = daemon.gluster(*args, xml=xml)
        ours = daemon.cli(*(["--xml"] if xml else []), *args)
        assert (_errno.sub("", stock.stdout), stock.stderr, stock.returncode) == \
            (_errno.sub("", ours.stdout), ours.stderr, ours.returncode), (args, xml)


_errno = re.compile(r"<opErrno>-?[0-9]+</opErrno>")


@pytest.fixture
def imported(make_daemons, tmp_path):
    """One daemon holding glusterd 10.3's reference volumes (arb, disp3, rep3, v1), on the
    node whose glusterd state it is (import keeps glusterd's UUIDs)."""
    state = glusterd_state(tmp_path, REFERENCE / "state", "glusterd")
    (daemon,) = make_daemons(1, glusterd_dirs=[state])
    daemon.cli("import", str(state), check=True)
    return daemon


def test_volume_info_and_list_equal_glusterd(imported):
    uuid = imported.uuid
    result = imported.gluster("volume", "info")
    assert (result.stdout, result.returncode) == (reference("volume-info.txt", uuid), 0)
    assert imported.gluster("volume", "info", "all").stdout == reference("volume-info.txt", uuid)
    assert imported.gluster("volume", "info", xml=True).stdout == reference("volume-info.xml", uuid)
    assert imported.gluster("volume", "list").stdout == reference("volume-list.txt", uuid)
    assert imported.gluster("volume", "list", xml=True).stdout == reference("volume-list.xml", uuid)
    one = imported.gluster("volume", "info", "rep3").stdout
    assert one.startswith(" \nVolume Name: rep3\n") and one in reference("volume-info.txt", uuid)


def test_pool_list_peer_status_uuid_getwd(imported):
    uuid = imported.uuid
    assert imported.gluster("pool", "list").stdout == reference("pool-list.txt", uuid)
    assert imported.gluster("pool", "list", xml=True).stdout == reference("pool-list.xml", uuid)
    assert imported.gluster("peer", "status").stdout == reference("peer-status.txt", uuid)
    assert imported.gluster("peer", "status", xml=True).stdout == reference("peer-status.xml", uuid)
    assert imported.gluster("system::", "uuid", "get").stdout == f"UUID: {uuid}\n"
    assert imported.gluster("system::", "getwd").stdout == "/var/lib/glusterd\n"


def test_volume_get_equals_ours(imported):
    same_as_ours(imported, "volume", "get", "v1", "all")
    same_as_ours(imported, "volume", "get", "v1", "nfs.disable")
    same_as_ours(imported, "volume", "get", "v1", "no.such.option")
    same_as_ours(imported, "volume", "get", "nope", "all")


def test_volume_status_one_all_detail_and_errors(imported):
    status = imported.gluster("volume", "status")
    # the reference bricks run on "vm", not here: the layout is glusterd's, the values ours
    assert status.stderr == "Volume arb is not started\nVolume disp3 is not started\n"
    assert status.stdout.startswith(" \n \nStatus of volume: rep3\nGluster process")
    for args in (("volume", "status"), ("volume", "status", "v1"), ("volume", "status", "arb"),
                 ("volume", "status", "nope"), ("volume", "status", "rep3", "tasks"),
                 ("volume", "status", "v1", "detail"), ("volume", "info", "nope")):
        if args[-1] == "detail" or args[-1] == "nope" and args[1] == "info":
            continue  # see the two tests below
        same_as_ours(imported, *args)


def test_missing_volume_is_glusterds_answer(imported):
    text = imported.gluster("volume", "info", "nope")
    assert (text.stdout, text.stderr, text.returncode) == ("", "Volume nope does not exist\n", 1)
    xml = imported.gluster("volume", "info", "nope", xml=True).stdout
    # glusterd_get_volumes: op_errno EG_NOVOL, "Volume does not exist", an empty volInfo
    assert "<opRet>-1</opRet>\n  <opErrno>30806</opErrno>\n  <opErrstr>Volume does not exist" in xml


def test_volume_lifecycle_and_errors(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    bricks = f"{daemon.address}:{tmp_path}/bricks"
    created = daemon.gluster("volume", "create", "v1", f"{bricks}/b1", f"{bricks}/b2", "force")
    assert (created.stdout, created.returncode) == \
        ("volume create: v1: success: please start the volume to access data\n", 0)
    again = daemon.gluster("volume", "create", "v1", f"{bricks}/b3", "force")
    assert (again.stderr, again.returncode) == (
        "volume create: v1: failed: Volume v1 already exists\n", 1)
    assert daemon.gluster("volume", "create", "v1", f"{bricks}/b3", "force").stderr == \
        (CLI / "error-exists.txt").read_text().rstrip("\n") + "\n"
    root = daemon.gluster("volume", "create", "v2", f"{bricks}/r1")
    assert root.returncode == 1 and "is being created in the root partition" in root.stderr
    stranger = daemon.gluster("volume", "create", "v3", "127.0.0.50:/x/y", "force")
    assert (stranger.stderr, stranger.returncode) == (
        "volume create: v3: failed: Host 127.0.0.50 is not in 'Peer in Cluster' state\n", 1)
    xml = daemon.gluster("volume", "create", "v4", f"{bricks}/c1", "force", xml=True).stdout
    assert "<opRet>0</opRet>" in xml and "<name>v4</name>" in xml
    # `volume info` (all) reads the volumes once per command: each command sees the changes
    # before it (a volume created, an option set, a volume deleted)
    assert _info_names(daemon) == ["v1", "v4"]

    assert daemon.gluster("volume", "set", "v1", "nfs.disable", "on").stdout == "volume set: success\n"
    assert "nfs.disable: on" in daemon.gluster("volume", "info").stdout
    unknown = daemon.gluster("volume", "set", "v1", "no.such.option", "on")
    assert unknown.returncode == 1 and unknown.stderr.startswith(
        "volume set: failed: option : no.such.option does not exist\nDid you mean ")
    out_of_range = daemon.gluster("volume", "set", "v1", "cluster.min-free-disk", "200%")
    assert out_of_range.returncode == 1 and out_of_range.stderr.startswith("volume set: failed: ")
    same_as_ours(daemon, "volume", "set", "v1", "cluster.min-free-disk", "200%")
    same_as_ours(daemon, "volume", "set", "v1", "group", "virt")
    same_as_ours(daemon, "volume", "set", "v1", "group", "no-such-group")
    assert daemon.gluster("volume", "reset", "v1", "nfs.disable").stdout == \
        "volume reset: success: reset volume successful\n"
    assert "nfs.disable: on" not in daemon.gluster("volume", "info", "v1").stdout

    assert daemon.gluster("volume", "start", "v1").stdout == "volume start: v1: success\n"
    started = daemon.gluster("volume", "start", "v1")
    assert (started.stderr, started.returncode) == (
        "volume start: v1: failed: Volume v1 already started\n", 1)
    assert daemon.gluster("volume", "stop", "v1").stdout == "volume stop: v1: success\n"
    stopped = daemon.gluster("volume", "stop", "v1", xml=True).stdout
    assert "<opErrstr>Volume v1 is not in the started state</opErrstr>" in stopped
    assert daemon.gluster("volume", "delete", "v1").stdout == "volume delete: v1: success\n"
    gone = daemon.gluster("volume", "delete", "v1")
    assert (gone.stderr, gone.returncode) == ("volume delete: v1: failed: Volume v1 does not exist\n", 1)
    assert re.fullmatch(r"v4\n", daemon.gluster("volume", "list").stdout)
    assert _info_names(daemon) == ["v4"]


def _info_names(daemon) -> list[str]:
    return re.findall(r"^Volume Name: (\S+)$", daemon.gluster("volume", "info").stdout, re.M)


def test_peer_probe_and_detach_across_three_daemons(make_daemons):
    d1, d2, d3 = make_daemons(3)
    assert d1.gluster("peer", "probe", d2.address).stdout == "peer probe: success\n"
    assert d1.gluster("peer", "probe", d3.address, xml=True).returncode == 0
    status = d2.gluster("peer", "status").stdout
    assert status.startswith("Number of Peers: 2\n") and d1.uuid in status and d3.uuid in status
    same_as_ours(d3, "pool", "list")
    same_as_ours(d1, "peer", "status")
    local = d1.gluster("peer", "probe", d1.address)
    assert (local.stdout, local.returncode) == ("peer probe: Probe on localhost not needed\n", 0)
    assert d1.gluster("peer", "detach", d3.address).stdout == "peer detach: success\n"
    stranger = d1.gluster("peer", "detach", "127.0.0.77")
    assert (stranger.stderr, stranger.returncode) == (
        "peer detach: failed: 127.0.0.77 is not part of cluster\n", 1)
    assert d1.gluster("peer", "status").stdout.startswith("Number of Peers: 1\n")


def test_volume_info_reads_every_change_before_it_on_any_node(make_daemons, tmp_path):
    """`volume info` (all) answers the CLI's per-volume calls from one snapshot taken at
    the command's first call (the later ones at once, on the event loop): a command run
    after a successful change sees it, whether the change was made on this node or on
    another (each command reads the store afresh, as glusterd's peers commit a change
    before its CLI returns)."""
    d1, d2 = make_daemons(2)
    assert d1.gluster("peer", "probe", d2.address).returncode == 0

    def bricks(name: str) -> list[str]:
        return [f"{d.address}:{tmp_path}/bricks-{d.address}/{name}" for d in (d1, d2)]

    for name in ("v1", "v2", "v3"):
        assert d1.gluster("volume", "create", name, *bricks(name), "force").returncode == 0
    assert _info_names(d1) == ["v1", "v2", "v3"]
    # another node's changes, then this node's
    assert d2.gluster("volume", "create", "v0", *bricks("v0"), "force").returncode == 0
    assert d2.gluster("volume", "set", "v2", "performance.quick-read", "off").returncode == 0
    assert d2.gluster("volume", "delete", "v3").returncode == 0
    info = d1.gluster("volume", "info").stdout
    assert re.findall(r"^Volume Name: (\S+)$", info, re.M) == ["v0", "v1", "v2"]
    assert "performance.quick-read: off" in info.split("Volume Name: v2")[1]
    assert d1.gluster("volume", "set", "v1", "performance.quick-read", "off").returncode == 0
    assert d1.gluster("volume", "delete", "v0").returncode == 0
    info = d1.gluster("volume", "info").stdout
    assert re.findall(r"^Volume Name: (\S+)$", info, re.M) == ["v1", "v2"]
    assert "performance.quick-read: off" in info.split("Volume Name: v2")[0]
    assert d2.gluster("volume", "info").stdout == info
    same_as_ours(d1, "volume", "info")


@pytest.mark.parametrize("args", [
    ("volume", "quota", "v1", "enable"),
    ("volume", "bitrot", "v1", "enable"),
    ("volume", "heal", "v1", "info", "summary"),
    ("snapshot", "list"),
    ("volume", "status", "v1", "snapd"),
])
def test_unsupported_commands_fail_at_once(make_daemons, args):
    (daemon,) = make_daemons(1)
    result = daemon.gluster(*args)  # subprocess timeout: a hang fails the test
    assert result.returncode != 0
    assert "Segmentation fault" not in result.stderr


def _call_unix(path, prog: int, vers: int, proc: int, args: bytes) -> Reply:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(encode_record(encode_call(7, prog, vers, proc, args)))
        decoder = RecordDecoder(1 << 24)
        while True:
            data = sock.recv(65536)
            assert data, "the daemon closed the connection"
            for record in decoder.feed(data):
                reply = decode_message(record)
                assert isinstance(reply, Reply) and reply.xid == 7
                return reply


def test_glusterd_socket_serves_the_trusted_volfile_and_dump(make_daemons, tmp_path):
    """glfsheal (`volume heal VOL info`) fetches the client volfile from glusterd's socket:
    a local caller gets the one holding the bricks' credentials, as from glusterd."""
    (daemon,) = make_daemons(1)
    daemon.gluster("volume", "create", "v1", f"{daemon.address}:{tmp_path}/b1", "force")

    def getspec() -> pg.GetspecReply:
        reply = _call_unix(daemon.glusterd_socket, pg.Program.HANDSHAKE, 2,
                           pg.HandshakeProc.GETSPEC, pg.encode(pg.GetspecRequest("v1")))
        return pg.decode(pg.GetspecReply, reply.body)

    # the volfile cache follows the store's watch: a moment behind the create on some stores
    wait_for(lambda: getspec().op_ret > 0, 30, 0.1)
    spec = getspec()
    assert spec.op_ret == len(spec.spec) > 0
    assert b"option username " in spec.spec and b"option password " in spec.spec
    dump = pg.decode(pg.DumpReply, _call_unix(daemon.glusterd_socket, pg.Program.DUMP, 1,
                                              pg.DumpProc.DUMP, pg.encode(pg.DumpRequest())).body)
    assert (pg.Program.CLI, 2) in {(p.number, p.version) for p in dump.programs}
