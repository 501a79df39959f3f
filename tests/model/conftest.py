"""Fixtures over the reference glusterd 10.3 state (tests/data, read-only)."""

from __future__ import annotations

import pytest

from gluster_mgmt.glusterd_import import GlusterdState, import_state
from tests.helpers import REFERENCE

STATE_DIR = REFERENCE / "state"
CLI_DIR = REFERENCE / "cli"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gluster: starts a stock GlusterFS process (needs root and /usr/sbin/glusterfsd)")


@pytest.fixture(scope="session")
def reference_state() -> GlusterdState:
    return import_state(STATE_DIR)


@pytest.fixture(scope="session")
def volumes(reference_state: GlusterdState) -> dict:
    return {v.name: v for v in reference_state.volumes}


def _read_cli(name: str) -> str:
    return (CLI_DIR / name).read_text(encoding="utf-8")


@pytest.fixture()
def cli_text():
    """Reads one of the reference CLI outputs."""
    return _read_cli
