"""Cluster management: peers, volumes and their options, on the configuration store."""

from gluster_mgmt.cluster.api import Cluster
from gluster_mgmt.membership.peers import PeerView

__all__ = ["Cluster", "PeerView"]
