"""From link-layer bytes to a :class:`Packet`: the decoder's one entry point.

``decode(linktype, data)`` walks link → (VLAN) → IPv4/IPv6 (extension headers, IP-in-IP
and 6in4 tunnels one level deep) → TCP/UDP/ICMP/ICMPv6/IGMP, or ARP. A fragment comes back
with ``frag`` set and its payload in ``payload``; the caller reassembles (fragments.py)
and calls :func:`decode_l4` on the whole datagram. A truncated or malformed header raises
:class:`DecodeError` with a stable reason token, which the engine counts and skips.

This is the per-packet hot path: one object per packet, attribute sets only for the
layers present, ``struct`` through per-module precompiled layouts. Measured in
benchmarks/bench_analyze.py.
"""

from __future__ import annotations

from netwatch.decode import ip as _ip
from netwatch.decode import l4 as _l4
from netwatch.decode import link as _link
from netwatch.errors import DecodeError
from netwatch.model.linktype import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_RAW_ALIASES,
)

PROTO_ICMP, PROTO_IGMP, PROTO_IPIP, PROTO_TCP, PROTO_UDP, PROTO_IPV6 = 1, 2, 4, 6, 17, 41
PROTO_ICMPV6 = 58
PROTO_NAMES = {
    PROTO_ICMP: "icmp",
    PROTO_IGMP: "igmp",
    PROTO_TCP: "tcp",
    PROTO_UDP: "udp",
    PROTO_ICMPV6: "icmpv6",
    132: "sctp",
    47: "gre",
    50: "esp",
    51: "ah",
}

KIND_IP, KIND_ARP = 1, 2


class Packet:
    """Decoded headers of one packet. Addresses are raw ``bytes`` (4 or 16)."""

    __slots__ = (
        "ack",
        "arp_op",
        "dport",
        "dst",
        "flags",
        "frag",
        "icmp_code",
        "icmp_id",
        "icmp_seq",
        "icmp_type",
        "iphl",
        "iplen",
        "ipver",
        "kind",
        "mac_dst",
        "mac_src",
        "payload",
        "proto",
        "seq",
        "sport",
        "src",
        "tcp_hdr",
        "ttl",
        "vlan",
        "win",
    )

    def __init__(self) -> None:
        self.kind = KIND_IP
        self.vlan: _link.Vlan = None
        self.ipver = 0
        # The IP datagram's length from its header (IPv4 total length, IPv6 40 + payload
        # length; what was captured when the header says 0, as TSO writes), and its header
        # length with options or extension headers: Zeek's ip_bytes, and the payload
        # lengths derived from them.
        self.iplen = 0
        self.iphl = 0
        self.src = b""
        self.dst = b""
        self.proto = 0
        self.sport = 0
        self.dport = 0
        self.flags = 0
        self.seq = 0
        self.ack = 0
        self.win = 0
        self.payload: bytes | memoryview = b""
        self.frag: tuple[int, int, bool] | None = None
        self.ttl = 0
        self.icmp_type = -1
        self.icmp_code = -1
        self.icmp_id = 0
        self.icmp_seq = 0
        self.arp_op = 0
        self.mac_src = b""
        self.mac_dst = b""
        self.tcp_hdr: tuple[int, int] | None = None  # (offset, end) of TCP options, cold use


def _l3(linktype: int, d: bytes | memoryview) -> tuple[int, int, _link.Vlan]:
    if linktype == LINKTYPE_ETHERNET:
        return _link.ethernet_l3(d)
    if linktype == LINKTYPE_RAW or linktype in LINKTYPE_RAW_ALIASES:
        return _link.raw_l3(d)
    if linktype == LINKTYPE_LINUX_SLL:
        return _link.sll_l3(d)
    if linktype == LINKTYPE_LINUX_SLL2:
        return _link.sll2_l3(d)
    if linktype == LINKTYPE_NULL:
        return _link.null_l3(d, network_order=False)
    if linktype == LINKTYPE_LOOP:
        return _link.null_l3(d, network_order=True)
    if linktype == LINKTYPE_IPV4:
        return _link.ETH_IPV4, 0, None
    if linktype == LINKTYPE_IPV6:
        return _link.ETH_IPV6, 0, None
    raise DecodeError("unsupported-linktype", str(linktype))


def decode(linktype: int, d: bytes | memoryview) -> Packet:
    etype, off, vlan = _l3(linktype, d)
    p = Packet()
    p.vlan = vlan
    if etype == _link.ETH_IPV4 or etype == _link.ETH_IPV6:
        _decode_ip(p, d, off, etype == _link.ETH_IPV6, 0)
        return p
    if etype == _link.ETH_ARP:
        p.kind = KIND_ARP
        p.arp_op, p.mac_src, p.src, p.mac_dst, p.dst = _l4.arp(d, off)
        p.ipver = 4
        return p
    raise DecodeError("unsupported-ethertype", f"{etype:#06x}")


def _decode_ip(p: Packet, d: bytes | memoryview, off: int, v6: bool, depth: int) -> None:
    if v6:
        src, dst, proto, l4off, end, frag, ttl, p.iplen = _ip.ipv6(d, off)
        p.ipver = 6
    else:
        src, dst, proto, l4off, end, frag, ttl, p.iplen = _ip.ipv4(d, off)
        p.ipver = 4
    p.iphl = l4off - off
    if (proto == PROTO_IPIP or proto == PROTO_IPV6) and frag is None and depth == 0:
        # IP-in-IP / 6in4 (RFC 4213): the inner datagram is the connection.
        _decode_ip(p, d, l4off, proto == PROTO_IPV6, 1)
        return
    p.src = src
    p.dst = dst
    p.proto = proto
    p.ttl = ttl
    if frag is not None:
        p.frag = frag
        p.payload = bytes(d[l4off:end])
        return
    decode_l4(p, d, l4off, end)


def decode_l4(p: Packet, d: bytes | memoryview, off: int, end: int) -> None:
    """Fill the transport fields of ``p`` from ``d[off:end]`` (also after reassembly)."""
    proto = p.proto
    if proto == PROTO_TCP:
        p.sport, p.dport, p.seq, p.ack, p.flags, p.win, poff = _l4.tcp(d, off, end)
        p.tcp_hdr = (off + 20, poff)
        p.payload = d[poff:end]
    elif proto == PROTO_UDP:
        p.sport, p.dport, pend = _l4.udp(d, off, end)
        p.payload = d[off + 8 : pend]
    elif proto == PROTO_ICMP or proto == PROTO_ICMPV6:
        p.icmp_type, p.icmp_code, p.icmp_id, p.icmp_seq = _l4.icmp(d, off, end)
        p.payload = d[off:end]
    elif proto == PROTO_IGMP:
        if end - off < 1:
            raise DecodeError("igmp-truncated")
        p.icmp_type = d[off]
        p.payload = d[off:end]
    else:
        p.payload = d[off:end]
