"""glusterd 10.3's names for the sockets of bricks and self-heal daemons (XXH64 of a path),
checked against the xxHash specification's values and the command lines glusterd ran
(tests/data/glusterd-10.3/cli/process-command-lines.txt; tests/services/test_reconciler.py
compares whole command lines)."""

from __future__ import annotations

import pytest

from gluster_mgmt.services.glusterd_sockets import brick_socket, shd_socket, xxh64


@pytest.mark.parametrize(("data", "digest"), [
    (b"", 0xEF46DB3751D8E999),
    (b"a", 0xD24EC4F1A98C6E5B),
    (b"abc", 0x44BC2CF5AD770999),
])
def test_xxh64_gives_the_specifications_values(data: bytes, digest: int) -> None:
    assert xxh64(data) == digest


@pytest.mark.parametrize(("volume", "path", "socket"), [
    ("rep3", "/bricks/r1", "55744fe5794fbd1f"),
    ("rep3", "/bricks/r3", "6062e19a73d2da90"),
    ("v1", "/bricks/b2", "aa113005fbac6565"),
])
def test_brick_sockets_are_named_as_glusterd_names_them(volume: str, path: str, socket: str) -> None:
    assert brick_socket("/var/run/gluster", volume, "vm", path) == f"/var/run/gluster/{socket}.socket"


def test_the_self_heal_daemons_socket_is_named_as_glusterd_names_it() -> None:
    assert shd_socket("/var/run/gluster", "rep3", "2a17f7f0-4393-48d6-9f76-8db4e14a2772") == \
        "/var/run/gluster/5ac6d279ac435c63.socket"
