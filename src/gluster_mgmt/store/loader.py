"""Finds store backends through stevedore entry points (namespace ``gluster_mgmt.stores``)."""

from __future__ import annotations

import os
import urllib.parse

from gluster_mgmt.errors import PluginError
from gluster_mgmt.store.base import Store, redact_url

NAMESPACE = "gluster_mgmt.stores"
#: The daemon's state directory, where the embedded store keeps its file by default.
DEFAULT_STATE_DIR = "/var/lib/gluster-mgmt"


def embedded_store_url(state_dir: str) -> str:
    """The embedded store's URL for a node whose state lives in ``state_dir``."""
    return f"local://{os.path.abspath(state_dir)}/store.db"


DEFAULT_STORE_URL = embedded_store_url(DEFAULT_STATE_DIR)

#: Distribution that provides each backend we know of, for the "install X" hint.
DISTRIBUTIONS = {
    "etcd": "gluster-mgmt-etcd",
    "consul": "gluster-mgmt-consul",
    "zookeeper": "gluster-mgmt-zookeeper",
    "local": "gluster-mgmt",
}


def available_backends() -> list[str]:
    """Names of the store plugins installed in this environment."""
    from stevedore import ExtensionManager

    return sorted(ExtensionManager(NAMESPACE, invoke_on_load=False).names())


def backend_class(name: str) -> type[Store]:
    from stevedore import DriverManager
    from stevedore.exception import NoMatches

    try:
        return DriverManager(NAMESPACE, name, invoke_on_load=False).driver
    except NoMatches:
        installed = ", ".join(available_backends()) or "none"
        hint = DISTRIBUTIONS.get(name)
        install = f"; install the {hint!r} distribution to get it" if hint else ""
        raise PluginError(
            f"no store backend {name!r} is installed (installed backends: {installed}){install}"
        ) from None
    except Exception as exc:  # a broken plugin (import error in its module)
        raise PluginError(f"store backend {name!r} failed to load: {exc}") from exc


def open_store(url: str | None = None, **kwargs: object) -> Store:
    """Connect to the store named by ``url`` (its scheme is the backend name)."""
    url = url or DEFAULT_STORE_URL
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if not scheme:
        raise PluginError(f"store URL {redact_url(url)!r} has no scheme (e.g. etcd://host:2379)")
    return backend_class(scheme).from_url(url, **kwargs)
