"""Real QUIC handshakes made in memory by aioquic (a test dependency): a client and a
server exchange datagrams with no network, and the datagrams are kept in order."""

from __future__ import annotations

from typing import Any

from tests.util.certs import self_signed

__all__ = ["handshake", "self_signed"]


def handshake(
    server_name: str,
    cert_key: tuple[Any, Any],
    idle_timeout: float | None = None,
    rounds: int = 8,
) -> list[tuple[int, bytes]]:
    """The datagrams of one connection's handshake and first 1-RTT packets, in order:
    (0 client→server | 1 server→client, UDP payload). ``idle_timeout``: the client's
    ``max_idle_timeout`` in seconds (aioquic's default when None)."""
    from aioquic.buffer import Buffer
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.packet import pull_quic_header

    extra = {} if idle_timeout is None else {"idle_timeout": idle_timeout}
    ccfg = QuicConfiguration(
        is_client=True, alpn_protocols=["h3"], server_name=server_name, verify_mode=0, **extra
    )
    scfg = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    scfg.certificate, scfg.private_key = cert_key
    client = QuicConnection(configuration=ccfg)
    server: QuicConnection | None = None
    caddr, saddr = ("198.18.0.1", 50000), ("198.19.0.1", 443)
    client.connect(saddr, now=0.0)
    seq: list[tuple[int, bytes]] = []
    now = 0.0
    for _ in range(rounds):
        now += 0.01
        for data, _a in client.datagrams_to_send(now=now):
            seq.append((0, data))
            if server is None:
                hdr = pull_quic_header(Buffer(data=data), host_cid_length=8)
                server = QuicConnection(
                    configuration=scfg, original_destination_connection_id=hdr.destination_cid
                )
            server.receive_datagram(data, caddr, now=now)
        if server is None:
            break
        for data, _a in server.datagrams_to_send(now=now):
            seq.append((1, data))
            client.receive_datagram(data, saddr, now=now)
    return seq
