"""TLS handshake messages in CRYPTO frames (RFC 9001 §4.1.3; RFC 8446 §4).

QUIC carries TLS handshake messages without TLS records: the CRYPTO stream of the
Initial packet number space holds the ClientHello (client) and the ServerHello or a
HelloRetryRequest (server), each framed as ``msg_type (1) | length (3) | body``::

    01 0000ed 0303 ebf8fa56...     ClientHello of 0xed bytes (RFC 9001 A.2)

The bodies are parsed by the TLS package; its :class:`MalformedError` is re-raised as
QUIC's, so the engine counts it under the protocol that carried it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from netwatch.dpi.quic.stream import CryptoStream
from netwatch.dpi.quic.transport_params import TransportParameters, parse_transport_parameters
from netwatch.dpi.tls.fingerprints import client_fingerprints
from netwatch.dpi.tls.hello import ClientHello, ServerHello, parse_client_hello, parse_server_hello
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"
CLIENT_HELLO = 1
SERVER_HELLO = 2

_T = TypeVar("_T")


def pop_messages(stream: CryptoStream, pos: int) -> tuple[list[tuple[int, bytes]], int]:
    """The complete messages ``(msg_type, body)`` held from ``pos``, and the next ``pos``."""
    if len(stream) - pos < 4:
        return [], pos
    buf = stream.contiguous
    out: list[tuple[int, bytes]] = []
    while len(buf) - pos >= 4:
        length = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if len(buf) - pos - 4 < length:
            break
        out.append((buf[pos], buf[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return out, pos


def _tls(parse: Callable[[bytes], _T], body: bytes) -> _T:
    try:
        return parse(body)
    except MalformedError as exc:
        raise MalformedError(PROTOCOL, f"TLS in CRYPTO: {exc.reason}") from exc


def server_hello(body: bytes) -> ServerHello:
    return _tls(parse_server_hello, body)


@dataclass(frozen=True, slots=True)
class HelloFacts:
    """What one ClientHello tells: the hello, its fingerprints, its transport parameters."""

    hello: ClientHello
    ja4: str
    ja3: str
    params: TransportParameters | None
    #: Why the transport parameters did not parse (the hello itself did), else None.
    params_error: str | None


def client_hello(body: bytes, draft: int | None) -> HelloFacts:
    """Parse a ClientHello body; ``draft`` selects the transport-parameter encoding."""
    ch = _tls(parse_client_hello, body)
    params: TransportParameters | None = None
    error: str | None = None
    if ch.quic_transport_parameters is not None:
        try:
            params = parse_transport_parameters(ch.quic_transport_parameters, draft)
        except MalformedError as exc:
            error = exc.reason
    ja3_hash, ja4_text = client_fingerprints(ch, "q")
    return HelloFacts(ch, ja4_text, ja3_hash, params, error)
