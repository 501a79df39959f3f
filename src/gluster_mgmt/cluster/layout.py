"""Where the cluster keeps what in the store (DESIGN.md, "Suggested key layout")."""

from __future__ import annotations

import attrs

from gluster_mgmt.store.base import check_key

_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_segment(text: str) -> str:
    """Any text (a brick path) as one store key segment: bytes outside [A-Za-z0-9_-] become
    ``=XX``, so the mapping is reversible and '/' never nests."""
    return "".join(c if c in _PLAIN else "".join(f"={b:02X}" for b in c.encode()) for c in text)


@attrs.frozen
class Layout:
    cluster_id: str

    @property
    def prefix(self) -> str:
        return f"clusters/{self.cluster_id}/"

    @property
    def info(self) -> str:
        """The cluster record: id, secret digest, creation time."""
        return f"{self.prefix}info"

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
    def volumes(self) -> str:
        return f"{self.prefix}volumes/"

    def volume(self, name: str) -> str:
        return check_key(f"{self.volumes}{name}")

    def ports(self, host_uuid: str) -> str:
        return f"{self.prefix}ports/{host_uuid}/"

    def port(self, host_uuid: str, brick_path: str) -> str:
        return check_key(f"{self.ports(host_uuid)}{key_segment(brick_path)}")

    @property
    def secret(self) -> str:
        return f"{self.prefix}secret"

    def migrations(self, volume: str) -> str:
        """Per-node progress of a volume's data migration (remove-brick start)."""
        return f"{self.prefix}migrations/{volume}/"

    def migration(self, volume: str, host_uuid: str) -> str:
        return check_key(f"{self.migrations(volume)}{host_uuid}")
