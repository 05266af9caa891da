"""QUIC packet headers and coalesced datagrams (RFC 9000 §16, §17, §12.2; RFC 8999).

Long header (§17.2), all versions; the type bits are version specific (RFC 9369 §3.2)::

    1 F TT xxxx      first byte: form=1, fixed bit, type, type-specific (protected)
    version          32 bits (0 = Version Negotiation)
    dcid_len dcid    8 bits + 0..20 bytes (0..255 for unknown versions, RFC 8999)
    scid_len scid
    [token_len token]    Initial only, token_len a varint
    length           varint: packet number + payload bytes
    packet number    1..4 bytes (protected)

    c3 00000001 08 8394c8f03e515708 00 00 449e 00000002 ...   (RFC 9001 A.2, unprotected)

Short header (§17.3): ``0 1 S RR K PP`` then the DCID (its length is known only to the
endpoints) and the packet number; it runs to the end of the datagram.

A datagram may hold several coalesced packets (§12.2): each long header's Length ends it.
The first packet must parse; bytes after the last good packet that do not form a packet
of the same connection (zero padding, garbage) are returned as the unparsed rest.
"""

from __future__ import annotations

from typing import NamedTuple

from netwatch.dpi.quic.versions import NEGOTIATION, VERSIONS, PacketType, lookup
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"
MAX_CID_LEN = 20  # RFC 9000 §17.2 for the versions we know
RETRY_TAG_LEN = 16


class Buffer:
    """A bounded cursor over bytes: every pull checks its end (aioquic's ``Buffer`` idea)."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def _need(self, n: int, what: str) -> int:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise MalformedError(PROTOCOL, f"{what}: truncated")
        self.pos = p + n
        return p

    def eof(self) -> bool:
        return self.pos >= self.end

    def u8(self, what: str = "uint8") -> int:
        return self.data[self._need(1, what)]

    def u32(self, what: str = "uint32") -> int:
        p = self._need(4, what)
        return int.from_bytes(self.data[p : p + 4], "big")

    def take(self, n: int, what: str = "bytes") -> bytes:
        p = self._need(n, what)
        return self.data[p : p + n]

    def varint(self, what: str = "varint") -> int:
        """RFC 9000 §16: the two high bits of the first byte give the length (1/2/4/8)."""
        value, self.pos = read_varint(self.data, self.pos, self.end, what)
        return value


#: Value bits of a varint by its encoded size.
_VARINT_MASKS = {1: 0x3F, 2: 0x3FFF, 4: 0x3FFFFFFF, 8: 0x3FFFFFFFFFFFFFFF}


def read_varint(data: bytes, pos: int, end: int, what: str = "varint") -> tuple[int, int]:
    """The varint at ``data[pos]`` (RFC 9000 §16) and the position after it, never past
    ``end``. A function on (data, pos) rather than a Buffer method: hot loops call it."""
    if pos >= end:
        raise MalformedError(PROTOCOL, f"{what}: truncated")
    first = data[pos]
    if first < 0x40:
        return first, pos + 1
    size = 1 << (first >> 6)
    stop = pos + size
    if stop > end:
        raise MalformedError(PROTOCOL, f"{what}: truncated")
    return int.from_bytes(data[pos:stop], "big") & _VARINT_MASKS[size], stop


def encode_varint(value: int) -> bytes:
    """The shortest encoding of ``value`` (used by tests and packet builders)."""
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    if value < 0x4000000000000000:
        return (value | 0xC000000000000000).to_bytes(8, "big")
    raise ValueError("varint out of range")


class Packet(NamedTuple):
    """One packet of a datagram, header parsed up to the (protected) packet number.

    Immutable like the frozen dataclasses elsewhere, but a ``NamedTuple``: a datagram
    makes one to three of these, and a frozen dataclass costs ~0.9 us to build (one
    ``object.__setattr__`` per field) against ~0.3 us for a tuple.
    """

    packet_type: PacketType
    long_header: bool
    first_byte: int
    version: int
    dcid: bytes
    scid: bytes
    #: The whole packet (header through payload); ``pn_offset`` indexes into it.
    data: bytes
    pn_offset: int
    token: bytes = b""
    #: Version Negotiation: the versions the server offers.
    supported_versions: tuple[int, ...] = ()


_new_packet = tuple.__new__


def _truncated(what: str) -> MalformedError:
    return MalformedError(PROTOCOL, f"{what}: truncated")


# Module aliases of the enum members the per-packet paths use: a read through the enum
# class costs ~0.1 us (Python 3.11 looks members up with a descriptor call).
_INITIAL = PacketType.INITIAL
_RETRY = PacketType.RETRY
_ONE_RTT = PacketType.ONE_RTT


def _long(data: bytes, start: int, end: int, grease_ok: bool) -> tuple[Packet, int]:
    """The long-header packet at ``data[start]`` and the offset after it."""
    # Index arithmetic on locals rather than Buffer calls: every datagram of a flow's
    # handshake comes through here (speed). Each field is bounds-checked as it is read.
    if start + 6 > end:
        raise _truncated("version" if start + 5 > end else "dcid length")
    first = data[start]
    version = int.from_bytes(data[start + 1 : start + 5], "big")
    known = VERSIONS.get(version)  # lookup(version), without the call
    dcid_len = data[start + 5]
    if known is not None and dcid_len > MAX_CID_LEN:
        raise MalformedError(PROTOCOL, f"dcid length {dcid_len} > {MAX_CID_LEN}")
    pos = start + 6 + dcid_len
    if pos > end:
        raise _truncated("dcid")
    dcid = data[start + 6 : pos]
    if pos >= end:
        raise _truncated("scid length")
    scid_len = data[pos]
    if known is not None and scid_len > MAX_CID_LEN:
        raise MalformedError(PROTOCOL, f"scid length {scid_len} > {MAX_CID_LEN}")
    pos += 1 + scid_len
    if pos > end:
        raise _truncated("scid")
    scid = data[pos - scid_len : pos]
    if version == NEGOTIATION:
        rest = end - pos
        if rest % 4 or rest == 0:
            raise MalformedError(PROTOCOL, "version negotiation: bad version list")
        versions = tuple(int.from_bytes(data[i : i + 4], "big") for i in range(pos, end, 4))
        return Packet(
            PacketType.VERSION_NEGOTIATION, True, first, version, dcid, scid,
            data[start:end], end - start, supported_versions=versions,
        ), end  # fmt: skip
    if known is None or known.salt is None:
        # Only the invariants are known: the packet runs to the end of the datagram.
        return Packet(
            PacketType.UNKNOWN, True, first, version, dcid, scid,
            data[start:end], end - start,
        ), end  # fmt: skip
    if not first & 0x40 and not grease_ok:
        raise MalformedError(PROTOCOL, "long header: fixed bit is 0")
    ptype = known.long_types[(first >> 4) & 0x03]
    if ptype is _RETRY:
        if end - pos < RETRY_TAG_LEN:
            raise MalformedError(PROTOCOL, "retry: shorter than its integrity tag")
        return Packet(
            ptype, True, first, version, dcid, scid,
            data[start:end], end - start, token=data[pos : end - RETRY_TAG_LEN],
        ), end  # fmt: skip
    token = b""
    # The usual varints inline: a token length of one byte (no token, from a client's
    # first Initial on) and a Length of two (packets of 64 bytes to 16 KB).
    if ptype is _INITIAL:
        if pos < end and data[pos] < 0x40:
            token_len = data[pos]
            pos += 1
        else:
            token_len, pos = read_varint(data, pos, end, "token length")
        if token_len:
            if pos + token_len > end:
                raise _truncated("token")
            token = data[pos : pos + token_len]
            pos += token_len
    if pos + 1 < end and 0x40 <= data[pos] < 0x80:
        length = ((data[pos] & 0x3F) << 8) | data[pos + 1]
        pos += 2
    else:
        length, pos = read_varint(data, pos, end, "length")
    stop = pos + length
    if stop > end:
        raise MalformedError(PROTOCOL, f"length {length} runs past the datagram")
    if length < 1 + 16:  # at least a packet number byte and the AEAD tag
        raise MalformedError(PROTOCOL, f"length {length} too short for a packet")
    # Packet(...) through tuple.__new__, every field given: the NamedTuple's own
    # __new__ is a Python-level call around it (~0.1 us per packet).
    return _new_packet(
        Packet, (ptype, True, first, version, dcid, scid, data[start:stop], pos - start, token, ())
    ), stop


def _short(data: bytes, start: int, end: int, grease_ok: bool) -> tuple[Packet, int]:
    """The short-header packet at ``data[start]`` (``start < end``): the rest of ``data``."""
    first = data[start]
    if not first & 0x40 and not grease_ok:
        raise MalformedError(PROTOCOL, "short header: fixed bit is 0")
    return _new_packet(Packet, (_ONE_RTT, False, first, 0, b"", b"", data[start:], 1, b"", ())), end


def parse_packet(buf: Buffer, grease_ok: bool = False) -> Packet:
    """The packet at ``buf.pos``; advances past it.

    ``grease_ok``: the fixed bit may be 0 (RFC 9287 lets endpoints grease it once the
    peer allowed it); else a 0 fixed bit is malformed.
    """
    if buf.eof():
        raise MalformedError(PROTOCOL, "empty datagram")
    read = _long if buf.data[buf.pos] & 0x80 else _short
    pkt, buf.pos = read(buf.data, buf.pos, buf.end, grease_ok)
    return pkt


def split_datagram(datagram: bytes, grease_ok: bool = False) -> tuple[list[Packet], bytes]:
    """The coalesced packets of one datagram and any bytes after them that do not parse.

    The first packet must parse (else :class:`MalformedError`). A later packet that does
    not parse, or has another DCID than the first (§12.2: a receiver drops those), ends
    the list; its bytes are the returned rest.
    """
    # parse_packet's work on plain offsets, without a Buffer (two to four calls per
    # datagram of every QUIC handshake).
    end = len(datagram)
    if not end:
        raise MalformedError(PROTOCOL, "empty datagram")
    first, pos = (_long if datagram[0] & 0x80 else _short)(datagram, 0, end, grease_ok)
    packets = [first]
    while pos < end:
        lead = datagram[pos]
        if not lead:
            # A zero byte cannot start a packet here (fixed bit clear, no long header):
            # padding after the last packet, the usual case. Said without raising.
            return packets, datagram[pos:]
        try:
            # A greased (RFC 9287) fixed bit is taken on a later packet only for a long
            # header (its version and DCID vouch for it): a "short header" with the bit
            # clear after a packet is far more often padding or junk.
            if lead & 0x80:
                pkt, after = _long(datagram, pos, end, grease_ok)
            else:
                pkt, after = _short(datagram, pos, end, False)
        except MalformedError:
            return packets, datagram[pos:]
        if (pkt.long_header and pkt.dcid != first.dcid) or not any(pkt.data):
            return packets, datagram[pos:]  # another connection's packet, or zero padding
        packets.append(pkt)
        pos = after
    return packets, b""


def looks_like_long_header(data: bytes) -> bool:
    """Cheap content check: a long header with the fixed bit and a version we know."""
    if len(data) < 7 or data[0] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(data[1:5], "big")
    v = lookup(version)
    return v is not None and not v.gquic
