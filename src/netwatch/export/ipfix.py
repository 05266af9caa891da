"""IPFIX encoding (RFC 7011 §3): messages, template sets and data sets; pure, no I/O.

A message is a 16-byte header followed by sets (RFC 7011 §3.1, §3.3.2)::

    00 0a  00 5c  65 5e 1b 40  00 00 00 07  00 00 00 01   version 10, length 92,
    |      |      export time  sequence 7   observation domain 1
    00 02  00 2c  01 00 00 0a  00 08 00 04 ...             template set (id 2), 44 bytes:
    |      |      template 256, 10 fields; field 8 (sourceIPv4Address), 4 bytes ...
    01 00  00 3c  c0 00 02 01 ...                          data set for template 256

The sequence number counts the data records sent in this observation domain before the
message (§3.1), so a collector can tell how many were lost. Field specifiers are the IANA
"IPFIX Information Elements" registry numbers below; no enterprise-specific elements.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netwatch.errors import MalformedError

VERSION = 10
HEADER = struct.Struct("!HHIII")
SET_HEADER = struct.Struct("!HH")
TEMPLATE_SET_ID = 2
#: Data sets use the template's id; RFC 7011 §3.4.1 reserves ids below 256.
TEMPLATE_V4 = 256
TEMPLATE_V6 = 257
#: Bytes per message at most: stays under a 1500-byte MTU with IPv6 and UDP headers
#: (RFC 7011 §10.3.3: avoid IP fragmentation).
MAX_MESSAGE = 1400


@dataclass(frozen=True, slots=True)
class Element:
    """One information element of the IANA registry: its number, name and size here."""

    id: int
    name: str
    length: int
    code: str  # struct format of the value ("" for raw bytes)


#: The information elements netwatch sends (IANA "IPFIX Information Elements").
ELEMENTS: dict[str, Element] = {
    e.name: e
    for e in (
        Element(8, "sourceIPv4Address", 4, ""),
        Element(12, "destinationIPv4Address", 4, ""),
        Element(27, "sourceIPv6Address", 16, ""),
        Element(28, "destinationIPv6Address", 16, ""),
        Element(7, "sourceTransportPort", 2, "H"),
        Element(11, "destinationTransportPort", 2, "H"),
        Element(4, "protocolIdentifier", 1, "B"),
        Element(6, "tcpControlBits", 2, "H"),  # unsigned16 since RFC 7125
        Element(58, "vlanId", 2, "H"),
        Element(1, "octetDeltaCount", 8, "Q"),
        Element(2, "packetDeltaCount", 8, "Q"),
        Element(352, "layer2OctetDeltaCount", 8, "Q"),
        Element(152, "flowStartMilliseconds", 8, "Q"),
        Element(153, "flowEndMilliseconds", 8, "Q"),
        Element(136, "flowEndReason", 1, "B"),
        Element(148, "flowId", 8, "Q"),
    )
}

_COMMON = (
    "sourceTransportPort",
    "destinationTransportPort",
    "protocolIdentifier",
    "tcpControlBits",
    "vlanId",
    "octetDeltaCount",
    "packetDeltaCount",
    "layer2OctetDeltaCount",
    "flowStartMilliseconds",
    "flowEndMilliseconds",
    "flowEndReason",
    "flowId",
)


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    fields: tuple[Element, ...]

    @property
    def record_length(self) -> int:
        return sum(f.length for f in self.fields)

    def encode(self) -> bytes:
        """The template record (§3.4.1): id, field count, then (element id, length) pairs."""
        out = bytearray(struct.pack("!HH", self.id, len(self.fields)))
        for f in self.fields:
            out += struct.pack("!HH", f.id, f.length)
        return bytes(out)


TEMPLATES: dict[int, Template] = {
    TEMPLATE_V4: Template(
        TEMPLATE_V4,
        tuple(ELEMENTS[n] for n in ("sourceIPv4Address", "destinationIPv4Address", *_COMMON)),
    ),
    TEMPLATE_V6: Template(
        TEMPLATE_V6,
        tuple(ELEMENTS[n] for n in ("sourceIPv6Address", "destinationIPv6Address", *_COMMON)),
    ),
}

#: flowEndReason values (IANA "flowEndReason Values", first defined in RFC 5102 §5.11.3).
END_IDLE, END_ACTIVE, END_OF_FLOW, END_FORCED, END_LACK_OF_RESOURCES = 1, 2, 3, 4, 5

#: TCP header flag bits as tcpControlBits carries them (RFC 7125).
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One unidirectional flow record (source → destination) of a data set."""

    src: str
    dst: str
    sport: int
    dport: int
    protocol: int
    octets: int
    packets: int
    l2_octets: int
    start_ms: int
    end_ms: int
    tcp_flags: int = 0
    vlan: int = 0
    end_reason: int = END_OF_FLOW
    flow_id: int = 0

    @property
    def template_id(self) -> int:
        return TEMPLATE_V6 if ":" in self.src else TEMPLATE_V4

    def encode(self) -> bytes:
        """The data record in its template's field order (fixed lengths, §3.3.3)."""
        try:
            src = ipaddress.ip_address(self.src).packed
            dst = ipaddress.ip_address(self.dst).packed
            if len(src) != len(dst):
                raise ValueError("addresses of different IP versions")
            return (
                src
                + dst
                + _BODY.pack(
                    self.sport,
                    self.dport,
                    self.protocol,
                    self.tcp_flags,
                    self.vlan,
                    self.octets,
                    self.packets,
                    self.l2_octets,
                    self.start_ms,
                    self.end_ms,
                    self.end_reason,
                    self.flow_id,
                )
            )
        except (ValueError, struct.error) as exc:
            raise MalformedError("ipfix", f"flow record not encodable: {exc}") from None


_BODY = struct.Struct("!" + "".join(ELEMENTS[n].code for n in _COMMON))


def template_set(templates: Iterable[Template]) -> bytes:
    body = b"".join(t.encode() for t in templates)
    return SET_HEADER.pack(TEMPLATE_SET_ID, SET_HEADER.size + len(body)) + body


def data_set(template_id: int, records: Sequence[bytes]) -> bytes:
    body = b"".join(records)
    return SET_HEADER.pack(template_id, SET_HEADER.size + len(body)) + body


def message(sets: Sequence[bytes], export_time: int, sequence: int, domain: int) -> bytes:
    """A whole message: the header (§3.1) and its sets. ``sequence`` is taken mod 2**32."""
    length = HEADER.size + sum(len(s) for s in sets)
    if length > 0xFFFF:
        raise MalformedError("ipfix", f"message of {length} bytes exceeds 65535")
    head = HEADER.pack(
        VERSION, length, export_time & 0xFFFFFFFF, sequence & 0xFFFFFFFF, domain & 0xFFFFFFFF
    )
    return head + b"".join(sets)


def pack_messages(
    records: Sequence[FlowRecord],
    *,
    export_time: int,
    sequence: int,
    domain: int,
    with_templates: bool,
    max_size: int = MAX_MESSAGE,
) -> list[tuple[bytes, int]]:
    """Records into as few messages as fit ``max_size``: ``[(message, data records)]``.

    The templates (when asked) go first in the first message, so a collector that just
    started learns them before the data that uses them. Records keep their order within
    each template's sets.
    """
    out: list[tuple[bytes, int]] = []
    sets: list[bytes] = []
    size = HEADER.size
    count = 0
    if with_templates:
        sets.append(template_set(TEMPLATES.values()))
        size += len(sets[0])
    pending: list[bytes] = []
    pending_tid = 0

    def close_set() -> None:
        nonlocal pending, size
        if pending:
            sets.append(data_set(pending_tid, pending))
            pending = []

    def close_message() -> None:
        nonlocal sets, size, count, sequence
        close_set()
        if sets:
            out.append((message(sets, export_time, sequence, domain), count))
            sequence += count
        sets, size, count = [], HEADER.size, 0

    for rec in records:
        raw = rec.encode()
        tid = rec.template_id
        extra = len(raw) + (SET_HEADER.size if tid != pending_tid or not pending else 0)
        if size + extra > max_size and (count or sets):
            close_message()
            extra = len(raw) + SET_HEADER.size
        if tid != pending_tid:
            close_set()
            pending_tid = tid
        pending.append(raw)
        size += extra
        count += 1
    close_message()
    return out


# ---------------------------------------------------------------- reading (tests, tools)
@dataclass(frozen=True, slots=True)
class Decoded:
    export_time: int
    sequence: int
    domain: int
    templates: dict[int, tuple[tuple[int, int], ...]]
    records: list[tuple[int, bytes]]  # (template id, raw record)


def decode_message(data: bytes) -> Decoded:
    """Split a message into its templates and raw data records (templates in the message
    itself or in ``TEMPLATES``); every length is checked against its end."""
    if len(data) < HEADER.size:
        raise MalformedError("ipfix", "message shorter than its header")
    version, length, etime, seq, domain = HEADER.unpack_from(data)
    if version != VERSION or length != len(data):
        raise MalformedError("ipfix", f"bad header: version {version}, length {length}")
    templates: dict[int, tuple[tuple[int, int], ...]] = {}
    records: list[tuple[int, bytes]] = []
    pos = HEADER.size
    while pos < length:
        if pos + SET_HEADER.size > length:
            raise MalformedError("ipfix", "set header past the message end")
        sid, slen = SET_HEADER.unpack_from(data, pos)
        end = pos + slen
        if slen < SET_HEADER.size or end > length:
            raise MalformedError("ipfix", f"set length {slen} past the message end")
        body = pos + SET_HEADER.size
        if sid == TEMPLATE_SET_ID:
            while body + 4 <= end:
                tid, n = struct.unpack_from("!HH", data, body)
                body += 4
                if body + 4 * n > end:
                    raise MalformedError("ipfix", "template past its set end")
                fields = tuple(struct.unpack_from("!HH", data, body + 4 * i) for i in range(n))
                templates[tid] = fields
                body += 4 * n
        elif sid >= 256:
            known = templates.get(sid) or (
                tuple((f.id, f.length) for f in TEMPLATES[sid].fields) if sid in TEMPLATES else None
            )
            if known is None:
                raise MalformedError("ipfix", f"data set for unknown template {sid}")
            width = sum(length_ for _, length_ in known)
            while body + width <= end:
                records.append((sid, data[body : body + width]))
                body += width
        pos = end
    return Decoded(etime, seq, domain, templates, records)
