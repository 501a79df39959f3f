"""A brick's file-system facts (`volume status detail`), gathered as glusterd 10.3 gathers
them, from real file systems: a loop-mounted ext4 image and a tmpfs, each mounted in a
private mount namespace (gone with the process, loop device included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from gluster_mgmt.cluster.brick_filesystem import (
    BrickFilesystem,
    InodeSizes,
    brick_filesystem,
    mount_entry,
    parse_inode_size,
)
from tests.helpers import child_env

GATHER = """
import json, os, sys
from gluster_mgmt.cluster.brick_filesystem import InodeSizes, brick_filesystem
path = sys.argv[1]
facts = brick_filesystem(path, InodeSizes()).to_dict()
stat = os.statvfs(path)
print(json.dumps({"facts": facts, "blocks": stat.f_blocks, "bsize": stat.f_bsize,
                  "bfree": stat.f_bfree, "files": stat.f_files}))
"""


def gather_in_private_mount(tmp_path, mount: list[str]) -> dict:
    """Mount (``mount`` argv, its target last) in a private mount namespace, make a brick
    directory there and gather its facts."""
    if os.geteuid() != 0:
        pytest.fail("mounting a file system needs root")
    target = mount[-1]
    os.makedirs(target, exist_ok=True)
    script = f'{" ".join(mount)} && mkdir -p {target}/brick && exec "$0" -c "$1" {target}/brick'
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                             sys.executable, GATHER], capture_output=True, text=True,
                            env=child_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ext4_brick_facts_with_the_inode_size_from_tune2fs(tmp_path):
    for tool in ("mkfs.ext4", "tune2fs"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required (Debian: apt-get install e2fsprogs)")
    image = tmp_path / "brick.img"
    image.write_bytes(b"")
    os.truncate(image, 16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-I", "256", "-N", "2048", str(image)], check=True)
    got = gather_in_private_mount(tmp_path, ["mount", "-o", "loop", str(image),
                                             str(tmp_path / "mnt")])
    facts = got["facts"]
    assert facts["fs_name"] == "ext4"
    assert facts["device"].startswith("/dev/loop")
    assert facts["inode_size"] == "256"  # tune2fs -l on the loop device
    assert facts["block_size"] == got["bsize"]
    assert facts["size_total"] == got["blocks"] * got["bsize"]
    assert facts["size_free"] == got["bfree"] * got["bsize"]  # f_bfree, not f_bavail
    assert facts["inodes_total"] == got["files"] == 2048
    assert 0 < facts["inodes_free"] < 2048
    assert facts["mnt_options"].split(",")[0] == "rw"


def test_tmpfs_brick_facts_have_no_inode_size(tmp_path):
    got = gather_in_private_mount(tmp_path, ["mount", "-t", "tmpfs", "-o",
                                             "size=8m,nr_inodes=1000", "tmpfs",
                                             str(tmp_path / "mnt")])
    facts = got["facts"]
    assert (facts["device"], facts["fs_name"]) == ("tmpfs", "tmpfs")
    assert facts["size_total"] == 8 << 20
    assert facts["inodes_total"] == 1000
    assert {"size=8192k", "nr_inodes=1000"} <= set(facts["mnt_options"].split(","))
    assert "inode_size" not in facts  # tmpfs has no inode-size tool: glusterd leaves it out


def test_a_missing_brick_directory_has_no_facts(tmp_path):
    assert brick_filesystem(str(tmp_path / "absent"), InodeSizes()) == BrickFilesystem()
    assert BrickFilesystem().to_dict() == {}


def test_mount_entry_is_the_first_of_the_root_not_rootfs(tmp_path):
    """The brick's file-system root ('/' for a directory on the root file system here is
    whatever holds tmp_path), looked up in a mount table with escaped names."""
    root = subprocess.run(["findmnt", "-n", "-r", "-o", "TARGET", "-T", str(tmp_path)],
                          capture_output=True, text=True, check=True).stdout.strip()
    escaped = root.replace(" ", "\\040")
    table = tmp_path / "mounts"
    table.write_text(f"rootfs {escaped} rootfs rw 0 0\n"
                     f"/dev/first {escaped} ext4 rw,noatime 0 0\n"
                     f"/dev/second {escaped} xfs ro 0 0\n"
                     "/dev/other /elsewhere\\040dir ext4 rw 0 0\n")
    entry = mount_entry(str(tmp_path), str(table))
    assert (entry.device, entry.fs_type, entry.options) == ("/dev/first", "ext4", "rw,noatime")
    table.write_text("/dev/other /elsewhere\\040dir ext4 rw 0 0\n")
    assert mount_entry(str(tmp_path), str(table)) is None


def test_inode_size_parsing_and_dynamic_inodes():
    assert parse_inode_size("Inode count:   2048\nInode size:\t          256\n",
                            "Inode size:") == "256"
    xfs = ("meta-data=/dev/vdb   isize=512    agcount=4, agsize=65536 blks\n"
           "         =           sectsz=512   attr=2, projid32bit=1\n")
    assert parse_inode_size(xfs, "isize=") == "512"
    assert parse_inode_size("nothing here\n", "isize=") is None
    sizes = InodeSizes()
    assert sizes.of("/dev/whatever", "btrfs") == "N/A"
    assert sizes.of("/dev/whatever", "zfs") == "N/A"
    assert sizes.of("tmpfs", "tmpfs") is None  # no tool for it: glusterd leaves it out
