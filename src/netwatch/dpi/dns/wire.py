"""DNS message wire format: RFC 1035 §4.1 (header, question, resource records), §4.1.4
(name compression), RFC 6891 §6.1 (the EDNS OPT pseudo-record).

A message is a 12-byte header and four sections::

    +--+--+--+--+  id(16) flags(16: QR opcode(4) AA TC RD RA Z AD CD rcode(4))
    |  header   |  qdcount ancount nscount arcount (16 bits each)
    +-----------+
    | question  |  qname qtype(16) qclass(16)
    | answer    |  name type(16) class(16) ttl(32) rdlength(16) rdata
    | authority |
    | additional|
    +-----------+

Names (and their compression pointers) are read by :mod:`netwatch.dpi.dns.names`.

The parser is strict on purpose: every count must be satisfied and the sections must
end exactly at the end of the message. That strictness is what lets :func:`detect_udp`
tell DNS from random UDP.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netwatch.dpi.dns.names import read_name
from netwatch.dpi.dns.rdata import format_rdata, type_name
from netwatch.errors import MalformedError
from netwatch.model.frozen import frozen_builder

PROTO = "DNS"
HEADER_LEN = 12
#: A message claiming more records than this is not worth believing (a 64 KiB message
#: holds at most ~5,400 minimal records; real traffic stays far below 1,000).
MAX_RECORDS = 2048

RCODES: dict[int, str] = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    16: "BADVERS",
}

#: RFC 1035 §3.2.4 classes (+ CHAOS, HESIOD, NONE, ANY). mDNS sets the top bit (QU /
#: cache-flush, RFC 6762 §5.4, §10.2); it is masked before this table is consulted.
CLASSES = frozenset({1, 3, 4, 254, 255})
OPCODES = frozenset({0, 1, 2, 4, 5, 6})  # QUERY IQUERY STATUS NOTIFY UPDATE DSO


def rcode_name(code: int) -> str:
    name = RCODES.get(code)  # (the fallback formatted only when needed)
    return name if name is not None else f"RCODE{code}"


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    qtype: int
    qclass: int  # top bit (mDNS QU) masked


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    rtype: int
    rclass: int  # top bit (mDNS cache-flush) masked
    ttl: int
    data: str
    strings: tuple[str, ...] = ()  # TXT character-strings, in order

    @property
    def type(self) -> str:
        return type_name(self.rtype)


@dataclass(frozen=True, slots=True)
class Edns:
    udp_size: int
    version: int
    dnssec_ok: bool
    ext_rcode: int  # upper 8 bits of the 12-bit rcode
    options: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    is_response: bool
    opcode: int
    flags: int
    rcode: int  # 12-bit when an OPT record extends it
    questions: tuple[Question, ...]
    answers: tuple[Record, ...]
    authority: tuple[Record, ...]
    additional: tuple[Record, ...]
    edns: Edns | None


# -- building the parsed objects --------------------------------------------------------
# A message builds one object per question and record: without the frozen dataclass's
# __init__ (``frozen_builder``: a third to a half of its cost), fields by position.

_question = frozen_builder(Question, "name", "qtype", "qclass")
_record = frozen_builder(Record, "name", "rtype", "rclass", "ttl", "data", "strings")
_message = frozen_builder(
    Message,
    "id",
    "is_response",
    "opcode",
    "flags",
    "rcode",
    "questions",
    "answers",
    "authority",
    "additional",
    "edns",
)


class _LastParse:
    """The last message parsed and the ``bytes`` object it came from, as one tuple (read
    and replaced whole, so concurrent parsers never pair one's bytes with another's
    message)."""

    __slots__ = ("entry",)

    def __init__(self) -> None:
        self.entry: tuple[bytes, Message] | None = None


#: The engine hands a UDP flow's first datagram, one ``bytes`` object, to detection
#: (``detect_udp`` parses it whole) and then to the analyzer detection built, which parses
#: it again: that second parse of the *same object* returns the first one's message.
#: Bytes are immutable and a Message frozen, so the answer is what a fresh parse would
#: equal; only ``bytes`` (never a bytearray) and only messages that parsed are kept.
_LAST = _LastParse()


def parse_message(buf: bytes) -> Message:
    """Parse one whole DNS message (UDP datagram, or one TCP length-prefixed unit)."""
    last = _LAST.entry
    if last is not None and last[0] is buf:
        return last[1]
    msg = _parse_message(buf)
    if type(buf) is bytes:
        _LAST.entry = (buf, msg)
    return msg


def header_refusal(flags: int, qd: int, an: int, ns: int, ar: int, length: int) -> str | None:
    """Why a message with this header cannot parse (None: it may): read before the body,
    so that detection refuses most non-DNS datagrams without parsing them."""
    if qd + an + ns + ar > MAX_RECORDS:
        return "implausible record counts"
    # every question takes >= 5 bytes and every record >= 11: counts must fit the length
    if HEADER_LEN + 5 * qd + 11 * (an + ns + ar) > length:
        return "record counts exceed the message length"
    opcode = (flags >> 11) & 0xF
    if opcode not in OPCODES:
        return f"unknown opcode {opcode}"
    return None


_HEADER = struct.Struct("!6H")
_QUESTION_TAIL = struct.Struct("!HH")
_RECORD_HEADER = struct.Struct("!HHIH")


def _parse_message(buf: bytes) -> Message:
    size = len(buf)
    if size < HEADER_LEN:
        raise MalformedError(PROTO, "message shorter than its header")
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(buf, 0)
    refusal = header_refusal(flags, qd, an, ns, ar, size)
    if refusal is not None:
        raise MalformedError(PROTO, refusal)
    opcode = (flags >> 11) & 0xF
    pos = HEADER_LEN
    questions: list[Question] = []
    #: names read so far, by the offset they start at (see ``_read_record``)
    known: dict[int, str] = {}
    for _ in range(qd):
        start = pos
        name, pos = read_name(buf, pos)
        known[start] = name
        if pos + 4 > size:
            raise MalformedError(PROTO, "truncated question")
        qtype, qclass = _QUESTION_TAIL.unpack_from(buf, pos)
        pos += 4
        questions.append(_question(name, qtype, qclass & 0x7FFF))
    sections: list[list[Record]] = [[], [], []]
    edns: Edns | None = None
    if an or ns or ar:  # (a query has none: no section loop to set up)
        for section, count in zip(sections, (an, ns, ar), strict=True):
            for _ in range(count):
                rec, pos, opt = _read_record(buf, pos, known)
                if opt is not None:
                    if edns is not None or section is not sections[2]:
                        raise MalformedError(PROTO, "misplaced or repeated OPT record")
                    edns = opt
                else:
                    section.append(rec)
    if pos != size:
        raise MalformedError(PROTO, f"{size - pos} bytes after the last record")
    rcode = flags & 0xF
    if edns is not None:
        rcode |= edns.ext_rcode << 4
    return _message(
        ident,  # id
        bool(flags & 0x8000),  # is_response
        opcode,
        flags,
        rcode,
        tuple(questions),
        tuple(sections[0]),  # answers
        tuple(sections[1]),  # authority
        tuple(sections[2]),  # additional
        edns,
    )


def _read_record(buf: bytes, pos: int, known: dict[int, str]) -> tuple[Record, int, Edns | None]:
    # An owner name that is only a compression pointer to a name read earlier (answers
    # to the question: ``c0 0c``) is that name; reading it again would give the same
    # (the walk from the pointer is the one that started at its target, which succeeded
    # with the same limit), so it is not walked again.
    name: str | None = None
    if pos + 1 < len(buf) and buf[pos] >= 0xC0:
        target = ((buf[pos] & 0x3F) << 8) | buf[pos + 1]
        if target < pos:
            name = known.get(target)
    if name is not None:
        pos += 2
    else:
        start = pos
        name, pos = read_name(buf, pos)
        known[start] = name
    if pos + 10 > len(buf):
        raise MalformedError(PROTO, "truncated resource record header")
    rtype, rclass, ttl, rdlength = _RECORD_HEADER.unpack_from(buf, pos)
    pos += 10
    end = pos + rdlength
    if end > len(buf):
        raise MalformedError(PROTO, "rdlength runs past the message")
    if rtype == 41:  # OPT, RFC 6891 §6.1.2-3: class = UDP size, ttl = ext-rcode/version/flags
        return _EMPTY, end, _read_opt(buf, pos, end, rclass, ttl)
    data, strings = format_rdata(buf, pos, end, rtype)
    return _record(name, rtype, rclass & 0x7FFF, ttl, data, strings), end, None


_EMPTY = Record(".", 0, 0, 0, "")


def _read_opt(buf: bytes, pos: int, end: int, udp_size: int, ttl: int) -> Edns:
    options: list[int] = []
    while pos < end:
        if pos + 4 > end:
            raise MalformedError(PROTO, "truncated EDNS option")
        code, length = struct.unpack_from("!HH", buf, pos)
        pos += 4 + length
        if pos > end:
            raise MalformedError(PROTO, "EDNS option runs past its record")
        options.append(code)
    return Edns(
        udp_size=udp_size,
        version=(ttl >> 16) & 0xFF,
        dnssec_ok=bool(ttl & 0x8000),
        ext_rcode=ttl >> 24,
        options=tuple(options),
    )
