"""Fixtures for the CLI tests: the reference glusterd 10.3 state and outputs, as the daemon
would send them (model dicts built by glusterd_import, runtime from the reference capture)."""

from __future__ import annotations

import pytest

from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.parser import parse
from tests.helpers import REFERENCE

CLI_DIR = REFERENCE / "cli"
STATE_DIR = REFERENCE / "state"
NODE_UUID = "2a17f7f0-4393-48d6-9f76-8db4e14a2772"

#: Ports and pids of the reference capture (volume-status.txt / process-command-lines.txt).
RUNTIME = {
    ("rep3", "/bricks/r1"): (56271, 6682),
    ("rep3", "/bricks/r2"): (56217, 6698),
    ("rep3", "/bricks/r3"): (60263, 6714),
    ("v1", "/bricks/b1"): (54529, 5749),
    ("v1", "/bricks/b2"): (54348, 5765),
}
SHD_PID = {"rep3": 6731}
DETAIL = {  # volume-status-detail-rep3.xml: every rep3 brick shares one filesystem
    "size_total": 270553174016, "size_free": 246423302144, "device": "/dev/vda",
    "block_size": 4096, "mnt_options": "rw,relatime,discard,resv_strict,resuid=65534,resgid=65534",
    "fs_name": "ext4", "inodes_total": 16777216, "inodes_free": 16358518,
}


def reference_text(name: str) -> str:
    return (CLI_DIR / name).read_text()


@pytest.fixture(scope="session")
def reference_volumes() -> list[dict]:
    """Volume.to_dict() of the reference volumes, in name order, as `volume/info` sends."""
    from gluster_mgmt.glusterd_import import import_state

    return [v.to_dict() for v in import_state(STATE_DIR).volumes]


def status_entry(volume: dict, detail: bool = False) -> dict:
    """What `volume/status` sends for one reference volume."""
    started = volume["status"] == "Started"
    bricks = []
    for brick in volume["bricks"]:
        port, pid = RUNTIME.get((volume["name"], brick["path"]), (None, None))
        entry = {"hostname": brick["hostname"], "path": brick["path"],
                 "host_uuid": brick["host_uuid"], "port": port, "rdma_port": 0,
                 "online": started and port is not None, "pid": pid}
        if detail:
            entry.update(DETAIL)
        bricks.append(entry)
    shd = []
    if volume["name"] in SHD_PID:
        shd.append({"hostname": "localhost", "host_uuid": NODE_UUID, "online": True,
                    "pid": SHD_PID[volume["name"]]})
    return {"name": volume["name"], "id": volume["uuid"], "status": volume["status"],
            "not_started": not started, "bricks": bricks, "self_heal": shd}


@pytest.fixture(scope="session")
def reference_status(reference_volumes) -> list[dict]:
    return [status_entry(v) for v in reference_volumes]


def yes(question: str) -> bool:
    return True


def request_for(line: str, confirm=yes, **opts):
    return parse(line.split(), confirm, opts)


def ok(data: dict | None = None) -> Response:
    return Response(0, 0, "", data or {})


def failed(errstr: str, errno: int = 22) -> Response:
    return Response(-1, errno, errstr, {})

LOCAL_PEER = {"uuid": NODE_UUID, "hostnames": ["localhost"], "state": "Peer in Cluster",
              "connected": True, "local": True}
