"""Record what real glusterd 10.3 answers the stock `gluster` CLI: every command of
``SCRIPT`` (text and ``--xml``), its output and exit code, and the exact GLUSTER_CLI records
(request dict, reply op_ret/op_errno/op_errstr and reply dict in wire order), captured by a
unix-socket proxy between the CLI and glusterd.socket.

    python -m benchmarks.record_cli_program          # from the repository root, as root

writes tests/data/glusterd-10.3/cli-program/{outputs,replies}.json. glusterd runs as in
benchmarks/volume_ops.py: its own network namespace (loopback only) and a private mount
namespace (/run a tmpfs, /var/lib/glusterd and /var/log/glusterfs bind mounts of a work
directory); every process left there is killed by pid and the namespace deleted at the end.
The work directory's path is recorded as ``@W@`` so that a replay can put its own there.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.volume_ops import (
    GLUSTER_CLI,
    HOST,
    ROOT,
    Glusterd,
    namespaces,
    setup_private_mounts,
    sweep_namespace,
)
from gluster_mgmt.mgmt_rpc.cli_program import CliProc
from gluster_mgmt.mgmt_rpc.framing import RecordDecoder
from gluster_mgmt.mgmt_rpc.gluster_dict import decode_dict, value_text
from gluster_mgmt.mgmt_rpc.programs import Program
from gluster_mgmt.mgmt_rpc.rpc_message import Call, Reply, decode_message
from gluster_mgmt.mgmt_rpc.xdr import Unpacker

OUT = ROOT / "tests" / "data" / "glusterd-10.3" / "cli-program"
WORKDIR_MARK = "@W@"
#: a host that is neither this node (all of 127/8 is local to glusterd) nor a peer
STRANGER = "192.0.2.1"

#: (words, xml) in order; ``@W@`` is the work directory (bricks under @W@/bricks).
SCRIPT: tuple[tuple[tuple[str, ...], bool], ...] = tuple(
    (tuple(line.split()), xml) for line, xml in (
        ("system:: uuid get", False), ("system:: getwd", False),
        ("pool list", False), ("pool list", True), ("peer status", False), ("peer status", True),
        ("volume info", False), ("volume info", True), ("volume list", False),
        ("volume status", False),
        (f"volume create v1 {HOST}:@W@/bricks/b1 {HOST}:@W@/bricks/b2", False),
        (f"volume create v1 {HOST}:@W@/bricks/b1 {HOST}:@W@/bricks/b2 force", False),
        (f"volume create v1 {HOST}:@W@/bricks/b3 force", False),
        (f"volume create v1 {HOST}:@W@/bricks/b3 force", True),
        (f"volume create v2 replica 3 {HOST}:@W@/bricks/r1 {HOST}:@W@/bricks/r2 "
         f"{HOST}:@W@/bricks/r3 force", True),
        (f"volume create v3 {STRANGER}:/x/y force", False),
        (f"volume create v3 {STRANGER}:/x/y force", True),
        ("volume set v1 nfs.disable on", False), ("volume set v1 performance.quick-read off", True),
        ("volume set v1 no.such.option on", False), ("volume set v1 no.such.option on", True),
        ("volume set v1 cluster.min-free-disk 200%", False),
        ("volume set v2 group virt", False), ("volume set v2 group no-such-group", False),
        ("volume get v2 user.cifs", False), ("volume get v2 user.cifs", True),
        ("volume get v1 user.no-such-key", False), ("volume set v1 user.note hello", False),
        ("volume reset v2 user.cifs", False),
        ("volume info", False), ("volume info", True), ("volume info v1", False),
        ("volume info nope", False), ("volume info nope", True),
        ("volume list", False), ("volume list", True),
        ("volume get v1 nfs.disable", False), ("volume get v1 nfs.disable", True),
        ("volume get v1 no.such.option", False), ("volume get v1 no.such.option", True),
        ("volume get v1 nosuchword", False), ("volume get nope all", False),
        ("volume start v1", False), ("volume start v1", False), ("volume start v1", True),
        ("volume status v2", False), ("volume status v2", True), ("volume status nope", False),
        ("volume status v1", False), ("volume status v1", True), ("volume status", False),
        ("volume status v1 detail", False), ("volume status v1 detail", True),
        ("volume status all detail", False), ("volume status all detail", True),
        ("volume status detail", False), ("volume status v1 tasks", False),
        ("volume reset v1 nfs.disable", False), ("volume reset v1 no.such.option", False),
        ("volume reset v1 no.such.option", True),
        ("volume reset v1", True),
        ("volume stop v1", False), ("volume stop v1", False), ("volume stop v1", True),
        ("volume delete v1", False), ("volume delete v1", True), ("volume delete nope", False),
        (f"peer probe {HOST}", False), (f"peer probe {HOST}", True),
        (f"peer detach {STRANGER}", False), (f"peer detach {STRANGER}", True),
        ("volume list", False),
    ))


class Proxy:
    """Forwards one CLI connection at a time to glusterd's socket and logs each GLUSTER_CLI
    call with its reply."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self.log: list[dict[str, Any]] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            pending: dict[int, Call] = {}  # xids are per connection: each CLI starts at 1
            threading.Thread(target=self._pump, args=(client, server, pending), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pending), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pending: dict[int, Call]) -> None:
        decoder = RecordDecoder(64 << 20)
        try:
            while data := src.recv(65536):
                for record in decoder.feed(data):  # logged before the CLI can see the reply
                    self._note(decode_message(record), pending)
                dst.sendall(data)
        except OSError:
            pass  # the other side closed first: the CLI has exited
        finally:
            dst.close()

    def _note(self, message: Call | Reply, pending: dict[int, Call]) -> None:
        if isinstance(message, Call):
            if message.prog == Program.CLI:
                pending[message.xid] = message
            return
        call = pending.pop(message.xid, None)
        if call is None:
            return
        proc = CliProc(call.proc)
        entry: dict[str, Any] = {"proc": proc.name, "request": _request(proc, call.args)}
        entry["reply"] = _reply(proc, message.body)
        self.log.append(entry)


def _pairs(blob: bytes) -> list[list[str]]:
    return [[k, value_text(v)] for k, v in decode_dict(blob).items()]


def _request(proc: CliProc, args: bytes) -> Any:
    u = Unpacker(args)
    if proc is CliProc.LIST_FRIENDS:
        return {"flags": u.unpack_int(), "dict": _pairs(u.unpack_opaque())}
    if proc is CliProc.GETWD:
        return {}
    return {"dict": _pairs(u.unpack_opaque())}


def _reply(proc: CliProc, body: bytes) -> dict[str, Any]:
    u = Unpacker(body)
    reply: dict[str, Any] = {"op_ret": u.unpack_int(), "op_errno": u.unpack_int()}
    if proc is CliProc.LIST_FRIENDS:
        reply["dict"] = _pairs(u.unpack_opaque())
    elif proc is CliProc.GETWD:
        reply["wd"] = u.unpack_string()
    else:
        reply["op_errstr"] = u.unpack_string()
        reply["dict"] = _pairs(u.unpack_opaque())
    return reply


def run_command(words: tuple[str, ...], xml: bool, proxy: Proxy, workdir: Path) -> dict[str, Any]:
    """Run the stock CLI once through ``proxy``: its exit code, output and GLUSTER_CLI calls,
    with the work directory written as ``@W@``."""
    argv = [GLUSTER_CLI, "--mode=script", *(["--xml"] if xml else []),
            f"--glusterd-sock={proxy.path}",
            *(w.replace(WORKDIR_MARK, str(workdir)) for w in words)]
    start = len(proxy.log)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    mark = lambda text: text.replace(str(workdir), WORKDIR_MARK)  # noqa: E731
    return {"args": list(words), "xml": xml, "rc": res.returncode,
            "stdout": mark(res.stdout), "stderr": mark(res.stderr),
            "calls": json.loads(mark(json.dumps(proxy.log[start:])))}


def inner(workdir: Path, outer_ns: str) -> None:
    setup_private_mounts(workdir, outer_ns)
    (workdir / "bricks").mkdir()
    glusterd = Glusterd(workdir)
    glusterd.start()
    proxy = Proxy(workdir / "proxy.sock", "/var/run/glusterd.socket")
    try:
        outputs = [run_command(words, xml, proxy, workdir) for words, xml in SCRIPT]
    finally:
        glusterd.stop()
    (workdir / "outputs.json").write_text(json.dumps(outputs, indent=1) + "\n")


def record_in_namespace(module: str, out: Path) -> None:
    """Run ``python -m module --inner WORKDIR`` in a network namespace of its own (loopback
    only) and a private mount namespace, kill what it left by pid, and copy its
    ``outputs.json`` to ``out``."""
    ns = f"gm-record-cli-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="gm-record-cli-") as tmp:
        workdir = Path(tmp)
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
        try:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                           check=True, timeout=30)
            subprocess.run(["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
                            sys.executable, "-m", module, "--inner",
                            str(workdir), "--outer-ns", namespaces()],
                           check=True, timeout=1800, cwd=ROOT)
        finally:
            sweep_namespace(ns)
            subprocess.run(["ip", "netns", "del", ns], timeout=30, check=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text((workdir / "outputs.json").read_text())


def recorder_main(doc: str, inner_part: Callable[[Path, str], None], module: str,
                  out: Path) -> int:
    """The command line every recording script shares: run ``inner_part`` when called inside
    the namespaces (``--inner WORKDIR``), else make them and record into ``out``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outer-ns", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner_part(args.inner, args.outer_ns)
        return 0
    record_in_namespace(module, out)
    print(f"recorded {out}")
    return 0


def main() -> int:
    return recorder_main(__doc__, inner, "benchmarks.record_cli_program", OUT / "outputs.json")


if __name__ == "__main__":
    sys.exit(main())
