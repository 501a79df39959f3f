"""Shared by the TLS tests with stock processes (management TLS, volume I/O encryption): a
scenario shell script run in a private mount namespace, so the fixed paths stock processes read (/var/lib/glusterd, OPENSSLDIR/glusterfs.*:
/usr/lib/ssl on Debian) are bind mounts there and never touched on the host. The scenario's
own trap stops what it started; :func:`run_scenario` sweeps whatever is left."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gluster_mgmt.mgmt_rpc.tls import SSL_CERT_PATH
from gluster_mgmt.services.supervisor import pid_runs, read_pid
from tests.helpers import REPO, child_env, free_port
from tests.pki import need_tool


def need_stock_glusterfs() -> None:
    if os.geteuid() != 0 or shutil.which("glusterfsd") is None:
        pytest.skip("needs root and Debian's glusterfs-server (scripts/install-deps.sh)")
    for tool in ("unshare", "mount.glusterfs", "timeout"):
        need_tool(tool)


PROBE = '''\
"""probe.py plain|tls HOST PORT [CERT KEY CA]: prints whether a DUMP call is answered."""
import socket, ssl, sys
from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
from gluster_mgmt.mgmt_rpc.rpc_message import decode_message, encode_call, Reply

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock = socket.create_connection((host, port), timeout=10)
try:
    if mode == "tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        context.load_verify_locations(cafile=sys.argv[6])
        sock = context.wrap_socket(sock)
        print("TLS_VERSION", sock.version())
    sock.sendall(encode_record(encode_call(2, pg.Program.DUMP, 1, pg.DumpProc.DUMP,
                                           pg.encode(pg.DumpRequest()))))
    decoder, records = RecordDecoder(1 << 20), []
    while not records:
        data = sock.recv(65536)
        if not data:
            break
        records = decoder.feed(data)
    answered = bool(records) and isinstance(decode_message(records[0]), Reply)
except OSError as exc:
    print("PROBE_ERROR", type(exc).__name__, exc)
    answered = False
print(mode.upper() + ("_ANSWERED" if answered else "_REFUSED"))
'''

STATUS = '''\
"""status.py SOCK VOLUME COUNT: waits until COUNT bricks of VOLUME are online."""
import subprocess, sys, time, xml.etree.ElementTree as ET
sock, volume, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = ""
for _ in range(120):
    out = subprocess.run([sys.executable, "-m", "gluster_mgmt.cli.main", "--socket", sock,
                          "--xml", "volume", "status", volume],
                         capture_output=True, text=True).stdout
    try:
        nodes = ET.fromstring(out).findall(".//volStatus/volumes/volume/node")
    except ET.ParseError:
        nodes = []
    bricks = [{c.tag: c.text for c in n} for n in nodes]
    bricks = [b for b in bricks if (b.get("path") or "").startswith("/")]
    if len(bricks) == count and all(b.get("status") == "1" for b in bricks):
        print("BRICKS_ONLINE", " ".join(f"{b['path']}:{b['port']}:{b['pid']}" for b in bricks))
        sys.exit(0)
    time.sleep(0.5)
print("BRICKS_NOT_ONLINE", out)
sys.exit(1)
'''

SWEEP = '''\
"""sweep.py NSFILE HOSTNS: SIGKILL every process in the mount namespace named in NSFILE,
except this one and its parent (the scenario's shell); never in HOSTNS."""
import os, signal, sys
namespace = open(sys.argv[1]).read().strip()
if namespace and namespace != sys.argv[2]:
    spared = {os.getpid(), os.getppid()}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in spared:
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") == namespace:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
'''

#: The scenario's start: shell variables, the cleanup trap (unmount, stop the daemon, kill
#: stock processes, sweep the namespace), a refusal to run in the host's mount namespace, the
#: bind mounts, and gluster-mgmtd started and answering. Format fields: see run_scenario.
PROLOGUE = '''\
set -u
T={tmp}
PY={python}
ADDR={address}
VOL={volume}
SOCK=$T/mgmtd.sock
CERTS={cert_dir}
export PYTHONPATH={pythonpath}
cli() {{ timeout 120 "$PY" -m gluster_mgmt.cli.main --socket "$SOCK" "$@"; }}

cleanup() {{
    trap - EXIT INT TERM
    for m in "$T"/mnt*; do umount -l "$m" 2>/dev/null; done
    if [ -n "${{DPID:-}}" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID"
        for _ in $(seq 40); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$DPID" 2>/dev/null
    fi
    for f in $(find "$T/run" "$T"/*.pid -name '*.pid' 2>/dev/null); do
        pid=$(cat "$f" 2>/dev/null) || continue
        case "$(cat /proc/$pid/comm 2>/dev/null)" in glusterfs*) kill -KILL "$pid";; esac
    done
    # anything else still living in this private mount namespace was started here
    "$PY" "$T/sweep.py" "$T/ns" "{host_ns}"
    echo CLEANED
}}
trap cleanup EXIT
trap 'exit 1' INT TERM

readlink /proc/self/ns/mnt > "$T/ns"
if [ "$(readlink /proc/self/ns/mnt)" = "{host_ns}" ]; then
    echo NO_PRIVATE_NAMESPACE; trap - EXIT; exit 1
fi
[ -n "{private_network}" ] && ip link set lo up
mount --bind "$T/ssl" "$CERTS" || exit 1
mount --bind "$T/glusterd" /var/lib/glusterd || exit 1

start_mgmtd() {{  # EXTRA-ARGS...: gluster-mgmtd up and answering
    "$PY" -m gluster_mgmt.daemon.main --state-dir "$T/state" --address "$ADDR" \\
        --api-port {api_port} --socket "$SOCK" --run-dir "$T/run" --log-dir "$T/log" \\
        --config /nonexistent {daemon_args} "$@" > "$T/mgmtd.log" 2>&1 &
    DPID=$!
    echo "$DPID" > "$T/mgmtd.pid"
    for _ in $(seq 120); do [ -S "$SOCK" ] && break; kill -0 "$DPID" || break; sleep 0.5; done
    [ -S "$SOCK" ] || {{ echo DAEMON_FAILED; exit 1; }}
    echo DAEMON_UP
}}
[ -n "{start_daemon}" ] && start_mgmtd
'''


def read_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _stop_leftovers(tmp: Path) -> None:
    """What the scenario's own trap could not stop (the shell killed before its trap ran)."""
    pid = read_pid(str(tmp / "mgmtd.pid")) if (tmp / "mgmtd.pid").exists() else None
    if pid and pid_runs(pid, sys.executable):
        os.kill(pid, signal.SIGKILL)
    pidfiles = [*(tmp / "run").rglob("*.pid"), *tmp.glob("*.pid")] if tmp.exists() else []
    for pidfile in pidfiles:
        pid = read_pid(str(pidfile))
        if pid and (pid_runs(pid, "glusterfsd") or pid_runs(pid, "glusterfs")):
            os.kill(pid, signal.SIGKILL)
    if (tmp / "ns").exists():
        subprocess.run([sys.executable, str(tmp / "sweep.py"), str(tmp / "ns"),
                        os.readlink("/proc/self/ns/mnt")], check=False)


def run_scenario(tmp: Path, body: str, *, address: str, volume: str,
                 files: dict[str, str] | None = None, timeout: float = 480,
                 daemon_args: str = "", start_daemon: bool = True,
                 private_network: bool = False) -> tuple[str, int]:
    """Runs PROLOGUE + ``body`` (bash; the same format fields) under ``unshare --mount``.

    ``tmp`` must hold ``ssl/`` (bound on OPENSSLDIR) and ``glusterd/`` (bound on
    /var/lib/glusterd); ``files`` are written into ``tmp`` first; ``daemon_args`` (shell
    words) go to gluster-mgmtd's command line. ``start_daemon=False``: the body starts it
    (``start_mgmtd [ARGS...]``) when it wants; ``private_network``: a network namespace of
    its own too (only its loopback), so stock glusterd can bind 24007 there. Returns (output, exit code);
    the daemon's log is ``tmp/mgmtd.log``, the bricks' under ``tmp/log``."""
    for name in ("bricks", "run", "log", "state"):
        (tmp / name).mkdir(exist_ok=True)
    for name, text in {"status.py": STATUS, "sweep.py": SWEEP, **(files or {})}.items():
        (tmp / name).write_text(text)
    fields = dict(tmp=tmp, python=sys.executable, address=address, volume=volume,
                  pythonpath=child_env()["PYTHONPATH"], api_port=free_port(address),
                  cert_dir=SSL_CERT_PATH, host_ns=os.readlink("/proc/self/ns/mnt"),
                  daemon_args=daemon_args, start_daemon="yes" if start_daemon else "",
                  private_network="yes" if private_network else "")
    script = tmp / "scenario.sh"
    script.write_text(PROLOGUE.format(**fields) + body.format(**fields))
    namespaces = ["--mount", "--propagation", "private", *(["--net"] if private_network else [])]
    process = subprocess.Popen([need_tool("unshare"), *namespaces, "bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=REPO)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()  # the script's trap stops what it started
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _stop_leftovers(tmp)
    return output, process.returncode
