"""ZooKeeper backend for the gluster_mgmt configuration store (``zookeeper://`` URLs)."""

from gluster_mgmt_zookeeper.store import ZooKeeperStore

__all__ = ["ZooKeeperStore"]
