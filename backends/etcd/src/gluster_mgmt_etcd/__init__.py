"""gluster-mgmt store backend for etcd v3 (``etcd://host:2379/root``)."""

from gluster_mgmt_etcd.store import EtcdStore

__all__ = ["EtcdStore"]
