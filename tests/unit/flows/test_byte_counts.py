"""IP-layer and payload byte counts per direction (Zeek's orig_ip_bytes / orig_bytes).

Checked on both paths (the batch fast path and the general per-packet one), and against
Zeek's own conn.log in tests/unit/export/test_zeek_baselines.py.
"""

from __future__ import annotations

import struct
from typing import Any

import dpkt
import pytest

from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from netwatch.model.frames import FrameBlock
from tests.util import build

C, S = "198.18.0.1", "198.18.0.2"
C6, S6 = "fd00::1", "fd00::2"


def records(packets: list[tuple[float, bytes]], fast: bool) -> list[dict[str, Any]]:
    tr = Tracker()
    for ts, frame in packets:
        if fast:
            tr.packets_batch(FrameBlock([(ts, 1, frame, 0, len(frame), len(frame))]))
        else:
            tr.packet(ts, 1, frame, len(frame))
    return [view(tr, c, tr.now).to_record() for c in tr.table.values()]


def counts(rec: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        rec["ip_bytes_out"],
        rec["ip_bytes_in"],
        rec["payload_bytes_out"],
        rec["payload_bytes_in"],
    )


def tcp_session(c: str, s: str, up: list[bytes], down: list[bytes]) -> list[tuple[float, bytes]]:
    """A whole TCP connection: handshake, the client's then the server's data, FINs."""
    t, cs, ss = 1.0, 1000, 5000
    out = [
        (t, build.tcp(c, 40000, s, 80, "S", seq=cs)),
        (t + 0.01, build.tcp(s, 80, c, 40000, "SA", seq=ss, ack=cs + 1)),
        (t + 0.02, build.tcp(c, 40000, s, 80, "A", seq=cs + 1, ack=ss + 1)),
    ]
    cs, ss, t = cs + 1, ss + 1, t + 0.02
    for data in up:
        t += 0.01
        out.append((t, build.tcp(c, 40000, s, 80, "PA", seq=cs, ack=ss, payload=data)))
        cs += len(data)
    for data in down:
        t += 0.01
        out.append((t, build.tcp(s, 80, c, 40000, "PA", seq=ss, ack=cs, payload=data)))
        ss += len(data)
    out += [
        (t + 0.01, build.tcp(c, 40000, s, 80, "FA", seq=cs, ack=ss)),
        (t + 0.02, build.tcp(s, 80, c, 40000, "FA", seq=ss, ack=cs + 1)),
        (t + 0.03, build.tcp(c, 40000, s, 80, "A", seq=cs + 1, ack=ss + 1)),
    ]
    return out


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize(("c", "s", "hdr"), [(C, S, 40), (C6, S6, 60)], ids=["v4", "v6"])
def test_tcp_counts_sequence_space_less_syn_and_fin(fast: bool, c: str, s: str, hdr: int) -> None:
    up, down = [b"a" * 100, b"b" * 50], [b"c" * 1000]
    (rec,) = records(tcp_session(c, s, up, down), fast)
    # Packets out: SYN, ACK, 2 data, FIN, last ACK; in: SYN-ACK, data, FIN.
    assert counts(rec) == (6 * hdr + 150, 3 * hdr + 1000, 150, 1000)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
def test_tcp_retransmission_is_not_payload_twice(fast: bool) -> None:
    pkts = tcp_session(C, S, [b"x" * 300], [])
    again = pkts[3]  # the data segment, sent once more
    pkts.insert(4, (again[0] + 0.001, again[1]))
    (rec,) = records(pkts, fast)
    assert rec["retransmits"] == 1
    assert rec["payload_bytes_out"] == 300
    assert rec["ip_bytes_out"] == 6 * 40 + 600  # the IP layer saw it twice


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
def test_tcp_bytes_acknowledged_but_not_captured_count(fast: bool) -> None:
    pkts = tcp_session(C, S, [b"x" * 200, b"y" * 200], [])
    del pkts[4]  # the second data segment never reached the capture; the FIN's seq says so
    (rec,) = records(pkts, fast)
    assert rec["payload_bytes_out"] == 400
    assert rec["ip_bytes_out"] == 5 * 40 + 200


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
def test_tcp_picked_up_counts_from_the_first_byte_seen(fast: bool) -> None:
    pkts = [
        (1.0, build.tcp(C, 40000, S, 80, "PA", seq=7000, ack=9000, payload=b"q" * 120)),
        (1.1, build.tcp(S, 80, C, 40000, "PA", seq=9000, ack=7120, payload=b"r" * 80)),
        (1.2, build.tcp(C, 40000, S, 80, "A", seq=7120, ack=9080)),
    ]
    (rec,) = records(pkts, fast)
    assert rec["picked_up"] is True
    assert counts(rec) == (2 * 40 + 120, 40 + 80, 120, 80)


def test_a_reset_without_ack_is_no_acknowledgement() -> None:
    """A RST's ack field means nothing without the ACK flag (here: garbage)."""
    pkts = [
        (1.0, build.tcp(C, 40000, S, 80, "S", seq=100)),
        (1.1, build.tcp(S, 80, C, 40000, "SA", seq=5000, ack=101)),
        (1.2, build.tcp(C, 40000, S, 80, "R", seq=101, ack=0x7ABCDEF0)),
    ]
    (rec,) = records(pkts, False)
    assert counts(rec) == (80, 40, 0, 0)


def test_tcp_payload_past_4_gib_is_not_wrapped() -> None:
    tr = Tracker()
    for ts, frame in tcp_session(C, S, [b"x" * 1000], []):
        tr.packet(ts, 1, frame, len(frame))
    (c,) = tr.table.values()
    # As if 4 GiB + 1000 bytes had gone by: the 32-bit sequence space came round once.
    c.pk0 += 3_000_000
    c.ipb0 += (1 << 32) + 3_000_000 * 40
    assert view(tr, c, tr.now).to_record()["payload_bytes_out"] == (1 << 32) + 1000


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize(("c", "s", "hdr"), [(C, S, 28), (C6, S6, 48)], ids=["v4", "v6"])
def test_udp_payload_is_ip_bytes_less_headers(fast: bool, c: str, s: str, hdr: int) -> None:
    pkts = [
        (1.0, build.udp(c, 5353, s, 53, b"q" * 30)),
        (1.1, build.udp(s, 53, c, 5353, b"r" * 70)),
        (1.2, build.udp(c, 5353, s, 53, b"")),
    ]
    (rec,) = records(pkts, fast)
    assert counts(rec) == (2 * hdr + 30, hdr + 70, 30, 70)


def test_udp_with_ip_options_counts_options_as_header() -> None:
    u = dpkt.udp.UDP(sport=5000, dport=53, data=b"z" * 40)
    u.ulen = 48
    ip = dpkt.ip.IP(src=build._ip(C), dst=build._ip(S), p=17, ttl=64, data=u)
    ip.opts = b"\x94\x04\x00\x00"  # Router Alert, 4 bytes
    ip.hl = 6
    ip.len = 24 + 48
    frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + bytes(ip)
    plain = build.udp(C, 5000, S, 53, b"z" * 40)
    for fast in (True, False):
        (rec,) = records([(1.0, frame), (1.1, plain)], fast)
        assert counts(rec)[::2] == (72 + 68, 80)


def test_fragments_count_the_reassembled_datagram() -> None:
    payload = b"f" * 3000
    u = dpkt.udp.UDP(sport=5000, dport=9999, data=payload)
    u.ulen = 8 + len(payload)
    body = bytes(u)
    frames = []
    for off in range(0, len(body), 1480):
        part = body[off : off + 1480]
        more = off + 1480 < len(body)
        hdr = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(part), 77, (0x2000 if more else 0) | off // 8,
            64, 17, 0, build._ip(C), build._ip(S),
        )  # fmt: skip
        frames.append(b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + hdr + part)
    (rec,) = records([(1.0 + i / 100, f) for i, f in enumerate(frames)], False)
    assert (rec["ip_bytes_out"], rec["payload_bytes_out"]) == (20 + 8 + 3000, 3000)


@pytest.mark.parametrize("c", [C, C6], ids=["v4", "v6"])
def test_icmp_payload_follows_the_8_byte_header(c: str) -> None:
    s = S if c == C else S6
    pkts = [(1.0, build.icmp_echo(c, s, 7, 1)), (1.1, build.icmp_echo(s, c, 7, 1, reply=True))]
    (rec,) = records(pkts, False)
    hdr = 20 if c == C else 40
    # Echo data: identifier and sequence (4 bytes, part of the 8-byte header) + 8 bytes.
    assert counts(rec) == (hdr + 16, hdr + 16, 8, 8)


def test_arp_has_no_ip_counts() -> None:
    arp = dpkt.arp.ARP(
        op=dpkt.arp.ARP_OP_REQUEST, sha=b"\x02" * 6, spa=build._ip(C), tha=b"\0" * 6,
        tpa=build._ip(S),
    )  # fmt: skip
    frame = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(arp)
    (rec,) = records([(1.0, frame)], False)
    assert "ip_bytes_out" not in rec and "payload_bytes_out" not in rec


def test_inbound_rows_turn_the_counts_around() -> None:
    """Live, the remote side opened it: out/in follow the local side, as every counter."""
    tr = Tracker(live=True)
    tr.set_local_addresses([build._ip(S)])
    for ts, frame in tcp_session(C, S, [b"u" * 10], [b"d" * 20]):
        tr.packet(ts, 1, frame, len(frame))
    (c,) = tr.table.values()
    rec = view(tr, c, tr.now).to_record()
    assert rec["initiator"] == "remote"
    assert (rec["payload_bytes_out"], rec["payload_bytes_in"]) == (20, 10)
