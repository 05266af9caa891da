"""Link layers: Ethernet II (+802.1Q/802.1ad VLAN stacks), Linux SLL/SLL2, BSD NULL/LOOP, raw IP.

Each ``*_l3`` function returns ``(ethertype, l3_offset, vlan)`` where ``vlan`` is None, the
802.1Q VLAN id, or for stacked tags (QinQ) the tuple of ids, outer first. Layouts (bytes):

* Ethernet: dst(6) src(6) type(2); type 0x8100/0x88a8/0x9100 = tag: TCI(2) type(2);
  then optionally PPPoE session (0x8864) or an MPLS label stack (0x8847).
  Example ``ffffffffffff 001122334455 8100 0064 0800`` = VLAN 100 carrying IPv4.
* SLL (LINKTYPE_LINUX_SLL, 16 bytes): pkttype(2) hatype(2) halen(2) addr(8) protocol(2).
* SLL2 (LINKTYPE_LINUX_SLL2, 20 bytes): protocol(2) reserved(2) ifindex(4) hatype(2)
  pkttype(1) halen(1) addr(8).
* NULL (0): 4-byte address family in the *writer's* byte order: 2 = IPv4; 24/28/30 = IPv6
  (the BSDs disagree); LOOP (108) is the same in network order.
"""

from __future__ import annotations

from netwatch.errors import DecodeError

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
PPPOE_SESSION = 0x8864
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
MPLS_UNICAST, MPLS_MULTICAST = 0x8847, 0x8848
VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
MAX_VLAN_DEPTH = 4

_AF_INET6 = frozenset((10, 24, 28, 30))

#: None, a VLAN id, or a stack of ids (outer first) for QinQ.
Vlan = int | tuple[int, ...] | None


def ethernet_l3(d: bytes | memoryview, off: int = 0) -> tuple[int, int, Vlan]:
    if len(d) < off + 14:
        raise DecodeError("ethernet-truncated")
    etype = (d[off + 12] << 8) | d[off + 13]
    off += 14
    vlan: Vlan = None
    depth = 0
    while etype in VLAN_TYPES:
        if len(d) < off + 4 or depth >= MAX_VLAN_DEPTH:
            raise DecodeError("vlan-truncated")
        vid = ((d[off] << 8) | d[off + 1]) & 0x0FFF
        # One tag: its id; QinQ and deeper: the whole stack, outer first (a stack is a
        # different flow from its outer tag alone, as Suricata counts them).
        vlan = vid if vlan is None else (vlan, vid) if isinstance(vlan, int) else (*vlan, vid)
        etype = (d[off + 2] << 8) | d[off + 3]
        off += 4
        depth += 1
    if etype == PPPOE_SESSION:
        # RFC 2516: ver/type(1) code(1) session(2) length(2), then the PPP protocol (2).
        if len(d) < off + 8:
            raise DecodeError("pppoe-truncated")
        ppp = (d[off + 6] << 8) | d[off + 7]
        off += 8
        if ppp == PPP_IPV4:
            return ETH_IPV4, off, vlan
        if ppp == PPP_IPV6:
            return ETH_IPV6, off, vlan
        raise DecodeError("pppoe-unsupported-protocol", f"{ppp:#06x}")
    if etype == MPLS_UNICAST or etype == MPLS_MULTICAST:
        # RFC 3032: 4-byte label entries until the bottom-of-stack bit; IP version follows.
        for _ in range(MAX_VLAN_DEPTH * 2):
            if len(d) < off + 4:
                raise DecodeError("mpls-truncated")
            bottom = d[off + 2] & 0x01
            off += 4
            if bottom:
                et, _o, _v = raw_l3(d[off:])
                return et, off, vlan
        raise DecodeError("mpls-too-deep")
    return etype, off, vlan


def sll_l3(d: bytes | memoryview) -> tuple[int, int, Vlan]:
    """SLL; a VLAN-tagged packet (protocol 0x8100/0x88a8, as libpcap and the AF_PACKET
    source write them on ``any``) carries the tag, then the real protocol."""
    if len(d) < 16:
        raise DecodeError("sll-truncated")
    etype = (d[14] << 8) | d[15]
    if etype not in VLAN_TYPES:
        return etype, 16, None
    # Re-use the Ethernet tag walker: it reads the type at offset+12 and tags after it.
    return ethernet_l3(d, 2)


def sll2_l3(d: bytes | memoryview) -> tuple[int, int, int | None]:
    if len(d) < 20:
        raise DecodeError("sll2-truncated")
    return (d[0] << 8) | d[1], 20, None


def null_l3(d: bytes | memoryview, network_order: bool) -> tuple[int, int, int | None]:
    if len(d) < 4:
        raise DecodeError("null-truncated")
    if network_order:
        fam = int.from_bytes(d[0:4], "big")
    else:
        # The writer's host order is unknown: a family fits in the low byte either way.
        fam = d[0] if d[0] else d[3]
    if fam == 2:
        return ETH_IPV4, 4, None
    if fam in _AF_INET6:
        return ETH_IPV6, 4, None
    raise DecodeError("null-unknown-family", str(fam))


def raw_l3(d: bytes | memoryview) -> tuple[int, int, int | None]:
    if not len(d):
        raise DecodeError("raw-empty")
    v = d[0] >> 4
    if v == 4:
        return ETH_IPV4, 0, None
    if v == 6:
        return ETH_IPV6, 0, None
    raise DecodeError("raw-unknown-version", str(v))
