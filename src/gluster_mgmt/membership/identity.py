"""What a node keeps on its own disk: its UUID, and which cluster (store, secret) it is in."""

from __future__ import annotations

import json
import os
import secrets
import uuid as uuid_module

import attrs

from gluster_mgmt.errors import IdentityError


def _write_private(path: str, text: str) -> None:
    """Atomically write a root-only file (it may hold the cluster secret or a store token;
    glusterd keeps glusterd.info 0600 too)."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


#: glusterd's identity file in its working directory; tools (gluster-prometheus, Kadalu) read it.
GLUSTERD_INFO = "glusterd.info"
#: The operating version glusterd 10.3 writes into a new glusterd.info (GD_OP_VERSION_10_0).
GLUSTERD_OP_VERSION = 100000
#: Where nodes before glusterd.info kept their UUID; adopted once, never written.
_LEGACY_NODE_FILE = "node.json"


@attrs.frozen
class NodeIdentity:
    """The node's UUID and operating version, as glusterd.info holds them. glusterd.info is
    the one home of a node's UUID: a node that ran glusterd keeps glusterd's UUID, so its
    bricks (``*-posix.glusterd-uuid``) and peers know it by the same name as before."""

    uuid: str
    operating_version: int = GLUSTERD_OP_VERSION

    @staticmethod
    def path(glusterd_dir: str) -> str:
        return os.path.join(glusterd_dir, GLUSTERD_INFO)

    def render(self) -> str:
        """glusterd 10.3's exact file: ``UUID=`` then ``operating-version=``, one a line."""
        return f"UUID={self.uuid}\noperating-version={self.operating_version}\n"

    @classmethod
    def parse(cls, text: str, path: str) -> "NodeIdentity":
        """Read glusterd.info as glusterd's store does (``key=value`` lines, other keys
        ignored); every defect names the file and the line."""
        fields: dict[str, tuple[int, str]] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise IdentityError(f"{path}, line {number}: not key=value: {line!r}")
            fields[key.strip()] = (number, value.strip())
        if "UUID" not in fields:
            raise IdentityError(f"{path}: no UUID= line")
        number, raw = fields["UUID"]
        try:
            parsed = uuid_module.UUID(raw) if len(raw) == 36 and raw.count("-") == 4 else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.int == 0:  # glusterd's uuid_parse form; never the nil UUID
            raise IdentityError(f"{path}, line {number}: UUID={raw!r} is not a UUID")
        value = str(parsed)
        version = GLUSTERD_OP_VERSION
        if "operating-version" in fields:
            number, raw = fields["operating-version"]
            if not raw.isdigit():
                raise IdentityError(f"{path}, line {number}: operating-version={raw!r} is "
                                    "not a number")
            version = int(raw)
        return cls(value, version)

    @classmethod
    def read(cls, glusterd_dir: str) -> "NodeIdentity | None":
        """glusterd.info's identity, or None when there is none."""
        path = cls.path(glusterd_dir)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise IdentityError(f"{path}: not text") from None
        return cls.parse(text, path)

    def write(self, glusterd_dir: str) -> None:
        os.makedirs(glusterd_dir, mode=0o755, exist_ok=True)
        _write_private(self.path(glusterd_dir), self.render())

    @classmethod
    def load_or_create(cls, glusterd_dir: str, state_dir: str) -> "NodeIdentity":
        """This node's identity: glusterd.info's when there is one (a node that ran glusterd
        keeps its UUID), else a new one written there (adopting the UUID a node of an earlier
        gluster_mgmt kept in ``state_dir/node.json``)."""
        found = cls.read(glusterd_dir)
        if found is not None:
            return found
        identity = cls(_legacy_uuid(state_dir) or str(uuid_module.uuid4()))
        identity.write(glusterd_dir)
        return identity


def _legacy_uuid(state_dir: str) -> str | None:
    try:
        with open(os.path.join(state_dir, _LEGACY_NODE_FILE)) as f:
            return str(uuid_module.UUID(json.load(f)["uuid"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise IdentityError(f"{os.path.join(state_dir, _LEGACY_NODE_FILE)}: {exc}") from None


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
