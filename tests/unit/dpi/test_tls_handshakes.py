"""Real OpenSSL handshakes (Python's ssl over memory BIOs, no sockets) through the analyzer.

Every field is known in advance here: the certificate is made by the test, the versions,
ALPN and resumption are chosen, so each part of ``record()`` is checked exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netwatch.dpi.base import AppEvent, Dir
from netwatch.dpi.tls.analyzer import (
    AlertSeen,
    CertificatesSeen,
    ClientHelloSeen,
    HelloRetryRequestSeen,
    ServerHelloSeen,
    TLSAnalyzer,
)

NOT_BEFORE = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2034, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SERIAL = 0x00F1E2D3C4B5A69788


@dataclass
class Pki:
    cert_file: Path
    key_file: Path
    der: bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Netwatch Test, Inc."),
            x509.NameAttribute(NameOID.COMMON_NAME, "server.test"),
        ]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Netwatch Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(SERIAL)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("server.test"),
                    x509.DNSName("*.server.test"),
                    x509.IPAddress(ipaddress.ip_address("198.18.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("pki")
    cert_file, key_file = d / "cert.pem", d / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(cert_file, key_file, cert.public_bytes(serialization.Encoding.DER))


@dataclass
class Session:
    analyzer: TLSAnalyzer
    events: list[AppEvent] = field(default_factory=list)
    client: ssl.SSLObject | None = None


def _contexts(
    pki: Pki, version: ssl.TLSVersion, alpn: list[str] | None, server_alpn: list[str] | None
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.cert_file, pki.key_file)
    server.maximum_version = version
    if server_alpn:
        server.set_alpn_protocols(server_alpn)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    if alpn:
        client.set_alpn_protocols(alpn)
    return client, server


def handshake(
    client_ctx: ssl.SSLContext,
    server_ctx: ssl.SSLContext,
    *,
    sni: str | None = "server.test",
    session: ssl.SSLSession | None = None,
    server_port: int | None = 443,
    byte_by_byte: bool = False,
) -> Session:
    """Run a full handshake plus one request/response, feeding every byte to the analyzer."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=sni, session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    result = Session(TLSAnalyzer(server_port=server_port), client=client)

    def pump() -> None:
        for src, dst, direction in ((c_out, s_in, Dir.CLIENT), (s_out, c_in, Dir.SERVER)):
            data = src.read()
            if not data:
                continue
            dst.write(data)
            pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
            for piece in pieces:
                result.events.extend(result.analyzer.feed(direction, piece, 1.0))

    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((client, server)):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        pump()
        if all(done):
            break
    assert all(done)
    client.write(b"GET / HTTP/1.1\r\n\r\n")
    pump()
    assert server.read(100).startswith(b"GET")
    server.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    pump()
    assert client.read(100).startswith(b"HTTP/1.1 204")
    pump()
    return result


def _kinds(events: list[AppEvent]) -> list[type]:
    return [type(e) for e in events]


def test_tls12_full_handshake_every_field(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_2, ["h2", "http/1.1"], ["h2"])
    s = handshake(client_ctx, server_ctx)
    rec = s.analyzer.record()
    assert s.analyzer.finished
    assert _kinds(s.events) == [ClientHelloSeen, ServerHelloSeen, CertificatesSeen]
    assert rec["sni"] == "server.test"
    assert rec["alpn_offered"] == ["h2", "http/1.1"]
    assert rec["alpn"] == "h2"
    assert rec["version"] == "TLSv1.2"
    assert rec["client_version"] == "TLSv1.2"
    assert rec["cipher"] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    assert rec["resumed"] is False
    assert rec["ech"] is False
    assert len(rec["ja3"]) == 32 and len(rec["ja3s"]) == 32
    assert rec["ja4"].startswith("t13d")  # the client offers 1.3; the server caps at 1.2
    assert rec["certs"] == [
        {
            "subject": "C=SE, O=Netwatch Test, Inc., CN=server.test",
            "issuer": "CN=Netwatch Test CA",
            "san": ["server.test", "*.server.test", "198.18.0.1"],
            "not_before": "2024-01-02T03:04:05Z",
            "not_after": "2034-01-02T03:04:05Z",
            "serial": "00:f1:e2:d3:c4:b5:a6:97:88",
            "sha256": hashlib.sha256(pki.der).hexdigest(),
        }
    ]
    assert s.analyzer.summary() == "HTTPS (server.test)"


def test_tls12_byte_by_byte_gives_the_same_record(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_2, ["http/1.1"], ["http/1.1"])
    whole = handshake(client_ctx, server_ctx).analyzer.record()
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_2, ["http/1.1"], ["http/1.1"])
    split = handshake(client_ctx, server_ctx, byte_by_byte=True).analyzer.record()
    for key in ("sni", "alpn", "version", "cipher", "certs", "ja4", "resumed"):
        assert whole[key] == split[key]


def test_tls12_session_resumption_is_abbreviated(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_2, None, None)
    first = handshake(client_ctx, server_ctx)
    assert first.client is not None and first.client.session is not None
    again = handshake(client_ctx, server_ctx, session=first.client.session)
    assert again.client is not None and again.client.session_reused
    rec = again.analyzer.record()
    assert rec["resumed"] is True
    assert rec["certs"] == []  # an abbreviated handshake sends none
    assert again.analyzer.finished
    assert first.analyzer.record()["resumed"] is False


def test_tls13_finishes_at_the_server_hello(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_3, ["h2"], ["h2"])
    s = handshake(client_ctx, server_ctx, server_port=8443)
    rec = s.analyzer.record()
    assert s.analyzer.finished
    assert _kinds(s.events) == [ClientHelloSeen, ServerHelloSeen]
    assert rec["version"] == "TLSv1.3"
    assert rec["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert rec["certs"] == []  # encrypted in TLS 1.3
    assert rec["alpn"] is None  # in EncryptedExtensions
    assert rec["alpn_offered"] == ["h2"]
    assert s.analyzer.summary() == "HTTPS (server.test)"  # from port 8443


def test_tls13_psk_resumption(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_3, None, None)
    first = handshake(client_ctx, server_ctx, server_port=None)
    assert first.client is not None and first.client.session is not None
    again = handshake(client_ctx, server_ctx, session=first.client.session, server_port=None)
    assert again.client is not None and again.client.session_reused
    ch = again.analyzer.client_hello
    assert ch is not None and ch.psk_offered
    assert again.analyzer.record()["resumed"] is True
    assert first.analyzer.record()["resumed"] is False
    assert again.analyzer.summary() == "TLS (server.test)"


def test_hello_retry_request(pki: Pki) -> None:
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_3, None, None)
    server_ctx.set_ecdh_curve("secp384r1")  # the client's default key share is x25519
    s = handshake(client_ctx, server_ctx, sni=None, server_port=993)
    assert _kinds(s.events) == [
        ClientHelloSeen,
        HelloRetryRequestSeen,
        ClientHelloSeen,
        ServerHelloSeen,
    ]
    assert s.analyzer.hello_retry is not None
    assert s.analyzer.hello_retry.key_share_group == 0x0018  # secp384r1
    first_ch = s.events[0]
    assert isinstance(first_ch, ClientHelloSeen)
    assert s.analyzer.client_hello is first_ch.hello  # fingerprints use the first hello
    assert s.analyzer.record()["version"] == "TLSv1.3"
    assert s.analyzer.record()["sni"] is None
    assert s.analyzer.summary() == "IMAPS"


def test_failed_handshake_alert_finishes(pki: Pki) -> None:
    """A client that only speaks TLS 1.3 against a TLS 1.2 server: a cleartext alert."""
    client_ctx, server_ctx = _contexts(pki, ssl.TLSVersion.TLSv1_2, None, None)
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="server.test")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    analyzer = TLSAnalyzer(server_port=443)
    events: list[AppEvent] = []
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = c_out.read()
    events += analyzer.feed(Dir.CLIENT, hello, 0.0)
    s_in.write(hello)
    with pytest.raises(ssl.SSLError):
        server.do_handshake()
    events += analyzer.feed(Dir.SERVER, s_out.read(), 0.0)
    alerts = [e for e in events if isinstance(e, AlertSeen)]
    assert [(a.level, a.name, a.from_server) for a in alerts] == [(2, "protocol_version", True)]
    assert analyzer.finished
    assert analyzer.record()["version"] is None
