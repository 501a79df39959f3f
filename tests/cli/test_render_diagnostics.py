"""`gluster-mgmt`'s profile/top/statedump/barrier outputs from glusterd 10.3's own reply
dicts (tests/data/glusterd-10.3/profile, benchmarks/record_profile.py): fed the reply the
stock CLI got, they print what it printed, byte for byte, text and --xml."""

from __future__ import annotations

import json
import re

import pytest

from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.parser import parse
from gluster_mgmt.cli.render import render
from tests.helpers import REPO

_TEXT = (REPO / "tests" / "data" / "glusterd-10.3" / "profile" / "outputs.json").read_text()
#: A work directory as long as the recording's: the dashes under "Brick: NAME" count it.
_DASHES = re.search(r"Brick: (127\.0\.0\.2:@W@/bricks/p1)\\n(-+)\\n", _TEXT)
WORKDIR = "/" + "w" * (len(_DASHES[2]) - len(_DASHES[1]) + len("@W@") - 1 - len("Brick: "))
RECORDED = json.loads(_TEXT.replace("@W@", WORKDIR))
#: Steps whose reply the route's data can carry (volume info is another renderer's).
STEPS = [o for o in RECORDED if o["args"][1] in ("profile", "top", "statedump", "barrier")
         and o["calls"]]
_REQUEST_KEYS = frozenset({"volname", "op", "info-op", "peek", "top-op", "list-cnt",
                           "clear-stats", "brick", "blk-size", "blk-cnt", "cmd-str"})


def response_of(call: dict) -> Response:
    """The route's reply glusterd's answer corresponds to: the command's words, then every
    per-brick key and ``count`` (glusterd's transaction keys left out)."""
    reply = call["reply"]
    pairs = reply["dict"]
    data = {"request": [p for p in pairs if p[0] in _REQUEST_KEYS],
            "output": [p for p in pairs if p[0][:1].isdigit() or p[0] == "count"]}
    return Response(reply["op_ret"], reply["op_errno"], reply["op_errstr"],
                    data if reply["op_ret"] == 0 else {})


@pytest.mark.parametrize("entry", STEPS, ids=lambda o: f"{o['step']}{' xml' if o['xml'] else ''}")
def test_output_equals_the_stock_cli_for_glusterd_reply(entry):
    request = parse(entry["args"], lambda question: True)
    outcome = render(request, response_of(entry["calls"][0]), "xml" if entry["xml"] else "human")
    assert (outcome.out, outcome.err, outcome.code) == \
        (entry["stdout"], entry["stderr"], entry["rc"])
