"""Takeover of a running glusterd 10.3 node with a client mounted: glusterd is stopped, its
bricks and self-heal daemon keep running, gluster-mgmtd starts on the node's
/var/lib/glusterd (its UUID) and glusterd's run directory, imports the state, and adopts the
processes (same pids). The client writes and reads a file every half second throughout and
must see no error; `volume set` afterwards reaches it; `volume info --xml` through the stock
CLI is the same as glusterd's. Single node, embedded store; private network and mount
namespaces (tests/gluster/private_ns.py) so glusterd binds 24007 and /run only there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.gluster.private_ns import need_stock_glusterfs, read_text, run_scenario

pytestmark = pytest.mark.gluster

ADDRESS = "127.0.0.11"
VOLUME = "take3"

SCENARIO = '''\
B=$T/bricks
g() {{ timeout 60 /usr/sbin/gluster --mode=script "$@"; }}
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/gluster
glusterd -N --log-file="$T/glusterd.log" &
GPID=$!
for _ in $(seq 120); do [ -S /var/run/glusterd.socket ] && break; sleep 0.5; done
g volume create "$VOL" replica 3 "$ADDR:$B/r1" "$ADDR:$B/r2" "$ADDR:$B/r3" force || exit 1
g volume start "$VOL" || exit 1
g volume info --xml > "$T/before.xml"
mkdir -p "$T/mnt"
timeout 90 mount -t glusterfs -o log-file="$T/client.log" "$ADDR:/$VOL" "$T/mnt" || exit 1
echo MOUNTED
( i=0; while [ ! -e "$T/stop-writer" ]; do
      i=$((i + 1))
      if echo "line $i" > "$T/mnt/f$((i % 20))" && [ "$(cat "$T/mnt/f$((i % 20))")" = "line $i" ]; then
          echo "ok $i" >> "$T/writer.log"
      else
          echo "ERROR $i" >> "$T/writer.log"
      fi
      sleep 0.5
  done ) &
WRITER=$!
sleep 3
pids_of() {{ cat /run/gluster/vols/"$VOL"/*.pid /run/gluster/shd/"$VOL"/*.pid 2>/dev/null | sort | tr '\\n' ' '; }}
BEFORE=$(pids_of)
echo "PIDS_BEFORE $BEFORE"

kill -TERM "$GPID"; wait "$GPID"
echo GLUSTERD_STOPPED
sleep 2
start_mgmtd --run-dir /run/gluster || exit 1
cli import /var/lib/glusterd || exit 1
echo IMPORTED
timeout 120 "$PY" "$T/status.py" "$SOCK" "$VOL" 3 || exit 1
echo "PIDS_AFTER $(pids_of)"
g volume info --xml > "$T/after.xml"
graphs() {{ grep -c "switched to graph" "$T/client.log"; }}
GRAPHS=$(graphs)
cli volume set "$VOL" performance.write-behind off || exit 1
for _ in $(seq 60); do [ "$(graphs)" -gt "$GRAPHS" ] && break; sleep 0.5; done
[ "$(graphs)" -gt "$GRAPHS" ] && echo CLIENT_GOT_NEW_GRAPH
mkdir -p "$T/mnt2"
timeout 90 mount -t glusterfs -o log-file="$T/client2.log" "$ADDR:/$VOL" "$T/mnt2" && \\
    [ -n "$(ls "$T/mnt2")" ] && echo NEW_MOUNT_OK
umount -l "$T/mnt2"
sleep 3
touch "$T/stop-writer"; wait "$WRITER"
echo "WRITES $(grep -c '^ok' "$T/writer.log") ERRORS $(grep -c ERROR "$T/writer.log")"
umount -l "$T/mnt"
echo SCENARIO_DONE
'''


def test_takeover_of_a_running_glusterd_node_with_a_client_writing(tmp_path: Path) -> None:
    need_stock_glusterfs()
    if shutil.which("glusterd") is None:
        pytest.skip("needs Debian's glusterfs-server glusterd (scripts/install-deps.sh)")
    (tmp_path / "ssl").mkdir()
    (tmp_path / "glusterd").mkdir()
    for part in ("hooks", "groups"):  # glusterd's directory as the package leaves it
        if Path("/var/lib/glusterd", part).is_dir():
            shutil.copytree(Path("/var/lib/glusterd", part), tmp_path / "glusterd" / part,
                            symlinks=True)
    output, returncode = run_scenario(tmp_path, SCENARIO, address=ADDRESS, volume=VOLUME,
                                      start_daemon=False, private_network=True)
    context = (f"--- scenario ---\n{output}\n--- mgmtd ---\n{read_text(tmp_path / 'mgmtd.log')[-4000:]}"
               f"\n--- client ---\n{read_text(tmp_path / 'client.log')[-3000:]}"
               f"\n--- glusterd ---\n{read_text(tmp_path / 'glusterd.log')[-2000:]}")
    lines = output.splitlines()
    for marker in ("MOUNTED", "GLUSTERD_STOPPED", "DAEMON_UP", "IMPORTED", "SCENARIO_DONE",
                   "CLEANED"):
        assert marker in lines, f"{marker} missing\n{context}"
    before = next(x for x in lines if x.startswith("PIDS_BEFORE")).split()[1:]
    after = next(x for x in lines if x.startswith("PIDS_AFTER")).split()[1:]
    assert len(before) == 4 and after == before, context  # 3 bricks + shd, none restarted
    assert read_text(tmp_path / "after.xml") == read_text(tmp_path / "before.xml"), context
    writes = next(x for x in lines if x.startswith("WRITES")).split()
    assert int(writes[1]) > 10 and writes[3] == "0", context
    assert "CLIENT_GOT_NEW_GRAPH" in lines, context
    assert "NEW_MOUNT_OK" in lines, context
    assert returncode == 0, context
