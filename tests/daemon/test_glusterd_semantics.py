"""Replays what glusterd 10.3 answered (tests/data/glusterd-10.3/semantics/, recorded by
scripts/record_glusterd_semantics.py) against gluster-mgmtd and compares exit codes and
output: the order `volume info` lists options in (text and --xml) and the message of each bad
`volume set` value."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

RECORDED = Path(__file__).resolve().parents[1] / "data/glusterd-10.3/semantics"
#: Where the recording's bricks were (scripts/record_glusterd_semantics.py WORKDIR).
RECORDED_BRICKS = "/tmp/gm-record/bricks"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def recorded(first: int, last: int) -> list[tuple[str, list[str], int, str]]:
    """(file name, gluster words, exit code, output) of the recordings numbered first..last."""
    found = []
    for path in sorted(RECORDED.glob("[0-9][0-9]-*.txt")):
        if first <= int(path.name[:2]) <= last:
            command, code, output = path.read_text().split("\n", 2)
            words = shlex.split(command.removeprefix("$ gluster "))
            found.append((path.name, words, int(code.removeprefix("exit ")), output))
    return found


def _normal(text: str, bricks: str) -> str:
    return _UUID.sub("UUID", text.replace(bricks, RECORDED_BRICKS)).strip()


def replay(daemon, bricks: Path, first: int, last: int) -> list[str]:
    """Replay each recorded command, brick paths moved to ``bricks``; the differences from
    glusterd's answers."""
    differences = []
    for name, words, code, output in recorded(first, last):
        words = [w.replace(RECORDED_BRICKS, str(bricks)) for w in words]
        result = daemon.cli(*words)
        got = (result.returncode, _normal(result.stdout + result.stderr, str(bricks)))
        wanted = (code, _normal(output, str(bricks)))
        if got != wanted:
            differences.append(f"{name}: glusterd {wanted}, ours {got}")
    return differences


@pytest.fixture
def order_volume(cluster3, tmp_path):
    """The recording's volume `order` (00-create-order) on the daemon at 127.0.0.2."""
    daemon = cluster3[0]
    assert daemon.address == "127.0.0.2"  # the host the recording's bricks name
    assert replay(daemon, tmp_path, 0, 0) == []
    return daemon


def test_volume_info_lists_options_in_glusterd_order(order_volume, tmp_path):
    assert replay(order_volume, tmp_path, 1, 10) == []  # sets, set again, reset, text and xml


def test_bad_option_values_answer_as_glusterd(order_volume, tmp_path):
    """Each option type's bad values (11-... to 42-...): glusterd's message, or its success."""
    assert replay(order_volume, tmp_path, 11, 42) == []
