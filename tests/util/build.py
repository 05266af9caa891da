"""Build test packets and capture files (dpkt for the headers: a cold test path)."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dpkt

LINKTYPE_ETHERNET = 1


def _ip(addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)


def tcp(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: str = "A",
    seq: int = 1000,
    ack: int = 0,
    payload: bytes = b"",
    win: int = 65535,
    vlan: int | None = None,
) -> bytes:
    fl = 0
    for ch, bit in (("F", 1), ("S", 2), ("R", 4), ("P", 8), ("A", 16)):
        if ch in flags:
            fl |= bit
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=fl, win=win, data=payload)
    return _wrap(src, dst, dpkt.ip.IP_PROTO_TCP, t, vlan)


def udp(
    src: str, sport: int, dst: str, dport: int, payload: bytes = b"", vlan: int | None = None
) -> bytes:
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    u.ulen = 8 + len(payload)
    return _wrap(src, dst, dpkt.ip.IP_PROTO_UDP, u, vlan)


def icmp_echo(src: str, dst: str, ident: int, seq: int, reply: bool = False) -> bytes:
    v6 = ":" in src
    if v6:
        t = 129 if reply else 128
        ic = dpkt.icmp6.ICMP6(type=t, code=0, data=struct.pack("!HH", ident, seq) + b"x" * 8)
        return _wrap(src, dst, dpkt.ip.IP_PROTO_ICMP6, ic, None)
    t = 0 if reply else 8
    ic = dpkt.icmp.ICMP(type=t, code=0, data=struct.pack("!HH", ident, seq) + b"x" * 8)
    return _wrap(src, dst, dpkt.ip.IP_PROTO_ICMP, ic, None)


def _wrap(src: str, dst: str, proto: int, l4: dpkt.Packet, vlan: int | None) -> bytes:
    if ":" in src:
        ip6 = dpkt.ip6.IP6(src=_ip(src), dst=_ip(dst), nxt=proto, hlim=64, data=l4)
        ip6.plen = len(bytes(l4))
        etype, l3 = dpkt.ethernet.ETH_TYPE_IP6, bytes(ip6)
    else:
        ip4 = dpkt.ip.IP(src=_ip(src), dst=_ip(dst), p=proto, ttl=64, data=l4)
        ip4.len = 20 + len(bytes(l4))
        etype, l3 = dpkt.ethernet.ETH_TYPE_IP, bytes(ip4)
    head = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, vlan)
    return head + struct.pack("!H", etype) + l3


def write_pcap(
    path: Path,
    packets: list[tuple[float, bytes]],
    linktype: int = 1,
    nanos: bool = False,
    big_endian: bool = False,
) -> Path:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = bytearray(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
    for ts, data in packets:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanos else 1e6))
        out += struct.pack(e + "IIII", sec, frac, len(data), len(data)) + data
    path.write_bytes(bytes(out))
    return path


def write_pcapng(
    path: Path,
    packets: list[tuple[float, int, bytes]],
    interfaces: list[tuple[int, int]],
    big_endian: bool = False,
    between: dict[int, list[tuple[int, bytes]]] | None = None,
) -> Path:
    """``interfaces``: (linktype, tsresol exponent of 10); ``packets``: (ts, ifid, data).

    ``between``: other blocks (type, body) written before the packet of that index (a
    Simple Packet Block is type 3 with body ``original length | data``)."""
    e = ">" if big_endian else "<"

    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)

    out = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt, res in interfaces:
        opt = struct.pack(e + "HHB3x", 9, 1, res) + struct.pack(e + "HH", 0, 0)
        out += block(1, struct.pack(e + "HHI", lt, 0, 262144) + opt)
    for i, (ts, ifid, data) in enumerate(packets):
        for btype, body in (between or {}).get(i, []):
            out += block(btype, body)
        res = interfaces[ifid][1]
        units = round(ts * 10**res)
        body = struct.pack(e + "IIIII", ifid, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
        out += block(6, body + data)
    path.write_bytes(out)
    return path
