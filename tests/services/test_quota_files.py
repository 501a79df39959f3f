"""Each node's quota.conf and quota.cksum (services.quota.QuotaFiles): glusterd's bytes while
quota is on, gone when it is off or the volume is, and glusterd's own files of volumes the
store does not know (a state not imported yet) left alone."""

from __future__ import annotations

from gluster_mgmt.glusterd_import import import_volume
from gluster_mgmt.services.quota import QuotaFiles
from tests.helpers import REPO

RECORDED = REPO / "tests" / "data" / "glusterd-10.3" / "quota" / "enabled" / "state" / "vols" / "qv"


def test_quota_files_follow_the_store_and_leave_glusterds_alone(tmp_path):
    volume = import_volume(RECORDED)
    theirs = tmp_path / "vols" / "other"
    theirs.mkdir(parents=True)
    (theirs / "quota.conf").write_bytes(b"glusterd's own")
    files = QuotaFiles(str(tmp_path))
    files.sync([volume])
    for name in ("quota.conf", "quota.cksum"):
        assert (tmp_path / "vols" / "qv" / name).read_bytes() == (RECORDED / name).read_bytes()
    files.sync([volume.evolve(options={**volume.options, "features.quota": "off"})])
    assert not (tmp_path / "vols" / "qv").exists()
    files.sync([volume])
    files.sync([])  # deleted
    assert not (tmp_path / "vols" / "qv").exists()
    assert (theirs / "quota.conf").read_bytes() == b"glusterd's own"
