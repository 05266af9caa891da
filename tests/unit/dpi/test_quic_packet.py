"""QUIC headers, coalesced datagrams, Initial frames, CRYPTO reassembly, transport params."""

from __future__ import annotations

import pytest

from netwatch.dpi.quic.crypto import PacketProtection
from netwatch.dpi.quic.frames import (
    AckFrame,
    CloseFrame,
    CryptoFrame,
    PingFrame,
    error_name,
    parse_initial_frames,
)
from netwatch.dpi.quic.packet import (
    Buffer,
    encode_varint,
    looks_like_long_header,
    split_datagram,
)
from netwatch.dpi.quic.stream import MAX_PENDING, CryptoStream
from netwatch.dpi.quic.transport_params import parse_transport_parameters
from netwatch.dpi.quic.versions import V1, V2, VERSIONS, PacketType
from netwatch.dpi.tls.hello import parse_client_hello
from netwatch.errors import MalformedError
from tests.unit.dpi.test_quic_support import (
    RFC9001,
    RFC9369,
    RFC_DCID,
    close_frame,
    h,
    rfc_client_hello_crypto,
    rfc_client_initial,
    rfc_server_initial,
    short_packet,
    version_negotiation,
)

# -- varints (RFC 9000 §A.1 examples) ---------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("c2197c5eff14e88c", 151288809941952652),
        ("9d7f3e7d", 494878333),
        ("7bbd", 15293),
        ("25", 37),
        ("4025", 37),  # a non-minimal encoding decodes the same
    ],
)
def test_varint_rfc9000_a1(wire: str, value: int) -> None:
    buf = Buffer(h(wire))
    assert buf.varint() == value
    assert buf.eof()


@pytest.mark.parametrize("value", [0, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**62 - 1])
def test_varint_round_trip(value: int) -> None:
    assert Buffer(encode_varint(value)).varint() == value


def test_varint_truncated() -> None:
    with pytest.raises(MalformedError, match="truncated"):
        Buffer(h("c2197c")).varint()


# -- headers and datagrams ---------------------------------------------------------------


@pytest.mark.parametrize("v", [RFC9001, RFC9369], ids=["v1", "v2"])
def test_rfc_initial_headers(v: dict[str, str]) -> None:
    (client,), rest = split_datagram(rfc_client_initial(v))
    assert rest == b""
    assert client.packet_type == PacketType.INITIAL
    assert (client.dcid, client.scid, client.token, client.pn_offset) == (RFC_DCID, b"", b"", 18)
    assert len(client.data) == 1200
    (server,), _ = split_datagram(rfc_server_initial(v))
    assert server.packet_type == PacketType.INITIAL
    assert (server.dcid, server.scid) == (b"", h("f067a5502a4262b5"))


@pytest.mark.parametrize(("v", "version"), [(RFC9001, V1), (RFC9369, V2)], ids=["v1", "v2"])
def test_rfc_retry_headers(v: dict[str, str], version: int) -> None:
    # v1 spells Retry as type 3 (0xff), v2 as type 0 (0xcf): RFC 9369 §3.2.
    (pkt,), _ = split_datagram(h(v["retry"]))
    assert pkt.packet_type == PacketType.RETRY
    assert pkt.version == version
    assert pkt.token == b"token"
    assert pkt.scid == h("f067a5502a4262b5")


def test_coalesced_initial_handshake_and_short() -> None:
    server = rfc_server_initial()
    hs = h("e000000001") + h("00") + h("08") + h("f067a5502a4262b5") + h("4014") + bytes(20)
    one_rtt = short_packet(b"")
    packets, rest = split_datagram(server + hs + one_rtt)
    assert [p.packet_type for p in packets] == [
        PacketType.INITIAL,
        PacketType.HANDSHAKE,
        PacketType.ONE_RTT,
    ]
    assert rest == b""
    assert packets[1].data == hs
    assert packets[2].data == one_rtt


@pytest.mark.parametrize(
    "tail", [bytes(37), b"\x00\xff\x13garbage", h("c0000000010102")], ids=["zeros", "junk", "cut"]
)
def test_trailing_bytes_are_returned_not_parsed(tail: bytes) -> None:
    packets, rest = split_datagram(rfc_client_initial() + tail)
    assert len(packets) == 1
    assert rest == tail


def test_coalesced_packet_of_another_connection_is_not_taken() -> None:
    other = rfc_client_initial(RFC9001)
    other = other[:6] + b"\x99" * 8 + other[14:]  # same layout, another DCID
    packets, rest = split_datagram(rfc_server_initial() + other)
    assert len(packets) == 1
    assert rest == other


def test_version_negotiation() -> None:
    (pkt,), _ = split_datagram(version_negotiation(b"\x01\x02", b"\x03", [V2, 0x1A2A3A4A]))
    assert pkt.packet_type == PacketType.VERSION_NEGOTIATION
    assert pkt.supported_versions == (V2, 0x1A2A3A4A)
    with pytest.raises(MalformedError, match="version list"):
        split_datagram(version_negotiation(b"", b"", []) + b"\x01\x02")


def test_unknown_version_runs_to_datagram_end() -> None:
    data = h("c01a2a3a4a") + h("1e") + bytes(30) + h("00") + b"payload"
    (pkt,), rest = split_datagram(data)
    assert pkt.packet_type == PacketType.UNKNOWN
    assert len(pkt.dcid) == 30  # unknown versions may use CIDs longer than 20 (RFC 8999)
    assert rest == b""


def test_first_packet_must_parse() -> None:
    pkt = rfc_client_initial()
    for cut in range(1, 22):
        with pytest.raises(MalformedError):
            split_datagram(pkt[:cut])
    with pytest.raises(MalformedError, match="runs past"):
        split_datagram(pkt[:-1])
    with pytest.raises(MalformedError, match="dcid length"):
        split_datagram(pkt[:5] + b"\x15" + pkt[6:])
    with pytest.raises(MalformedError, match="empty"):
        split_datagram(b"")


def test_fixed_bit_zero_needs_grease_quic_bit() -> None:
    pkt = rfc_client_initial()
    cleared = bytes([pkt[0] & ~0x40]) + pkt[1:]
    with pytest.raises(MalformedError, match="fixed bit"):
        split_datagram(cleared)
    (parsed,), _ = split_datagram(cleared, grease_ok=True)
    assert parsed.packet_type == PacketType.INITIAL
    with pytest.raises(MalformedError, match="fixed bit"):
        split_datagram(b"\x01" + bytes(30))


def test_detection() -> None:
    assert looks_like_long_header(rfc_client_initial(RFC9001))
    assert looks_like_long_header(rfc_client_initial(RFC9369))
    assert not looks_like_long_header(h("c01a2a3a4a0800"))  # unknown version
    assert not looks_like_long_header(b"\x16\x03\x01\x02\x00\x01\x00")  # TLS record
    assert not looks_like_long_header(b"\xc0\x00")


# -- frames ---------------------------------------------------------------------------------


def _open_rfc(v: dict[str, str], server: bool) -> bytes:
    version = VERSIONS[int(v["version"], 16)]
    pair = PacketProtection.initial_pair(version, RFC_DCID)
    packet = rfc_server_initial(v) if server else rfc_client_initial(v)
    return pair[1 if server else 0].unprotect(packet, 18, -1)[2]


def test_rfc_client_initial_frames_hold_the_client_hello() -> None:
    frames = parse_initial_frames(_open_rfc(RFC9001, server=False))
    assert frames == [CryptoFrame(0, h("01") + h("0000ed") + rfc_client_hello_crypto()[4:])]
    ch = parse_client_hello(rfc_client_hello_crypto()[4:])
    assert ch.sni == "example.com"
    assert ch.alpn == ("alpn",)


def test_rfc_server_initial_frames() -> None:
    frames = parse_initial_frames(_open_rfc(RFC9001, server=True))
    assert frames[0] == AckFrame(0)
    assert isinstance(frames[1], CryptoFrame)
    assert frames[1].offset == 0
    assert frames[1].data[:1] == b"\x02"  # ServerHello
    assert len(frames[1].data) == 0x5A


def test_close_ping_and_ecn_ack() -> None:
    payload = b"\x01" + h("03 05 00 01 02 01 01 07 08 09".replace(" ", ""))
    payload += close_frame(0x128, "no way") + bytes(10)
    frames = parse_initial_frames(payload)
    assert frames == [PingFrame(), AckFrame(5), CloseFrame(0x128, 0x06, "no way", False)]
    app = parse_initial_frames(h("1d") + encode_varint(0x10C) + h("00"))
    assert app == [CloseFrame(0x10C, None, "", True)]


def test_error_names() -> None:
    assert error_name(0x0A, False) == "PROTOCOL_VIOLATION"
    assert error_name(0x128, False) == "CRYPTO_ERROR(handshake_failure)"
    assert error_name(0x178, False) == "CRYPTO_ERROR(no_application_protocol)"
    assert error_name(0x1FF, False) == "CRYPTO_ERROR(255)"
    assert error_name(0x10C, True) == "APPLICATION(0x10c)"
    assert error_name(0x4000, False) == "0x4000"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (h("08000141"), "not allowed"),  # STREAM frames cannot be in Initial packets
        (h("0605"), "truncated"),
        (h("060005") + b"abc", "truncated"),
        (h("020500") + encode_varint(1000) + h("00"), "more ranges"),
        (h("0201000002"), "below packet 0"),
        (h("1c4128060e") + b"short", "truncated"),
    ],
)
def test_bad_frames(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        parse_initial_frames(payload)


# -- CRYPTO reassembly --------------------------------------------------------------------


def test_crypto_stream_out_of_order_and_overlapping() -> None:
    data = bytes(range(256)) * 4
    s = CryptoStream()
    s.add(600, data[600:900])
    s.add(100, data[100:700])
    assert len(s) == 0
    s.add(0, data[0:150])
    assert s.contiguous == data[:900]
    s.add(850, data[850:])
    s.add(0, data[:10])  # a retransmission changes nothing
    assert s.contiguous == data


def test_crypto_stream_bounds() -> None:
    s = CryptoStream(limit=1000)
    with pytest.raises(MalformedError, match="over limit"):
        s.add(990, bytes(11))
    s = CryptoStream()
    for i in range(MAX_PENDING):
        s.add(10 + 2 * i, b"x")
    with pytest.raises(MalformedError, match="too many"):
        s.add(5000, b"y")


# -- transport parameters (the RFC 9001 A.2 ClientHello's) ----------------------------------


def test_transport_parameters_rfc9001() -> None:
    ch = parse_client_hello(rfc_client_hello_crypto()[4:])
    assert ch.quic_transport_parameters is not None
    tp = parse_transport_parameters(ch.quic_transport_parameters)
    assert tp.max_idle_timeout_ms == 30000
    assert tp.get(0x0F) == RFC_DCID  # initial_source_connection_id
    assert [pid for pid, _ in tp.params] == [0x04, 0x05, 0x07, 0x08, 0x01, 0x09, 0x0F, 0x06]
    assert not tp.grease_quic_bit


def test_transport_parameters_version_information_and_old_drafts() -> None:
    vi = h("11") + h("08") + V1.to_bytes(4, "big") + V2.to_bytes(4, "big")
    grease = h("80002ab2") + h("00")
    tp = parse_transport_parameters(vi + grease)
    assert tp.version_information == (V1, V2)
    assert tp.grease_quic_bit
    old = h("0001") + h("0002") + h("4e20")  # draft < 27: 16-bit id and length
    tp = parse_transport_parameters(len(old).to_bytes(2, "big") + old, draft=25)
    assert tp.get(0x01) == h("4e20")
    with pytest.raises(MalformedError):
        parse_transport_parameters(h("0104ffff"))
    with pytest.raises(MalformedError, match="list length"):
        parse_transport_parameters(h("0009") + old, draft=25)


def test_greased_coalesced_long_header_kept_short_junk_not() -> None:
    server = rfc_server_initial()
    hs = h("a000000001") + h("00") + h("08") + h("f067a5502a4262b5") + h("4014") + bytes(20)
    packets, rest = split_datagram(server + hs, grease_ok=True)
    assert [p.packet_type for p in packets] == [PacketType.INITIAL, PacketType.HANDSHAKE]
    assert rest == b""
    assert split_datagram(server + hs)[1] == hs  # without consent it is not a packet
    junk = b"\x13\x37" + bytes(30)
    assert split_datagram(server + junk, grease_ok=True)[1] == junk
