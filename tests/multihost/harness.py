"""Hosts made of network namespaces: a Linux bridge in the root namespace, one veth pair per
host, addresses in a private /24 the harness picks so it clashes with nothing on this machine.

The root namespace holds the bridge's address (the FUSE clients reach the hosts through it).
A partition cuts a host off from the other hosts, not from the root namespace: permanent
neighbour entries with a bogus MAC on both sides, so frames between them go nowhere while the
client still reaches every host. Everything made is recorded and removed by ``teardown``,
which never fails half-way.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess

import attrs

#: Where the harness looks for a free /24: 10.215.0.0/16.
SUPERNET = ipaddress.ip_network("10.215.0.0/16")
#: A locally administered MAC no interface has: frames sent to it are dropped.
BOGUS_MAC = "02:00:de:ad:00:01"
#: The host side's interface name inside each namespace.
HOST_IFACE = "eth0"


def run(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``ip`` and friends, in ``netns`` when given."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    result = subprocess.run(full, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed: {result.stderr.strip()}")
    return result


def used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of every address in the root namespace (``ip -o addr``)."""
    found = []
    for line in run("ip", "-o", "-4", "addr").stdout.splitlines():
        words = line.split()
        if "inet" in words:
            found.append(ipaddress.ip_interface(words[words.index("inet") + 1]).network)
    return found


def pick_subnet() -> ipaddress.IPv4Network:
    """The first /24 of SUPERNET no local address or route overlaps."""
    taken = used_networks()
    routes = run("ip", "-4", "route").stdout.split()
    for subnet in SUPERNET.subnets(new_prefix=24):
        if subnet.network_address.packed[2] == 0:
            continue
        if any(subnet.overlaps(n) for n in taken) or str(subnet) in routes:
            continue
        return subnet
    raise RuntimeError(f"no free /24 in {SUPERNET}")


@attrs.frozen
class Host:
    """One host: its namespace, its address, and the bridge side of its veth pair."""

    index: int
    netns: str
    address: str
    bridge_port: str


@attrs.define
class Network:
    """N hosts on one bridge. ``create`` then ``teardown`` (always, also on failure)."""

    count: int
    tag: str = attrs.field(factory=lambda: f"gm{os.getpid() % 100000}")
    subnet: ipaddress.IPv4Network | None = None
    hosts: list[Host] = attrs.field(factory=list)
    bridge: str = ""
    gateway: str = ""
    #: Namespaces and links made so far (what teardown removes).
    _made_netns: list[str] = attrs.field(factory=list)
    _made_links: list[str] = attrs.field(factory=list)
    _cut: set[int] = attrs.field(factory=set)

    def create(self) -> "Network":
        self.subnet = pick_subnet()
        addresses = list(self.subnet.hosts())
        self.bridge = f"{self.tag}br"
        self.gateway = str(addresses[0])
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self._made_links.append(self.bridge)
        run("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for index in range(self.count):
            netns, port, peer = f"{self.tag}h{index}", f"{self.tag}v{index}", f"{self.tag}p{index}"
            run("ip", "netns", "add", netns)
            self._made_netns.append(netns)
            run("ip", "link", "add", port, "type", "veth", "peer", "name", peer)
            self._made_links.append(port)
            run("ip", "link", "set", port, "master", self.bridge, "up")
            run("ip", "link", "set", peer, "netns", netns)
            address = str(addresses[index + 1])
            run("ip", "link", "set", peer, "name", HOST_IFACE, netns=netns)
            run("ip", "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", HOST_IFACE, netns=netns)
            run("ip", "link", "set", HOST_IFACE, "up", netns=netns)
            run("ip", "link", "set", "lo", "up", netns=netns)
            self.hosts.append(Host(index, netns, address, port))
        return self

    # ------------------------------------------------------------------ partitions
    def partition(self, host: Host) -> None:
        """Cut ``host`` off from every other host (the root namespace still reaches it)."""
        for other in self.hosts:
            if other is host:
                continue
            self._neighbour(host, other.address, "replace", "lladdr", BOGUS_MAC, "nud", "permanent")
            self._neighbour(other, host.address, "replace", "lladdr", BOGUS_MAC, "nud", "permanent")
        self._cut.add(host.index)

    def heal(self, host: Host) -> None:
        for other in self.hosts:
            if other is host:
                continue
            self._neighbour(host, other.address, "del", check=False)
            self._neighbour(other, host.address, "del", check=False)
        self._cut.discard(host.index)

    @staticmethod
    def _neighbour(host: Host, address: str, action: str, *args: str, check: bool = True) -> None:
        run("ip", "neigh", action, address, *args, "dev", HOST_IFACE, netns=host.netns, check=check)

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> None:
        """Remove every namespace and link this network made (each step on its own, so one
        failure leaves nothing else behind)."""
        for netns in reversed(self._made_netns):
            run("ip", "netns", "del", netns, check=False)
        for link in reversed(self._made_links):
            run("ip", "link", "del", link, check=False)
        self._made_netns.clear()
        self._made_links.clear()
        self.hosts.clear()


def leftover_namespaces(tag: str) -> list[str]:
    """Namespaces named by ``tag`` still present (a teardown check)."""
    return [line.split()[0] for line in run("ip", "netns", "list").stdout.splitlines()
            if line.startswith(tag)]
