"""Hand-back to glusterd: `gluster-mgmt export` writes the node's glusterd 10.3 state
directory, and real glusterd 10.3 started on it serves the same volumes (UUIDs, options,
status) and starts their bricks. The scenario runs in a private mount namespace
(tests/gluster/private_ns.py); glusterd runs in a private network namespace as well, with a
tmpfs on /run, so it binds 24007 and writes its sockets and pidfiles nowhere but there."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.gluster.private_ns import need_stock_glusterfs, read_text, run_scenario

pytestmark = pytest.mark.gluster

ADDRESS = "127.0.0.10"  # the fixed-port tests use 127.0.0.2-4, the TLS scenarios .9
VOLUME = "back3"
DISTRIBUTED = "backd"

SCENARIO = '''\
GSOCK=$T/glusterd-cli.sock
stock() {{ timeout 60 /usr/sbin/gluster --mode=script --glusterd-sock="$GSOCK" "$@"; }}
B=$T/bricks
cli volume create "$VOL" replica 3 "$ADDR:$B/r1" "$ADDR:$B/r2" "$ADDR:$B/r3" force || exit 1
cli volume create {distributed} "$ADDR:$B/d1" "$ADDR:$B/d2" force || exit 1
cli volume set "$VOL" performance.quick-read off || exit 1
cli volume set "$VOL" cluster.min-free-disk 20% || exit 1
cli volume set {distributed} features.read-only on || exit 1
cli volume start "$VOL" || exit 1
timeout 120 "$PY" "$T/status.py" "$SOCK" "$VOL" 3 || exit 1
stock volume info --xml > "$T/mgmtd-info.xml" || exit 1
stock volume info > "$T/mgmtd-info.txt" || exit 1
cli export "$T/export" > "$T/export.out" 2>&1 || {{ cat "$T/export.out"; exit 1; }}
echo EXPORTED

# gluster-mgmtd goes, its bricks with it: glusterd must start them again from the export
kill -TERM "$DPID"; for _ in $(seq 40); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.5; done
for f in $(find "$T/run" -name '*.pid'); do kill -KILL "$(cat "$f")" 2>/dev/null; done
sleep 1

mount --bind "$T/export" /var/lib/glusterd || exit 1
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/gluster
unshare --net bash -c '
    ip link set lo up
    glusterd -N --log-file="$1/glusterd.log" &
    for _ in $(seq 120); do [ -S /var/run/glusterd.socket ] && break; sleep 0.5; done
    g() {{ timeout 60 /usr/sbin/gluster --mode=script "$@"; }}
    g volume info --xml > "$1/glusterd-info.xml" && echo GLUSTERD_INFO
    g volume info > "$1/glusterd-info.txt"
    g system:: uuid get > "$1/glusterd-uuid.txt"
    for _ in $(seq 60); do
        [ "$(g volume status "$2" --xml | grep -c "<status>1</status>")" -ge 3 ] && break
        sleep 1
    done
    g volume status "$2" > "$1/glusterd-status.txt"
    grep -cE "[0-9]+ +0 +Y +[0-9]+ *$" "$1/glusterd-status.txt" | sed "s/^/GLUSTERD_BRICKS_ONLINE /"
' handback "$T" "$VOL"
echo SCENARIO_DONE
'''

def _options_flipped(xml: str) -> tuple[str, list[list[tuple[str, str]]]]:
    """`volume info --xml` without its option lists, and the option lists (one per volume)."""
    root = ET.fromstring(xml)
    options = []
    for volume in root.iter("volume"):
        element = volume.find("options")
        if element is None:
            continue
        options.append([(o.findtext("name"), o.findtext("value")) for o in element])
        volume.remove(element)
    return ET.tostring(root, encoding="unicode"), options


def test_glusterd_takes_the_exported_state_back(tmp_path: Path) -> None:
    need_stock_glusterfs()
    if shutil.which("glusterd") is None:
        pytest.skip("needs Debian's glusterfs-server glusterd (scripts/install-deps.sh)")
    (tmp_path / "glusterd").mkdir()
    (tmp_path / "ssl").mkdir()
    # the export goes where the package's hooks and groups already are, as on a real node
    for part in ("hooks", "groups"):
        if Path("/var/lib/glusterd", part).is_dir():
            shutil.copytree(Path("/var/lib/glusterd", part), tmp_path / "export" / part, symlinks=True)
    body = SCENARIO.replace("{distributed}", DISTRIBUTED)
    output, returncode = run_scenario(
        tmp_path, body, address=ADDRESS, volume=VOLUME,
        daemon_args=f"--glusterd-socket {tmp_path}/glusterd-cli.sock")
    context = (f"--- scenario ---\n{output}\n--- mgmtd ---\n{read_text(tmp_path / 'mgmtd.log')[-3000:]}"
               f"\n--- glusterd ---\n{read_text(tmp_path / 'glusterd.log')[-4000:]}")
    lines = output.splitlines()
    for marker in ("DAEMON_UP", "EXPORTED", "GLUSTERD_INFO", "SCENARIO_DONE", "CLEANED"):
        assert marker in lines, f"{marker} missing\n{context}"
    # the same volumes, UUIDs, options and status through the stock CLI on either daemon;
    # glusterd lists the options the other way round, as after any glusterd restart (it
    # reads vols/VOL/info key by key into a dict that puts each new key first)
    ours, theirs = (_options_flipped(read_text(tmp_path / f"{side}-info.xml"))
                    for side in ("mgmtd", "glusterd"))
    assert theirs[0] == ours[0], context
    assert theirs[1] == [list(reversed(options)) for options in ours[1]], context
    assert ours[1] and all(options for options in ours[1]), context
    assert ET.fromstring(read_text(tmp_path / "glusterd-info.xml")).findtext(
        ".//volume/status") == "1", context
    node_uuid = (tmp_path / "glusterd" / "glusterd.info").read_text().split("\n")[0].split("=")[1]
    assert node_uuid in read_text(tmp_path / "glusterd-uuid.txt"), context
    # glusterd started the replica's three bricks from the exported volfiles
    assert "GLUSTERD_BRICKS_ONLINE 3" in lines, context + read_text(tmp_path / "glusterd-status.txt")
    assert returncode == 0, context
