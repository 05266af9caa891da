"""Google QUIC (gQUIC): the client hello (CHLO) of Q0xx versions.

Before IETF QUIC, Chrome spoke Google's QUIC. Its client hello is a tag/value message::

    "CHLO" | n (u16 LE) | 0000 | n x (tag: 4 ASCII bytes, end offset: u32 LE) | values
    43484c4f 1700 0000  50414400 95010000  534e4900 a2010000 ...   PAD, SNI, ...

``SNI`` holds the server name, ``UAID`` the user agent, ``VER`` the version.

Three packet layouts carry it:

* Q043 and older: the *public header* ``flags | cid (8) | version "Q043" | packet number``,
  then (plaintext "null encryption") a 12-byte hash, a private-flags byte before Q034,
  and STREAM frames; the CHLO is on stream 1.
* Q046: an IETF-like long header (``c3 "Q046" cid-lengths cid pn``), still plaintext.
* Q050: an IETF Initial packet (token, length) protected with the IETF scheme and the
  Q050 salt (see ``versions.py``); its CRYPTO frame (type 0x08) carries the CHLO.

The CHLO is found by its tag inside the (decrypted) packet and parsed with full bounds
checks; T0xx versions (gQUIC over TLS 1.3) are recognised by name only.
"""

from __future__ import annotations

from typing import Any

from netwatch.dpi.quic.crypto import PacketProtection
from netwatch.dpi.quic.packet import Buffer, parse_packet
from netwatch.dpi.quic.record import blank_record
from netwatch.dpi.quic.versions import PacketType, is_gquic_version, lookup, version_name
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"
CHLO = b"CHLO"
MAX_TAGS = 64
PUBLIC_FLAG_VERSION = 0x01
PUBLIC_FLAG_RESET = 0x02
PUBLIC_FLAG_CID = 0x08


def _public_header_version(data: bytes) -> int | None:
    """The version of a Q043-style client packet (flags: version + 8-byte CID), else None."""
    if len(data) < 13:
        return None
    flags = data[0]
    if flags & 0x80 or flags & PUBLIC_FLAG_RESET:
        return None
    if flags & (PUBLIC_FLAG_VERSION | PUBLIC_FLAG_CID) != PUBLIC_FLAG_VERSION | PUBLIC_FLAG_CID:
        return None
    version = int.from_bytes(data[9:13], "big")
    return version if is_gquic_version(version) else None


def _long_header_version(data: bytes) -> int | None:
    if len(data) < 6 or not data[0] & 0x80:
        return None
    version = int.from_bytes(data[1:5], "big")
    return version if is_gquic_version(version) else None


def detect(data: bytes) -> bool:
    """A client packet of Google QUIC: public header or long header with a ``Q``/``T`` version."""
    return _public_header_version(data) is not None or _long_header_version(data) is not None


def parse_chlo(data: bytes, partial: bool = False) -> dict[bytes, bytes]:
    """The tag -> value map of a CHLO message at the start of ``data``.

    ``partial``: the message may continue in a later packet; values that end past
    ``data`` are left out instead of raising :class:`MalformedError`.
    """
    if data[:4] != CHLO:
        raise MalformedError(PROTOCOL, "gquic: not a CHLO")
    if len(data) < 8:
        raise MalformedError(PROTOCOL, "gquic: CHLO header truncated")
    count = int.from_bytes(data[4:6], "little")
    if count > MAX_TAGS:
        raise MalformedError(PROTOCOL, f"gquic: {count} tags")
    index_end = 8 + 8 * count
    if index_end > len(data):
        if partial:
            return {}
        raise MalformedError(PROTOCOL, "gquic: CHLO tag index truncated")
    tags: dict[bytes, bytes] = {}
    start = 0
    for i in range(count):
        at = 8 + 8 * i
        tag = data[at : at + 4]
        end = int.from_bytes(data[at + 4 : at + 8], "little")
        if end < start:
            raise MalformedError(PROTOCOL, f"gquic: CHLO offsets of {tag!r} go backwards")
        if index_end + end > len(data):
            if partial:
                break
            raise MalformedError(PROTOCOL, f"gquic: CHLO value of {tag!r} out of bounds")
        tags.setdefault(tag, data[index_end + start : index_end + end])
        start = end
    return tags


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", "replace").rstrip("\x00") if value is not None else None


class GQuicInfo:
    """What a gQUIC client's first packets tell: version, CID, SNI, user agent."""

    __slots__ = ("cid", "sni", "uaid", "version")

    def __init__(self) -> None:
        self.version: int | None = None
        self.cid: bytes | None = None
        self.sni: str | None = None
        self.uaid: str | None = None

    def feed_client(self, data: bytes) -> None:
        """Take one client datagram; raises :class:`MalformedError` on a broken CHLO."""
        version = _public_header_version(data)
        if version is not None:
            self.version = self.version or version
            self.cid = self.cid or data[1:9]
            payload = data[13:]
        else:
            version = _long_header_version(data)
            if version is None:
                return  # a packet without version: no CHLO there
            self.version = self.version or version
            payload = self._long_payload(data, version)
        at = payload.find(CHLO)
        if at < 0:
            return
        # A CHLO larger than one packet continues in the next: take what this one holds.
        tags = parse_chlo(payload[at:], partial=True)
        self.sni = self.sni or _text(tags.get(b"SNI\x00"))
        self.uaid = self.uaid or _text(tags.get(b"UAID"))

    def _long_payload(self, data: bytes, version: int) -> bytes:
        info = lookup(version)
        if info is None or info.salt is None:
            self.cid = self.cid or data[6:14]  # Q046: one byte of CID lengths, then the CID
            return data
        pkt = parse_packet(Buffer(data))
        self.cid = self.cid or pkt.dcid
        if pkt.packet_type != PacketType.INITIAL:
            return b""
        client = PacketProtection.initial(info, pkt.dcid, 0)  # the client's side only
        _, _, payload = client.unprotect(pkt.data, pkt.pn_offset, -1)
        return payload

    def record(self) -> dict[str, Any]:
        rec = blank_record()
        rec.update(
            version=version_name(self.version) if self.version is not None else None,
            gquic=True,
            sni=self.sni,
            user_agent=self.uaid,
            dcid=self.cid.hex() if self.cid is not None else None,
        )
        return rec

    def summary(self) -> str:
        return f"gQUIC ({self.sni})" if self.sni else "gQUIC"
