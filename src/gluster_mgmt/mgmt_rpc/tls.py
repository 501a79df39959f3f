"""Management TLS: glusterd's own switch for port 24007 (GlusterFS 10.3 behaviour).

When ``/var/lib/glusterd/secure-access`` exists, glusterd accepts only TLS on its TCP
listener, and every stock glusterfs process of that host (bricks, self-heal daemon,
rebalance, FUSE clients, gfapi, the CLI) finds the same file itself and speaks TLS on its
mgmt connection — glusterd passes nothing on their command lines. Facts from v10.3's
``rpc/rpc-transport/socket/src/socket.c`` (``ssl_setup_connection_params``, ``..._postfix``)
and ``libglusterfs/src/graph.c`` (``glusterfs_read_secure_access_file``), mirrored here:

* files ``glusterfs.pem`` (certificate chain), ``glusterfs.key``, ``glusterfs.ca`` (the
  trusted CAs) in ``SSL_CERT_PATH``, which configure takes from ``openssl version -d``
  (OPENSSLDIR): ``/usr/lib/ssl`` on Debian — not the ``/etc/ssl`` of the documentation —
  ``/etc/pki/tls`` on Fedora; the same files serve as server and as client certificate, so
  certificate purposes are not checked (``X509_PURPOSE_ANY``);
* every TLS version OpenSSL offers except SSLv2/3, cipher list
  ``EECDH:EDH:HIGH:!3DES:!RC4:!DES:!MD5:!aNULL:!eNULL`` (TLS 1.2 and below), server
  preference, no session tickets, no compression;
* the peer must present a certificate that verifies against the CA bundle, with a verify
  depth of 1 unless secure-access holds ``option transport.socket.ssl-cert-depth N``;
* the peer's name is NOT checked by glusterd (its CN is only recorded; bricks use it for
  ``auth.ssl-allow`` on the I/O path, which is not management).

Stock clients use TLS for a portmap lookup only when it goes to port 24007
(``socket_fix_ssl_opts``), so management TLS needs the default mgmt port.
"""

from __future__ import annotations

import logging
import os
import re
import ssl

from gluster_mgmt.tls import load_identity

__all__ = ["CA_FILE", "CERT_FILE", "CIPHER_LIST", "DEFAULT_CERT_DEPTH", "KEY_FILE",
           "SECURE_ACCESS_FILE", "SSL_CERT_PATH", "management_tls_context", "read_cert_depth",
           "server_context"]

log = logging.getLogger(__name__)

#: glusterd's switch (``SECURE_ACCESS_FILE``, GLUSTERD_DEFAULT_WORKDIR "/secure-access")
SECURE_ACCESS_FILE = "/var/lib/glusterd/secure-access"
#: OPENSSLDIR of the OpenSSL we run on (X509_get_default_cert_file is OPENSSLDIR/cert.pem):
#: the directory glusterfs was built to use when it was built against the same OpenSSL
SSL_CERT_PATH = os.path.dirname(ssl.get_default_verify_paths().openssl_cafile) or "/etc/ssl"
CERT_FILE = os.path.join(SSL_CERT_PATH, "glusterfs.pem")
KEY_FILE = os.path.join(SSL_CERT_PATH, "glusterfs.key")
CA_FILE = os.path.join(SSL_CERT_PATH, "glusterfs.ca")
#: socket.c ``DEFAULT_CIPHER_LIST``
CIPHER_LIST = "EECDH:EDH:HIGH:!3DES:!RC4:!DES:!MD5:!aNULL:!eNULL"
#: socket.c ``DEFAULT_VERIFY_DEPTH`` and graph.c's fallback
DEFAULT_CERT_DEPTH = 1

_DEPTH_LINE = re.compile(r"^option transport.socket.ssl-cert-depth")
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def read_cert_depth(path: str = SECURE_ACCESS_FILE) -> int:
    """The verify depth the secure-access file asks for, read as glusterfs does: the first
    line starting ``option transport.socket.ssl-cert-depth`` whose remainder is not empty,
    its leading integer (C ``atoi``); 0, garbage or no such line mean 1."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return DEFAULT_CERT_DEPTH
    for line in lines:
        match = _DEPTH_LINE.match(line)
        if match is None:
            continue
        rest = line[match.end():]
        if not rest:
            continue
        number = _LEADING_INT.match(rest)
        return int(number.group(1)) if number and int(number.group(1)) else DEFAULT_CERT_DEPTH
    return DEFAULT_CERT_DEPTH


class _DepthCheckedObject(ssl.SSLObject):
    """Enforces the verify depth after the handshake: Python's ssl module cannot set
    OpenSSL's verify depth, and asyncio creates its TLS objects through
    ``SSLContext.sslobject_class``, so the check lives here rather than in the server."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:  # asyncio logs these only in debug mode
            log.warning("mgmt TLS handshake refused: %s", exc)
            raise
        depth = getattr(self.context, "verify_depth", None)
        chain = _verified_chain(self)
        # OpenSSL's depth N allows the peer certificate, N intermediates and the trust anchor
        if depth is not None and depth >= 0 and chain is not None and len(chain) > depth + 2:
            log.warning("mgmt TLS handshake refused: certificate chain of %d exceeds verify "
                        "depth %d", len(chain), depth)
            raise ssl.SSLCertVerificationError(
                f"certificate chain too long ({len(chain)} certificates, verify depth {depth})")


def _verified_chain(obj: ssl.SSLObject) -> list[object] | None:
    """The verified chain, leaf first: public from Python 3.13, private before."""
    public = getattr(ssl.SSLObject, "get_verified_chain", None)
    if public is not None:
        return list(public(obj))
    private = getattr(getattr(obj, "_sslobj", None), "get_verified_chain", None)
    return list(private()) if private is not None else None


class _MgmtContext(ssl.SSLContext):
    """A server context that carries glusterd's verify depth to :class:`_DepthCheckedObject`."""

    verify_depth: int = DEFAULT_CERT_DEPTH


def server_context(cert: str = CERT_FILE, key: str = KEY_FILE, ca: str = CA_FILE,
                   cert_depth: int = DEFAULT_CERT_DEPTH) -> ssl.SSLContext:
    """A server-side context like glusterd's with secure-access: client certificate required
    and verified against ``ca``; no host name check (glusterd has none).

    Raises OSError (ssl.SSLError is one) naming the file that cannot be used."""
    context = _MgmtContext(ssl.PROTOCOL_TLS_SERVER)
    context.sslobject_class = _DepthCheckedObject
    context.verify_depth = cert_depth
    # OpenSSL 3 refuses TLS < 1.2 at its default security level anyway; say so explicitly
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHER_LIST)
    context.options |= ssl.OP_NO_TICKET | ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.verify_mode = ssl.CERT_REQUIRED
    load_identity(context, cert, key, ca, "management TLS")
    return context


def management_tls_context(secure_access: str = SECURE_ACCESS_FILE, cert: str = CERT_FILE,
                           key: str = KEY_FILE, ca: str = CA_FILE) -> ssl.SSLContext | None:
    """glusterd's decision at start: None (plain TCP) without the secure-access file, else
    the TLS context; never a silent fall-back to plain TCP when the files are unusable."""
    if not os.path.exists(secure_access):
        return None
    depth = read_cert_depth(secure_access)
    context = server_context(cert, key, ca, depth)
    log.info("management TLS on (%s exists): certificate %s, CA %s, verify depth %d",
             secure_access, cert, ca, depth)
    return context
