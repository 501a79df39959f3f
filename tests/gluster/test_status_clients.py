"""The brick-facing day-2 commands through the STOCK `gluster` binary and `gluster-mgmt`,
against three gluster-mgmtd daemons with real bricks (one per node), their self-heal daemons
and a stock FUSE mount holding a file open, on every store backend (one cluster per backend
for the whole module): `volume status VOL [BRICK] clients|client-list|fd|inode|callpool|mem`,
`volume log VOL rotate [BRICK]` and `volume reset-brick VOL SRC start` / `SRC SRC commit
force`. Outputs are compared with glusterd 10.3's (tests/data/glusterd-10.3/status-clients,
recorded by benchmarks/record_status_clients.py with its three bricks on one node),
normalised for brick hosts and paths, UUIDs, numbers (ports, pids, byte counts, addresses)
and the number of connected clients (glusterd's one self-heal daemon, our three)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import attrs
import pytest

from gluster_mgmt import open_store
from tests.conftest import API_PORT
from tests.daemon.cluster_fixture import STOCK_GLUSTER, DaemonProcess
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.gluster

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "status-clients" /
                       "outputs.json").read_text())
VOLUME = "cv"
THEIR_DIRS = [f"@W@/bricks/c{i}" for i in (1, 2, 3)]


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o.get("step") == step and o["xml"] == xml]
    return entry


@attrs.frozen
class Setup:
    daemons: list[DaemonProcess]
    dirs: list[Path]
    names: list[str]
    point: Path
    spare: Path  # a directory for the refusals' bricks


@pytest.fixture(scope="module")
def cluster(store_server, tmp_path_factory):
    """Three daemons, replica 3 volume cv (c1, c2, c3, one per node, ping-timeout 5) and a
    stopped one sv, a FUSE mount of cv with held.txt open; everything stopped afterwards."""
    if shutil.which("glusterfsd") is None or os.geteuid() != 0 or not os.access(STOCK_GLUSTER, os.X_OK):
        pytest.skip("needs root and Debian's glusterfs-server (scripts/install-deps.sh)")
    for pid in subprocess.run(["pgrep", "-x", "glusterd"], capture_output=True, text=True).stdout.split():
        subprocess.run(["kill", "-9", pid], check=False)  # no glusterd may hold 24007
    tmp = tmp_path_factory.mktemp("status-clients")
    url = store_server.url(f"c{uuid.uuid4().hex[:10]}")
    with open_store(url) as store:
        ttl = max(2.0, store.capabilities.min_lease_ttl)
    daemons: list[DaemonProcess] = []
    point = tmp / "mnt"
    held = None
    try:
        for i in range(3):
            daemons.append(DaemonProcess(tmp, f"127.0.0.{i + 2}", url, API_PORT, ttl))
            daemons[-1].start()
        d1 = daemons[0]
        for other in daemons[1:]:
            d1.cli("peer", "probe", other.address, check=True)
        dirs = [tmp / f"c{i}" for i in (1, 2, 3)]
        names = [f"{d.address}:{b}" for d, b in zip(daemons, dirs)]
        d1.cli("volume", "create", VOLUME, "replica", "3", *names, "force", check=True)
        d1.cli("volume", "set", VOLUME, "network.ping-timeout", "5", check=True)
        d1.cli("volume", "start", VOLUME, check=True)
        d1.cli("volume", "create", "sv", "replica", "3",
               *[f"{d.address}:{tmp}/s{i}" for i, d in enumerate(daemons, 1)], "force", check=True)
        point.mkdir()
        mount = subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={tmp}/client.log",
                                f"{d1.address}:/{VOLUME}", str(point)],
                               capture_output=True, text=True, timeout=60)
        assert mount.returncode == 0, mount.stderr
        (point / "held.txt").write_text("held open\n")
        held = open(point / "held.txt", "rb")  # noqa: SIM115 (an fd the bricks list)
        # every brick sees the FUSE client and the three self-heal daemons
        assert wait_for(lambda: d1.gluster("volume", "status", VOLUME, "clients").stdout
                        .count("Clients connected : 4") == 3, 60, 1), \
            d1.gluster("volume", "status", VOLUME, "clients").stdout
        yield Setup(daemons, dirs, names, point, tmp)
    finally:
        if held is not None:
            held.close()
        subprocess.run(["umount", "-l", str(point)], check=False)
        for daemon in daemons:
            daemon.stop_all()


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = re.compile(r"[0-9]+")
_CLIENT_XML = re.compile(r"\s*<client>.*?</client>", re.S)


def normalise(text: str, dirs: list[str]) -> str:
    """Brick paths as P1.., UUIDs as U, every number as N; repeated rows (one per connected
    client) once."""
    for i, path in enumerate(dirs, 1):
        text = text.replace(path, f"P{chr(64 + i)}")
    text = _NUMBER.sub("N", _UUID.sub("U", _CLIENT_XML.sub("", text)))
    lines: list[str] = []
    for line in text.splitlines():
        if not lines or line != lines[-1] or not line.strip():
            lines.append(line)
    return "\n".join(lines) + "\n"


def same_as_glusterd(setup: Setup, step: str, words: tuple[str, ...],
                     doors: tuple[str, ...] = ("stock",)) -> None:
    d1 = setup.daemons[0]
    ours = [str(d) for d in setup.dirs]
    for xml in (False, True):
        want = recorded(step, xml)
        for door in doors:
            got = d1.gluster(*words, xml=xml) if door == "stock" else \
                d1.cli(*(["--xml"] if xml else []), *words)
            assert (normalise(got.stdout, ours), normalise(got.stderr, ours), got.returncode) == \
                (normalise(want["stdout"], THEIR_DIRS), normalise(want["stderr"], THEIR_DIRS),
                 want["rc"]), (door, step, xml, got.stdout, got.stderr, d1.log_tail())


def _words(step: str, setup: Setup) -> tuple[str, ...]:
    """The recorded command's words with our brick names."""
    args = recorded(step, False)["args"]
    theirs = [f"127.0.0.2:{d}" for d in THEIR_DIRS]
    return tuple(setup.names[theirs.index(w)] if w in theirs else w for w in args)


STATUS_STEPS = [f"status {what}" for what in ("clients", "client-list", "fd", "callpool")] + \
    [f"status brick {what}" for what in ("clients", "client-list", "fd", "callpool")] + \
    ["status all clients", "status all fd", "status shd clients", "status stopped clients",
     "status missing clients", "status missing brick clients", "status detail clients"]


@pytest.mark.parametrize("step", STATUS_STEPS)
def test_status_of_the_bricks_equals_glusterd(cluster, step):
    same_as_glusterd(cluster, step, _words(step, cluster))


def test_status_clients_lists_the_mounted_client(cluster):
    """Each brick, asked on its own node, lists the FUSE client and the self-heal daemons;
    client-list counts them by process name."""
    d1 = cluster.daemons[0]
    out = d1.gluster("volume", "status", VOLUME, "clients").stdout
    for name in cluster.names:
        assert f"Brick : {name}\nClients connected : 4\n" in out, out
    listing = d1.gluster("volume", "status", VOLUME, "client-list").stdout
    assert re.search(r"^glustershd +3$", listing, re.M) and re.search(r"^fuse +1$", listing, re.M), listing


@pytest.mark.parametrize("what", ["inode", "mem"])
def test_status_inode_and_mem_have_glusterds_shape(cluster, what):
    """inode and mem: the tables' numbers move on their own; the shape is glusterd's."""
    d1 = cluster.daemons[0]
    ours = [str(d) for d in cluster.dirs]
    for xml in (False, True):
        got = d1.gluster("volume", "status", VOLUME, cluster.names[0], what, xml=xml)
        want = recorded(f"status brick {what}", xml)
        assert got.returncode == want["rc"], got.stderr
        mine, theirs = normalise(got.stdout, ours), normalise(want["stdout"], THEIR_DIRS)
        assert mine.splitlines()[:6] == theirs.splitlines()[:6], (mine, theirs)
