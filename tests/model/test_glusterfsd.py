"""A stock glusterfsd 10.3 must accept our brick volfiles: graph initialises and listens."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from gluster_mgmt import volgen
from gluster_mgmt.model import Brick, Volume, VolumeType
from tests.helpers import accepts, free_port, log_tail, running_process, wait_for

GLUSTERFSD = "/usr/sbin/glusterfsd"

pytestmark = [
    pytest.mark.gluster,
    pytest.mark.skipif(not os.path.exists(GLUSTERFSD), reason="glusterfsd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="bricks need root (trusted.* xattrs)"),
]


def _prepare_brick(path: Path, volume_id: str) -> None:
    """What glusterd does at volume create; a replacement daemon must do the same."""
    (path / ".glusterfs").mkdir(parents=True)
    os.setxattr(path, "trusted.glusterfs.volume-id", uuid.UUID(volume_id).bytes)


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 15.0) -> bool:
    """Until the brick accepts connections (True) or exits or ``timeout`` passes (False)."""
    return wait_for(lambda: "exited" if process.poll() is not None else accepts("127.0.0.1", port),
                    timeout, 0.2) is True


@pytest.mark.parametrize(("volume_type", "counts"), [
    (VolumeType.DISTRIBUTE, {}),
    (VolumeType.REPLICATE, {"replica_count": 3, "arbiter_count": 1}),
    (VolumeType.DISPERSE, {"disperse_count": 3, "redundancy_count": 1}),
])
def test_glusterfsd_initialises_generated_brick_graph(tmp_path: Path, volume_type: VolumeType,
                                                     counts: dict) -> None:
    volume_id = str(uuid.uuid4())
    count = 3 if counts else 1
    bricks = tuple(Brick(host_uuid="h", hostname="127.0.0.2", path=str(tmp_path / f"b{i}"))
                   for i in range(count))
    volume = Volume(name="gt", uuid=volume_id, type=volume_type, bricks=bricks,
                    options={"transport.address-family": "inet"}, **counts)
    brick = bricks[-1]  # the arbiter brick for the arbiter volume
    _prepare_brick(Path(brick.path), volume_id)
    volfile = tmp_path / "brick.vol"
    volfile.write_text(volgen.brick_volfile(volume, brick, workdir=str(tmp_path)))
    log = tmp_path / "brick.log"
    port = free_port()
    with running_process(
            [GLUSTERFSD, "-N", "-f", str(volfile), "-l", str(log), "-p", str(tmp_path / "brick.pid"),
             "--volfile-id", brick.volfile_id(volume.name), "--brick-name", brick.path,
             "--brick-port", str(port), "--xlator-option", f"gt-server.listen-port={port}",
             "--xlator-option", "*-posix.glusterd-uuid=h"]) as process:
        listening = _wait_listening(port, process)
    errors = [line for line in log.read_text().splitlines() if "] E [" in line]
    assert listening, log_tail(log)
    assert not errors
    shutil.rmtree(tmp_path, ignore_errors=True)
