"""Transport headers: TCP (RFC 9293 §3.1), UDP (RFC 768), ICMP (RFC 792), ICMPv6 (RFC 4443,
NDP RFC 4861), IGMP (RFC 3376) and ARP (RFC 826).

TCP example: ``c0de 01bb 00000001 00000000 a002 faf0 0000 0000`` + options = port 49374 →
443, seq 1, SYN, window 64240, data offset 10 words (40 bytes with options).
"""

from __future__ import annotations

import struct

from netwatch.errors import DecodeError

_TCP = struct.Struct("!HHIIBBH")
_UDP = struct.Struct("!HHH")
_ARP = struct.Struct("!HHBBH")

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80


def tcp(d: bytes | memoryview, off: int, end: int) -> tuple[int, int, int, int, int, int, int]:
    """Returns (sport, dport, seq, ack, flags, window, payload_off)."""
    if end - off < 20:
        raise DecodeError("tcp-truncated")
    sport, dport, seq, ack, doff, flags, win = _TCP.unpack_from(d, off)
    hl = (doff >> 4) * 4
    if hl < 20:
        raise DecodeError("tcp-bad-data-offset")
    if off + hl > end:
        raise DecodeError("tcp-truncated-options")
    return sport, dport, seq, ack, flags, win, off + hl


def tcp_options(d: bytes | memoryview, off: int, end: int) -> dict[str, int]:
    """MSS, window scale, SACK-permitted and timestamps of a TCP header's options (cold path)."""
    out: dict[str, int] = {}
    pos = off
    while pos < end:
        kind = d[pos]
        if kind == 0:
            break
        if kind == 1:
            pos += 1
            continue
        if pos + 2 > end:
            break
        ln = d[pos + 1]
        if ln < 2 or pos + ln > end:
            break
        if kind == 2 and ln == 4:
            out["mss"] = (d[pos + 2] << 8) | d[pos + 3]
        elif kind == 3 and ln == 3:
            out["wscale"] = d[pos + 2]
        elif kind == 4:
            out["sack_permitted"] = 1
        elif kind == 8 and ln == 10:
            out["tsval"], out["tsecr"] = struct.unpack_from("!II", d, pos + 2)
        pos += ln
    return out


def udp(d: bytes | memoryview, off: int, end: int) -> tuple[int, int, int]:
    """Returns (sport, dport, payload_end) honouring the UDP length field."""
    if end - off < 8:
        raise DecodeError("udp-truncated")
    sport, dport, length = _UDP.unpack_from(d, off)
    if length >= 8:
        end = min(end, off + length)
    return sport, dport, end


def icmp(d: bytes | memoryview, off: int, end: int) -> tuple[int, int, int, int]:
    """ICMP/ICMPv6: (type, code, echo_id, echo_seq); id/seq are 0 for non-echo types."""
    if end - off < 4:
        raise DecodeError("icmp-truncated")
    t, c = d[off], d[off + 1]
    ident = seq = 0
    if end - off >= 8:
        ident = (d[off + 4] << 8) | d[off + 5]
        seq = (d[off + 6] << 8) | d[off + 7]
    return t, c, ident, seq


ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
NDP_TYPES = {
    133: "router-solicit",
    134: "router-advert",
    135: "neighbor-solicit",
    136: "neighbor-advert",
    137: "redirect",
}
IGMP_TYPES = {
    0x11: "membership-query",
    0x12: "v1-report",
    0x16: "v2-report",
    0x17: "leave-group",
    0x22: "v3-report",
}


def arp(d: bytes | memoryview, off: int) -> tuple[int, bytes, bytes, bytes, bytes]:
    """Ethernet/IPv4 ARP: (opcode, sender_mac, sender_ip, target_mac, target_ip)."""
    if len(d) < off + 8:
        raise DecodeError("arp-truncated")
    htype, ptype, hlen, plen, op = _ARP.unpack_from(d, off)
    if hlen != 6 or plen != 4 or ptype != 0x0800:
        raise DecodeError("arp-unsupported", f"htype={htype} ptype={ptype:#x}")
    if len(d) < off + 28:
        raise DecodeError("arp-truncated")
    p = off + 8
    return (
        op,
        bytes(d[p : p + 6]),
        bytes(d[p + 6 : p + 10]),
        bytes(d[p + 10 : p + 16]),
        bytes(d[p + 16 : p + 20]),
    )
