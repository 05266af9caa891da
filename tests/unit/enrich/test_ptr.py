"""PTR queries and answers on the wire, checked against dpkt's DNS codec and fuzzed."""

from __future__ import annotations

import struct

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.enrich.ptr import PtrAnswer, build_query, parse_answer, reverse_name
from netwatch.errors import MalformedError

Q4 = "1.2.0.192.in-addr.arpa"


def test_reverse_names() -> None:
    assert reverse_name("192.0.2.1") == Q4
    assert reverse_name("2001:db8::1") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    )
    assert reverse_name("fe80::1%eth0").endswith("e.f.ip6.arpa")


def test_query_bytes_match_the_docstring_and_dpkt() -> None:
    q = build_query(0x1234, Q4)
    assert q[:12].hex() == "123401000001000000000000"
    assert q[12:25] == b"\x011\x012\x010\x03192\x07in"
    assert q[-4:] == b"\x00\x0c\x00\x01"
    msg = dpkt.dns.DNS(q)
    assert msg.id == 0x1234 and msg.rd and msg.qr == dpkt.dns.DNS_Q
    assert [(x.name, x.type, x.cls) for x in msg.qd] == [(Q4, dpkt.dns.DNS_PTR, 1)]
    with pytest.raises(ValueError):
        build_query(1, "a..b")
    with pytest.raises(ValueError):
        build_query(1, "x" * 64 + ".arpa")


def _answer(
    qid: int,
    qname: str,
    rrs: list[tuple[str, int, int, bytes]],
    *,
    rcode: int = 0,
    flags: int = 0x8180,
    authority: list[tuple[str, int, int, bytes]] | None = None,
) -> bytes:
    """A response built field by field (no compression)."""
    authority = authority or []
    out = struct.pack("!6H", qid, flags | rcode, 1, len(rrs), len(authority), 0)
    out += _name(qname) + struct.pack("!HH", 12, 1)
    for owner, rtype, ttl, rdata in rrs + authority:
        out += _name(owner) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return out


def _name(n: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".") if p) + b"\0"


def test_plain_answer_and_dpkt_agrees() -> None:
    buf = _answer(7, Q4, [(Q4, 12, 3600, _name("host.example.test"))])
    assert dpkt.dns.DNS(buf).an[0].ptrname == "host.example.test"
    assert parse_answer(buf, 7, Q4) == PtrAnswer("host.example.test", 3600)
    assert parse_answer(buf, 7, Q4.upper() + ".") == PtrAnswer("host.example.test", 3600)


def test_other_questions_and_ids_are_not_ours() -> None:
    buf = _answer(7, Q4, [(Q4, 12, 60, _name("h.test"))])
    assert parse_answer(buf, 8, Q4) is None
    assert parse_answer(buf, 7, "2.2.0.192.in-addr.arpa") is None
    query = build_query(7, Q4)  # a query (QR clear) echoed back is not an answer
    assert parse_answer(query, 7, Q4) is None


def test_cname_chain_rfc2317() -> None:
    target = "1.0/25.2.0.192.in-addr.arpa"
    buf = _answer(
        9,
        Q4,
        [(Q4, 5, 600, _name(target)), (target, 12, 3600, _name("classless.example.test"))],
    )
    assert parse_answer(buf, 9, Q4) == PtrAnswer("classless.example.test", 600)


def test_cname_loop_is_malformed() -> None:
    a, b = "a.in-addr.arpa", "b.in-addr.arpa"
    buf = _answer(9, a, [(a, 5, 60, _name(b)), (b, 5, 60, _name(a))])
    with pytest.raises(MalformedError):
        parse_answer(buf, 9, a)


def test_negative_answers_use_the_soa() -> None:
    soa = _name("ns.test") + _name("admin.test") + struct.pack("!5I", 1, 2, 3, 4, 900)
    nx = _answer(3, Q4, [], rcode=3, authority=[("2.0.192.in-addr.arpa", 6, 1800, soa)])
    assert parse_answer(nx, 3, Q4) == PtrAnswer(None, 900)
    low = _answer(3, Q4, [], rcode=3, authority=[("2.0.192.in-addr.arpa", 6, 30, soa)])
    assert parse_answer(low, 3, Q4) == PtrAnswer(None, 30)
    assert parse_answer(_answer(3, Q4, [], rcode=3), 3, Q4) == PtrAnswer(None, None)
    nodata = _answer(3, Q4, [(Q4, 16, 60, b"\x03txt")])  # NOERROR, no PTR
    assert parse_answer(nodata, 3, Q4) == PtrAnswer(None, None)


def test_failures_are_errors_to_retry() -> None:
    assert parse_answer(_answer(4, Q4, [], rcode=2), 4, Q4) == PtrAnswer(None, None, "rcode 2")
    assert parse_answer(_answer(4, Q4, [], rcode=5), 4, Q4) == PtrAnswer(None, None, "rcode 5")
    tc = _answer(4, Q4, [], flags=0x8380)
    assert parse_answer(tc, 4, Q4) == PtrAnswer(None, None, "truncated")


def test_truncated_bytes_raise_malformed_only() -> None:
    buf = _answer(7, Q4, [(Q4, 12, 3600, _name("host.example.test"))])
    for n in range(len(buf)):
        try:
            parse_answer(buf[:n], 7, Q4)
        except MalformedError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        ans = parse_answer(data, 7, Q4)
    except MalformedError:
        return
    assert ans is None or isinstance(ans, PtrAnswer)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(0, 255))
def test_fuzz_flipped_byte(pos: int, value: int) -> None:
    buf = bytearray(_answer(7, Q4, [(Q4, 12, 3600, _name("host.example.test"))]))
    buf[pos % len(buf)] = value
    try:
        parse_answer(bytes(buf), 7, Q4)
    except MalformedError:
        pass
