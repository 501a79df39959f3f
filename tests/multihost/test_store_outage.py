"""A store outage never reaches the data path (issue 12).

One host is cut off from the other two (its store member loses the quorum, its daemon its
store): a new FUSE mount still attaches every brick, `volume status` still shows every brick
online with its port and pid and every node's self-heal daemon, management changes on the
cut-off host fail fast with a clear error, reads there answer from the last known state with a
stale notice; after healing, everything resumes on its own and all hosts agree.

Measured figures go to the file named by GLUSTER_MGMT_RELIABILITY_OUT (JSON lines), which
docs/reliability.md's table is made from.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from tests.helpers import wait_for

pytestmark = pytest.mark.multihost

#: A management change on a cut-off host must fail within this many seconds.
BOUNDED_ERROR = 10.0
STALE = "stale"
UNAVAILABLE = "configuration store unavailable"


def record(backend: str, scenario: str, **figures: float) -> None:
    out = os.environ.get("GLUSTER_MGMT_RELIABILITY_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as file:
            file.write(json.dumps({"backend": backend, "scenario": scenario,
                                   **{k: round(v, 2) for k, v in figures.items()}}) + "\n")


def attached_bricks(client_log) -> set[str]:
    """The client xlators that attached to their brick (the FUSE client's log)."""
    return set(re.findall(r"Connected, attached to remote volume \[\{conn-name=([^}]+)\}",
                          client_log.read_text(errors="replace")))


def timed(action):
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start


def test_partitioned_host_keeps_the_data_path(multihost):
    cluster = multihost
    first, second, cut = cluster.daemons
    host = cluster.hosts[2]
    cluster.create_replica3("r3")
    before = cluster.wait_online("r3", 3)
    info_before = first.cli("--xml", "volume", "info", "r3", check=True).stdout

    cluster.partition(host)
    cut_at = time.monotonic()

    # Management changes on the cut-off host: a clear error, bounded in time.
    def refused():
        result, took = timed(lambda: cut.cli("volume", "set", "r3", "performance.quick-read", "off"))
        assert result.returncode != 0, f"a change succeeded on a partitioned host: {result.stdout}"
        return (result, took) if UNAVAILABLE in result.stdout + result.stderr else None
    outcome = wait_for(refused, 60, 0.5)
    assert outcome, f"no '{UNAVAILABLE}' error on the cut-off host\n{cut.log_tail()}"
    result, took = outcome
    detected = time.monotonic() - cut_at
    assert took <= BOUNDED_ERROR, f"the refusal took {took:.1f}s"

    # Reads there answer from the last known state, saying it may be stale.
    for args in (("volume", "info", "r3"), ("volume", "get", "r3", "all"), ("pool", "list")):
        read, read_took = timed(lambda: cut.cli(*args))
        assert read.returncode == 0, f"{args}: {read.stdout}{read.stderr}"
        assert STALE in read.stderr and "since" in read.stderr, read.stderr
        assert read_took <= BOUNDED_ERROR
    stale_info = cut.cli("--xml", "volume", "info", "r3").stdout
    assert stale_info == info_before

    # A new mount, through a host of the majority and through the cut-off host itself,
    # attaches all three bricks: PORTBYBRICK on the cut-off host answers from memory.
    for via in (cluster.hosts[0], host):
        point, client_log = cluster.mount("r3", via)
        assert wait_for(lambda: len(attached_bricks(client_log)) == 3, 30, 0.5), \
            client_log.read_text(errors="replace")[-3000:]
        text = client_log.read_text(errors="replace")
        assert "failed to get the port number for remote subvolume" not in text
        (point / f"via-{via.index}.txt").write_text("written during the partition\n")
    brick = cluster.brick(host, "r3").partition(":")[2]
    assert open(f"{brick}/via-0.txt").read() == "written during the partition\n"

    # `volume status`: on the cut-off host, every brick online with its real port and pid
    # (its own from the processes, the others as last seen); on the majority side, the
    # bricks it can reach. Both list every node's self-heal daemon.
    expected = {(n["hostname"], n["path"]): (n["port"], n["pid"]) for n in before}
    for daemon, seen in ((cut, set(expected)),
                         (first, {k for k in expected if k[0] != host.address})):
        status = cluster.status(daemon, "r3")
        online = {(n["hostname"], n["path"]): (n["port"], n["pid"])
                  for n in status if n["path"].startswith("/") and n["status"] == "1"}
        assert {k: online[k] for k in seen if k in online} == {k: expected[k] for k in seen}, \
            (daemon.address, status)
        # the cut-off host's brick, seen from the majority: offline, or as it really is
        # (its record outlives the partition until its lease expires)
        assert all(online[k] == expected[k] for k in online), (daemon.address, status)
        shds = [n for n in status if n["hostname"] == "Self-heal Daemon"]
        assert len(shds) == 3, status

    cluster.heal(host)
    healed_at = time.monotonic()

    def resumed():
        return cut.cli("volume", "set", "r3", "performance.quick-read", "off").returncode == 0
    assert wait_for(resumed, 90, 0.5), cut.log_tail()
    recovered = time.monotonic() - healed_at

    def agree():
        infos = {d.cli("--xml", "volume", "info", "r3").stdout for d in cluster.daemons}
        gets = {d.cli("volume", "get", "r3", "all").stdout for d in cluster.daemons}
        return len(infos) == 1 and len(gets) == 1 and "quick-read" in infos.pop()
    assert wait_for(agree, 30, 0.5)
    assert not any(STALE in d.cli("volume", "info", "r3").stderr for d in cluster.daemons)
    record(cluster.backend, "host partitioned from the store quorum",
           detect=detected, bounded_error=took, recover=recovered)
