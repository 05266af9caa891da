"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers, with IPv6 extension headers.

``ipv4(d, off)`` / ``ipv6(d, off)`` return an :class:`IPInfo`-shaped tuple:
``(src, dst, proto, l4_off, l4_end, frag)`` where ``frag`` is None for an unfragmented
datagram, else ``(ident, offset_bytes, more_fragments)``.

IPv4 example: ``45 00 0054 1c46 4000 40 01 b1e6 c0a80001 c0a800c7`` = 84 bytes, DF, TTL 64,
ICMP, 192.168.0.1 → 192.168.0.199. ``l4_end`` honours the total-length field (Ethernet
padding after it is ignored); a total length beyond the captured bytes is clipped to what was
captured (snaplen), so counters use the wire length separately.
"""

from __future__ import annotations

import struct

from netwatch.errors import DecodeError

_V4 = struct.Struct("!BBHHHBBH4s4s")
_V6 = struct.Struct("!IHBB16s16s")

# Extension headers that share the (next header, length in 8-octet units) layout.
_EXT_GENERIC = frozenset(
    (0, 43, 60, 135, 139, 140)
)  # hop-by-hop, routing, dstopts, mobility, HIP, shim6
_EXT_FRAGMENT = 44
_EXT_AH = 51
_NO_NEXT = 59
MAX_EXT_HEADERS = 8

Frag = tuple[int, int, bool]
#: (src, dst, proto, l4_off, l4_end, frag, ttl or hop limit, length): ``length`` is the
#: datagram's from its header (IPv4 total length, IPv6 40 + payload length), or what was
#: captured when the header says 0 (as TSO writes); ``l4_end`` is cut to what was captured.
IPHeader = tuple[bytes, bytes, int, int, int, Frag | None, int, int]


def ipv4(d: bytes | memoryview, off: int) -> IPHeader:
    """Returns (src, dst, proto, l4_off, l4_end, frag, ttl, length): see ``IPHeader``."""
    if len(d) < off + 20:
        raise DecodeError("ipv4-truncated")
    vihl, _tos, total, ident, fragf, ttl, proto, _csum, src, dst = _V4.unpack_from(d, off)
    if vihl >> 4 != 4:
        raise DecodeError("ipv4-bad-version")
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        raise DecodeError("ipv4-bad-header-length")
    if len(d) < off + ihl:
        raise DecodeError("ipv4-truncated-options")
    if total < ihl:
        # TSO/GSO on the capturing host can write 0 here; trust the captured length.
        if total != 0:
            raise DecodeError("ipv4-bad-total-length")
        total = len(d) - off
    end = min(off + total, len(d))
    frag_off = (fragf & 0x1FFF) * 8
    more = bool(fragf & 0x2000)
    frag = (ident, frag_off, more) if (frag_off or more) else None
    return src, dst, proto, off + ihl, end, frag, ttl, total


def ipv6(d: bytes | memoryview, off: int) -> IPHeader:
    """Returns (src, dst, proto, l4_off, l4_end, frag, hop_limit, length) (see ``IPHeader``);
    walks extension headers."""
    if len(d) < off + 40:
        raise DecodeError("ipv6-truncated")
    vtcfl, plen, nxt, hlim, src, dst = _V6.unpack_from(d, off)
    if vtcfl >> 28 != 6:
        raise DecodeError("ipv6-bad-version")
    end = off + 40 + plen
    if plen == 0:  # jumbogram or TSO: use what was captured
        end = len(d)
    end = min(end, len(d))
    pos = off + 40
    frag: Frag | None = None
    for _ in range(MAX_EXT_HEADERS):
        if nxt in _EXT_GENERIC:
            if pos + 8 > end:
                raise DecodeError("ipv6-ext-truncated")
            nxt2 = d[pos]
            pos += (d[pos + 1] + 1) * 8
            nxt = nxt2
        elif nxt == _EXT_FRAGMENT:
            if pos + 8 > end:
                raise DecodeError("ipv6-frag-truncated")
            nxt2 = d[pos]
            offm = (d[pos + 2] << 8) | d[pos + 3]
            ident = int.from_bytes(d[pos + 4 : pos + 8], "big")
            if (offm & 0xFFF8) or (offm & 1):
                frag = (ident, offm & 0xFFF8, bool(offm & 1))
            pos += 8
            nxt = nxt2
            if frag is not None:
                break  # the rest belongs to the reassembled payload
        elif nxt == _EXT_AH:
            if pos + 8 > end:
                raise DecodeError("ipv6-ah-truncated")
            nxt2 = d[pos]
            pos += (d[pos + 1] + 2) * 4
            nxt = nxt2
        else:
            break
    else:
        raise DecodeError("ipv6-too-many-extension-headers")
    if pos > end:
        raise DecodeError("ipv6-ext-truncated")
    return src, dst, nxt, pos, end, frag, hlim, 40 + plen if plen else end - off
