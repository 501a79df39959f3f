"""Re-record what stock glusterd 10.3 does with the volume I/O encryption options.

Run as root from the repository root: ``python3 tests/data/glusterd-10.3/record_ssl.py``.
Writes ``tests/data/glusterd-10.3/ssl/`` (see ``tests/data/README.md``).

glusterd runs out of everyone's way, as ``benchmarks/volume_ops.py`` runs it: in a network
namespace of its own, inside a private mount namespace where ``/run`` is a fresh tmpfs,
``/var/lib/glusterd`` and ``/var/log/glusterfs`` are scratch directories and OPENSSLDIR
(``/usr/lib/ssl``) is a copy holding a throw-away ``glusterfs.pem/.key/.ca`` (so SSL bricks can
start). Bricks live under ``/run/bricks`` (the tmpfs) on host ``127.0.0.2``.

What it records:

- ``glusterd.info``, ``options`` and ``vols/ssld``: distribute over two bricks with every
  ``ssl.*`` option, ``server.ssl``, ``client.ssl`` and ``auth.ssl-allow a,b`` set;
  ``vols/sslr``: replica 3 with ``server.ssl``/``client.ssl`` on and ``auth.ssl-allow`` one
  name (both never started): glusterd's state files (``info``, ``cksum``, ``bricks/``...) and
  every volfile it wrote.
- ``volume-info.txt`` / ``.xml``: ``gluster volume info`` of both.
- ``set-validation.txt``: each ``volume set`` tried (odd SSL values, one validated control
  option), its exit code and what the CLI printed.
- ``restart.txt``: a started one-brick volume ``sslx``; after each ``volume set`` of an SSL
  option, the brick's pid and port, how often its log says SSL is on for the I/O path, and
  whether its port answers a TLS handshake: glusterd does not restart the brick, which stays
  plain until the volume is stopped and started.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "ssl"
HOST = "127.0.0.2"
GLUSTERFSD = "/usr/sbin/glusterfsd"
GLUSTER = "/usr/sbin/gluster"
SSL_DIR = "/usr/lib/ssl"  # Debian's OPENSSLDIR, where glusterfs looks for glusterfs.*
LOG_DIR = "/var/log/glusterfs"
ALL_SSL = [("ssl.own-cert", "/etc/ssl/own.pem"), ("ssl.private-key", "/etc/ssl/own.key"),
           ("ssl.ca-list", "/etc/ssl/ca.pem"), ("ssl.crl-path", "/etc/ssl/crl"),
           ("ssl.certificate-depth", "2"), ("ssl.cipher-list", "HIGH:!SSLv2"),
           ("ssl.dh-param", "/etc/ssl/dh.pem"), ("ssl.ec-curve", "prime256v1"),
           ("server.ssl", "on"), ("client.ssl", "on"), ("auth.ssl-allow", "a,b")]
VALIDATION = [("server.ssl", "maybe"), ("server.ssl", "yes"), ("client.ssl", "2"),
              ("client.ssl", "off"), ("ssl.certificate-depth", "abc"),
              ("ssl.certificate-depth", "-1"), ("ssl.certificate-depth", "0"),
              ("ssl.certificate-depth", "100"), ("ssl.cipher-list", "NOSUCHCIPHER"),
              ("ssl.ec-curve", "nosuchcurve"), ("ssl.own-cert", "relative.pem"),
              ("ssl.own-cert", "/no/such/file.pem"), ("ssl.crl-path", "/no/such/dir"),
              ("ssl.dh-param", "x"), ("auth.ssl-allow", "*"), ("auth.ssl-allow", "a b"),
              ("auth.ssl-allow", "CN with space,other"),
              ("performance.io-thread-count", "abc")]  # control: validated on this volume


def log(msg: str) -> None:
    print(f"[record_ssl {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{argv}: {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def cli(*words: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([GLUSTER, "--mode=script", *words], check=check)


def namespaces() -> str:
    return ",".join(os.readlink(f"/proc/self/ns/{kind}") for kind in ("mnt", "net"))


def make_certificates(directory: Path) -> None:
    """A CA and one node certificate: enough for SSL bricks to start."""
    def openssl(*args: str) -> None:
        run(["openssl", *args])
    os.chdir(directory)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "glusterfs.ca", "-days", "2", "-subj", "/CN=ca")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "glusterfs.key", "-out", "node.csr", "-subj", "/CN=node")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "glusterfs.ca", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "glusterfs.pem", "-days", "2")
    os.chmod("glusterfs.key", 0o600)


def setup_private_mounts(workdir: Path, outer_ns: str) -> None:
    mine, theirs = namespaces().split(","), outer_ns.split(",")
    if len(theirs) != 2 or mine[0] == theirs[0] or mine[1] == theirs[1]:
        raise SystemExit("record_ssl: refusing to run outside private mount/network namespaces")
    lib, logs, ssl_copy = workdir / "lib", workdir / "log", workdir / "ssl"
    lib.mkdir()
    for name in ("groups",):  # as installed; hooks left out (no side effects)
        if Path("/var/lib/glusterd", name).is_dir():
            shutil.copytree(Path("/var/lib/glusterd", name), lib / name, symlinks=True)
    logs.mkdir()
    shutil.copytree(SSL_DIR, ssl_copy, symlinks=True)
    make_certificates(ssl_copy)
    Path("/var/lib/glusterd").mkdir(parents=True, exist_ok=True)
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    for argv in (["mount", "-t", "tmpfs", "-o", "mode=0755,size=64m", "gm-record-run", "/run"],
                 ["mount", "--bind", str(lib), "/var/lib/glusterd"],
                 ["mount", "--bind", str(logs), LOG_DIR],
                 ["mount", "--bind", str(ssl_copy), SSL_DIR]):
        run(argv)
    for name in ("gluster", "bricks"):
        Path("/run", name).mkdir(parents=True, exist_ok=True)


def wait(predicate, limit: float = 60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def speaks_tls(port: str) -> bool:
    """Whether a TLS handshake with the node's certificate succeeds on the brick's port."""
    if not port.isdigit():
        return False
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-cert", f"{SSL_DIR}/glusterfs.pem",
         "-key", f"{SSL_DIR}/glusterfs.key", "-CAfile", f"{SSL_DIR}/glusterfs.ca"],
        input="", capture_output=True, text=True, timeout=30)
    return "-----BEGIN CERTIFICATE-----" in result.stdout  # the brick sent its certificate


def brick_state(volume: str, brick: str) -> tuple[str, str, int, bool]:
    """(pid, port, "IO path is ENABLED" lines in the brick's log, TLS handshake works)."""
    pidfile = Path(f"/run/gluster/vols/{volume}/{HOST}-{brick.strip('/').replace('/', '-')}.pid")
    pid = pidfile.read_text().strip() if pidfile.exists() else "-"
    status = cli("volume", "status", volume, check=False).stdout
    port = "-"
    for line in status.splitlines():
        if line.startswith(f"Brick {HOST}:{brick}"):
            port = line.split()[2]
    brick_log = Path(LOG_DIR, "bricks", brick.strip("/").replace("/", "-") + ".log")
    text = brick_log.read_text(errors="replace") if brick_log.exists() else ""
    return pid, port, text.count("IO path is ENABLED"), speaks_tls(port)


def inner(workdir: Path, outer_ns: str) -> None:
    setup_private_mounts(workdir, outer_ns)
    out = workdir / "out"
    out.mkdir()
    link = workdir / "glusterd-record"  # argv[0] "glusterd*" selects glusterd mode
    link.symlink_to(GLUSTERFSD)
    daemon = subprocess.Popen([str(link), "-N", "--log-level", "INFO", "-p", "/run/glusterd.pid"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait(lambda: cli("volume", "info", check=False).returncode == 0):
            raise RuntimeError("glusterd did not answer")
        cli("volume", "create", "ssld", f"{HOST}:/run/bricks/d1", f"{HOST}:/run/bricks/d2",
            "force")
        cli("volume", "create", "sslr", "replica", "3",
            *[f"{HOST}:/run/bricks/r{k}" for k in (1, 2, 3)], "force")
        for key, value in ALL_SSL:
            cli("volume", "set", "ssld", key, value)
        for key, value in (("server.ssl", "on"), ("client.ssl", "on"),
                           ("auth.ssl-allow", "client-cn")):
            cli("volume", "set", "sslr", key, value)
        for name in ("glusterd.info", "options"):
            shutil.copy(Path("/var/lib/glusterd", name), out / name)
        for volume in ("ssld", "sslr"):
            shutil.copytree(Path("/var/lib/glusterd/vols", volume), out / "vols" / volume,
                            ignore=shutil.ignore_patterns("run", "*.pid", "*.socket"))
        (out / "volume-info.txt").write_text(cli("volume", "info").stdout)
        (out / "volume-info.xml").write_text(cli("--xml", "volume", "info").stdout)

        lines = []
        for key, value in VALIDATION:
            result = cli("volume", "set", "sslr", key, value, check=False)
            text = (result.stdout + result.stderr).strip().replace("\n", " | ")
            lines.append(f"volume set sslr {key} {value!r}\nrc={result.returncode} {text}\n")
        (out / "set-validation.txt").write_text("\n".join(lines))

        cli("volume", "create", "sslx", f"{HOST}:/run/bricks/x1", "force")
        cli("volume", "start", "sslx")
        brick = "/run/bricks/x1"
        wait(lambda: brick_state("sslx", brick)[1] not in ("-", "N/A"))
        report = [f"after start: pid port io-ssl-log-lines tls = {brick_state('sslx', brick)}"]
        for key, value in (("server.ssl", "on"), ("client.ssl", "on"),
                           ("auth.ssl-allow", "someone"), ("ssl.cipher-list", "HIGH"),
                           ("server.ssl", "off")):
            cli("volume", "set", "sslx", key, value)
            time.sleep(5)  # time for a restart or a volfile fetch and reconfigure
            report.append(f"after volume set sslx {key} {value}: pid port io-ssl-log-lines tls"
                          f" = {brick_state('sslx', brick)}")
        cli("volume", "stop", "sslx")
        cli("volume", "start", "sslx")
        cli("volume", "set", "sslx", "server.ssl", "on")
        cli("volume", "stop", "sslx")
        cli("volume", "start", "sslx")
        wait(lambda: brick_state("sslx", brick)[1] not in ("-", "N/A"))
        time.sleep(2)
        report.append(f"after server.ssl on, stop, start: pid port io-ssl-log-lines tls = "
                      f"{brick_state('sslx', brick)}")
        for key, value in (("server.ssl", "maybe"), ("ssl.certificate-depth", "abc")):
            result = cli("volume", "set", "sslx", key, value, check=False)
            text = (result.stdout + result.stderr).strip().replace("\n", " | ")
            lines.append(f"volume set sslx {key} {value!r} (started)\nrc={result.returncode} "
                         f"{text}\n")
        (out / "set-validation.txt").write_text("\n".join(lines))
        cli("volume", "stop", "sslx")
        (out / "restart.txt").write_text("\n".join(report) + "\n")
    finally:
        daemon.terminate()
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(20)


def sweep_namespace(ns: str) -> None:
    """Kill, by pid, every process left in the network namespace (bricks)."""
    for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        pids = [int(p) for p in run(["ip", "netns", "pids", ns], check=False).stdout.split()]
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


def outer() -> int:
    if os.geteuid() != 0:
        raise SystemExit("record_ssl: run as root")
    ns = f"gm-record-ssl-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="gm-record-ssl-") as tmp:
        workdir = Path(tmp)
        run(["ip", "netns", "add", ns])
        try:
            run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
            proc = subprocess.run(
                ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
                 sys.executable, str(Path(__file__).resolve()), "--inner", "--workdir",
                 str(workdir), "--outer-ns", namespaces()], timeout=900, check=False)
        finally:
            sweep_namespace(ns)
            run(["ip", "netns", "del", ns], check=False)
        if proc.returncode != 0:
            log(f"recording failed ({proc.returncode}); glusterd log:")
            for path in (workdir / "log").glob("glusterd.log"):
                print(path.read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(workdir / "out", OUT)
        log(f"recorded in {OUT}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outer-ns", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.workdir, args.outer_ns)
        return 0
    return outer()


if __name__ == "__main__":
    sys.exit(main())
