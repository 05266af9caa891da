"""DNS flow analyzer: RFC 1035 §4.2 transports (UDP: one message per datagram; TCP: each
message preceded by a two-byte length, RFC 1035 §4.2.2 / RFC 7766 §8), with mDNS
(RFC 6762) and LLMNR (RFC 4795) sharing the same message format.

Queries and responses are paired by ``(id, qname, qtype)`` (case-insensitive qname), which
gives ``rtt_ms``. Every A/AAAA answer yields a :class:`NameResolved` event labelled with the
*queried* name: CNAME chains inside the answer section are followed from the question
(``www.example.com CNAME edge.net``, ``edge.net A 192.0.2.1`` → ``www.example.com →
192.0.2.1``). Addresses no question leads to (mDNS announcements carry no question) are
labelled with the first alias of their chain.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir, NameResolved
from netwatch.dpi.dns.rdata import type_name
from netwatch.dpi.dns.wire import (
    CLASSES,
    OPCODES,
    Message,
    Record,
    header_refusal,
    parse_message,
    rcode_name,
)
from netwatch.errors import MalformedError

PROTO = "DNS"
Transport = Literal["udp", "tcp"]
Variant = Literal["dns", "mdns", "llmnr"]

#: Port hints (payload detection decides; a port only picks the variant shown).
PORT_VARIANTS: dict[int, Variant] = {53: "dns", 5353: "mdns", 5355: "llmnr"}
SUMMARY_PREFIX: dict[Variant, str] = {"dns": "DNS", "mdns": "mDNS", "llmnr": "LLMNR"}

MAX_QUERIES = 100  # transactions kept per flow; the rest are counted
MAX_ANSWERS = 64  # answers kept per transaction; the rest are counted
MAX_PENDING = 256  # unanswered queries remembered for pairing
MAX_CHAIN = 16  # CNAME hops followed
TCP_MAX_MESSAGE = 0xFFFF
_T_A, _T_CNAME, _T_AAAA = 1, 5, 28
_T_ANY = 255
#: (mnemonic, header bit, taken from the query when there is one)
FLAG_BITS = (
    ("aa", 0x0400, False),
    ("tc", 0x0200, True),
    ("rd", 0x0100, True),
    ("ra", 0x0080, False),
    ("ad", 0x0020, False),
    ("cd", 0x0010, True),
)


@dataclass(slots=True)
class _Txn:
    id: int
    qname: str
    qtype: int
    ts_query: float | None
    rcode: int | None = None
    answers: list[Record] = field(default_factory=list)
    answers_dropped: int = 0
    rtt_ms: float | None = None
    edns_udp_size: int | None = None
    query_flags: int | None = None
    response_flags: int | None = None

    def flags(self) -> list[str]:
        """Header flags as Zeek reads them: RD, TC, CD from the query when it was seen,
        AA, RA, AD from the response (RFC 1035 §4.1.1, RFC 4035 §3.2)."""
        out = []
        for name, bit, from_query in FLAG_BITS:
            source = (
                self.query_flags
                if from_query and self.query_flags is not None
                else self.response_flags
            )
            if source is not None and source & bit:
                out.append(name)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "qname": self.qname,
            "qtype": type_name(self.qtype),
            "rcode": None if self.rcode is None else rcode_name(self.rcode),
            "answers": [_answer_json(a) for a in self.answers],
            "rtt_ms": self.rtt_ms,
            "nodata": self.rcode == 0  # (the answer types looked at only then)
            and self.qtype not in {a.rtype for a in self.answers}
            and self.qtype not in (_T_CNAME, _T_ANY),
            "flags": self.flags(),
        }
        if self.answers_dropped:
            out["answers_dropped"] = self.answers_dropped
        if self.edns_udp_size is not None:
            out["edns_udp_size"] = self.edns_udp_size
        return out


def _answer_json(rec: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rec.name, "type": rec.type, "ttl": rec.ttl, "data": rec.data}
    if rec.strings:
        out["strings"] = list(rec.strings)
    return out


class DNSAnalyzer(AnalyzerBase):
    """One DNS (or mDNS / LLMNR) flow: a UDP 5-tuple or a TCP connection."""

    protocol = PROTO

    def __init__(self, transport: Transport = "udp", variant: Variant = "dns") -> None:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
        self.transport: Transport = transport
        self.variant: Variant = variant
        self._txns: list[_Txn] = []
        self._dropped = 0
        self._pending: dict[tuple[int, str, int], _Txn] = {}
        self._bufs = (bytearray(), bytearray())
        self._lost = [False, False]
        self._messages = 0
        self._responses = 0

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self.transport == "udp":
            return self._on_message(parse_message(data), ts)
        if self._lost[direction]:
            return ()
        buf = self._bufs[direction]
        buf += data
        events: list[AppEvent] = []
        pos = 0
        while len(buf) - pos >= 2:
            (length,) = struct.unpack_from("!H", buf, pos)
            if length < 12:
                raise MalformedError(PROTO, f"TCP message length {length} below the header")
            if len(buf) - pos - 2 < length:
                break
            msg = parse_message(bytes(buf[pos + 2 : pos + 2 + length]))
            events.extend(self._on_message(msg, ts))
            pos += 2 + length
        del buf[:pos]  # at most one partial message (< 64 KiB + 2) stays buffered
        return events

    def gap(self, direction: Dir, length: int) -> None:
        """TCP framing cannot be recovered after lost bytes: stop reading that direction."""
        if self.transport == "tcp":
            self._lost[direction] = True
            self._bufs[direction].clear()

    @property
    def buffered(self) -> int:
        """DNS over TCP: bytes of a length-prefixed message waiting for their rest."""
        return len(self._bufs[0]) + len(self._bufs[1])

    @property
    def finished(self) -> bool:
        lost = self._lost
        return lost[0] and lost[1]

    @property
    def app_state(self) -> str | None:
        if self._responses:
            return "DNS_RESPONSE"
        return "DNS_QUERY" if self._messages else None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"queries": [t.to_json() for t in self._txns]}
        if self._dropped:
            out["queries_dropped"] = self._dropped
        if self.variant != "dns":
            out["variant"] = self.variant
        return out

    def summary(self) -> str:
        prefix = SUMMARY_PREFIX[self.variant]
        if not self._txns:
            return prefix
        t = self._txns[-1]
        text = f"{prefix} {type_name(t.qtype)} {t.qname}"
        if t.rcode is not None and t.rcode != 0:
            text += f" {rcode_name(t.rcode)}"
        return text

    # -- internals ----------------------------------------------------------------------

    def _keep(self, txn: _Txn) -> bool:
        if len(self._txns) >= MAX_QUERIES:
            self._dropped += 1
            return False
        self._txns.append(txn)
        return True

    def _on_message(self, msg: Message, ts: float) -> Sequence[AppEvent]:
        self._messages += 1
        if not msg.is_response:
            for q in msg.questions:
                txn = _Txn(msg.id, q.name, q.qtype, ts, query_flags=msg.flags)
                if msg.edns is not None:
                    txn.edns_udp_size = msg.edns.udp_size
                if self._keep(txn) and len(self._pending) < MAX_PENDING:
                    self._pending[(msg.id, q.name.lower(), q.qtype)] = txn
            return ()
        self._responses += 1
        asked = [(q.name, q.qtype) for q in msg.questions]
        if not asked and msg.answers:  # mDNS announcement: label it by its first answer
            asked = [(msg.answers[0].name, msg.answers[0].rtype)]
        for name, qtype in asked:
            paired = self._pending.pop((msg.id, name.lower(), qtype), None)
            if paired is None:
                txn = _Txn(msg.id, name, qtype, None)
                if not self._keep(txn):
                    continue
            else:
                txn = paired
                if txn.ts_query is not None:
                    txn.rtt_ms = round(max(ts - txn.ts_query, 0.0) * 1000.0, 3)
            txn.rcode = msg.rcode
            txn.response_flags = msg.flags
            answers = msg.answers
            if len(answers) <= MAX_ANSWERS:
                txn.answers = list(answers)
                txn.answers_dropped = 0
            else:
                txn.answers = list(answers[:MAX_ANSWERS])
                txn.answers_dropped = len(answers) - MAX_ANSWERS
        return resolved_names(msg, ts)


def resolved_names(msg: Message, ts: float) -> list[NameResolved]:
    """One :class:`NameResolved` per name that A/AAAA answers resolve, CNAMEs followed."""
    cname: dict[str, str] = {}
    addrs: dict[str, list[tuple[str, int]]] = {}
    for rec in msg.answers:
        rtype = rec.rtype
        if rtype == _T_CNAME:
            if rec.data:
                cname.setdefault(rec.name.lower(), rec.data.lower())
        elif (rtype == _T_A or rtype == _T_AAAA) and rec.data:
            addrs.setdefault(rec.name.lower(), []).append((rec.data, rec.ttl))
    if not addrs:
        return []
    events: list[NameResolved] = []
    covered: set[str] = set()
    for label in dict.fromkeys(q.name.lower() for q in msg.questions):
        found: list[tuple[str, int]] = []
        seen: set[str] = set()
        name: str | None = label
        while name is not None and name not in seen and len(seen) < MAX_CHAIN:
            seen.add(name)
            found.extend(addrs.get(name, ()))
            name = cname.get(name)
        covered |= seen
        if found:
            events.append(_event(ts, label, found))
    aliases: dict[str, str] | None = None  # built for the first address no question leads to
    for owner, found in addrs.items():
        if owner in covered:
            continue
        if aliases is None:
            aliases = {target: alias for alias, target in cname.items()}
        label = owner
        for _ in range(MAX_CHAIN):  # walk back to the first alias of the chain
            prev = aliases.get(label)
            if prev is None or prev == owner:
                break
            label = prev
        events.append(_event(ts, label, found))
    return events


def _event(ts: float, name: str, found: list[tuple[str, int]]) -> NameResolved:
    if len(found) == 1:  # the usual single address: no de-duplication to do
        addresses: tuple[str, ...] = (found[0][0],)
        ttl = found[0][1]
    else:
        addresses = tuple(dict.fromkeys([a for a, _ in found]))
        ttl = min([t for _, t in found])
    return NameResolved(ts, name, addresses, ttl)


# -- detection ---------------------------------------------------------------------------


def detect_udp(data: bytes) -> bool:
    """True if the datagram is one whole, well-formed DNS message (strict: the counts
    must account for every byte, classes must be real, the Z bit clear)."""
    if len(data) < 17:
        return False
    # The header's refusals first, without raising (most non-DNS datagrams end here): the
    # Z bit (RFC 1035 §4.1.1: must be zero), and what parse_message would refuse.
    _, flags, qd, an, ns, ar = struct.unpack_from("!6H", data, 0)
    if flags & 0x0040 or header_refusal(flags, qd, an, ns, ar, len(data)) is not None:
        return False
    try:
        msg = parse_message(data)
    except MalformedError:
        return False
    if not msg.is_response and not msg.questions:
        return False
    if not msg.questions and not msg.answers:
        return False
    # (plain loops: no tuple of every record and no generators, for each detection)
    for q in msg.questions:
        if q.qclass not in CLASSES:
            return False
    for section in (msg.answers, msg.authority, msg.additional):
        for r in section:
            if r.rclass not in CLASSES:
                return False
    return True


def detect_tcp(data: bytes) -> bool:
    """True if the stream starts with a length-prefixed DNS message. With only part of
    the first message, the header must look like a plain query (QR=0, 1-4 questions)."""
    if len(data) < 14:
        return False
    (length,) = struct.unpack_from("!H", data, 0)
    if length < 17:
        return False
    if len(data) >= 2 + length:
        return detect_udp(data[2 : 2 + length])
    _, flags, qd, an, ns, ar = struct.unpack_from("!6H", data, 2)
    return (
        not flags & 0x8000
        and (flags >> 11) & 0xF in OPCODES
        and not flags & 0x0040
        and 1 <= qd <= 4
        and an + ns + ar <= 32
        and 12 + 5 * qd + 11 * (an + ns + ar) <= length
    )
