"""The configuration store: one contract, pluggable backends (see docs/backends.md)."""

from gluster_mgmt.store.base import (
    MAX_TXN_OPS,
    MAX_TXN_SIZE,
    MAX_VALUE_SIZE,
    Lease,
    Store,
    StoreURL,
    Watch,
    redact_url,
)
from gluster_mgmt.store.keys import MAX_KEY_BYTES, check_key, check_prefix
from gluster_mgmt.store.loader import DEFAULT_STORE_URL, available_backends, open_store
from gluster_mgmt.store.types import (
    ABSENT,
    ANY,
    Capabilities,
    Check,
    Delete,
    Entry,
    EventKind,
    Expect,
    Expectation,
    Listing,
    Op,
    Put,
    WatchEvent,
)

__all__ = [
    "ABSENT", "ANY", "Capabilities", "Check", "DEFAULT_STORE_URL", "Delete", "Entry", "EventKind",
    "Expect", "Expectation", "Lease", "Listing", "MAX_KEY_BYTES", "MAX_TXN_OPS", "MAX_TXN_SIZE",
    "MAX_VALUE_SIZE", "Op", "Put", "Store", "StoreURL", "Watch", "WatchEvent", "available_backends",
    "check_key", "check_prefix", "open_store", "redact_url",
]
