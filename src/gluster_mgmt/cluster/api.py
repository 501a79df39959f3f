"""The Python API of a Gluster cluster: what `gluster-mgmt` and the daemon's REST API call.

Embedding orchestrators use it directly (docs/api.md)::

    with Cluster.attach("etcd://10.0.0.1:2379/gluster") as cluster:
        cluster.volumes.create("v1", ["host1:/bricks/b1", "host2:/bricks/b1"], replica=2)
"""

from __future__ import annotations

import contextlib
import errno
import json
import uuid as uuid_module
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gluster_mgmt import model, rules
from gluster_mgmt.cluster.brick_signals import BrickSignals
from gluster_mgmt.cluster.change_read import ChangeRead, HeldVolume
from gluster_mgmt.cluster.heal import Heal
from gluster_mgmt.cluster.quota import Quota
from gluster_mgmt.cluster.log_rotate import LogRotate
from gluster_mgmt.cluster.reset_brick import ResetBrick
from gluster_mgmt.cluster.profile import Profile
from gluster_mgmt.cluster.volumes import Volumes, encode_volume
from gluster_mgmt.errors import (
    ConflictError,
    LockTimeoutError,
    OperationFailed,
    ValidationError,
    ValueTooLargeError,
)
from gluster_mgmt.executor import Executor, Step, TransactionFailed
from gluster_mgmt.membership.peers import Peers
from gluster_mgmt.store.base import MAX_TXN_OPS, Store
from gluster_mgmt.store.keys import CLUSTERS, ClusterKeys
from gluster_mgmt.store.types import ABSENT, Op, Put

if TYPE_CHECKING:
    from gluster_mgmt.glusterd_import import GlusterdState

#: How long an operation waits for a volume lock held by another one before giving up.
LOCK_WAIT = 10.0


class Cluster:
    """One cluster in one store, seen from one node (``node_uuid``)."""

    def __init__(self, store: Store, cluster_id: str, node_uuid: str, executor: Executor) -> None:
        self.store = store
        self.keys = ClusterKeys.for_cluster(cluster_id)
        self.node_uuid = node_uuid
        self.executor = executor
        self.peers = Peers(store, self.keys, node_uuid)
        self.volumes = Volumes(self)
        self.heal = Heal(self, self.volumes)
        self.quota = Quota(self.volumes)
        self.reset_brick = ResetBrick(self, self.volumes)
        self.log_rotate = LogRotate(self, self.volumes)
        self.profile = Profile(self, self.volumes)
        self.brick_signals = BrickSignals(self, self.volumes)

    @classmethod
    def attach(cls, store_url: str, cluster_id: str | None = None) -> "Cluster":
        """Join a cluster's store as a coordinator only (no bricks, no inbox): steps run on the
        peers' daemons. ``cluster_id`` may be omitted when the store holds one cluster."""
        from gluster_mgmt.executor import StoreExecutor
        from gluster_mgmt.store import open_store

        store = open_store(store_url)
        try:
            if cluster_id is None:
                ids = sorted(e.key.split("/")[1] for e in store.list(CLUSTERS)
                             if e.key == ClusterKeys.for_cluster(e.key.split("/")[1]).info)
                if len(ids) != 1:
                    raise OperationFailed(
                        f"the store holds {len(ids)} clusters ({', '.join(ids) or 'none'}); "
                        "name the one to attach to", errno.EINVAL)
                cluster_id = ids[0]
            elif store.get(ClusterKeys.for_cluster(cluster_id).info) is None:
                raise OperationFailed(f"the store holds no cluster {cluster_id}", errno.ENOENT)
            node_uuid = str(uuid_module.uuid4())
            prefix = ClusterKeys.for_cluster(cluster_id).prefix
            return cls(store, cluster_id, node_uuid, StoreExecutor(store, prefix, node_uuid))
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_for_change(self, keys: Sequence[str] = (), prefixes: Sequence[str] = (),
                        with_alive: bool = True) -> ChangeRead:
        """A change's own ``keys`` and ``prefixes`` with what ``run`` checks (``with_alive``:
        the alive keys, for a change with steps), in one store read."""
        return ChangeRead.of(self.store, self.keys, keys, prefixes, with_alive)

    def run(self, name: str, steps: Sequence[Step], locks: Sequence[str], commit: Sequence[Op],
            conflict: str | None = None, checked: ChangeRead | None = None) -> Any:
        """Run steps on peers, then commit atomically (see gluster_mgmt.executor). Failures read
        as glusterd's: a step's own error on this node, "Staging failed on HOST. Error: ..."
        on another; ``conflict`` is the message when the final compare-and-swap loses.
        ``checked``: the change's read just made (``read_for_change``): its takeover and
        alive keys are checked instead of read again."""
        self.check_not_taking_over(checked)
        try:
            return self.executor.run(name, steps, locks=locks, commit=commit,
                                     alive=checked.alive if checked is not None else None)
        except TransactionFailed as exc:
            if exc.conflict:
                raise OperationFailed(conflict or str(exc), exc.errno) from exc
            if exc.peer == self.node_uuid or not exc.peer:
                raise OperationFailed(exc.error or str(exc), exc.errno) from exc
            view = next((v for v in self.peers.all() if v.peer.uuid == exc.peer), None)
            host = view.peer.hostnames[0] if view and view.peer.hostnames else exc.peer
            raise OperationFailed(f"Staging failed on {host}. Error: {exc.error}", exc.errno) from exc
        except LockTimeoutError:
            raise OperationFailed(rules.transaction_in_progress(name.split()[-1]),
                                  errno.EBUSY) from None
        except ValueTooLargeError as exc:
            raise OperationFailed(f"{name}: the change is too large for the store: {exc}",
                                  errno.E2BIG) from exc

    @contextlib.contextmanager
    def volume_lock(self, name: str, prefixes: Sequence[str] = ()) -> Iterator[HeldVolume]:
        """Hold volume ``name``'s lock, bound to the node's lease (no lease granted and
        revoked per change), and read under it, in one read, the volume's record, the
        change's ``prefixes`` and what every change checks (takeover refused here). The
        change may release the lock in its own saving transaction (``HeldVolume.lock``);
        else it is released on leaving."""
        lock = self.store.lock(f"volume-{name}", holder=self.node_uuid, lease=self.executor.lease())
        try:
            lock.acquire(timeout=LOCK_WAIT)
        except LockTimeoutError:
            raise OperationFailed(rules.transaction_in_progress(name), errno.EBUSY) from None
        try:
            own = [self.keys.volume(name)] if model.is_volume_name(name) else []
            checked = self.read_for_change(own, prefixes, with_alive=False)
            self.check_not_taking_over(checked)
            yield HeldVolume(lock, checked)
        finally:
            lock.release()

    def parse_brick(self, spec: str, hosts: Mapping[str, str] | None = None) -> tuple[str, str]:
        """``HOST:PATH`` with glusterd's rules; a loopback name is fine when a peer is known by
        it (several daemons on one machine, each on its own loopback address). ``hosts``:
        the peers' hostname map, when the caller has read it."""
        try:
            return model.parse_brick_spec(spec)
        except ValidationError:
            host, sep, path = spec.rpartition(":")
            if hosts is None:
                hosts = self.peers.hostname_map()
            if sep and path.startswith("/") and host in hosts:
                return host, model.canonical_path(path)
            raise

    def check_not_taking_over(self, checked: ChangeRead | None = None) -> None:
        """Refuse a configuration change while imported nodes still run glusterd: glusterd
        there would not see it, and the two halves of the cluster would diverge (``checked``:
        the change's own read has the takeover keys)."""
        waiting = checked.takeover if checked is not None else self.store.list(self.keys.glusterd_nodes)
        if not waiting:
            return
        hosts = []
        for entry in waiting:
            hostnames = json.loads(entry.value).get("hostnames") or [entry.key.rsplit("/", 1)[1]]
            hosts.append(hostnames[0])
        raise OperationFailed(
            "taking over from glusterd: configuration changes are refused until every node "
            f"runs gluster-mgmtd; still on glusterd: {', '.join(sorted(hosts))} (start "
            "gluster-mgmtd there, then `gluster peer probe HOST`, or detach the node)",
            errno.EBUSY)

    def import_glusterd(self, state: "GlusterdState") -> dict[str, Any]:
        """Write a glusterd state directory's peers and volumes into the store (the phased
        migration path). Refuses, writing nothing, if any of its volumes or peers is already
        there. Every UUID stays as glusterd had it (nodes, bricks' hosts, volumes): the
        daemon of glusterd's node takes its UUID from glusterd.info, and the other nodes'
        daemons join as the peers recorded here (``peer probe``), each under its own UUID."""
        existing = set(self.volumes.names())
        clash = sorted(v.name for v in state.volumes if v.name in existing)
        if clash:
            raise OperationFailed(
                f"the store already holds volume(s) {', '.join(clash)}; nothing imported", errno.EEXIST)
        ops: list[Op] = []
        for peer in state.peers:
            if self.store.get(self.keys.peer(peer.uuid)) is not None:
                raise OperationFailed(f"the store already holds peer {peer.uuid}; nothing imported",
                                      errno.EEXIST)
            ops.append(Put(self.keys.peer(peer.uuid), json.dumps(peer.to_dict()).encode(), ABSENT))
            if peer.uuid != self.node_uuid:  # runs glusterd until it joins (`peer probe`)
                ops.append(Put(self.keys.glusterd_node(peer.uuid),
                               json.dumps({"hostnames": list(peer.hostnames)}).encode()))
        for volume in state.volumes:
            ops.append(Put(self.keys.volume(volume.name), encode_volume(volume), ABSENT))
        # Volumes are independent documents; each chunk is atomic, and a chunk that conflicts
        # (someone created the same name meanwhile) stops the import with what is done named.
        done: list[str] = []
        for start in range(0, len(ops), MAX_TXN_OPS):
            chunk = ops[start:start + MAX_TXN_OPS]
            try:
                self.store.transaction(chunk)
            except ConflictError as exc:
                raise OperationFailed(
                    f"import stopped: {exc}; already imported: {', '.join(done) or 'nothing'}",
                    errno.EEXIST) from exc
            done += [op.key.rsplit("/", 1)[1] for op in chunk
                     if not op.key.startswith(self.keys.glusterd_nodes)]
        return {"peers": [p.uuid for p in state.peers], "volumes": [v.name for v in state.volumes]}
