"""Google QUIC client hellos in the three packet layouts (see gquic.py), built by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.quic import QUICAnalyzer, detect_udp
from netwatch.dpi.quic.gquic import parse_chlo
from netwatch.errors import MalformedError


def chlo(tags: list[tuple[bytes, bytes]]) -> bytes:
    index, values, end = b"", b"", 0
    for tag, value in tags:
        end += len(value)
        index += tag + end.to_bytes(4, "little")
        values += value
    return b"CHLO" + len(tags).to_bytes(2, "little") + b"\x00\x00" + index + values


TAGS = [
    (b"PAD\x00", b"-" * 40),
    (b"SNI\x00", b"example.org"),
    (b"UAID", b"netwatch-test Chrome/1.0"),
    (b"VER\x00", b"Q043"),
]
CID = bytes.fromhex("0102030405060708")
HASH = bytes(12)  # null encryption's message hash (not checked)
STREAM_1 = bytes.fromhex("a0010004")  # STREAM, stream 1, 2-byte data length


def q043_packet(body: bytes) -> bytes:
    return b"\x09" + CID + b"Q043" + b"\x01" + HASH + STREAM_1 + body


def q046_packet(body: bytes) -> bytes:
    return b"\xc3" + b"Q046" + b"\x50" + CID + b"\x00\x00\x00\x01" + HASH + STREAM_1 + body


@pytest.mark.parametrize(("build", "version"), [(q043_packet, "Q043"), (q046_packet, "Q046")])
def test_plaintext_layouts(build: Callable[[bytes], bytes], version: str) -> None:
    packet = build(chlo(TAGS))
    assert detect_udp(packet)
    a = QUICAnalyzer()
    assert a.feed(Dir.CLIENT, packet, 1.0) == ()
    rec = a.record()
    assert (rec["version"], rec["sni"], rec["user_agent"]) == (
        version,
        "example.org",
        "netwatch-test Chrome/1.0",
    )
    assert rec["gquic"] is True
    assert rec["dcid"] == CID.hex()
    assert a.finished
    assert a.summary() == "gQUIC (example.org)"


def test_chlo_split_over_two_packets_keeps_what_arrived() -> None:
    message = chlo(TAGS)
    cut = message.index(b"netwatch-test")  # SNI complete, UAID not
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, q043_packet(message[:cut]), 1.0)
    assert (a.record()["sni"], a.record()["user_agent"]) == ("example.org", None)


def test_parse_chlo_bounds() -> None:
    message = chlo(TAGS)
    assert parse_chlo(message)[b"SNI\x00"] == b"example.org"
    with pytest.raises(MalformedError, match="out of bounds"):
        parse_chlo(message[:-1])
    assert b"VER\x00" not in parse_chlo(message[:-1], partial=True)
    with pytest.raises(MalformedError, match="index truncated"):
        parse_chlo(message[:20])
    backwards = message[:12] + (10**6).to_bytes(4, "little") + message[16:]
    with pytest.raises(MalformedError):
        parse_chlo(backwards)
    with pytest.raises(MalformedError, match="tags"):
        parse_chlo(b"CHLO\xff\x00\x00\x00")


def test_gquic_packets_without_version_are_not_detected() -> None:
    assert not detect_udp(b"\x08" + CID + b"\x01" + bytes(40))  # a later client packet
    assert not detect_udp(b"\x0d" + CID + b"X043" + bytes(40))
