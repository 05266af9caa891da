"""Builders of real, protected QUIC packets for the QUIC tests (RFC 9000 §17.2, RFC 9001 §5).

Everything here goes through the product's own ``PacketProtection.protect``, whose output
is checked byte for byte against the RFC vectors in ``test_quic_crypto.py``; the tests at
the end check that what the builders make parses and decrypts back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netwatch.dpi.quic.crypto import PacketProtection
from netwatch.dpi.quic.packet import encode_varint
from netwatch.dpi.quic.versions import V1, V2, VERSIONS, PacketType, QuicVersion

DATA = Path(__file__).resolve().parents[2] / "data" / "quic"
RFC9001 = json.loads((DATA / "rfc9001_a.json").read_text())
RFC9369 = json.loads((DATA / "rfc9369_a.json").read_text())
RFC_DCID = bytes.fromhex(RFC9001["dcid"])


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def rfc_client_initial(v: dict[str, Any] = RFC9001) -> bytes:
    return h(v["client_protected"])


def rfc_server_initial(v: dict[str, Any] = RFC9001) -> bytes:
    return h(v["server_protected"])


def rfc_client_hello_crypto(v: dict[str, Any] = RFC9001) -> bytes:
    """The CRYPTO stream bytes of the RFC client Initial: the whole ClientHello message."""
    head = h(v["client_plain_payload_head"])
    assert head[:4] == h("060040f1")  # CRYPTO offset 0 length 0xf1
    return head[4 : 4 + 0xF1]


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + encode_varint(offset) + encode_varint(len(data)) + data


def close_frame(code: int, reason: str, frame_type: int = 0x06) -> bytes:
    raw = reason.encode()
    return b"\x1c" + encode_varint(code) + encode_varint(frame_type) + encode_varint(len(raw)) + raw


def long_packet(
    *,
    version: QuicVersion = VERSIONS[V1],
    type_bits: int | None = None,
    dcid: bytes,
    scid: bytes,
    key_dcid: bytes,
    sender: int,
    pn: int,
    payload: bytes,
    token: bytes = b"",
    pad_to: int = 0,
) -> bytes:
    """A protected Initial packet of ``version`` from ``sender`` (0 client, 1 server).

    Keys come from ``key_dcid`` (the client's first DCID). ``pad_to`` appends PADDING
    frames until the packet has that many bytes (clients must send 1200).
    """
    if type_bits is None:
        type_bits = version.long_types.index(PacketType.INITIAL)
    pn_len = 4
    head = (
        bytes([0xC0 | (type_bits << 4) | (pn_len - 1)])
        + version.number.to_bytes(4, "big")
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + encode_varint(len(token))
        + token
    )
    need = pad_to - (len(head) + 2 + pn_len + len(payload) + 16)
    if need > 0:
        payload += bytes(need)
    length = pn_len + len(payload) + 16
    header = head + (length | 0x4000).to_bytes(2, "big") + pn.to_bytes(pn_len, "big")
    prot = PacketProtection.initial_pair(version, key_dcid)[sender]
    return prot.protect(header, payload, pn)


def short_packet(dcid: bytes, body: bytes = b"\x01" * 30) -> bytes:
    """A short-header packet (its payload is not decrypted by the analyzer)."""
    return b"\x41" + dcid + body


def handshake_packet(version: QuicVersion, dcid: bytes, scid: bytes, body_len: int = 40) -> bytes:
    """A Handshake packet: header in the clear, body opaque (handshake keys are secret)."""
    type_bits = version.long_types.index(PacketType.HANDSHAKE)
    return (
        bytes([0xC0 | (type_bits << 4) | 0x03])
        + version.number.to_bytes(4, "big")
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + (body_len | 0x4000).to_bytes(2, "big")
        + b"\x5a" * body_len
    )


def version_negotiation(dcid: bytes, scid: bytes, versions: list[int]) -> bytes:
    return (
        b"\x80"
        + bytes(4)
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + b"".join(v.to_bytes(4, "big") for v in versions)
    )


def test_built_initial_parses_and_opens_in_both_versions() -> None:
    from netwatch.dpi.quic.frames import CryptoFrame, parse_initial_frames
    from netwatch.dpi.quic.packet import split_datagram

    for number in (V1, V2):
        version = VERSIONS[number]
        frame = crypto_frame(5, b"hello")
        dgram = long_packet(
            version=version, dcid=b"\x01" * 8, scid=b"\x02" * 4, key_dcid=b"\x01" * 8,
            sender=0, pn=7, payload=frame, pad_to=1200,
        )  # fmt: skip
        assert len(dgram) == 1200
        (pkt,), rest = split_datagram(dgram)
        assert rest == b""
        assert pkt.packet_type == PacketType.INITIAL
        assert (pkt.dcid, pkt.scid, pkt.version) == (b"\x01" * 8, b"\x02" * 4, number)
        client, _ = PacketProtection.initial_pair(version, b"\x01" * 8)
        _, pn, payload = client.unprotect(pkt.data, pkt.pn_offset, -1)
        assert pn == 7
        assert parse_initial_frames(payload) == [CryptoFrame(5, b"hello")]


def test_built_handshake_and_negotiation_packets_parse() -> None:
    from netwatch.dpi.quic.packet import split_datagram

    hs = handshake_packet(VERSIONS[V2], b"\x03" * 8, b"\x04" * 8)
    vn = version_negotiation(b"\x05", b"\x06" * 3, [V2, V1])
    assert split_datagram(hs)[0][0].packet_type == PacketType.HANDSHAKE
    (pkt,), _ = split_datagram(vn)
    assert pkt.packet_type == PacketType.VERSION_NEGOTIATION
    assert pkt.supported_versions == (V2, V1)
