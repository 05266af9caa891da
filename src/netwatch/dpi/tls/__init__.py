"""TLS: ClientHello/ServerHello parsing, certificates, JA3/JA4 fingerprints, the analyzer.

Modules: ``reader`` (bounded vectors), ``hello`` (the two hellos: a one-pass scanner,
with ``hello_checked``'s reader-based parsers for anything irregular), ``record`` (record and
handshake framing, reusable on QUIC CRYPTO data), ``certs`` (X.509 summaries),
``fingerprints`` (JA3, JA3S, JA4), ``ciphers`` (IANA names), ``sslv2`` (the SSL 2.0-format
ClientHello) and ``analyzer`` (the per-connection state machine).

Importing this package is cheap: the public names load their module (and, for the
analyzer and certificates, ``cryptography``) on first use, so the QUIC analyzer's
``from netwatch.dpi.tls.hello import parse_client_hello`` pulls in nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netwatch.dpi.tls.analyzer import (
        AlertSeen,
        CertificatesSeen,
        ClientHelloSeen,
        HelloRetryRequestSeen,
        ServerHelloSeen,
        TLSAnalyzer,
        detect_tcp,
    )
    from netwatch.dpi.tls.certs import CertInfo, parse_certificate_message
    from netwatch.dpi.tls.ciphers import cipher_name
    from netwatch.dpi.tls.fingerprints import ja3, ja3s, ja4, ja4_r
    from netwatch.dpi.tls.hello import (
        ClientHello,
        ServerHello,
        parse_client_hello,
        parse_server_hello,
    )
    from netwatch.dpi.tls.record import HandshakeAssembler, version_name

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AlertSeen": "netwatch.dpi.tls.analyzer",
    "CertInfo": "netwatch.dpi.tls.certs",
    "CertificatesSeen": "netwatch.dpi.tls.analyzer",
    "ClientHello": "netwatch.dpi.tls.hello",
    "ClientHelloSeen": "netwatch.dpi.tls.analyzer",
    "HandshakeAssembler": "netwatch.dpi.tls.record",
    "HelloRetryRequestSeen": "netwatch.dpi.tls.analyzer",
    "ServerHello": "netwatch.dpi.tls.hello",
    "ServerHelloSeen": "netwatch.dpi.tls.analyzer",
    "TLSAnalyzer": "netwatch.dpi.tls.analyzer",
    "cipher_name": "netwatch.dpi.tls.ciphers",
    "detect_tcp": "netwatch.dpi.tls.analyzer",
    "ja3": "netwatch.dpi.tls.fingerprints",
    "ja3s": "netwatch.dpi.tls.fingerprints",
    "ja4": "netwatch.dpi.tls.fingerprints",
    "ja4_r": "netwatch.dpi.tls.fingerprints",
    "parse_certificate_message": "netwatch.dpi.tls.certs",
    "parse_client_hello": "netwatch.dpi.tls.hello",
    "parse_server_hello": "netwatch.dpi.tls.hello",
    "version_name": "netwatch.dpi.tls.record",
}

__all__ = [
    "AlertSeen",
    "CertInfo",
    "CertificatesSeen",
    "ClientHello",
    "ClientHelloSeen",
    "HandshakeAssembler",
    "HelloRetryRequestSeen",
    "ServerHello",
    "ServerHelloSeen",
    "TLSAnalyzer",
    "cipher_name",
    "detect_tcp",
    "ja3",
    "ja3s",
    "ja4",
    "ja4_r",
    "parse_certificate_message",
    "parse_client_hello",
    "parse_server_hello",
    "version_name",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
