"""TPACKET_V3 block walking on synthetic blocks built the way the kernel lays them out."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.capture.afpacket import (
    ARPHRD_ETHER,
    ARPHRD_LOOPBACK,
    ARPHRD_NONE,
    PACKET_OUTGOING,
    TP_STATUS_USER,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    linktype_for_hatype,
    walk_block,
)
from netwatch.capture.base import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW
from netwatch.errors import CaptureError

BLOCK = 4096
MAC_OFF = 80  # TPACKET_ALIGN(48 + 20): where the kernel puts a frame after the headers
ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD

FRAME = bytes.fromhex("020000000002 020000000001 0800") + bytes.fromhex(
    "4500001c000100004011f7d8c6120001c6120002d43104d20008d6a4"
)  # Ethernet / IPv4 198.18.0.1 -> 198.18.0.2 / UDP 54321 -> 1234, no payload


def pkt(
    data: bytes,
    *,
    sec: int = 1_700_000_000,
    nsec: int = 250_000_000,
    wirelen: int | None = None,
    status: int = TP_STATUS_USER,
    tci: int = 0,
    tpid: int = 0,
    proto: int = ETH_P_IP,
    hatype: int = ARPHRD_ETHER,
    pkttype: int = 0,
    addr: bytes = b"\x02\x00\x00\x00\x00\x01",
) -> dict[str, object]:
    return dict(locals())


def block(packets: list[dict[str, object]], count: int | None = None) -> bytearray:
    """A ready block: tpacket_block_desc, then tpacket3_hdr + sockaddr_ll + data each."""
    buf = bytearray(BLOCK)
    off = 48
    offsets = []
    for p in packets:
        data = p["data"]
        assert isinstance(data, bytes)
        offsets.append(off)
        off += (MAC_OFF + len(data) + 15) & ~15
    for i, (p, at) in enumerate(zip(packets, offsets, strict=True)):
        data = p["data"]
        assert isinstance(data, bytes)
        nxt = offsets[i + 1] - at if i + 1 < len(offsets) else 0
        wire = p["wirelen"] if p["wirelen"] is not None else len(data)
        struct.pack_into(
            "<IIIIIIHHIIHH8x",
            buf,
            at,
            nxt,
            p["sec"],
            p["nsec"],
            len(data),
            wire,
            p["status"],
            MAC_OFF,
            MAC_OFF,
            0,
            p["tci"],
            p["tpid"],
            0,
        )
        addr = p["addr"]
        assert isinstance(addr, bytes)
        struct.pack_into("<H", buf, at + 48, 17)
        struct.pack_into(">H", buf, at + 50, p["proto"])
        struct.pack_into("<iHBB8s", buf, at + 52, 3, p["hatype"], p["pkttype"], len(addr), addr)
        buf[at + MAC_OFF : at + MAC_OFF + len(data)] = data
    n = len(packets) if count is None else count
    struct.pack_into("<IIIIII", buf, 0, 3, 0, TP_STATUS_USER, n, 48, off)
    return buf


def test_ethernet_packets_are_views_into_the_ring() -> None:
    second = FRAME[:-8] + bytes(8)
    ring = block([pkt(FRAME), pkt(second, sec=1_700_000_001, nsec=5, wirelen=1514)])
    out = walk_block(memoryview(ring), 0, BLOCK, cooked=False)
    assert [(p[1], bytes(p[2]), p[3]) for p in out] == [
        (LINKTYPE_ETHERNET, FRAME, len(FRAME)),
        (LINKTYPE_ETHERNET, second, 1514),
    ]
    assert out[0][0] == pytest.approx(1_700_000_000.25)
    assert out[1][0] == pytest.approx(1_700_000_001.000000005)
    # Zero copy: the view follows the ring's memory.
    assert isinstance(out[0][2], memoryview)
    ring[48 + MAC_OFF] = 0xAA
    assert out[0][2][0] == 0xAA


def test_walk_starts_at_the_block_offset() -> None:
    ring = bytearray(BLOCK) + block([pkt(FRAME)])
    out = walk_block(memoryview(ring), BLOCK, BLOCK, cooked=False)
    assert [bytes(p[2]) for p in out] == [FRAME]


def test_vlan_tag_is_reinserted_after_the_mac_addresses() -> None:
    ring = block(
        [
            pkt(FRAME, status=TP_STATUS_USER | TP_STATUS_VLAN_VALID, tci=0x2064),
            pkt(
                FRAME,
                status=TP_STATUS_USER | TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
                tci=7,
                tpid=0x88A8,
            ),
        ]
    )
    first, second = walk_block(memoryview(ring), 0, BLOCK, cooked=False)
    assert first[2] == FRAME[:12] + bytes.fromhex("81002064") + FRAME[12:]
    assert first[3] == len(FRAME) + 4
    assert second[2] == FRAME[:12] + bytes.fromhex("88a80007") + FRAME[12:]


def test_cooked_ip_is_raw_and_zero_copy() -> None:
    ip = FRAME[14:]
    ip6 = bytes.fromhex("6000000000083a40") + bytes(32) + bytes(8)
    ring = block([pkt(ip, hatype=ARPHRD_NONE), pkt(ip6, proto=ETH_P_IPV6, hatype=ARPHRD_NONE)])
    out = walk_block(memoryview(ring), 0, BLOCK, cooked=True)
    assert [(p[1], bytes(p[2]), p[3]) for p in out] == [
        (LINKTYPE_RAW, ip, len(ip)),
        (LINKTYPE_RAW, ip6, len(ip6)),
    ]
    assert all(isinstance(p[2], memoryview) for p in out)


def test_cooked_non_ip_gets_an_sll_header() -> None:
    arp = bytes.fromhex("0001080006040001") + bytes(20)
    ring = block([pkt(arp, proto=ETH_P_ARP, pkttype=1, wirelen=46)])
    (out,) = walk_block(memoryview(ring), 0, BLOCK, cooked=True)
    sll = bytes.fromhex("0001 0001 0006 020000000001 0000 0806".replace(" ", ""))
    assert out[1] == LINKTYPE_LINUX_SLL
    assert out[2] == sll + arp
    assert out[3] == 46 + 16


def test_cooked_vlan_tag_goes_into_the_sll_header() -> None:
    ip = FRAME[14:]
    ring = block([pkt(ip, status=TP_STATUS_USER | TP_STATUS_VLAN_VALID, tci=100)])
    (out,) = walk_block(memoryview(ring), 0, BLOCK, cooked=True)
    assert out[1] == LINKTYPE_LINUX_SLL
    assert out[2][14:20] == bytes.fromhex("8100 0064 0800".replace(" ", ""))
    assert out[2][20:] == ip
    assert out[3] == len(ip) + 20


def test_loopback_outgoing_copy_is_skipped_but_other_outgoing_kept() -> None:
    ring = block(
        [
            pkt(FRAME, hatype=ARPHRD_LOOPBACK, pkttype=PACKET_OUTGOING),
            pkt(FRAME, hatype=ARPHRD_LOOPBACK, pkttype=0),
            pkt(FRAME, hatype=ARPHRD_ETHER, pkttype=PACKET_OUTGOING),
        ]
    )
    assert len(walk_block(memoryview(ring), 0, BLOCK, cooked=False)) == 2
    assert len(walk_block(memoryview(ring), 0, BLOCK, cooked=True)) == 2


def test_empty_block() -> None:
    assert len(walk_block(memoryview(block([])), 0, BLOCK, cooked=False)) == 0


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: struct.pack_into("<I", b, 16, BLOCK - 20), "header outside"),
        (lambda b: struct.pack_into("<I", b, 48 + 12, BLOCK), "data outside"),
        (lambda b: struct.pack_into("<I", b, 48, BLOCK), "header outside"),
    ],
)
def test_corrupt_offsets_raise_capture_error(mutate: object, reason: str) -> None:
    ring = block([pkt(FRAME), pkt(FRAME)])
    assert callable(mutate)
    mutate(ring)
    with pytest.raises(CaptureError, match=reason):
        walk_block(memoryview(ring), 0, BLOCK, cooked=False)


def test_block_outside_the_ring() -> None:
    with pytest.raises(CaptureError):
        walk_block(memoryview(bytearray(100)), 0, BLOCK, cooked=False)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512), st.booleans())
def test_random_small_blocks_raise_only_capture_error(raw: bytes, cooked: bool) -> None:
    buf = raw.ljust(512, b"\0")
    try:
        out = walk_block(memoryview(buf), 0, 512, cooked)
    except CaptureError:
        return
    assert all(len(p[2]) <= 512 + 20 for p in out)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=12),
    st.booleans(),
)
def test_corrupted_real_blocks_raise_only_capture_error(
    edits: list[tuple[int, int]], cooked: bool
) -> None:
    ring = block([pkt(FRAME, status=TP_STATUS_USER | TP_STATUS_VLAN_VALID), pkt(FRAME)])
    for pos, value in edits:
        ring[pos] = value
    try:
        walk_block(memoryview(ring), 0, BLOCK, cooked)
    except CaptureError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=14, max_size=300), max_size=8), st.booleans())
def test_well_formed_blocks_round_trip(frames: list[bytes], cooked: bool) -> None:
    proto = ETH_P_IP if cooked else ETH_P_ARP
    ring = block([pkt(f, proto=proto) for f in frames])
    out = walk_block(memoryview(ring), 0, BLOCK, cooked)
    assert [bytes(p[2]) for p in out] == frames


@pytest.mark.parametrize(
    ("hatype", "linktype"),
    [
        (1, LINKTYPE_ETHERNET),  # ARPHRD_ETHER
        (772, LINKTYPE_ETHERNET),  # ARPHRD_LOOPBACK
        (0xFFFE, LINKTYPE_RAW),  # ARPHRD_NONE: tun, WireGuard
        (512, LINKTYPE_RAW),  # ARPHRD_PPP
        (519, LINKTYPE_RAW),  # ARPHRD_RAWIP
        (776, LINKTYPE_RAW),  # ARPHRD_SIT
        (32, LINKTYPE_LINUX_SLL),  # ARPHRD_INFINIBAND
        (803, LINKTYPE_LINUX_SLL),  # ARPHRD_IEEE80211_RADIOTAP
    ],
)
def test_hatype_mapping(hatype: int, linktype: int) -> None:
    assert linktype_for_hatype(hatype) == linktype
