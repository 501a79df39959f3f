"""`gluster-mgmt`'s grammar and outputs of `volume statedump VOL quotad|nfs|client HOST:PID`
and `volume sync` against glusterd 10.3's CLI (tests/data/glusterd-10.3/day2,
benchmarks/record_day2.py): what the stock CLI refused before asking, refused with the same
words; what it sent, the same request; glusterd's reply, printed as the stock CLI printed
it, text and --xml."""

from __future__ import annotations

import json

import pytest

from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.command_words import CliExit
from gluster_mgmt.cli.parser import parse
from gluster_mgmt.cli.render import render
from tests.helpers import REPO

RECORDED = json.loads((REPO / "tests" / "data" / "glusterd-10.3" / "day2" / "outputs.json")
                      .read_text().replace("@FUSE@", "4242").replace("@GFAPI@", "4343"))
STEPS = [o for o in RECORDED if o["args"][1] in ("statedump", "sync")]


def sent(entry: dict) -> dict[str, str]:
    return dict(entry["calls"][0]["request"]["dict"])


@pytest.mark.parametrize("entry", STEPS, ids=lambda o: f"{o['step']}{' xml' if o['xml'] else ''}")
def test_words_and_outputs_equal_the_stock_cli(entry):
    if not entry["calls"]:  # the stock CLI refused the words itself
        with pytest.raises(CliExit) as refused:
            parse(entry["args"], lambda question: True)
        assert (refused.value.out, refused.value.err, refused.value.code) == \
            (entry["stdout"], entry["stderr"], entry["rc"])
        return
    request = parse(entry["args"], lambda question: True)
    wire = sent(entry)
    if entry["args"][1] == "statedump":
        assert request.params == {"name": wire["volname"], "options": wire["options"].split()}
    else:
        assert request.params == {"host": wire["hostname"], "name": wire.get("volname")}
    reply = entry["calls"][0]["reply"]
    outcome = render(request, Response(reply["op_ret"], reply["op_errno"], reply["op_errstr"], {}),
                     "xml" if entry["xml"] else "human")
    assert (outcome.out, outcome.err, outcome.code) == \
        (entry["stdout"], entry["stderr"], entry["rc"])


def test_sync_asks_before_it_syncs():
    """Outside script mode the CLI asks; no means nothing is sent."""
    questions = []
    with pytest.raises(CliExit) as declined:
        parse(["volume", "sync", "h2"], lambda q: questions.append(q) or False)
    assert declined.value.code == 0 and questions == [
        "Sync volume may make data inaccessible while the sync is in progress. Do you want to "
        "continue?"]
