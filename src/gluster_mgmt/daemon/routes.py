"""REST routes: request parameters in, the `data` the CLI renders out (see gluster_mgmt.cli.client
for the contract). Each route is a thin mapping onto the Cluster API or the Daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gluster_mgmt.model import VolumeStatus

if TYPE_CHECKING:
    from gluster_mgmt.daemon.node import Daemon

#: Routes a TCP caller may use without proving the cluster secret: being probed.
OPEN_ROUTES = frozenset({"cluster/join"})


def build_routes(daemon: "Daemon") -> dict[str, Any]:
    def cluster():
        return daemon.active()

    def peer_status(_: dict) -> dict:
        return {"peers": [v.to_dict() for v in cluster().peers.others()]}

    def pool_list(_: dict) -> dict:
        views = []
        for view in cluster().peers.all():
            entry = view.to_dict()
            if view.peer.uuid == daemon.uuid:
                entry["hostnames"] = ["localhost"]
                entry["connected"] = True
                views.insert(0, entry)
            else:
                views.append(entry)
        return {"peers": views}

    def volume_info(p: dict) -> dict:
        return {"volumes": [v.to_dict() for v in cluster().volumes.info(p.get("name"))]}

    def volume_status(p: dict) -> dict:
        result = []
        for volume in cluster().volumes.info(p.get("name")):
            ports = daemon.brick_runtime(volume)
            result.append({
                "name": volume.name, "id": volume.uuid, "status": volume.status.value,
                "not_started": volume.status is not VolumeStatus.STARTED,
                "bricks": [{"hostname": b.hostname, "path": b.path, "host_uuid": b.host_uuid,
                            **ports.get(b.uuid, {"port": None, "rdma_port": 0, "online": False, "pid": None})}
                           for b in volume.bricks],
                "self_heal": daemon.self_heal_runtime(volume),
            })
        return {"volumes": result}

    def volume_create(p: dict) -> dict:
        volume = cluster().volumes.create(
            p["name"], p["bricks"], replica=p.get("replica"), arbiter=p.get("arbiter"),
            disperse=p.get("disperse"), disperse_data=p.get("disperse_data"),
            redundancy=p.get("redundancy"), transport=p.get("transport"),
            force=bool(p.get("force")))
        return {"volume": volume.to_dict()}

    def volume_get(p: dict) -> dict:
        return {"options": [[k, v] for k, v in cluster().volumes.get(p["name"], p["key"])]}

    def txn_list(_: dict) -> dict:
        return {"transactions": [t.to_dict() for t in daemon.executor.list_transactions()]}

    def txn_show(p: dict) -> dict:
        return {"transaction": daemon.executor.get_transaction(p["id"]).to_dict()}

    volumes = lambda: cluster().volumes  # noqa: E731 (late binding: the cluster may switch)
    return {
        "peer/probe": lambda p: daemon.peer_probe(p["host"]),
        "peer/detach": lambda p: daemon.peer_detach(p["host"], bool(p.get("force"))),
        "peer/status": peer_status,
        "pool/list": pool_list,
        "cluster/join": daemon.join,
        "cluster/leave": daemon.leave,
        "volume/create": volume_create,
        "volume/start": lambda p: {"volume": volumes().start(p["name"], bool(p.get("force"))).to_dict()},
        "volume/stop": lambda p: {"volume": volumes().stop(p["name"], bool(p.get("force"))).to_dict()},
        "volume/delete": lambda p: volumes().delete(p["name"]) or {},
        "volume/info": volume_info,
        "volume/list": lambda p: {"volumes": volumes().names()},
        "volume/status": volume_status,
        "volume/set": lambda p: {"volume": volumes().set(p["name"], [tuple(x) for x in p["options"]]).to_dict()},
        "volume/get": volume_get,
        "volume/reset": lambda p: {"volume": volumes().reset(p["name"], p.get("key"), bool(p.get("force"))).to_dict()},
        "volume/add-brick": lambda p: {"volume": volumes().add_brick(
            p["name"], p["bricks"], p.get("replica"), p.get("arbiter"), bool(p.get("force"))).to_dict()},
        "volume/remove-brick": lambda p: {"volume": volumes().remove_brick(
            p["name"], p["bricks"], p["action"], p.get("replica")).to_dict()},
        "volume/replace-brick": lambda p: {"volume": volumes().replace_brick(p["name"], p["old"], p["new"]).to_dict()},
        "txn/list": txn_list,
        "txn/show": txn_show,
        "import": lambda p: daemon.import_state(p["path"]),
    }
