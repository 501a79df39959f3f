"""TLS from a node's certificate files: the one place that builds contexts for management
TLS on 24007 (``mgmt_rpc.tls``, glusterd's secure-access switch) and for the peer REST API on
24012 (``api_tls_*`` settings, mutual TLS with the cluster CA).

Errors name the file that cannot be used and never carry key material; an encrypted key is
refused rather than prompted for (a daemon has no terminal to ask on).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable

import attrs

__all__ = ["TlsFiles", "certificate_names", "load_identity", "names_match"]


def _no_passphrase() -> bytes:
    """OpenSSL would ask on the terminal for an encrypted key's passphrase; a daemon refuses."""
    return b""


def load_identity(context: ssl.SSLContext, cert: str, key: str, ca: str, purpose: str) -> None:
    """Load the node's certificate (chain) and key into ``context`` and trust ``ca``.

    Raises OSError (FileNotFoundError for a missing file) whose message starts with
    ``purpose`` and names the unusable file."""
    for what, path in (("certificate", cert), ("key", key), ("CA bundle", ca)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{purpose}: {what} {path} does not exist")
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except (OSError, ValueError) as exc:
        raise OSError(f"{purpose}: cannot use certificate {cert} with key {key}: "
                      f"{exc}") from None
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ValueError) as exc:
        raise OSError(f"{purpose}: cannot load CA bundle {ca}: {exc}") from None


@attrs.frozen
class TlsFiles:
    """A node's certificate, its key and the CA bundle peers' certificates must verify
    against: both ends of a mutual-TLS connection present one and require one."""

    cert: str
    key: str
    ca: str
    #: what the files are for, first words of every error about them
    purpose: str = "TLS"

    def server_context(self) -> ssl.SSLContext:
        """Server side: TLS 1.2 or later, a client certificate verifying against ``ca``
        required (its names are the caller's to check: ``certificate_names``)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        load_identity(context, self.cert, self.key, self.ca, self.purpose)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Client side: presents the node certificate, verifies the server against ``ca``
        only (not the system's CAs) and checks that the server certificate names the host
        dialled (SAN DNS name or IP address)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname, CERT_REQUIRED
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        load_identity(context, self.cert, self.key, self.ca, self.purpose)
        return context


def _normal(name: str) -> str:
    """One spelling per name: an IP address in its canonical form (IPv4-mapped IPv6 as IPv4),
    a DNS name in lower case without a trailing dot."""
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return name.rstrip(".").lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def certificate_names(peercert: dict | None) -> frozenset[str]:
    """The DNS names and IP addresses a verified peer certificate (``getpeercert()``) is
    issued to, from its subjectAltName only (as RFC 6125 asks; the CN is ignored)."""
    if not peercert:
        return frozenset()
    return frozenset(_normal(value) for kind, value in peercert.get("subjectAltName", ())
                     if kind in ("DNS", "IP Address"))


def names_match(cert_names: frozenset[str], names: Iterable[str]) -> bool:
    """Whether a certificate's names include one of ``names`` (exact names: a wildcard in a
    certificate names no peer here)."""
    return any(_normal(name) in cert_names for name in names if name)
