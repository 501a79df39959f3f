"""Replay of benchmarks/record_cli_program.py's script: the stock CLI against one gluster-mgmtd
daemon prints what it printed against real glusterd 10.3 (same commands, same order, exit
codes, text and --xml), after normalising UUIDs, ports, pids and the work directory.

The recording's work directory was ``/tmp/gm-record-cli-XXXXXXXX``: the replay uses a path of
the same length, so that `volume status` wraps brick names at the same column.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.cli_program.test_stock_cli import pytestmark  # noqa: F401 (skip without the CLI)
from tests.helpers import REFERENCE

RECORDING = json.loads((REFERENCE / "cli-program" / "outputs.json").read_text())
WORKDIR_MARK = "@W@"

#: Commands whose output gluster_mgmt does not yet give as glusterd does, and why (empty:
#: every recorded command is compared).
KNOWN_DIFFERENCES: dict[tuple[str, bool], str] = {}

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = re.compile(r"\b\d{3,}\b *")  # ports and pids, with their column padding
#: `volume status detail`'s sizes ("227.5GB"): free space moves between recording and replay
_SIZE = re.compile(r"\b\d+(\.\d)?(Bytes|KB|MB|GB|TB|PB)\b *")


def normalise(text: str) -> str:
    return _NUMBER.sub("<N> ", _SIZE.sub("<SIZE> ", _UUID.sub("<UUID>", text)))


#: `volume status detail`'s file-system facts, by CLI label and XML tag. The recording's
#: are those of the recording machine's /tmp; the replay's must be those of its work
#: directory's file system (told by findmnt and the file system's tool, not by our code).
_FS_LABELS = {"File System": "fsName", "Device": "device", "Mount Options": "mntOptions",
              "Inode Size": "inodeSize"}
_FS_LINE = re.compile(r"^(?P<label>File System|Device|Mount Options|Inode Size)( +: )(?P<value>.*?) *$"
                      r"|(?P<indent> *)<(?P<tag>fsName|device|mntOptions|inodeSize)>(?P<xvalue>.*)"
                      r"</(?P=tag)>$", re.M)
_INODE_TOOLS = {"ext3": (["tune2fs", "-l"], r"Inode size:\s*(\d+)"),
                "ext4": (["tune2fs", "-l"], r"Inode size:\s*(\d+)"),
                "xfs": (["xfs_info"], r"isize=(\d+)")}


def recorded_fs() -> dict[str, str]:
    """The facts glusterd sent for the first brick of `volume status v1 detail`."""
    for entry in RECORDING:
        for call in entry["calls"]:
            pairs = dict(call["reply"].get("dict") or [])
            if call["proc"] == "STATUS_VOLUME" and "brick0.fs_name" in pairs:
                return {"fsName": pairs["brick0.fs_name"], "device": pairs["brick0.device"],
                        "mntOptions": pairs["brick0.mnt_options"],
                        "inodeSize": pairs.get("brick0.inode_size", "N/A")}
    raise AssertionError("the recording has no `volume status detail` reply")


def local_fs(path: str) -> dict[str, str]:
    found = subprocess.run(["findmnt", "-n", "-r", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", path],
                           capture_output=True, text=True, check=True).stdout.split()
    device, fstype, mount_options = found[0], found[1], found[2]
    inode_size = "N/A"
    if fstype in _INODE_TOOLS:
        argv, pattern = _INODE_TOOLS[fstype]
        tool = subprocess.run([*argv, device], capture_output=True, text=True)
        match = re.search(pattern, tool.stdout) if tool.returncode == 0 else None
        inode_size = match.group(1) if match else "N/A"
    return {"fsName": fstype, "device": device, "mntOptions": mount_options,
            "inodeSize": inode_size}


def mark_fs(text: str, facts: dict[str, str]) -> str:
    """Each fact equal to ``facts``' becomes ``<tag>``; an XML inodeSize element goes (the
    recording machine's tool could not tell the size)."""
    def mark(match: re.Match) -> str:
        if match.group("label"):
            tag = _FS_LABELS[match.group("label")]
            value = match.group("value")
            return match.group(0) if value != facts[tag] else \
                f"{match.group('label')}{match.group(2)}<{tag}>"
        tag = match.group("tag")
        if match.group("xvalue") != facts[tag]:
            return match.group(0)
        return "<inodeSize/>" if tag == "inodeSize" else f"{match.group('indent')}<{tag}/>"
    return re.sub(r"\n<inodeSize/>", "", _FS_LINE.sub(mark, text))


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="gm-record-cli-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def bricks_online(daemon, volume: str, count: int) -> bool:
    xml = daemon.gluster("volume", "status", volume, xml=True).stdout
    return xml.count("<status>1</status>") >= count


def test_stock_cli_prints_what_glusterd_printed(make_daemons, workdir):
    (daemon,) = make_daemons(1)
    assert daemon.address == "127.0.0.2"  # the host the recording's bricks are on
    recording_fs, replay_fs = recorded_fs(), local_fs(workdir)
    mismatches = []
    still_different: set[tuple[str, bool]] = set()
    for entry in RECORDING:
        words = [w.replace(WORKDIR_MARK, workdir) for w in entry["args"]]
        line = " ".join(entry["args"])
        if line == "volume status v1" and not entry["xml"]:
            deadline = time.monotonic() + 60
            while not bricks_online(daemon, "v1", 2) and time.monotonic() < deadline:
                time.sleep(0.2)
        result = daemon.gluster(*words, xml=entry["xml"])
        got = [result.returncode,
               normalise(mark_fs(result.stdout, replay_fs).replace(workdir, WORKDIR_MARK)),
               normalise(result.stderr.replace(workdir, WORKDIR_MARK))]
        want = [entry["rc"], normalise(mark_fs(entry["stdout"], recording_fs)),
                normalise(entry["stderr"])]
        if (line, entry["xml"]) in KNOWN_DIFFERENCES:
            if got != want:
                still_different.add((line, entry["xml"]))
            continue
        if got != want:
            mismatches.append(f"{'--xml ' if entry['xml'] else ''}{line}:\n  glusterd: {want!r}\n"
                              f"  ours:     {got!r}")
    # a fixed difference must leave the list, so that the command is compared again
    mismatches += [f"{'--xml ' if xml else ''}{line}: now equals glusterd's; drop it from "
                   "KNOWN_DIFFERENCES" for line, xml in set(KNOWN_DIFFERENCES) - still_different]
    assert not mismatches, "\n".join(mismatches) + f"\n--- daemon log ---\n{daemon.log_tail()}"
