"""Live: an aioquic client and server on 127.0.0.1, the datagrams recorded by a UDP relay.

The relay sits between the two endpoints (client -> relay -> server and back), keeps every
datagram with its direction, and the analyzer is fed exactly those bytes. What it decrypts
must equal what the client asked for (SNI, ALPN, idle timeout, version, DCID).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from dataclasses import dataclass, field
from typing import Any

from aioquic.asyncio.client import connect
from aioquic.asyncio.server import serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netwatch.dpi.base import Dir
from netwatch.dpi.quic import QUICAnalyzer, QUICClientHelloSeen, detect_udp

LOOPBACK = "127.0.0.1"
SNI = "netwatch.test"
V1 = int(QuicProtocolVersion.VERSION_1)
V2 = int(QuicProtocolVersion.VERSION_2)


def _certificate() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SNI)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SNI)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


CERT, KEY = _certificate()


@dataclass
class Relay(asyncio.DatagramProtocol):
    """Forwards client datagrams to the server and back, recording both directions."""

    server: tuple[str, int]
    seen: list[tuple[Dir, bytes, float]] = field(default_factory=list)
    client: tuple[str, int] | None = None
    front: asyncio.DatagramTransport | None = None
    back: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.client = addr
        self.seen.append((Dir.CLIENT, data, time.monotonic()))
        assert self.back is not None
        self.back.sendto(data)

    def from_server(self, data: bytes) -> None:
        self.seen.append((Dir.SERVER, data, time.monotonic()))
        if self.front is not None and self.client is not None:
            self.front.sendto(data, self.client)


class _Back(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.from_server(data)


async def _session(
    server_kw: dict[str, Any], client_kw: dict[str, Any], retry: bool = False
) -> tuple[Relay, Any, BaseException | None]:
    loop = asyncio.get_running_loop()
    server_cfg = QuicConfiguration(is_client=False, certificate=CERT, private_key=KEY, **server_kw)
    server = await serve(LOOPBACK, 0, configuration=server_cfg, retry=retry)
    assert server._transport is not None
    port = server._transport.get_extra_info("sockname")[1]
    relay = Relay((LOOPBACK, port))
    front, _ = await loop.create_datagram_endpoint(lambda: relay, local_addr=(LOOPBACK, 0))
    back, _ = await loop.create_datagram_endpoint(
        lambda: _Back(relay), remote_addr=(LOOPBACK, port)
    )
    relay.front, relay.back = front, back
    relay_port = front.get_extra_info("sockname")[1]
    client_cfg = QuicConfiguration(is_client=True, server_name=SNI, verify_mode=0, **client_kw)
    quic: Any = None
    error: BaseException | None = None
    try:
        async with asyncio.timeout(10):
            async with connect(LOOPBACK, relay_port, configuration=client_cfg) as client:
                quic = client._quic
                await client.ping()
                await asyncio.sleep(0.05)
    except (ConnectionError, TimeoutError) as exc:
        error = exc
    finally:
        await asyncio.sleep(0.05)
        front.close()
        back.close()
        server.close()
    return relay, quic, error


def _analyze(relay: Relay) -> tuple[QUICAnalyzer, list[Any]]:
    assert relay.seen, "no datagram went through the relay"
    assert detect_udp(relay.seen[0][1])
    a = QUICAnalyzer()
    events: list[Any] = []
    for direction, data, ts in relay.seen:
        if a.finished:
            break
        events.extend(a.feed(direction, data, ts))
    return a, events


def test_live_v1_handshake() -> None:
    relay, quic, error = asyncio.run(
        _session(
            {"alpn_protocols": ["h3"]},
            {"alpn_protocols": ["h3", "hq-interop"], "idle_timeout": 42.0},
        )
    )
    assert error is None
    a, events = _analyze(relay)
    rec = a.record()
    assert rec["sni"] == SNI
    assert rec["alpn_offered"] == ["h3", "hq-interop"]
    assert rec["version"] == "v1"
    assert rec["dcid"] == quic.original_destination_connection_id.hex()
    assert rec["scid"] == quic.host_cid.hex()
    assert rec["state"] == "QUIC_CONNECTED"
    assert a.finished
    assert a.idle_timeout == 42.0
    assert a.summary() == f"HTTP/3 ({SNI})"
    hellos = [e for e in events if isinstance(e, QUICClientHelloSeen)]
    assert len(hellos) == 1
    assert hellos[0].ja4.startswith("q13d")


def test_live_retry() -> None:
    relay, quic, error = asyncio.run(
        _session({"alpn_protocols": ["h3"]}, {"alpn_protocols": ["h3"]}, retry=True)
    )
    assert error is None
    rec = _analyze(relay)[0].record()
    assert rec["retry"] is True
    assert rec["sni"] == SNI
    assert rec["dcid"] == quic.original_destination_connection_id.hex()
    assert rec["state"] == "QUIC_CONNECTED"


def test_live_v2() -> None:
    relay, _, error = asyncio.run(
        _session(
            {"alpn_protocols": ["h3"], "supported_versions": [V2, V1]},
            {"alpn_protocols": ["h3"], "original_version": V2, "supported_versions": [V2, V1]},
        )
    )
    assert error is None
    rec = _analyze(relay)[0].record()
    assert (rec["version"], rec["sni"], rec["state"]) == ("v2", SNI, "QUIC_CONNECTED")


def test_live_version_negotiation() -> None:
    # The server speaks only v2; the client starts in v1, gets a VN packet, starts over.
    relay, _, error = asyncio.run(
        _session(
            {"alpn_protocols": ["h3"], "supported_versions": [V2]},
            {"alpn_protocols": ["h3"], "original_version": V1, "supported_versions": [V1, V2]},
        )
    )
    assert error is None
    rec = _analyze(relay)[0].record()
    assert rec["version_negotiation"] == ["v2"]
    assert (rec["version"], rec["sni"], rec["state"]) == ("v2", SNI, "QUIC_CONNECTED")


def test_live_alpn_refused_closes_in_initial() -> None:
    relay, _, error = asyncio.run(
        _session({"alpn_protocols": ["h3"]}, {"alpn_protocols": ["nope"]})
    )
    assert error is not None
    a, _ = _analyze(relay)
    rec = a.record()
    assert rec["alpn_offered"] == ["nope"]
    assert rec["close_error"]["by"] == "server"
    assert rec["close_error"]["name"] == "CRYPTO_ERROR(no_application_protocol)"
    assert rec["state"] in ("QUIC_DRAINING", "QUIC_CLOSED")
    assert a.idle_timeout == 3.0
