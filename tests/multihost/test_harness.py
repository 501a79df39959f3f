"""The harness itself: three hosts see each other and the root namespace; a partition cuts a
host off from its neighbours only; a replica-3 volume serves a FUSE mount in the root
namespace; nothing is left behind."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.multihost.harness import leftover_namespaces, run

pytestmark = pytest.mark.multihost

#: A TCP connect to a closed port: refused means the host answered, a timeout that it did not.
_PROBE = """
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)
"""


def reaches(netns: str, address: str) -> bool:
    return run(sys.executable, "-c", _PROBE, address, netns=netns, check=False).returncode == 0


def test_partition_cuts_neighbours_not_the_client(network):
    a, b, c = network.hosts
    assert reaches(a.netns, b.address) and reaches(a.netns, network.gateway)
    network.partition(a)
    assert not reaches(a.netns, b.address) and not reaches(c.netns, a.address)
    assert reaches(a.netns, network.gateway) and reaches(b.netns, c.address)
    network.heal(a)
    assert reaches(a.netns, b.address) and reaches(c.netns, a.address)


def test_teardown_leaves_nothing():
    from tests.multihost.harness import Network

    net = Network(2).create()
    tag = net.tag
    net.teardown()
    assert leftover_namespaces(tag) == []
    assert tag not in run("ip", "-o", "link").stdout


def test_replica3_across_hosts(multihost):
    cluster = multihost
    cluster.create_replica3("r3")
    cluster.wait_online("r3", 3)
    point, _ = cluster.mount("r3", cluster.hosts[1])
    (point / "hello.txt").write_text("across hosts\n")
    for host in cluster.hosts:
        brick = cluster.brick(host, "r3").partition(":")[2]
        assert open(f"{brick}/hello.txt").read() == "across hosts\n"
    # `volume status detail` on one host: every host's bricks, each reported by its host
    status = cluster.daemons[0].cli("--xml", "volume", "status", "r3", "detail", check=True)
    nodes = ET.fromstring(status.stdout).findall("./volStatus/volumes/volume/node")
    assert len(nodes) == 3
    for node in nodes:
        source, fstype = subprocess.run(
            ["findmnt", "-n", "-r", "-o", "SOURCE,FSTYPE", "-T", node.findtext("path")],
            capture_output=True, text=True, check=True).stdout.split()
        assert (node.findtext("device"), node.findtext("fsName")) == (source, fstype)
        assert int(node.findtext("sizeTotal")) > 0
