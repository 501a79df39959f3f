"""Benchmarks of gluster_mgmt (run as scripts; see benchmarks/README.md)."""
