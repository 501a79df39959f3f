"""What each node's reconciler runs and failed to run, as one leased record per node.

``volume start`` and ``volume stop`` return once the processes they ask for run or exited, as
glusterd's do; the node that takes the command cannot see other nodes' processes, so each
node's reconciler reports after every pass (``services/<host-uuid>``, bound to the node's
lease: a dead node's report goes with it). Bricks are also seen signing in through portmap
(``gluster_mgmt.portmap``); the report adds the self-heal daemons and the start failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from gluster_mgmt.store.base import Store
from gluster_mgmt.store.keys import ClusterKeys, last_segment


@attrs.frozen
class ServiceReport:
    """One node's services after a reconcile pass."""

    #: Store revision of the volumes listing the pass acted on.
    revision: int
    #: Volumes whose self-heal daemon runs on the node.
    shd: frozenset[str] = frozenset()
    #: Why a brick did not start, by (volume, brick path).
    failed_bricks: Mapping[tuple[str, str], str] = attrs.field(factory=dict)
    #: Why a self-heal daemon did not start, by volume.
    failed_shd: Mapping[str, str] = attrs.field(factory=dict)

    def same_services(self, other: "ServiceReport | None") -> bool:
        """True when ``other`` says the same about the services (the revision aside)."""
        return other is not None and (self.shd, dict(self.failed_bricks), dict(self.failed_shd)) \
            == (other.shd, dict(other.failed_bricks), dict(other.failed_shd))

    def encode(self) -> bytes:
        return json.dumps({
            "revision": self.revision, "shd": sorted(self.shd),
            "failed_bricks": [[v, p, e] for (v, p), e in sorted(self.failed_bricks.items())],
            "failed_shd": dict(sorted(self.failed_shd.items())),
        }, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> "ServiceReport":
        data = json.loads(raw)
        return cls(revision=int(data["revision"]), shd=frozenset(data.get("shd", ())),
                   failed_bricks={(v, p): e for v, p, e in data.get("failed_bricks", ())},
                   failed_shd=dict(data.get("failed_shd", {})))


def service_reports(store: Store, keys: ClusterKeys) -> dict[str, ServiceReport]:
    """Every live node's last report, by node UUID (unreadable ones are skipped)."""
    reports = {}
    for entry in store.list(keys.service_reports):
        try:
            reports[last_segment(entry.key)] = ServiceReport.decode(entry.value)
        except (ValueError, KeyError, TypeError):
            continue
    return reports
