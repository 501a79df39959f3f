"""Volume I/O encryption (server.ssl, client.ssl, auth.ssl-allow) end to end: gluster-mgmtd
sets the options, stock glusterfsd bricks serve TLS only, the stock FUSE client whose
certificate's CN is allowed mounts and writes, one whose CN is not allowed and one without TLS
are refused. Everything runs in a private mount namespace where OPENSSLDIR holds the node's
glusterfs.pem/.key/.ca (tests/gluster/private_ns.py); management (24007) stays plain TCP.

glusterd 10.3 does not restart bricks when these options change (tests/data/glusterd-10.3/ssl/
restart.txt): the running brick keeps its plain listener until the volume is stopped and
started. gluster-mgmtd does the same, and the scenario checks it."""

from __future__ import annotations

import re

import pytest

from tests.gluster.private_ns import (
    PROBE,
    need_stock_glusterfs,
    read_text,
    run_scenario,
)
from tests.pki import Pki

pytestmark = pytest.mark.gluster

ADDRESS = "127.0.0.9"  # the fixed-port tests use 127.0.0.2-4
VOLUME = "iossl"
ALLOWED_CN = "io-client"  # the node's certificate: bricks and the FUSE client present it
INTRUDER_CN = "io-intruder"  # same CA, but not in auth.ssl-allow

SCENARIO = '''\
bricks_line() {{ timeout 120 "$PY" "$T/status.py" "$SOCK" "$VOL" 2 | tail -1; }}
brick_port() {{ echo "$1" | tr ' ' '\\n' | sed -n "s|^$T/bricks/$2:\\([0-9]*\\):.*|\\1|p"; }}
probe_bricks() {{  # LABEL LINE: plain and TLS DUMP calls on both bricks' ports
    for b in b1 b2; do
        port=$(brick_port "$2" $b)
        echo "$1_${{b}}_$("$PY" "$T/probe.py" plain "$ADDR" "$port" | tail -1)"
        echo "$1_${{b}}_$("$PY" "$T/probe.py" tls "$ADDR" "$port" "$CERTS/glusterfs.pem" \\
            "$CERTS/glusterfs.key" "$CERTS/glusterfs.ca" | tail -1)"
    done
}}
# a stock client with its own transport options (the cert it presents, TLS or not)
client() {{  # NAME MOUNTPOINT XLATOR-OPTION...
    name=$1 point=$2; shift 2
    args=()
    for i in 0 1; do for opt in "$@"; do args+=(--xlator-option "$VOL-client-$i.$opt"); done; done
    mkdir -p "$point"
    timeout 60 glusterfs --volfile-server="$ADDR" --volfile-id="$VOL" \\
        --log-file="$T/$name.log" --pid-file="$T/$name.pid" "${{args[@]}}" "$point"
    sleep 3
    if timeout 20 cat "$point/file1.txt" > "$T/$name.read" 2>/dev/null \\
            && [ -s "$T/$name.read" ]; then
        echo "${{name^^}}_READ"
    else
        echo "${{name^^}}_REFUSED"
    fi
    umount -l "$point" 2>/dev/null
    pid=$(cat "$T/$name.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
}}

cli volume create "$VOL" "$ADDR:$T/bricks/b1" "$ADDR:$T/bricks/b2" force || exit 1
cli volume start "$VOL" || exit 1
PLAIN=$(bricks_line)
echo "PLAIN $PLAIN"
cli volume set "$VOL" server.ssl on || exit 1
cli volume set "$VOL" client.ssl on || exit 1
cli volume set "$VOL" auth.ssl-allow {allowed} || exit 1
echo OPTIONS_SET
sleep 3
SET=$(bricks_line)
echo "AFTER_SET $SET"
probe_bricks AFTER_SET "$SET"
cli --mode=script volume stop "$VOL" || exit 1
cli volume start "$VOL" || exit 1
SSL=$(bricks_line)
echo "RESTARTED $SSL"
probe_bricks RESTARTED "$SSL"
[ "$(grep -l "IO path is ENABLED" "$T"/log/bricks/*.log | wc -l)" = 2 ] && echo BRICK_LOGS_IO_SSL

mkdir -p "$T/mnt"
timeout 90 mount -t glusterfs -o log-file="$T/client.log" "$ADDR:/$VOL" "$T/mnt" || exit 1
echo MOUNTED
for i in 1 2 3 4 5 6; do echo "secret payload $i" > "$T/mnt/file$i.txt" || exit 1; done
ok=1
for i in 1 2 3 4 5 6; do
    [ "$(cat "$T/mnt/file$i.txt")" = "secret payload $i" ] || ok=0
done
[ $ok = 1 ] && echo READ_WRITE_OK
echo "ON_BRICKS $(ls "$T/bricks/b1" "$T/bricks/b2" | grep -c '^file')"
grep -q "IO path is ENABLED" "$T/client.log" && echo CLIENT_LOG_IO_SSL

client intruder "$T/mnt-intruder" "transport.socket.ssl-own-cert=$T/intruder.pem" \\
    "transport.socket.ssl-private-key=$T/intruder.key"
grep -q "Cannot authenticate client" "$T"/log/bricks/*.log && echo BRICKS_REFUSED_INTRUDER
client plain "$T/mnt-plain" "transport.socket.ssl-enabled=off"
[ -s "$T/plain.read" ] || [ -s "$T/intruder.read" ] || echo NOTHING_LEAKED

umount "$T/mnt" && echo UNMOUNTED
cli --mode=script volume stop "$VOL" && echo VOLUME_STOPPED
echo SCENARIO_DONE
'''


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    pki.root("ca")
    pki.issue("node", "ca", cn=ALLOWED_CN)
    pki.issue("intruder", "ca", cn=INTRUDER_CN)
    return pki


def _bricks(line: str) -> dict[str, tuple[str, str]]:
    """'BRICKS_ONLINE /x/b1:PORT:PID ...' -> {b1: (port, pid)}."""
    return {m[0]: (m[1], m[2]) for m in re.findall(r"/(b\d):(\d+):(\d+)", line)}


def test_stock_bricks_and_clients_with_io_encryption(tmp_path, pki):
    need_stock_glusterfs()
    tmp = tmp_path
    (tmp / "glusterd").mkdir()  # no secure-access: management stays plain TCP
    pki.install(tmp / "ssl", "node")
    for suffix in ("pem", "key"):
        (tmp / f"intruder.{suffix}").write_bytes((pki.dir / f"intruder.{suffix}").read_bytes())
    (tmp / "intruder.key").chmod(0o600)
    body = SCENARIO.replace("{allowed}", ALLOWED_CN)
    output, returncode = run_scenario(tmp, body, address=ADDRESS, volume=VOLUME,
                                      files={"probe.py": PROBE})
    logs = {name: read_text(tmp / name) for name in ("mgmtd.log", "client.log", "intruder.log",
                                                     "plain.log")}
    brick_logs = "".join(read_text(p)[-2500:] for p in sorted((tmp / "log").rglob("*.log")))
    context = (f"--- scenario ---\n{output}\n"
               + "".join(f"--- {name} ---\n{text[-3000:]}\n" for name, text in logs.items())
               + f"--- bricks ---\n{brick_logs}")
    lines = output.splitlines()
    for marker in ("DAEMON_UP", "OPTIONS_SET",
                   # as glusterd: the running bricks keep their plain listener...
                   "AFTER_SET_b1_PLAIN_ANSWERED", "AFTER_SET_b2_PLAIN_ANSWERED",
                   # ...until the volume is stopped and started: TLS only
                   "RESTARTED_b1_PLAIN_REFUSED", "RESTARTED_b1_TLS_ANSWERED",
                   "RESTARTED_b2_PLAIN_REFUSED", "RESTARTED_b2_TLS_ANSWERED",
                   "BRICK_LOGS_IO_SSL", "MOUNTED", "READ_WRITE_OK", "ON_BRICKS 6",
                   "CLIENT_LOG_IO_SSL", "INTRUDER_REFUSED", "BRICKS_REFUSED_INTRUDER",
                   "PLAIN_REFUSED", "NOTHING_LEAKED", "UNMOUNTED", "VOLUME_STOPPED",
                   "SCENARIO_DONE", "CLEANED"):
        assert marker in lines, f"{marker} missing\n{context}"
    state = {label: _bricks(next((x for x in lines if x.startswith(label + " ")), ""))
             for label in ("PLAIN", "AFTER_SET", "RESTARTED")}
    # the plain client really spoke plain TCP; the intruder spoke TLS and was refused by name
    assert "IO path is ENABLED" not in logs["plain.log"], context
    assert "IO path is ENABLED" in logs["intruder.log"], context
    assert "Authentication failed" in logs["intruder.log"], context
    assert len(state["PLAIN"]) == 2, context
    assert state["AFTER_SET"] == state["PLAIN"], f"bricks restarted by volume set\n{context}"
    assert len(state["RESTARTED"]) == 2, context
    assert all(state["RESTARTED"][b][1] != state["PLAIN"][b][1] for b in ("b1", "b2")), context
    assert returncode == 0, context
