"""`volume status VOL detail` in a two-node cluster: each node reports the file systems of its
own bricks, never reads another node's brick path itself.

Node 2 runs in a private mount namespace whose brick directory is a 64 MiB tmpfs; the same
path in the root namespace (node 1's) is a plain directory of /tmp's file system. Asked on
node 1, brick 2 must show tmpfs and 64.0MB — what only node 2 can see — through the stock
CLI (text and --xml), `gluster-mgmt` and glustercli (PyPI) parsing the stock CLI's --xml.
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from glustercli.cli import utils, volume

from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.daemon.cluster_fixture import STOCK_GLUSTER
from tests.helpers import wait_for

TMPFS_SIZE = 64 << 20


def in_private_tmpfs(root: str) -> tuple[str, ...]:
    """A daemon wrapper: a mount namespace of its own with a tmpfs on ``root``."""
    return ("unshare", "-m", "--propagation", "private", "sh", "-c",
            f'mount -t tmpfs -o size={TMPFS_SIZE >> 10}k tmpfs "$0" && exec "$@"', root)


def nodes(xml: str) -> dict[str, dict[str, str]]:
    """`volume status --xml`'s nodes by brick path: tag -> text."""
    found = ET.fromstring(xml).findall("./volStatus/volumes/volume/node")
    return {n.findtext("path"): {c.tag: (c.text or "") for c in n} for n in found}


def findmnt(path: str) -> tuple[str, str]:
    out = subprocess.run(["findmnt", "-n", "-r", "-o", "SOURCE,FSTYPE", "-T", path],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


#: values that move between two calls (the shared /tmp file system is in use)
_MOVING = re.compile(r"^(Disk Space Free|Free Inodes)( +: ).*$|<(sizeFree|inodesFree)>\d+<",
                     re.M)


def steady(text: str) -> str:
    return _MOVING.sub(lambda m: f"{m.group(1)}{m.group(2)}-" if m.group(1)
                       else f"<{m.group(3)}>-<", text)


@pytest.fixture
def two_hosts(make_daemons, tmp_path):
    local_root = tmp_path / "bricks1"
    tmpfs_root = tmp_path / "bricks2"
    local_root.mkdir()
    tmpfs_root.mkdir()
    d1, d2 = make_daemons(2, wrappers=[(), in_private_tmpfs(str(tmpfs_root))])
    d1.cli("peer", "probe", d2.address, check=True)
    b1, b2 = str(local_root / "b1"), str(tmpfs_root / "b2")
    d1.cli("volume", "create", "vd", f"{d1.address}:{b1}", f"{d2.address}:{b2}", "force",
           check=True)
    d1.cli("volume", "start", "vd", check=True)
    wait_for(lambda: all(n["status"] == "1" for n in nodes(
        d1.gluster("volume", "status", "vd", "detail", xml=True).stdout).values()), 60)
    assert not os.path.exists(b2), "node 2's brick must live only in its mount namespace"
    return d1, d2, b1, b2


def test_each_node_reports_its_own_bricks(two_hosts):
    d1, d2, b1, b2 = two_hosts
    device, fstype = findmnt(b1)
    stat = os.statvfs(b1)
    for asked in (d1, d2):
        found = nodes(asked.gluster("volume", "status", "vd", "detail", xml=True).stdout)
        assert (found[b2]["device"], found[b2]["fsName"]) == ("tmpfs", "tmpfs"), asked.address
        assert int(found[b2]["sizeTotal"]) == TMPFS_SIZE
        assert f"size={TMPFS_SIZE >> 10}k" in found[b2]["mntOptions"].split(",")
        assert "inodeSize" not in found[b2]  # tmpfs: glusterd has no tool to ask
        assert (found[b1]["device"], found[b1]["fsName"]) == (device, fstype), asked.address
        assert int(found[b1]["sizeTotal"]) == stat.f_blocks * stat.f_bsize
        assert int(found[b1]["blockSize"]) == stat.f_bsize
        assert int(found[b1]["inodesTotal"]) == stat.f_files

    text = d1.gluster("volume", "status", "vd", "detail").stdout
    block = text.split(f"Brick {d2.address}:{b2}", 1)[1]
    assert re.search(r"^File System +: tmpfs +$", block, re.M)
    assert re.search(r"^Total Disk Space +: 64\.0MB +$", block, re.M)
    assert re.search(r"^Inode Size +: N/A +$", block, re.M)
    assert "Status of volume: vd" in d1.gluster("volume", "status", "all", "detail").stdout


def test_gluster_mgmt_prints_what_the_stock_cli_prints(two_hosts):
    d1, *_ = two_hosts
    for args in (("volume", "status", "vd", "detail"), ("volume", "status", "all", "detail")):
        for xml in (False, True):
            stock = d1.gluster(*args, xml=xml)
            ours = d1.cli(*(["--xml"] if xml else []), *args)
            assert (steady(ours.stdout), ours.stderr, ours.returncode) == \
                (steady(stock.stdout), stock.stderr, stock.returncode), (args, xml)


def test_glustercli_reads_the_detail(two_hosts):
    d1, d2, b1, b2 = two_hosts
    saved = (utils.GLUSTERCMD, utils.GLUSTERD_SOCKET)
    utils.set_gluster_path(STOCK_GLUSTER)
    utils.set_gluster_socket(str(d1.glusterd_socket))
    try:
        (status,) = volume.status_detail("vd")
    finally:
        utils.GLUSTERCMD, utils.GLUSTERD_SOCKET = saved
    bricks = {b["name"]: b for b in status["bricks"]}
    tmpfs = bricks[f"{d2.address}:{b2}"]
    assert tmpfs["online"] and (tmpfs["fs_name"], tmpfs["device"]) == ("tmpfs", "tmpfs")
    assert tmpfs["size_total"] == TMPFS_SIZE
    local = bricks[f"{d1.address}:{b1}"]
    assert (local["device"], local["fs_name"]) == findmnt(b1)
    assert local["block_size"] == str(os.statvfs(b1).f_bsize)
