"""Record what stock glusterd 10.3 answers for the semantics gluster_mgmt must match.

    .venv/bin/python scripts/record_glusterd_semantics.py [--out tests/data/glusterd-10.3/semantics]

Runs Debian's glusterd (``/usr/sbin/glusterd``'s binary, through a ``glusterd-bench`` symlink)
exactly as ``benchmarks/volume_ops.py`` does: a network namespace of its own, a private mount
namespace with /run a tmpfs and private /var/lib/glusterd and /var/log/glusterfs, one host
``127.0.0.2``, bricks in a scratch directory. Then it runs the stock ``gluster --mode=script``
through the commands of ``commands()`` and writes, per command, ``NN-name.txt``: the command line,
the exit code and what the CLI printed. Everything started in the namespace is killed by pid
and the namespace deleted afterwards. Needs root.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.volume_ops import (  # noqa: E402
    HOST,
    Glusterd,
    namespaces,
    setup_private_mounts,
    sweep_namespace,
)

#: Scratch directory (bricks, state); its path shows in the recorded outputs.
WORKDIR = Path("/tmp/gm-record")

#: Bad values per option type (type in the name), out-of-range values included.
BAD_VALUES = (
    ("percent-or-size-over", "cluster.min-free-disk", "200%"),
    ("percent-or-size-word", "cluster.min-free-disk", "abc"),
    ("percent-over", "cluster.min-free-inodes", "200%"),
    ("percent-word", "cluster.min-free-inodes", "abc"),
    ("int-over", "performance.io-thread-count", "100"),
    ("int-under", "performance.io-thread-count", "0"),
    ("int-word", "performance.io-thread-count", "abc"),
    ("int-negative", "cluster.background-self-heal-count", "-1"),
    ("int-over-2", "server.event-threads", "2000"),
    ("size-word", "performance.cache-size", "abc"),
    ("size-over", "performance.write-behind-window-size", "2TB"),
    ("size-under", "features.shard-block-size", "1KB"),
    ("size-unit", "performance.cache-max-file-size", "12XB"),
    ("bool-word", "performance.quick-read", "maybe"),
    ("bool-word-2", "features.read-only", "yes-no"),
    ("enum-word", "cluster.favorite-child-policy", "bogus"),
    ("enum-word-2", "cluster.data-self-heal-algorithm", "bad"),
    ("enum-loglevel", "diagnostics.brick-log-level", "LOUD"),
    ("enum-quorum", "cluster.quorum-type", "bad"),
    ("time-word", "network.ping-timeout", "abc"),
    ("time-over", "performance.md-cache-timeout", "700"),
    ("time-over-2", "performance.cache-refresh-timeout", "100"),
    ("time-under", "network.frame-timeout", "0"),
    ("path-relative", "features.trash-dir", "relative/dir"),
    ("double-word", "cluster.rebal-throttle", "bad"),
    ("string-af", "transport.address-family", "bad"),
    ("int-quorum-count", "cluster.quorum-count", "0"),
    ("time-heal", "cluster.heal-timeout", "abc"),
    ("int-shd", "cluster.shd-max-threads", "0"),
    ("int-owner", "storage.owner-uid", "-5"),
    ("percent-reserve", "storage.reserve", "200"),
    ("address-list", "auth.allow", "not an address"),
)


def commands(bricks: Path) -> list[tuple[str, list[str]]]:
    """(name, gluster words) in the order they run; shell steps are ("!", argv)."""
    b = lambda name: f"{HOST}:{bricks}/{name}"  # noqa: E731
    steps: list[tuple[str, list[str]]] = [
        ("create-order", ["volume", "create", "order", b("o1"), b("o2"), "force"]),
        ("set-1", ["volume", "set", "order", "performance.quick-read", "off"]),
        ("set-2", ["volume", "set", "order", "cluster.min-free-disk", "20%"]),
        ("set-3", ["volume", "set", "order", "performance.cache-size", "64MB"]),
        ("set-4-again", ["volume", "set", "order", "performance.quick-read", "on"]),
        ("set-5", ["volume", "set", "order", "nfs.disable", "off"]),
        ("info-order", ["volume", "info", "order"]),
        ("info-order-xml", ["--xml", "volume", "info", "order"]),
        ("reset-one", ["volume", "reset", "order", "cluster.min-free-disk"]),
        ("set-6-after-reset", ["volume", "set", "order", "cluster.min-free-disk", "10%"]),
        ("info-order-after-reset", ["volume", "info", "order"]),
    ]
    steps += [(f"bad-{name}", ["volume", "set", "order", key, value])
              for name, key, value in BAD_VALUES]
    steps += [
        ("create-rep", ["volume", "create", "rep", "replica", "3", b("r1"), b("r2"), b("r3"),
                        "force"]),
        ("start-rep", ["volume", "start", "rep"]),
        ("start-rep-again", ["volume", "start", "rep"]),
        ("stop-rep", ["volume", "stop", "rep"]),
        ("stop-rep-again", ["volume", "stop", "rep"]),
        ("!", ["rm", "-rf", str(bricks / "r2")]),
        ("start-rep-missing-brick", ["volume", "start", "rep"]),
        ("info-rep-after-failed-start", ["volume", "info", "rep"]),
        ("status-rep-after-failed-start", ["volume", "status", "rep"]),
        ("start-rep-force-missing-brick", ["volume", "start", "rep", "force"]),
        ("info-rep-after-failed-force", ["volume", "info", "rep"]),
        ("!", ["mkdir", "-p", str(bricks / "r2")]),
        ("start-rep-recreated-dir", ["volume", "start", "rep"]),
        ("info-rep-after-recreated", ["volume", "info", "rep"]),
        ("!", ["pkill-brick", str(bricks / "r3")]),
        ("status-rep-brick-killed", ["volume", "status", "rep"]),
        ("start-rep-force", ["volume", "start", "rep", "force"]),
        ("status-rep-after-force", ["volume", "status", "rep"]),
        ("!", ["sleep", "3"]),
        ("status-rep-3s-after-force", ["volume", "status", "rep"]),
        ("stop-rep-final", ["volume", "stop", "rep"]),
    ]
    return steps


def kill_brick(path: str) -> None:
    """SIGKILL the glusterfsd serving ``path`` (found by its --brick-name)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--brick-name" in argv and argv[argv.index(b"--brick-name") + 1] == path.encode():
            os.kill(int(pid), 9)


def inner(workdir: Path, out: Path, outer_ns: str) -> int:
    setup_private_mounts(workdir, outer_ns)
    glusterd = Glusterd(workdir)
    bricks = workdir / "bricks"
    bricks.mkdir()
    try:
        glusterd.start()
        for index, (name, words) in enumerate(commands(bricks)):
            if name == "!":
                if words[0] == "pkill-brick":
                    kill_brick(words[1])
                else:
                    subprocess.run(words, check=True, timeout=60)
                continue
            code, text, _ = glusterd.run(*words, check=False)
            (out / f"{index:02d}-{name}.txt").write_text(
                f"$ gluster --mode=script {shlex.join(words)}\nexit {code}\n{text}")
        return 0
    finally:
        glusterd.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "tests/data/glusterd-10.3/semantics")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outer-ns", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out.resolve()
    if args.inner:
        return inner(args.workdir, out, args.outer_ns)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ns = f"gm-record-{os.getpid()}"
    workdir = WORKDIR  # fixed: brick paths in the outputs do not change between recordings
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True,
                       timeout=30)
        return subprocess.run(
            ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
             sys.executable, str(Path(__file__).resolve()), "--inner", "--workdir", str(workdir),
             "--out", str(out), "--outer-ns", namespaces()],
            cwd=ROOT, timeout=900, check=False, start_new_session=True).returncode
    finally:
        sweep_namespace(ns)
        subprocess.run(["ip", "netns", "del", ns], timeout=30, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
