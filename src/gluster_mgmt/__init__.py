"""gluster_mgmt: the GlusterFS management plane on a consistent configuration store."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs every CLI command ~8 ms

__version__ = "0.1.0"
__all__ = ["GlusterMgmtError", "Lock", "Store", "open_store", "__version__"]

# The CLI imports this package on every command: load the store layer only when asked (PEP 562).
_LAZY = {"GlusterMgmtError": "gluster_mgmt.errors", "Lock": "gluster_mgmt.store.lock",
         "Store": "gluster_mgmt.store", "open_store": "gluster_mgmt.store"}

if TYPE_CHECKING:
    from gluster_mgmt.errors import GlusterMgmtError
    from gluster_mgmt.store import Store, open_store
    from gluster_mgmt.store.lock import Lock


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
