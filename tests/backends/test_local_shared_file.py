"""The embedded store's file shared by several processes on one host (its documented use):
one process opening the file again, then another process closing its connection cleanly,
must not pull the write-ahead log from under the first (benchmarks/scale.py: a gluster-mgmtd
stopped on the file its in-process agents used left them with "disk I/O error", lost leases
and `volume create`s of seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gluster_mgmt.store import open_store

CHILD = """
import sys
from gluster_mgmt.store import open_store
store = open_store(sys.argv[1])
store.put("k/child", b"from the child")
store.close()  # a clean close: SQLite checks whether it was the file's last user
"""


def test_a_second_open_in_this_process_keeps_its_locks(tmp_path: Path) -> None:
    url = f"local://{tmp_path}/state.db"
    first = open_store(url)
    second = open_store(url)  # a daemon opens the file more than once (per activation, ...)
    try:
        first.put("k/first", b"1")
        second.put("k/second", b"2")
        assert os.path.exists(f"{tmp_path}/state.db-wal")
        child = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True,
                               text=True, timeout=60)
        assert child.returncode == 0, child.stderr
        # the other process closed without deleting the log this process still uses
        assert os.path.exists(f"{tmp_path}/state.db-wal")
        lease = first.lease(5.0)
        first.put("k/leased", b"3", lease=lease)
        for store in (first, second):
            assert store.get("k/child").value == b"from the child"
            assert [e.key for e in store.list("k/")] == ["k/child", "k/first", "k/leased",
                                                          "k/second"]
        third = open_store(url)
        try:
            assert third.get("k/leased").value == b"3"
        finally:
            third.close()
    finally:
        second.close()
        first.close()


def test_a_new_file_is_root_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        open_store(f"local://{tmp_path}/db/state.db").close()
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "db" / "state.db").st_mode & 0o777 == 0o600
