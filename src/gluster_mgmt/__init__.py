"""gluster_mgmt: the GlusterFS management plane on a consistent configuration store."""

from gluster_mgmt.errors import GlusterMgmtError
from gluster_mgmt.lock import Lock
from gluster_mgmt.store import Store, open_store

__version__ = "0.1.0"
__all__ = ["GlusterMgmtError", "Lock", "Store", "open_store", "__version__"]
