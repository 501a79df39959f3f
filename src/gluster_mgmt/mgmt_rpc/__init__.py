"""Gluster mgmt RPC: the protocol stock glusterfsd bricks and clients speak to glusterd.

* :mod:`.xdr` – XDR with strict bounds checks
* :mod:`.framing` – ONC RPC record marking
* :mod:`.rpc_message` – RPC call/reply headers
* :mod:`.gluster_dict` – GlusterFS dict blobs
* :mod:`.programs` – program numbers and message layouts (DUMP, HANDSHAKE, PORTMAP, CALLBACK)
* :mod:`.server` – the asyncio server and the backend protocol it calls
"""

from .programs import normalize_volfile_id
from .server import MgmtBackend, MgmtRpcServer, PeerInfo, VolfileReply

__all__ = ["MgmtBackend", "MgmtRpcServer", "PeerInfo", "VolfileReply",
           "normalize_volfile_id"]
