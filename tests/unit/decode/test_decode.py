"""The decoder on built packets, every link type of the corpus, and on hostile bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.capture.pcapfile import open_capture_file
from netwatch.decode import decode
from netwatch.decode.fragments import FragmentReassembler
from netwatch.decode.packet import KIND_ARP, decode_l4
from netwatch.errors import DecodeError
from tests.util import build
from tests.util.corpus import captures, corpus_file


def test_tcp_ipv4_fields() -> None:
    p = decode(1, build.tcp("198.18.0.1", 40000, "198.18.0.2", 443, "S", seq=7))
    assert (p.ipver, p.proto, p.sport, p.dport, p.seq, p.flags) == (4, 6, 40000, 443, 7, 2)
    assert p.src == bytes([198, 18, 0, 1])


def test_udp_ipv6_and_vlan() -> None:
    p = decode(1, build.udp("fd00::1", 5353, "fd00::2", 53, b"abc", vlan=42))
    assert (p.ipver, p.proto, p.vlan, bytes(p.payload)) == (6, 17, 42, b"abc")


def test_icmp_echo_fields() -> None:
    p = decode(1, build.icmp_echo("198.18.0.1", "198.18.0.2", 77, 3))
    assert (p.proto, p.icmp_type, p.icmp_id, p.icmp_seq) == (1, 8, 77, 3)


def test_ethernet_padding_ignored() -> None:
    frame = build.udp("198.18.0.1", 1, "198.18.0.2", 2, b"x") + b"\x00" * 20
    assert bytes(decode(1, frame).payload) == b"x"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x00" * 10, "ethernet-truncated"),
        (b"\x00" * 12 + b"\x08\x00" + b"\x45", "ipv4-truncated"),
        (b"\x00" * 12 + b"\x08\x00" + b"\x46" + b"\x00" * 19, "ipv4-truncated-options"),
        (b"\x00" * 12 + b"\x86\xdd" + b"\x60" + b"\x00" * 10, "ipv6-truncated"),
        (b"\x00" * 12 + b"\x12\x34" + b"\x00" * 30, "unsupported-ethertype"),
    ],
)
def test_malformed_reasons(frame: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        decode(1, frame)
    assert exc.value.reason == reason


def test_truncated_tcp_header() -> None:
    frame = build.tcp("198.18.0.1", 1, "198.18.0.2", 2)
    with pytest.raises(DecodeError, match="tcp-truncated"):
        decode(1, frame[: 14 + 20 + 10])


def test_arp() -> None:
    arp = (
        struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + b"\x02" * 6
        + bytes([198, 18, 0, 1])
        + b"\x00" * 6
        + bytes([198, 18, 0, 2])
    )
    p = decode(1, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + arp)
    assert p.kind == KIND_ARP and p.arp_op == 1 and p.dst == bytes([198, 18, 0, 2])


def test_every_corpus_packet_decodes() -> None:
    """Every frame of the corpus decodes (the PPPoE/VLAN DNS ones included)."""
    n = 0
    for path in captures():
        src = open_capture_file(path)
        for batch in src.batches():
            for _ts, lt, data, _w in batch:
                decode(lt, data)
                n += 1
        src.close()
    assert n > 3700


def test_fragment_reassembly_out_of_order_and_overlap() -> None:
    fr = FragmentReassembler()
    key = (4, b"a", b"b", 1, 17)
    assert fr.add(key, 16, False, b"C" * 8, 0.0) is None
    assert fr.add(key, 0, True, b"A" * 8, 0.0) is None
    assert fr.add(key, 8, True, b"B" * 8, 0.0) == b"A" * 8 + b"B" * 8 + b"C" * 8
    assert len(fr) == 0
    key6 = (6, b"a", b"b", 2, 17)
    fr.add(key6, 0, True, b"A" * 16, 0.0)
    assert fr.add(key6, 8, False, b"B" * 16, 0.0) is None
    assert fr.dropped["overlap"] == 1


def test_fragments_bounded() -> None:
    fr = FragmentReassembler(max_datagrams=10, max_bytes=1000, timeout=5)
    for i in range(100):
        fr.add((4, b"a", b"b", i, 17), 0, True, b"x" * 50, float(i))
    assert len(fr) <= 10 and fr.dropped["evicted"] >= 90
    fr.expire(1000.0)
    assert len(fr) == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 300), st.binary(max_size=200))
def test_random_bytes_never_crash(linktype: int, data: bytes) -> None:
    try:
        p = decode(linktype, data)
        if p.frag is None and p.proto:
            decode_l4(p, data, 0, len(data))
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_real_packets_never_crash(data: st.DataObject) -> None:
    path = corpus_file("ndpi_http_ipv6.pcap")
    src = open_capture_file(path)
    frames = [(lt, bytes(d)) for b in src.batches() for _t, lt, d, _w in b][:40]
    src.close()
    lt, frame = data.draw(st.sampled_from(frames))
    pos = data.draw(st.integers(0, len(frame) - 1))
    val = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    mutated = (frame[:pos] + bytes([val]) + frame[pos + 1 :])[:cut]
    try:
        decode(lt, mutated)
    except DecodeError:
        pass


def test_sll_with_vlan_tag() -> None:
    """On ``any``, libpcap and the AF_PACKET source put the VLAN tag inside the SLL frame."""
    ip = build.udp("198.18.0.1", 53, "198.18.0.2", 53, b"")[14:]
    sll = struct.pack("!HHH8sH", 0, 1, 6, b"\x00" * 8, 0x8100) + struct.pack("!HH", 42, 0x0800)
    p = decode(113, sll + ip)
    assert (p.vlan, p.proto, p.sport) == (42, 17, 53)
