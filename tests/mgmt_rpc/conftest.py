"""Fixtures for the mgmt RPC tests: a server on a free loopback port with a recording backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mgmt_rpc.wire import RecordingBackend, ServerThread


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gluster: drives stock GlusterFS 10.3 processes (glusterfsd bricks, FUSE client)"
    )


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend(
        volfiles={"v1": b"volume v1-client\n    type protocol/client\nend-volume\n"},
        ports={"/bricks/b1": 49152},
    )


@pytest.fixture
def server(backend: RecordingBackend) -> Iterator[ServerThread]:
    with ServerThread(backend) as running:
        yield running
