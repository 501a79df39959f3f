"""Plugin discovery through stevedore."""

from __future__ import annotations

import pytest

from gluster_mgmt.errors import PluginError
from gluster_mgmt.store import available_backends, loader, open_store


def test_all_four_backends_are_registered():
    assert set(available_backends()) >= {"local", "etcd", "consul", "zookeeper"}


def test_missing_plugin_names_the_distribution_to_install(monkeypatch):
    monkeypatch.setitem(loader.DISTRIBUTIONS, "cassandra", "gluster-mgmt-cassandra")
    with pytest.raises(PluginError) as err:
        open_store("cassandra://127.0.0.1:9042")
    assert "install the 'gluster-mgmt-cassandra' distribution" in str(err.value)
    assert "local" in str(err.value)


@pytest.mark.parametrize("url", ["127.0.0.1:2379", "://x"])
def test_url_without_scheme(url):
    with pytest.raises(PluginError):
        open_store(url)


def test_local_store_url_must_be_a_path():
    with pytest.raises(Exception) as err:
        open_store("local://somehost/x.db")
    assert "local:///" in str(err.value)
