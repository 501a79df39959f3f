"""The STOCK `/usr/sbin/gluster --remote-host=ADDRESS` against real gluster-mgmtd daemons:
the read-only part of GLUSTER_CLI on 24007 (``cli_program.TCP_PROCEDURES``), on every store
backend. Queries print exactly what the same command prints through glusterd's socket; any
other procedure is answered PROC_UNAVAIL, as glusterd answers it, so the CLI fails at once
and prints nothing of its own, or its generic failure line."""

from __future__ import annotations

import os

import pytest

from tests.daemon.cluster_fixture import STOCK_GLUSTER

pytestmark = pytest.mark.skipif(not os.access(STOCK_GLUSTER, os.X_OK),
                                reason="the stock gluster CLI (GlusterFS 10.3) is not installed")

QUERIES = [("peer", "status"), ("pool", "list"), ("volume", "info"), ("volume", "info", "v1"),
           ("volume", "info", "nope"), ("volume", "list"), ("volume", "status"),
           ("volume", "status", "v1"), ("system::", "uuid", "get"), ("system::", "getwd")]


def same_through_both_doors(daemon, *args: str) -> None:
    for xml in (False, True):
        local = daemon.gluster(*args, xml=xml)
        remote = daemon.gluster(*args, xml=xml, remote=True)
        assert (remote.stdout, remote.stderr, remote.returncode) == \
            (local.stdout, local.stderr, local.returncode), (args, xml)


def test_queries_over_tcp_equal_the_unix_socket(make_daemons, tmp_path):
    d1, d2 = make_daemons(2)
    assert d1.gluster("peer", "probe", d2.address).returncode == 0
    bricks = f"{d1.address}:{tmp_path}/bricks"
    assert d1.gluster("volume", "create", "v1", f"{bricks}/b1", f"{bricks}/b2", "force").returncode == 0
    assert d1.gluster("volume", "create", "v2", f"{bricks}/c1", "force").returncode == 0
    for daemon in (d1, d2):
        for args in QUERIES:
            same_through_both_doors(daemon, *args)
    assert d2.gluster("system::", "uuid", "get", remote=True).stdout == f"UUID: {d2.uuid}\n"
    assert d2.gluster("volume", "list", remote=True).stdout == "v1\nv2\n"


@pytest.mark.parametrize("args", [
    ("volume", "create", "v2", "{address}:{bricks}/b2", "force"),
    ("volume", "set", "v1", "nfs.disable", "on"),
    ("volume", "start", "v1"),
    ("volume", "delete", "v1"),
    ("peer", "probe", "127.0.0.99"),
])
def test_changes_over_tcp_are_refused_like_glusterd(make_daemons, tmp_path, args):
    (daemon,) = make_daemons(1)
    bricks = tmp_path / "bricks"
    assert daemon.gluster("volume", "create", "v1", f"{daemon.address}:{bricks}/b1",
                          "force").returncode == 0
    info = daemon.gluster("volume", "info").stdout
    args = tuple(a.format(address=daemon.address, bricks=bricks) for a in args)
    for xml in (False, True):
        refused = daemon.gluster(*args, xml=xml, remote=True)  # subprocess timeout: no hang
        # PROC_UNAVAIL: the CLI's callback sees a failed RPC and prints nothing
        assert (refused.stdout, refused.stderr, refused.returncode) == ("", "", 1), (args, xml)
    assert daemon.gluster("volume", "info").stdout == info  # nothing changed
    assert daemon.gluster("volume", "list").stdout == "v1\n"
