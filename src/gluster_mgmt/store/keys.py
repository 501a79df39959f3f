"""Every store key the project uses, derived in one place, and the rules a key must follow.

This module sits at the bottom (stdlib and errors only), so the store layer, its recipes
(locks, follow) and every component above derive keys from here rather than spelling them.

Under the store URL's root::

    locks/<name>/owner                      a lock's holder, leased (``lock_key``)
    clusters/<cluster-id>/                  one cluster (``ClusterKeys``):
        info, secret                        the cluster record and its shared secret
        peers/<uuid>                        peer records
        alive/<uuid>                        a daemon's liveness, leased
        volumes/<name>                      volume records, changed by CAS on their revision
        ports/<host-uuid>/<brick>           portmap, leased by the brick's host
        migrations/<volume>/<host-uuid>     a node's progress of a volume's migration task
        services/<host-uuid>                what a node's reconciler runs and failed to run, leased
        txns/<txn>, active/<txn>            transaction records and the running ones' index
        coordinators/<txn>                  who drives a running transaction, leased
        inbox/<node>/<txn>-<n>-<do|undo>    a step message for one node
        results/<txn>/<n>-<do|undo>/<node>  one node's outcome of one step
"""

from __future__ import annotations

import re

import attrs

from gluster_mgmt.errors import InvalidKeyError

#: Longest key, in UTF-8 bytes, after the store's root is prepended.
MAX_KEY_BYTES = 512

# One segment: a conservative alphabet every backend stores verbatim (no URL or path escaping),
# never starting with "." (segments starting with "." are reserved for backend bookkeeping).
_SEGMENT = r"[A-Za-z0-9_:@+=,~\-][A-Za-z0-9_.:@+=,~\-]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

CLUSTERS = "clusters/"
LOCKS = "locks/"


def check_key(key: object) -> str:
    """Return ``key`` if it is a valid store key, else raise InvalidKeyError saying why."""
    if not isinstance(key, str):
        raise InvalidKeyError(f"store key must be str, not {type(key).__name__}")
    if not _KEY_RE.fullmatch(key):
        raise InvalidKeyError(
            f"invalid store key {key!r}: keys are '/'-separated segments of letters, digits and "
            "_ . : @ + = , ~ -, with no empty segment, no leading or trailing '/', and no "
            "segment starting with '.'"
        )
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"store key {key[:40]!r}... is longer than {MAX_KEY_BYTES} bytes")
    return key


def check_prefix(prefix: object) -> str:
    """A prefix is '' (everything) or a valid key followed by '/' (a whole-segment prefix)."""
    if prefix == "":
        return ""
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidKeyError(
            f"invalid store prefix {prefix!r}: a prefix is '' or a key followed by '/'"
        )
    check_key(prefix[:-1])
    return prefix


def key_segment(text: str) -> str:
    """Any text (a brick path) as one store key segment: bytes outside [A-Za-z0-9_-] become
    ``=XX``, so the mapping is reversible and '/' never nests."""
    return "".join(c if c in _PLAIN else "".join(f"={b:02X}" for b in c.encode()) for c in text)


def last_segment(key: str) -> str:
    """The name a key ends with (a peer's uuid, a volume's name, a transaction's id)."""
    return key.rsplit("/", 1)[-1]


def lock_prefix(name: str) -> str:
    """Where the lock ``name`` lives (watched by waiters)."""
    return check_prefix(f"{LOCKS}{name}/")


def lock_key(name: str) -> str:
    """The key whose leased presence is the lock ``name`` being held."""
    return check_key(f"{lock_prefix(name)}owner")


@attrs.frozen
class ClusterKeys:
    """The keys of one cluster, all below ``prefix`` (``clusters/<id>/`` for a real cluster;
    any prefix for a component used on its own, as the executor's tests do)."""

    prefix: str = attrs.field(validator=lambda _s, _a, value: check_prefix(value))

    @classmethod
    def for_cluster(cls, cluster_id: str) -> "ClusterKeys":
        return cls(f"{CLUSTERS}{cluster_id}/")

    # -- cluster record and membership
    @property
    def info(self) -> str:
        """The cluster record: id and creation time."""
        return f"{self.prefix}info"

    @property
    def secret(self) -> str:
        return f"{self.prefix}secret"

    @property
    def peers(self) -> str:
        return f"{self.prefix}peers/"

    def peer(self, uuid: str) -> str:
        return check_key(f"{self.peers}{uuid}")

    @property
    def alive_prefix(self) -> str:
        return f"{self.prefix}alive/"

    def alive(self, uuid: str) -> str:
        return check_key(f"{self.alive_prefix}{uuid}")

    @property
    def glusterd_nodes(self) -> str:
        """Nodes imported from glusterd that do not run gluster-mgmtd yet (a takeover in
        progress: configuration changes wait until this is empty)."""
        return f"{self.prefix}takeover/"

    def glusterd_node(self, uuid: str) -> str:
        return check_key(f"{self.glusterd_nodes}{uuid}")

    # -- configuration
    @property
    def volumes(self) -> str:
        return f"{self.prefix}volumes/"

    def volume(self, name: str) -> str:
        return check_key(f"{self.volumes}{name}")

    # -- portmap
    @property
    def all_ports(self) -> str:
        """Every host's port records."""
        return f"{self.prefix}ports/"

    def ports(self, host_uuid: str) -> str:
        return f"{self.all_ports}{host_uuid}/"

    def port(self, host_uuid: str, brick_path: str) -> str:
        return check_key(f"{self.ports(host_uuid)}{key_segment(brick_path)}")

    # -- data migration
    def migrations(self, volume: str) -> str:
        """Per-node progress of a volume's data migration (remove-brick start, rebalance)."""
        return f"{self.prefix}migrations/{volume}/"

    def migration(self, volume: str, host_uuid: str) -> str:
        return check_key(f"{self.migrations(volume)}{host_uuid}")

    @property
    def service_reports(self) -> str:
        return f"{self.prefix}services/"

    def service_report(self, host_uuid: str) -> str:
        """What the reconciler of ``host_uuid`` runs and failed to run (services.report)."""
        return check_key(f"{self.service_reports}{host_uuid}")

    # -- distributed command execution
    @property
    def txns(self) -> str:
        return f"{self.prefix}txns/"

    def txn(self, txn_id: str) -> str:
        return check_key(f"{self.txns}{txn_id}")

    @property
    def active_txns(self) -> str:
        return f"{self.prefix}active/"

    def active_txn(self, txn_id: str) -> str:
        return check_key(f"{self.active_txns}{txn_id}")

    @property
    def coordinators(self) -> str:
        return f"{self.prefix}coordinators/"

    def coordinator(self, txn_id: str) -> str:
        return check_key(f"{self.coordinators}{txn_id}")

    def inbox(self, node: str) -> str:
        return f"{self.prefix}inbox/{node}/"

    def message(self, node: str, txn_id: str, index: int, action: str) -> str:
        return check_key(f"{self.inbox(node)}{txn_id}-{index}-{action}")

    def txn_results(self, txn_id: str) -> str:
        """Every result of one transaction (pruned with its record)."""
        return f"{self.prefix}results/{txn_id}/"

    def results(self, txn_id: str, index: int, action: str) -> str:
        """Every node's outcome of one step's do or undo."""
        return f"{self.txn_results(txn_id)}{index}-{action}/"

    def result(self, txn_id: str, index: int, action: str, node: str) -> str:
        return check_key(f"{self.results(txn_id, index, action)}{node}")
