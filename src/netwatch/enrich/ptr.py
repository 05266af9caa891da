"""Reverse DNS on the wire: PTR queries (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5
ip6.arpa), their answers, and negative caching (RFC 2308 §5).

Pure: bytes in, values out. A query for 192.0.2.1 (id 0x1234, recursion desired)::

    12 34 01 00 00 01 00 00 00 00 00 00          header: id, RD, qdcount 1
    01 31 01 32 01 30 03 31 39 32 07 69 6e ...   1.2.0.192.in-addr.arpa
    00 0c 00 01                                  qtype PTR, class IN

An answer may reach the PTR through CNAMEs (RFC 2317 classless delegation:
``1.2.0.192.in-addr.arpa CNAME 1.0/25.2.0.192.in-addr.arpa``); the chain is followed
inside the answer section. A negative answer (NXDOMAIN, or NOERROR without a PTR) is
cached for min(SOA TTL, SOA MINIMUM) when the server sends its SOA, else a default.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from netwatch.dpi.dns.wire import Message, parse_message
from netwatch.errors import MalformedError

PROTO = "DNS"
TYPE_CNAME, TYPE_SOA, TYPE_PTR = 5, 6, 12
CLASS_IN = 1
RCODE_NOERROR, RCODE_NXDOMAIN = 0, 3
FLAG_RD = 0x0100
FLAG_TC = 0x0200
#: CNAME hops followed before an answer is called malformed.
MAX_CHAIN = 8


def reverse_name(address: str) -> str:
    """``192.0.2.1`` → ``1.2.0.192.in-addr.arpa``; IPv6 → 32 nibbles under ``ip6.arpa``."""
    return ipaddress.ip_address(address.partition("%")[0]).reverse_pointer


def build_query(qid: int, name: str) -> bytes:
    """A recursive PTR question for ``name`` (dot-separated, no trailing dot needed)."""
    out = bytearray(struct.pack("!6H", qid & 0xFFFF, FLAG_RD, 1, 0, 0, 0))
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out.append(len(raw))
        out += raw
    out += b"\x00" + struct.pack("!HH", TYPE_PTR, CLASS_IN)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class PtrAnswer:
    """``name`` None is a negative answer; ``ttl`` is how long it may be cached.
    ``error`` names a failure worth retrying sooner (SERVFAIL, REFUSED, truncation)."""

    name: str | None
    ttl: int | None
    error: str | None = None


def _soa_ttl(msg: Message) -> int | None:
    for rec in msg.authority:
        if rec.rtype == TYPE_SOA:
            fields = rec.data.split()
            try:
                minimum = int(fields[-1])
            except (IndexError, ValueError):
                return rec.ttl
            return min(rec.ttl, minimum)
    return None


def matches(msg: Message, qid: int, qname: str) -> bool:
    """Is ``msg`` the answer to our question (id, response bit, the same question)?"""
    if msg.id != qid or not msg.is_response or len(msg.questions) != 1:
        return False
    q = msg.questions[0]
    return q.qtype == TYPE_PTR and q.name.lower() == qname.rstrip(".").lower()


def parse_answer(buf: bytes, qid: int, qname: str) -> PtrAnswer | None:
    """The PTR answer in ``buf``, or None when ``buf`` answers some other question.

    Raises MalformedError for a message that does not parse or a CNAME loop.
    """
    msg = parse_message(buf)
    if not matches(msg, qid, qname):
        return None
    if msg.flags & FLAG_TC:
        return PtrAnswer(None, None, "truncated")
    if msg.rcode not in (RCODE_NOERROR, RCODE_NXDOMAIN):
        return PtrAnswer(None, None, f"rcode {msg.rcode}")
    owner = qname.rstrip(".").lower()
    ttl: int | None = None
    for _ in range(MAX_CHAIN):
        found = None
        for rec in msg.answers:
            if rec.rclass == CLASS_IN and rec.name.lower() == owner and rec.rtype in (5, 12):
                found = rec
                if rec.rtype == TYPE_PTR:
                    break
        if found is None:
            break
        ttl = found.ttl if ttl is None else min(ttl, found.ttl)
        if found.rtype == TYPE_PTR:
            if not found.data or found.data == ".":
                break
            return PtrAnswer(found.data, ttl)
        owner = found.data.lower()
    else:
        raise MalformedError(PROTO, "CNAME chain too long in a PTR answer")
    return PtrAnswer(None, _soa_ttl(msg))
