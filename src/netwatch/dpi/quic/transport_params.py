"""QUIC transport parameters (RFC 9000 §18; RFC 9368 §3 version_information).

They ride in the ClientHello's ``quic_transport_parameters`` extension (0x39; 0xffa5 in
drafts up to 32). Since draft-27 each parameter is ``id (varint), length (varint),
value``; earlier drafts used a 2-byte list length and 16-bit ids and lengths::

    01 04 80 00 75 30     max_idle_timeout (0x01), 4 bytes: varint 30000 ms
    11 08 00000001 6b3343cf   version_information: chosen v1, available v1, v2
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netwatch.dpi.quic.packet import read_varint
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"

MAX_IDLE_TIMEOUT = 0x01
INITIAL_SOURCE_CONNECTION_ID = 0x0F
VERSION_INFORMATION = 0x11
GREASE_QUIC_BIT = 0x2AB2  # RFC 9287
#: Drafts before this one used fixed 16-bit ids and lengths.
FIRST_VARINT_DRAFT = 27
MAX_PARAMS = 128


@dataclass(frozen=True, slots=True)
class TransportParameters:
    #: (id, value) in wire order.
    params: tuple[tuple[int, bytes], ...]
    #: max_idle_timeout in milliseconds (0 or absent: no idle timeout from this peer).
    max_idle_timeout_ms: int = 0
    #: RFC 9368: (chosen version, available versions...) or () when absent.
    version_information: tuple[int, ...] = ()
    #: RFC 9287: this peer accepts packets whose fixed bit is 0.
    grease_quic_bit: bool = False

    def get(self, param_id: int) -> bytes | None:
        for pid, value in self.params:
            if pid == param_id:
                return value
        return None


def _varint_value(value: bytes, what: str) -> int:
    n, pos = read_varint(value, 0, len(value), what)
    if pos != len(value):
        raise MalformedError(PROTOCOL, f"{what}: trailing bytes")
    return n


def _u32_list(value: bytes, what: str) -> tuple[int, ...]:
    if len(value) % 4:
        raise MalformedError(PROTOCOL, f"{what}: length not a multiple of 4")
    # One C-level unpack rather than a generator of 4-byte slices.
    values: tuple[int, ...] = struct.unpack(f">{len(value) >> 2}I", value)
    return values


def _pairs(data: bytes, draft: int | None) -> list[tuple[int, bytes]]:
    pairs: list[tuple[int, bytes]] = []
    if draft is not None and draft < FIRST_VARINT_DRAFT:
        if len(data) < 2 or int.from_bytes(data[:2], "big") != len(data) - 2:
            raise MalformedError(PROTOCOL, "transport parameters: bad list length")
        pos = 2
        while pos < len(data):
            if pos + 4 > len(data):
                raise MalformedError(PROTOCOL, "transport parameter: truncated")
            pid = int.from_bytes(data[pos : pos + 2], "big")
            n = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if pos + 4 + n > len(data):
                raise MalformedError(PROTOCOL, "transport parameter: value truncated")
            pairs.append((pid, data[pos + 4 : pos + 4 + n]))
            pos += 4 + n
            if len(pairs) > MAX_PARAMS:
                raise MalformedError(PROTOCOL, "transport parameters: too many")
        return pairs
    # Index arithmetic rather than a Buffer: a ClientHello has 10-30 parameters, each
    # two varints, and this runs once per QUIC flow (speed). Most ids and lengths are
    # one-byte varints (below 0x40), read inline; the rest go through read_varint.
    end = len(data)
    pos = 0
    while pos < end:
        pid = data[pos]
        if pid < 0x40:
            pos += 1
        else:
            pid, pos = read_varint(data, pos, end, "transport parameter id")
        if pos < end and data[pos] < 0x40:
            size = data[pos]
            pos += 1
        else:
            size, pos = read_varint(data, pos, end, "transport parameter length")
        if pos + size > end:
            raise MalformedError(PROTOCOL, "tp value: truncated")
        pairs.append((pid, data[pos : pos + size]))
        pos += size
        if len(pairs) > MAX_PARAMS:
            raise MalformedError(PROTOCOL, "transport parameters: too many")
    return pairs


def parse_transport_parameters(data: bytes, draft: int | None = None) -> TransportParameters:
    """Parse the extension body; ``draft`` selects the pre-draft-27 encoding."""
    pairs = _pairs(data, draft)
    idle = 0
    info: tuple[int, ...] = ()
    seen: set[int] = set()
    for pid, value in pairs:
        if pid in seen:
            continue  # §7.4: a duplicate is an error for the peer; the first one counts here
        seen.add(pid)
        if pid == MAX_IDLE_TIMEOUT:
            idle = _varint_value(value, "max_idle_timeout")
        elif pid == VERSION_INFORMATION:
            info = _u32_list(value, "version_information")
    return TransportParameters(tuple(pairs), idle, info, GREASE_QUIC_BIT in seen)
