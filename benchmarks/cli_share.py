"""The daemon's share of a stock `gluster` command, glusterd 10.3 against gluster-mgmtd (issue 15).

Through the stock binary a read such as `volume status VOL` costs ~50-80 ms whichever daemon
answers: the binary runs ``gsyncd --version`` (a Python start) before its first call. What is
left to compare is the daemon's own share, a few ms, below the run-to-run drift of a machine
whose two sides are measured one after the other (benchmarks/versus_cluster.py). So here both
sides are up at once, each on three hosts of its own (tests/multihost namespaces; gluster-mgmtd
on a 3-member etcd, one member per host), with the same volumes, and measured interleaved:

- **calls**: the GLUSTER_CLI calls the binary makes, sent by a small client in host 1's
  namespaces (a connection per command, as the binary opens one): `getwd` (a constant),
  `volume status VOL` (a volume never started: both daemons check and refuse), `volume info`
  (all: the first call, then one call per volume on the same connection, as the binary asks);
  median over ``--calls`` commands, the two sides alternating.
- **commands**: the same three as whole stock `gluster` processes, ``--repeats`` of each, the
  side order drawn at random each time; while glusterd's command runs, gluster-mgmtd's side
  (daemons and etcd members) is stopped (SIGSTOP), so neither side runs beside the other's
  background work (gluster-mgmtd's leases and probes; glusterd is idle).

    python -m benchmarks.cli_share --volumes 10 --json benchmarks/results/scale/cli-share.json

Needs root, iproute2, util-linux, glusterfs-server and etcd; removes every daemon, store member
and namespace it made before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import versus_cluster as vc

#: the client's GLUSTER_CLI calls per command: (label, procedure, dict) — `info` is a sequence
STATUS_VOLUME = "vol0001"
LABELS = ("getwd", "status", "info")
TITLES = {"getwd": "`system:: getwd` (a constant)",
          "status": "`volume status VOL` (not started)",
          "info": "`volume info` (all)"}
COMMAND_WORDS = {"getwd": (("system::", "getwd"), None),
                 "status": (("volume", "status", STATUS_VOLUME), "is not started"),
                 "info": (("volume", "info"), None)}


# ============================================================================ the client
def client(path: str, calls: int, seconds_between: float) -> dict[str, list[float]]:
    """Run in host 1's namespaces: each label's command ``calls`` times, a connection each."""
    from gluster_mgmt.mgmt_rpc import programs as pg
    from gluster_mgmt.mgmt_rpc.cli_program import CliProc, GetVolumeFlag, StatusFlag
    from gluster_mgmt.mgmt_rpc.framing import RecordDecoder, encode_record
    from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, encode_dict
    from gluster_mgmt.mgmt_rpc.rpc_message import Reply, decode_message, encode_call
    from gluster_mgmt.mgmt_rpc.xdr import Packer, Unpacker

    def body(pairs: dict[str, str]) -> bytes:
        packer = Packer()
        packer.pack_opaque(encode_dict({k: v.encode() + b"\0" for k, v in pairs.items()}) if pairs else b"")
        return packer.get_buffer()

    def ask(sock: socket.socket, decoder: RecordDecoder, xid: int, proc: CliProc,
            pairs: dict[str, str]) -> dict[str, bytes]:
        sock.sendall(encode_record(encode_call(xid, pg.Program.CLI, 2, proc, body(pairs))))
        while True:
            data = sock.recv(1 << 20)
            if not data:
                raise RuntimeError("the daemon closed the connection")
            for record in decoder.feed(data):
                reply = decode_message(record)
                assert isinstance(reply, Reply) and reply.xid == xid
                if proc is not CliProc.GET_VOLUME:
                    return {}
                unpacker = Unpacker(reply.body)
                unpacker.unpack_int(), unpacker.unpack_int(), unpacker.unpack_string()  # ret, errno, errstr
                return decode_dict(unpacker.unpack_opaque())

    def command(label: str) -> float:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(path)
            decoder = RecordDecoder(1 << 24)
            t0 = time.perf_counter()
            if label == "getwd":
                ask(sock, decoder, 1, CliProc.GETWD, {})
            elif label == "status":
                ask(sock, decoder, 1, CliProc.STATUS_VOLUME,
                    {"cmd": str(int(StatusFlag.VOL)), "volname": STATUS_VOLUME})
            else:  # the binary's `volume info`: the first volume, then the one after each
                name, xid = None, 1
                while True:
                    pairs = {"flags": str(int(GetVolumeFlag.NEXT)), **({"volname": name} if name else {})}
                    got = ask(sock, decoder, xid, CliProc.GET_VOLUME, pairs)
                    if got.get("count", b"0\0").rstrip(b"\0") in (b"0", b""):
                        break
                    name, xid = got["volume0.name"].rstrip(b"\0").decode(), xid + 1
            return time.perf_counter() - t0

    times: dict[str, list[float]] = {label: [] for label in LABELS}
    for _ in range(calls):
        for label in LABELS:
            times[label].append(command(label))
            time.sleep(seconds_between)
    return times


# ============================================================================ the run
@contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """``pids`` stopped (SIGSTOP) for the block, continued after it whatever happens."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def run_client(host: Any, path: Path | str, calls: int) -> dict[str, list[float]]:
    result = subprocess.run([*host.enter, sys.executable, "-m", "benchmarks.cli_share", "--client", str(path),
                             "--calls", str(calls)], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)))
    if result.returncode != 0:
        raise RuntimeError(f"client on {path}: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gm-clishare-"))
    glusterd = vc.Hosts(workdir / "glusterd", count=vc.HOSTS, tag="csg")
    mgmt = vc.Hosts(workdir / "mgmt", count=vc.HOSTS, tag="csm")
    run = vc.this_run("benchmarks.cli_share")
    signal.signal(signal.SIGTERM, vc._interrupted)
    try:
        for hosts in (glusterd, mgmt):
            hosts.workdir.mkdir(parents=True)
            hosts.create()
        for host in glusterd.hosts:
            host.start_glusterd()
        for host in glusterd.hosts[1:]:
            glusterd.hosts[0].gluster("peer", "probe", host.host.address)
        from tests.servers import start_cluster
        mgmt.servers = start_cluster(vc.STORE, mgmt.workdir / "store",
                                     [(h.host.address, h.host.netns) for h in mgmt.hosts])
        root = f"cs{uuid.uuid4().hex[:8]}"
        for index in range(vc.HOSTS):
            vc.start_mgmtd(mgmt, index, root, member=index)
        for daemon in mgmt.daemons[1:]:
            mgmt.daemons[0].cli("peer", "probe", daemon.address, check=True)
        every_host = {"glusterd": vc.glusterd_door(glusterd),
                      "gluster-mgmtd": vc.mgmt_doors(mgmt, {})[vc.Column.GLUSTER_MGMT_STOCK]}
        doors = {name: door[0] for name, door in every_host.items()}  # host 1's stock CLI
        for name, hosts in (("glusterd", glusterd), ("gluster-mgmtd", mgmt)):
            vc.every_view_whole(every_host[name], 90)
            for number in range(1, args.volumes + 1):
                volume = f"vol{number:04d}"
                doors[name]("volume", "create", volume, *hosts.bricks(name, volume), "force")
            for _ in range(2):
                doors[name]("volume", "info")
        background = mgmt.pids()
        sockets = {"glusterd": "/var/run/glusterd.socket", "gluster-mgmtd": mgmt.daemons[0].glusterd_socket}
        hosts_of = {"glusterd": glusterd, "gluster-mgmtd": mgmt}
        calls: dict[str, dict[str, list[float]]] = {name: {label: [] for label in LABELS} for name in doors}
        commands: dict[str, dict[str, list[float]]] = {name: {label: [] for label in LABELS} for name in doors}
        for _ in range(args.rounds):  # the calls: a short batch per side, the sides alternating
            for name in random.sample(list(doors), 2):
                pause = background if name == "glusterd" else []
                with stopped(pause):
                    got = run_client(hosts_of[name].hosts[0], sockets[name], args.calls // args.rounds or 1)
                for label in LABELS:
                    calls[name][label] += got[label]
        for _ in range(args.repeats):
            for label in LABELS:
                words, expect = COMMAND_WORDS[label]
                for name in random.sample(list(doors), 2):
                    with stopped(background if name == "glusterd" else []):
                        time.sleep(0.02)
                        commands[name][label].append(doors[name](*words, expect=expect))
        run |= {"load_after": vc.load()}
        # the pid names the hosts' namespaces (versus_cluster.Hosts): a test checks none is left
        return {"runs": [run], "volumes": args.volumes, "pid": os.getpid(), "calls": calls,
                "commands": commands}
    finally:
        for host in glusterd.hosts:
            vc._quietly(host.stop_glusterd)
        for hosts in (glusterd, mgmt):
            hosts.teardown()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def render(result: dict[str, Any]) -> str:
    run = result["runs"][0]
    lines = [f"- `{run['command']}` ({run['date']}; {run['machine']}; load average {run['load_before']} "
             f"before, {run['load_after']} after); {result['volumes']} volumes of 3 bricks each side",
             "", "| what | glusterd (ms) | gluster-mgmtd (ms) | difference (ms) |", "|---|---:|---:|---:|"]
    for kind, title in (("calls", "the daemon's calls"), ("commands", "whole stock `gluster`")):
        for label in LABELS:
            gd = statistics.median(result[kind]["glusterd"][label]) * 1000
            gm = statistics.median(result[kind]["gluster-mgmtd"][label]) * 1000
            lines.append(f"| {title}: {TITLES[label]} | {gd:.2f} | {gm:.2f} | {gm - gd:+.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200, help="client commands per side and label")
    parser.add_argument("--rounds", type=int, default=10, help="batches the client calls are split in")
    parser.add_argument("--repeats", type=int, default=30, help="whole CLI commands per side and label")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--from-json", type=Path)
    parser.add_argument("--client", help=argparse.SUPPRESS)  # the in-namespace client: a socket path
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(client(args.client, args.calls, 0.002)))
        return 0
    result = json.loads(args.from_json.read_text()) if args.from_json else bench(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
