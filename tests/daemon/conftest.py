from __future__ import annotations

import pytest


@pytest.fixture
def cluster3(make_daemons):
    """Three daemons formed into one cluster by `peer probe`, as an administrator would."""
    d1, d2, d3 = make_daemons(3)
    d1.cli("peer", "probe", d2.address, check=True)
    d1.cli("peer", "probe", d3.address, check=True)
    return d1, d2, d3
