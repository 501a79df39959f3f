"""``gluster-mgmt``: a thin client with gluster's command syntax and outputs.

It parses gluster's syntax (:mod:`.parser`), calls the local daemon over its unix socket
(:mod:`.client`, which documents the request/response contract) and prints gluster's human,
``--xml`` or ``--json`` outputs (:mod:`.render`). It imports neither a store client nor
``gluster_mgmt.store``; keep it that way (tests/cli/test_thin.py checks it).
"""
