"""`gluster-mgmt volume quota`'s parser and renderers against glusterd 10.3's CLI outputs
(tests/data/glusterd-10.3/quota): each recorded list is turned back into the figures the
daemon answers (limit, usage), rendered, and compared byte for byte, text and --xml."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from gluster_mgmt.cli import render_quota
from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.parser import CliExit, parse
from gluster_mgmt.glusterd_import import import_volume
from gluster_mgmt.model import QuotaKind
from gluster_mgmt.model import quota_cksum, quota_conf
from tests.helpers import REPO

DATA = REPO / "tests" / "data" / "glusterd-10.3" / "quota"
RECORDED = json.loads((DATA / "outputs.json").read_text())
LISTS = ("quota list", "quota list path", "quota list unlimited path", "quota list-objects",
         "written quota list", "written quota list-objects", "full quota list path",
         "removed quota list")
ANSWERS = ("quota list disabled", "quota list empty", "quota limit-usage missing path",
           "quota enable", "quota enable again", "quota missing volume", "quota remove again",
           "quota limit-usage", "disabled quota list")


def recorded(step: str, xml: bool) -> dict:
    (entry,) = [o for o in RECORDED if o["step"] == step and o["xml"] == xml]
    return entry


def _figures(step: str) -> list[dict]:
    """The daemon's rows for a recorded list, from glusterd's --xml of it."""
    objects = "objects" in step
    rows = []
    for limit in ET.fromstring(recorded(step, True)["stdout"]).iter("limit"):
        field = limit.findtext
        percent = field("soft_limit_percent") or ""
        hard = None if field("hard_limit") == "N/A" else [
            int(field("hard_limit")), int(percent[:-1]) if percent.endswith("%") else -1]
        usage = ([0, int(field("file_count")), int(field("dir_count"))] if objects
                 else [int(field("used_space")), 0, 0])
        rows.append({"path": field("path"), "limit": hard, "usage": usage})
    return rows


def _outcome(step: str, xml: bool, response: Response):
    request = parse(recorded(step, xml)["args"], lambda question: True)
    return (render_quota.xml if xml else render_quota.human)(request, response)


@pytest.mark.parametrize("xml", [False, True])
@pytest.mark.parametrize("step", LISTS)
def test_lists_render_as_glusterd(step, xml):
    response = Response(0, 0, "", {"name": "qv", "default_soft_limit": "90",
                                   "limits": _figures(step)})
    got, want = _outcome(step, xml, response), recorded(step, xml)
    assert (got.out, got.err, got.code) == (want["stdout"], want["stderr"], want["rc"])


@pytest.mark.parametrize("xml", [False, True])
@pytest.mark.parametrize("step", ANSWERS)
def test_answers_and_refusals_render_as_glusterd(step, xml):
    want = recorded(step, xml)
    if step == "quota list empty":
        response = Response(0, 0, "", {"name": "qv", "unconfigured": True})
    elif want["rc"] == 0 and ("success" in want["stdout"] or "<opRet>0" in want["stdout"]):
        response = Response(0, 0, "", {"name": "qv"})
    else:
        found = re.search(r"failed : (.*)\n", want["stderr"]) or \
            re.search(r"<opErrstr>(.*)</opErrstr>", want["stdout"])
        response = Response(-1, 22, found.group(1), {})
    got = _outcome(step, xml, response)
    assert (got.out, got.err, got.code) == (want["stdout"], want["stderr"], want["rc"])


def test_a_bad_size_is_refused_before_sending_as_glusterd():
    want = recorded("quota limit-usage bad size", False)
    with pytest.raises(CliExit) as refused:
        parse(want["args"], lambda question: True)
    assert (refused.value.out, refused.value.err, refused.value.code) == \
        (want["stdout"], want["stderr"], want["rc"])


def test_quota_conf_is_glusterds_format_and_imported_from_it():
    """A takeover imports glusterd's limits (gfid, kind; quota.cksum's version) and each
    node writes the same bytes back."""
    volume_dir = DATA / "enabled" / "state" / "vols" / "qv"
    volume = import_volume(volume_dir)
    limited, root, objects = volume.quota_limits  # /dir 4MB, / 100MB, /dir 100 objects
    assert (limited.kind, root.kind, objects.kind) == (QuotaKind.USAGE, QuotaKind.USAGE,
                                                       QuotaKind.OBJECTS)
    assert root.gfid == "00000000-0000-0000-0000-000000000001" and objects.gfid == limited.gfid
    assert quota_conf(volume.quota_limits) == (volume_dir / "quota.conf").read_bytes()
    assert quota_cksum(volume) == (volume_dir / "quota.cksum").read_text()
