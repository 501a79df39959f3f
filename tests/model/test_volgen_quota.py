"""Volfiles of a volume with quota on equal glusterd 10.3's (tests/data/glusterd-10.3/quota,
recorded by benchmarks/record_quota.py): the bricks' quota and marker xlators and posix's
link-count option, the unchanged client volfiles, and quotad's graph."""

from __future__ import annotations

import pytest

from gluster_mgmt import volgen
from gluster_mgmt.glusterd_import import import_volume
from tests.helpers import REPO

STATE = REPO / "tests" / "data" / "glusterd-10.3" / "quota"


@pytest.mark.parametrize("stage", ["enabled", "disabled"])
def test_volfiles_equal_glusterds(stage):
    directory = STATE / stage / "state" / "vols" / "qv"
    volume = import_volume(directory)
    brick_files = sorted(directory.glob("qv.127.0.0.2.*.vol"))
    assert len(brick_files) == len(volume.bricks) == 2
    for brick, file in zip(volume.bricks, brick_files):
        assert volgen.brick_volfile(volume, brick) == file.read_text()
    assert volgen.client_volfile(volume) == (directory / "qv.tcp-fuse.vol").read_text()
    assert volgen.client_volfile(volume, trusted=True) == \
        (directory / "trusted-qv.tcp-fuse.vol").read_text()


def test_quotad_volfile_equals_glusterds():
    volume = import_volume(STATE / "enabled" / "state" / "vols" / "qv")
    assert volgen.volfile_for_id({"qv": volume}, volgen.QUOTAD_VOLFILE_ID) == \
        (STATE / "enabled" / "state" / "quotad" / "quotad.vol").read_text()
    # quota off: no quotad graph (glusterd stops quotad and leaves its last volfile behind)
    off = import_volume(STATE / "disabled" / "state" / "vols" / "qv")
    assert volgen.volfile_for_id({"qv": off}, volgen.QUOTAD_VOLFILE_ID) is None
