"""Consul KV backend for the gluster_mgmt Store (entry point ``gluster_mgmt.stores: consul``)."""

from gluster_mgmt_consul.store import ConsulLease, ConsulStore, ConsulWatch

__all__ = ["ConsulLease", "ConsulStore", "ConsulWatch"]
