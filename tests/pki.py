"""A throw-away PKI made with the openssl binary, for the TLS tests (management TLS on
24007, the REST API on 24012)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gluster_mgmt.mgmt_rpc.tls import SSL_CERT_PATH


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def need_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is required for the TLS tests (Debian: apt-get install "
                    f"{'openssl' if tool == 'openssl' else 'util-linux'})")
    return path


class Pki:
    """A throw-away PKI made with the openssl command: CAs, intermediates, leaves."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.openssl = need_tool("openssl")

    def _run(self, *args: str) -> None:
        result = subprocess.run([self.openssl, *args], cwd=self.dir, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, f"openssl {' '.join(args)}: {result.stderr}"

    def _key_and_csr(self, name: str, cn: str) -> None:
        self._run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")

    def root(self, name: str) -> Path:
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                  "-subj", f"/CN={name}")
        return self.dir / f"{name}.pem"

    def issue(self, name: str, issuer: str, *, ca: bool = False, cn: str | None = None,
              names: tuple[str, ...] = ()) -> Path:
        """``name``.pem signed by ``issuer``; a leaf carries no extended key usage, like the
        certificates glusterfs' documentation makes (one file is server and client cert).
        ``names``: its subjectAltName, IP addresses and DNS names."""
        self._key_and_csr(name, cn or name)
        ext = self.dir / f"{name}.ext"
        ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n" if ca
                       else "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\n")
        if names:
            with ext.open("a") as f:
                f.write("subjectAltName=" + ",".join(
                    f"{'IP' if _is_ip(n) else 'DNS'}:{n}" for n in names) + "\n")
        self._run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey",
                  f"{issuer}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                  "-extfile", ext.name)
        return self.dir / f"{name}.pem"

    def chain(self, name: str, *above: str) -> Path:
        """``name``'s certificate followed by ``above`` (what a peer sends)."""
        path = self.dir / f"{name}-chain.pem"
        path.write_text("".join((self.dir / f"{n}.pem").read_text() for n in (name, *above)))
        return path

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def install(self, target: Path, name: str, ca: str = "ca") -> None:
        """A copy of OPENSSLDIR (the system's CAs kept) with ``name`` as the node's
        glusterfs.pem / glusterfs.key and ``ca`` as glusterfs.ca, where stock processes
        look for them."""
        shutil.copytree(SSL_CERT_PATH, target, symlinks=True)
        shutil.copy(self.dir / f"{name}.pem", target / "glusterfs.pem")
        shutil.copy(self.key(name), target / "glusterfs.key")
        shutil.copy(self.dir / f"{ca}.pem", target / "glusterfs.ca")
        os.chmod(target / "glusterfs.key", 0o600)
