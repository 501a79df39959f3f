"""glusterd.info, the node's identity: read as glusterd 10.3 wrote it, written byte for byte
as glusterd writes it, and refused (naming the file and the line) when it is damaged."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gluster_mgmt.errors import IdentityError
from gluster_mgmt.membership.identity import NodeIdentity
from tests.helpers import REFERENCE

THREE_NODES = REFERENCE / "three-nodes"


def test_reads_what_glusterd_wrote() -> None:
    identity = NodeIdentity.read(str(REFERENCE / "state"))
    assert identity == NodeIdentity("2a17f7f0-4393-48d6-9f76-8db4e14a2772", 100000)


@pytest.mark.parametrize("node", ["node1", "node2", "node3"])
def test_renders_glusterd_s_exact_file(node: str) -> None:
    recorded = (THREE_NODES / node / "glusterd.info").read_text()
    assert NodeIdentity.read(str(THREE_NODES / node)).render() == recorded


def test_a_node_without_one_gets_a_new_uuid_written_as_glusterd_does(tmp_path: Path) -> None:
    workdir = tmp_path / "glusterd"
    created = NodeIdentity.load_or_create(str(workdir), str(tmp_path / "state"))
    path = workdir / "glusterd.info"
    assert path.read_text() == f"UUID={created.uuid}\noperating-version=100000\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # glusterd's mode
    assert [p.name for p in workdir.iterdir()] == ["glusterd.info"]  # no temporary left
    assert NodeIdentity.load_or_create(str(workdir), str(tmp_path / "state")) == created


def test_an_existing_glusterd_info_is_kept_untouched(tmp_path: Path) -> None:
    text = (THREE_NODES / "node2" / "glusterd.info").read_text()
    (tmp_path / "glusterd.info").write_text(text + "\n")
    identity = NodeIdentity.load_or_create(str(tmp_path), str(tmp_path / "state"))
    assert identity.uuid == text.split()[0].removeprefix("UUID=")
    assert (tmp_path / "glusterd.info").read_text() == text + "\n"


def test_an_earlier_node_json_uuid_is_adopted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    uuid = "0c1f6a3e-5d7b-4e8a-9b2c-3d4e5f6a7b8c"
    (state / "node.json").write_text(json.dumps({"uuid": uuid}))
    identity = NodeIdentity.load_or_create(str(tmp_path / "glusterd"), str(state))
    assert identity.uuid == uuid
    assert (tmp_path / "glusterd" / "glusterd.info").read_text().startswith(f"UUID={uuid}\n")


@pytest.mark.parametrize(("text", "where"), [
    ("UUID=not-a-uuid\noperating-version=100000\n", "line 1: UUID='not-a-uuid' is not a UUID"),
    ("operating-version=100000\nUUID=00000000-0000-0000-0000-000000000000\n", "line 2"),
    ("UUID=2a17f7f0-4393-48d6-9f76-8db4e14a2772\noperating-version=ten\n",
     "line 2: operating-version='ten' is not a number"),
    ("UUID=2a17f7f0-4393-48d6-9f76-8db4e14a2772\ngarbage\n", "line 2: not key=value: 'garbage'"),
    ("operating-version=100000\n", "no UUID= line"),
    ("", "no UUID= line"),
])
def test_a_malformed_file_is_refused_naming_file_and_line(tmp_path: Path, text: str,
                                                           where: str) -> None:
    path = tmp_path / "glusterd.info"
    path.write_text(text)
    with pytest.raises(IdentityError) as caught:
        NodeIdentity.load_or_create(str(tmp_path), str(tmp_path / "state"))
    assert str(caught.value).startswith(f"{path}")
    assert where in str(caught.value)
    assert path.read_text() == text  # never replaced by a new identity


def test_write_is_atomic_over_an_existing_file(tmp_path: Path) -> None:
    NodeIdentity("2a17f7f0-4393-48d6-9f76-8db4e14a2772").write(str(tmp_path))
    before = os.stat(tmp_path / "glusterd.info").st_ino
    NodeIdentity("9bbd8fda-d359-4e16-9c2d-9a7bce4bc5bb").write(str(tmp_path))
    assert os.stat(tmp_path / "glusterd.info").st_ino != before  # renamed into place
    assert NodeIdentity.read(str(tmp_path)).uuid == "9bbd8fda-d359-4e16-9c2d-9a7bce4bc5bb"
