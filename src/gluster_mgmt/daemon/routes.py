"""REST routes: request parameters in, the `data` the CLI renders out (see gluster_mgmt.cli.client
for the contract). Each route is a thin mapping onto the Cluster API or the Daemon."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

import attrs

from gluster_mgmt.cluster.brick_dump import (
    BrickDump,
    StatusDaemon,
    daemon_refusal,
    dump_summary,
    no_brick,
)
from gluster_mgmt.cluster.profile import StatsRequest
from gluster_mgmt.cluster import get_state
from gluster_mgmt.cluster.migration_progress import MigrationRecords, overall_status
from gluster_mgmt.daemon.last_known import guarded, with_fallback
from gluster_mgmt.daemon.rest import ClusterSignedRoute
from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.model import REBALANCE, REMOVE_BRICK, MigrationStatus, VolumeStatus
from gluster_mgmt.rules import STALE_KEY
from gluster_mgmt.services import clear_locks, self_heal
from gluster_mgmt.services.quota import QuotaMounts

if TYPE_CHECKING:
    from gluster_mgmt.daemon.node import Daemon
    from gluster_mgmt.executor import TransactionRecord

#: Routes a TCP caller may use without proving a cluster secret: none. Being probed
#: (``cluster/join``) proves the secret of the cluster the probe names (ClusterSignedRoute).
OPEN_ROUTES: frozenset[str] = frozenset()


def txn_view(record: "TransactionRecord") -> dict[str, Any]:
    """A transaction record in the CLI's terms (gluster_mgmt.cli.client, `txn/show`)."""
    error_of = lambda step: next((o.error for o in step.outcomes.values() if o.error), None)  # noqa: E731
    return {
        "id": record.id, "operation": record.name, "state": record.state,
        "coordinator": record.coordinator, "started": record.created,
        "finished": record.updated if record.finished else None, "error": record.error,
        "recovered_by": record.recovered_by, "locks": list(record.locks),
        "steps": [{"name": s.name, "targets": list(s.targets), "state": s.status,
                   "error": error_of(s)} for s in record.steps],
    }


def build_routes(daemon: "Daemon") -> dict[str, Any]:
    def cluster():
        return daemon.active()

    def peer_status(c, _: dict) -> dict:
        return {"peers": [v.to_dict() for v in c.peers.others()]}

    def pool_list(c, _: dict) -> dict:
        views = []
        for view in c.peers.all():
            entry = view.to_dict()
            if view.peer.uuid == daemon.uuid:
                entry["hostnames"] = ["localhost"]
                entry["connected"] = True
                views.insert(0, entry)
            else:
                views.append(entry)
        return {"peers": views}

    def volume_info(c, p: dict) -> dict:
        return {"volumes": [public(v) for v in c.volumes.info(p.get("name"))]}

    def volume_status(c, p: dict) -> dict:
        result = []
        volumes = c.volumes.info(p.get("name"))
        if p.get("name") and volumes[0].status is not VolumeStatus.STARTED:
            raise OperationFailed(f"Volume {p['name']} is not started", errno.EINVAL)
        dump = BrickDump.from_word(p["dump"]) if p.get("dump") else None
        named = StatusDaemon.from_word(p["daemon"], p.get("name")) if p.get("daemon") else None
        if named in (StatusDaemon.SHD, StatusDaemon.QUOTAD):
            refusal = daemon_refusal(named, volumes[0])
            if refusal is not None:
                raise refusal
            return {"volumes": [daemon_status(volumes[0], named, dump)]}
        for volume in volumes:
            ports = daemon.brick_runtime(volume)
            started = volume.status is VolumeStatus.STARTED
            facts = daemon.brick_filesystems(volume) if p.get("detail") and started else {}
            bricks = volume.bricks
            if p.get("brick"):  # `status VOL BRICK ...`: that brick alone
                bricks = [b for b in bricks if f"{b.hostname}:{b.path}" == p["brick"]]
                if not bricks:
                    raise no_brick(p["brick"], volume.name)
            answers = daemon.brick_dumps(volume, dump, [
                b for b in bricks if (ports.get(b.uuid) or {}).get("online")]) if dump and started else {}
            result.append({
                "name": volume.name, "id": volume.uuid, "status": volume.status.value,
                "not_started": not started,
                "bricks": [{"hostname": b.hostname, "path": b.path, "host_uuid": b.host_uuid,
                            **ports.get(b.uuid, {"port": None, "rdma_port": 0, "online": False, "pid": None}),
                            **facts.get(b.uuid, {}),
                            **({"dump": answers[b.uuid]} if b.uuid in answers else {})}
                           for b in bricks],
                "self_heal": [] if dump or p.get("brick") else [
                    {**shd, "hostname": "localhost"} if shd.get("host_uuid") == daemon.uuid
                    else shd for shd in daemon.other_services(volume)],
                "tasks": [] if dump or p.get("brick") or named else tasks_of(c, volume),
                **(dump_summary(dump, bricks, answers) if dump else {}),
                **({"daemon": named.value} if named else {}),
            })
        return {"volumes": result}

    def daemon_status(volume, named: StatusDaemon, dump: BrickDump | None) -> dict:
        """`status VOL shd|quotad [WHAT]`: the volume's daemons of that kind, or this
        node's one with its answer (``self_heal``'s one entry, ``dump`` its pairs)."""
        entry = {"name": volume.name, "id": volume.uuid, "status": volume.status.value,
                 "not_started": False, "bricks": [], "tasks": [], "daemon": named.value}
        if dump is None:
            return {**entry, "self_heal": [
                {**other, "hostname": "localhost"} if other.get("host_uuid") == daemon.uuid
                else other for other in daemon.other_services(volume)
                if other.get("name") == named.label]}
        answer = daemon.daemon_dump(volume, named, dump)
        return {**entry, "self_heal": [answer], "dump": dump.word, "node_count": 1,
                "op_errstr": answer.pop("op_errstr")}

    def tasks_of(c, volume) -> list[dict]:
        """`volume status`'s task section: the volume's remove-brick or rebalance task with
        its status over all nodes."""
        if volume.task is None:
            return []
        nodes = MigrationRecords(c.store, c.keys).report(volume)
        status = overall_status(nodes)
        return [{"type": volume.task.type_name, "id": volume.task.id,
                 "bricks": list(volume.task.bricks), "status": status.label,
                 "status_code": int(status)}]

    def migration_view(volume, nodes) -> dict:
        names = {v.peer.uuid: (v.peer.hostnames or (v.peer.uuid,))[0]
                 for v in cluster().peers.all()}
        names[daemon.uuid] = "localhost"
        return {"volume": volume.name, "task_id": volume.task.id if volume.task else None,
                "nodes": [{"hostname": names.get(n.host_uuid, n.host_uuid), "node_uuid": n.host_uuid,
                           **{k: v for k, v in n.to_dict().items() if k not in ("host_uuid", "task_id")}}
                          for n in nodes]}

    def task_query(name: str, action: str, kind: str, stop, bricks=()) -> dict:
        """`status` or `stop` of a volume's task: each node's progress (for stop, as the
        processes report it once told to stop)."""
        before = volumes().info(name)[0]
        nodes = volumes().migration_status(name, bricks, kind=kind)
        if action == "stop":
            stop()
            nodes = [attrs.evolve(n, status=MigrationStatus(n.status + 1)) if n.status.running
                     else n for n in nodes]  # STARTED -> STOPPED, LAYOUT_FIX_* likewise
        return migration_view(before, nodes)

    def volume_rebalance(p: dict) -> dict:
        name, action = p["name"], p["action"]
        if action in ("status", "stop"):
            return task_query(name, action, REBALANCE, lambda: volumes().rebalance(name, "stop"))
        volume = volumes().rebalance(name, action, bool(p.get("fix_layout")), bool(p.get("force")))
        return {**changed(volume), "task_id": volume.task.id}

    def volume_remove_brick(p: dict) -> dict:
        name, bricks, action = p["name"], p["bricks"], p["action"]
        if action in ("status", "stop"):
            def stop() -> None:
                volumes().remove_brick(name, bricks, "stop")
            return task_query(name, action, REMOVE_BRICK, stop, bricks)
        volume = volumes().remove_brick(name, bricks, action, p.get("replica"))
        data = changed(volume)
        if volume.task is not None:
            data["task_id"] = volume.task.id
        return data

    def public(volume) -> dict:
        """A volume as callers may see it: without the trusted-client credentials."""
        data = volume.to_dict()
        data.pop("username", None)
        data.pop("password", None)
        return data

    def volume_create(p: dict) -> dict:
        volume = cluster().volumes.create(
            p["name"], p["bricks"], replica=p.get("replica"), arbiter=p.get("arbiter"),
            disperse=p.get("disperse"), disperse_data=p.get("disperse_data"),
            redundancy=p.get("redundancy"), transport=p.get("transport"),
            force=bool(p.get("force")))
        return changed(volume)

    def volume_get(c, p: dict) -> dict:
        return {"options": [[k, v if v is not None else "(null)", d]
                            for k, v, d in c.volumes.get(p["name"], p["key"])]}

    def read(route):
        """A read: from the store, or from the last state this node saw while it cannot
        reach the store, with a notice saying so."""
        def handler(p: dict) -> dict:
            data, notice = with_fallback(daemon.health, lambda: route(cluster(), p),
                                         lambda: route(daemon.known(), p))
            return {**data, STALE_KEY: notice} if notice else data
        return handler

    def change(route):
        """A change: refused within seconds, with a clear error, while the store is unreachable."""
        return lambda p: guarded(daemon.health, lambda: route(p), daemon.confirm_store)

    def txn_list(_: dict) -> dict:
        return {"transactions": [txn_view(t) for t in daemon.executor.list_transactions()]}

    def txn_show(p: dict) -> dict:
        return {"transaction": txn_view(daemon.executor.get_transaction(p["id"]))}

    def volume_clear_locks(p: dict) -> dict:
        """On this node, as glusterd: every local brick must have its port (it is running)."""
        volume = volumes().info(p["name"])[0]
        if daemon.reconciler is None:
            raise OperationFailed("the daemon is not connected to its store yet", errno.EAGAIN)
        runtime = daemon.brick_runtime(volume)
        if any(not runtime.get(b.uuid, {}).get("online") for b in volume.bricks
               if b.host_uuid == daemon.uuid):
            raise OperationFailed(clear_locks.NO_LOCAL_PORTS, errno.ENOTCONN)
        specs = daemon.reconciler.specs
        return {"summary": clear_locks.clear_locks(
            volume.name, p["path"], clear_locks.LockKind(p["kind"]),
            clear_locks.LockType(p["type"]), p.get("args"), server=daemon.reconciler.shd_server,
            mgmt_port=specs.mgmt_port, log_dir=specs.log_dir, glusterfs=specs.glusterfs)}

    def changed(volume) -> dict:
        return {"volume": public(volume)}

    volumes = lambda: cluster().volumes  # noqa: E731 (late binding: the cluster may switch)
    changes = {
        "peer/probe": lambda p: daemon.peer_operations.probe(p["host"]),
        "peer/detach": lambda p: daemon.peer_operations.detach(p["host"], bool(p.get("force"))),
        "volume/sync": lambda p: daemon.peer_operations.sync(p["host"], p.get("name")) or {},
        "cluster/leave": daemon.peer_operations.leave,
        "volume/create": volume_create,
        "volume/start": lambda p: changed(volumes().start(p["name"], bool(p.get("force")))),
        "volume/stop": lambda p: changed(volumes().stop(p["name"], bool(p.get("force")))),
        "volume/delete": lambda p: volumes().delete(p["name"]) or {},
        "volume/set": lambda p: changed(volumes().set(p["name"], [tuple(x) for x in p["options"]])),
        "volume/reset": lambda p: changed(volumes().reset(p["name"], p.get("key"), bool(p.get("force")))),
        "volume/add-brick": lambda p: changed(volumes().add_brick(
            p["name"], p["bricks"], p.get("replica"), p.get("arbiter"), bool(p.get("force")))),
        "volume/remove-brick": volume_remove_brick,
        "volume/rebalance": volume_rebalance,
        "volume/heal": lambda p: cluster().heal.heal(p["name"], p["op"], p.get("replica")).to_dict(),
        "volume/glfsheal": lambda p: self_heal.run_glfsheal(
            p["name"], self_heal.GlfshealMode(p["mode"]), bool(p.get("xml")),
            daemon.config.glusterd_socket, p.get("file"), p.get("brick")),
        "volume/quota": lambda p: cluster().quota.run(
            p["name"], p["op"], path=p.get("path"), hard_limit=p.get("hard_limit"),
            soft_limit=p.get("soft_limit"), value=p.get("value"), paths=p.get("paths") or (),
            read=p.get("read", True), mounts=QuotaMounts(
                daemon.config.run_dir, daemon.config.log_dir, daemon.hostname,
                daemon.config.mgmt_port)).to_dict(),
        "volume/profile": lambda p: cluster().profile.run(StatsRequest.from_dict(p)).to_dict(),
        "volume/statedump": lambda p: cluster().brick_signals.statedump(
            p["name"], list(p.get("options") or [])) or {},
        "volume/barrier": lambda p: cluster().brick_signals.barrier(p["name"], p["barrier"]) or {},
        "volume/clear-locks": volume_clear_locks,
        "volume/replace-brick": lambda p: changed(volumes().replace_brick(p["name"], p["old"], p["new"])),
        "volume/reset-brick": lambda p: changed(cluster().reset_brick.reset_brick(
            p["name"], p["source"], p["op"], p.get("destination"))),
        "volume/log-rotate": lambda p: cluster().log_rotate.rotate(p["name"], p.get("brick")).to_dict(),
        "txn/list": txn_list,
        "txn/show": txn_show,
        "import": lambda p: daemon.import_state(p["path"]),
        "export": lambda p: daemon.export_state(p["path"]),
    }
    reads = {
        "peer/status": peer_status,
        "pool/list": pool_list,
        "volume/info": volume_info,
        "volume/list": lambda c, p: {"volumes": c.volumes.names()},
        "volume/status": volume_status,
        "volume/get": volume_get,
    }
    return {
        **{route: change(handler) for route, handler in changes.items()},
        **{route: read(handler) for route, handler in reads.items()},
        "system/uuid-get": lambda _: {"uuid": daemon.uuid},
        "cluster/join": ClusterSignedRoute(daemon.peer_operations.join,
                                           daemon.peer_operations.join_secret,
                                           daemon.peer_operations.join_names),
        "volume/self-heal-local": lambda p: {"self_heal": daemon.local_self_heal(p["name"])},
        "volume/quotad-local": lambda p: {"quotad": daemon.local_quotad()},
        "get-state": lambda p: {"path": get_state.write_state(
            get_state.gather(daemon, cluster(), get_state.StateKind.of(p.get("kind"))),
            p.get("odir"), p.get("filename"))},
        "volume/brick-filesystems-local":
            lambda p: {"bricks": daemon.local_brick_filesystems(p["name"])},
        "volume/brick-dump-local":
            lambda p: {"bricks": daemon.local_brick_dumps(p["name"], p["kind"], list(p["paths"]))},
    }
