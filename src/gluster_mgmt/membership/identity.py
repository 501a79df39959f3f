"""What a node keeps on its own disk: its UUID, and which cluster (store, secret) it is in."""

from __future__ import annotations

import json
import os
import secrets
import uuid as uuid_module

import attrs


def _write_private(path: str, text: str) -> None:
    """Atomically write a root-only file (it may hold the cluster secret or a store token)."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def node_uuid(state_dir: str) -> str:
    """This node's UUID, created on first start and never changed (glusterd.info's UUID)."""
    path = os.path.join(state_dir, "node.json")
    try:
        with open(path) as f:
            return json.load(f)["uuid"]
    except FileNotFoundError:
        value = str(uuid_module.uuid4())
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        _write_private(path, json.dumps({"uuid": value}) + "\n")
        return value


@attrs.frozen
class Membership:
    cluster_id: str
    store_url: str = attrs.field(repr=False)
    secret: str = attrs.field(repr=False)

    @classmethod
    def new(cls, store_url: str) -> "Membership":
        return cls(str(uuid_module.uuid4()), store_url, secrets.token_hex(32))

    @staticmethod
    def path(state_dir: str) -> str:
        return os.path.join(state_dir, "cluster.json")

    @classmethod
    def load(cls, state_dir: str) -> "Membership | None":
        try:
            with open(cls.path(state_dir)) as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        return cls(data["cluster_id"], data["store_url"], data["secret"])

    def save(self, state_dir: str) -> None:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        _write_private(self.path(state_dir), json.dumps(attrs.asdict(self)) + "\n")
