"""QUIC (RFC 9000/9001/9369) and Google QUIC: Initial decryption, ClientHello, state."""

from netwatch.dpi.quic.analyzer import (
    QUICAnalyzer,
    QUICClientHelloSeen,
    QUICConnectionClosed,
    detect_udp,
)

__all__ = ["QUICAnalyzer", "QUICClientHelloSeen", "QUICConnectionClosed", "detect_udp"]
