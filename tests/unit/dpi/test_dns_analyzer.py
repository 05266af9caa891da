"""DNSAnalyzer behaviour: pairing, events, TCP framing (whole, byte by byte, trailing
bytes), caps, states, detection and fuzzing."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Analyzer, Dir, NameResolved
from netwatch.dpi.dns import DNSAnalyzer, detect_tcp, detect_udp
from netwatch.dpi.dns.analyzer import MAX_QUERIES
from netwatch.errors import MalformedError
from tests.unit.dpi.test_dns_wire import PTR, message, name, rr

QUERY = message(ident=7, flags=0x0100, questions=(("www.example.com", 1),))
RESPONSE = message(
    ident=7,
    flags=0x8180,
    questions=(("www.example.com", 1),),
    answers=(
        rr(PTR, 5, name("edge.example.net"), ttl=300),
        rr(name("edge.example.net"), 5, name("pop.cdn.example"), ttl=120),
        rr(name("pop.cdn.example"), 1, bytes([192, 0, 2, 10]), ttl=60),
        rr(name("pop.cdn.example"), 1, bytes([192, 0, 2, 11]), ttl=30),
    ),
)
NXDOMAIN = message(ident=9, flags=0x8183, questions=(("nope.example", 28),))


def tcp(msg: bytes) -> bytes:
    return struct.pack("!H", len(msg)) + msg


def test_is_an_analyzer() -> None:
    assert isinstance(DNSAnalyzer(), Analyzer)
    with pytest.raises(ValueError):
        DNSAnalyzer("sctp")  # type: ignore[arg-type]


def test_udp_query_response_pairing_and_cname_chain() -> None:
    assert DNSAnalyzer("udp").app_state is None
    a = DNSAnalyzer("udp")
    assert not a.feed(Dir.CLIENT, QUERY, 100.0)
    assert a.app_state == "DNS_QUERY"
    assert a.summary() == "DNS A www.example.com"
    events = a.feed(Dir.SERVER, RESPONSE, 100.0125)
    assert a.app_state == "DNS_RESPONSE"
    # the address is labelled with the *queried* name, through two CNAMEs; min TTL
    assert events == [
        NameResolved(
            ts=100.0125, name="www.example.com", addresses=("192.0.2.10", "192.0.2.11"), ttl=30
        )
    ]
    (q,) = a.record()["queries"]
    assert q["rtt_ms"] == pytest.approx(12.5)
    assert (q["id"], q["qname"], q["qtype"], q["rcode"], q["nodata"]) == (
        7,
        "www.example.com",
        "A",
        "NOERROR",
        False,
    )
    assert q["flags"] == ["rd", "ra"]
    assert [x["type"] for x in q["answers"]] == ["CNAME", "CNAME", "A", "A"]
    assert q["answers"][2] == {
        "name": "pop.cdn.example",
        "type": "A",
        "ttl": 60,
        "data": "192.0.2.10",
    }
    assert not a.finished


def test_nxdomain_summary_and_nodata() -> None:
    a = DNSAnalyzer()
    a.feed(Dir.CLIENT, message(ident=9, questions=(("nope.example", 28),)), 1.0)
    a.feed(Dir.SERVER, NXDOMAIN, 1.5)
    assert a.summary() == "DNS AAAA nope.example NXDOMAIN"
    q = a.record()["queries"][0]
    assert (q["rcode"], q["nodata"], q["rtt_ms"]) == ("NXDOMAIN", False, 500.0)
    b = DNSAnalyzer()
    b.feed(Dir.SERVER, message(ident=3, flags=0x8180, questions=(("v4only.example", 28),)), 2.0)
    q = b.record()["queries"][0]
    assert (q["rcode"], q["nodata"], q["rtt_ms"]) == ("NOERROR", True, None)


def test_response_to_another_id_is_not_paired() -> None:
    a = DNSAnalyzer()
    a.feed(Dir.CLIENT, QUERY, 1.0)
    a.feed(Dir.SERVER, RESPONSE.replace(b"\x00\x07", b"\x00\x08", 1), 1.1)
    first, second = a.record()["queries"]
    assert first["rcode"] is None and first["rtt_ms"] is None
    assert second["id"] == 8 and second["rcode"] == "NOERROR" and second["rtt_ms"] is None


def test_mdns_announcement_without_question() -> None:
    # RFC 6762 §10.2: cache-flush bit set in the class (0x8001)
    ann = message(
        ident=0,
        flags=0x8400,
        questions=(),
        answers=(rr(name("printer.local"), 1, bytes([169, 254, 1, 2]), ttl=120, rclass=0x8001),),
    )
    assert detect_udp(ann)
    a = DNSAnalyzer("udp", variant="mdns")
    events = a.feed(Dir.CLIENT, ann, 5.0)
    assert events == [
        NameResolved(ts=5.0, name="printer.local", addresses=("169.254.1.2",), ttl=120)
    ]
    assert a.summary() == "mDNS A printer.local"


def test_query_cap_counts_the_rest() -> None:
    a = DNSAnalyzer()
    for i in range(MAX_QUERIES + 7):
        a.feed(Dir.CLIENT, message(ident=i, questions=((f"h{i}.example", 1),)), float(i))
    rec = a.record()
    assert len(rec["queries"]) == MAX_QUERIES
    assert rec["queries_dropped"] == 7


def feed_tcp(chunks: list[bytes]) -> tuple[DNSAnalyzer, list[object]]:
    a = DNSAnalyzer("tcp")
    events: list[object] = []
    events += a.feed(Dir.CLIENT, tcp(QUERY), 1.0)
    for c in chunks:
        events += a.feed(Dir.SERVER, c, 2.0)
    return a, events


def test_tcp_whole_one_byte_at_a_time_and_two_per_segment() -> None:
    stream = tcp(RESPONSE) + tcp(NXDOMAIN)
    whole, ev_whole = feed_tcp([stream])
    bytewise, ev_bytes = feed_tcp([stream[i : i + 1] for i in range(len(stream))])
    assert whole.record() == bytewise.record()
    assert ev_whole == ev_bytes and len(ev_whole) == 1
    assert [q["rcode"] for q in whole.record()["queries"]] == ["NOERROR", "NXDOMAIN"]


def test_tcp_trailing_partial_message_waits() -> None:
    a, _ = feed_tcp([tcp(RESPONSE) + tcp(NXDOMAIN)[:5]])
    assert len(a.record()["queries"]) == 1
    a.feed(Dir.SERVER, tcp(NXDOMAIN)[5:], 3.0)
    assert len(a.record()["queries"]) == 2


def test_tcp_lying_lengths() -> None:
    a = DNSAnalyzer("tcp")
    with pytest.raises(MalformedError, match="below the header"):
        a.feed(Dir.CLIENT, b"\x00\x03abc", 1.0)
    b = DNSAnalyzer("tcp")
    # the prefix claims 40 bytes more than the message has: the next message's bytes
    # are read as its tail and the parse fails on the counts / trailing bytes
    with pytest.raises(MalformedError):
        b.feed(Dir.CLIENT, struct.pack("!H", len(QUERY) + 5) + QUERY + tcp(QUERY), 1.0)


def test_tcp_gap_stops_that_direction() -> None:
    a = DNSAnalyzer("tcp")
    a.feed(Dir.CLIENT, tcp(QUERY)[:4], 1.0)
    a.gap(Dir.CLIENT, 10)
    assert not a.feed(Dir.CLIENT, b"garbage that would not parse", 1.1)
    assert not a.finished
    a.gap(Dir.SERVER, 3)
    assert a.finished


def test_udp_garbage_is_malformed() -> None:
    with pytest.raises(MalformedError):
        DNSAnalyzer().feed(Dir.CLIENT, QUERY + b"trailing", 1.0)


def test_detect_udp_is_strict() -> None:
    assert detect_udp(QUERY) and detect_udp(RESPONSE) and detect_udp(NXDOMAIN)
    assert not detect_udp(QUERY[:-1])
    assert not detect_udp(QUERY + b"\x00")
    assert not detect_udp(message(questions=()))  # a query without a question
    assert not detect_udp(QUERY[:2] + b"\x01\x40" + QUERY[4:])  # Z bit set
    bad_class = QUERY[:-2] + b"\x00\x07"
    assert not detect_udp(bad_class)
    rng = random.Random(1035)
    for size in (12, 17, 32, 48, 64, 128, 512, 1200):
        for _ in range(300):
            assert not detect_udp(rng.randbytes(size))


def test_detect_tcp() -> None:
    assert detect_tcp(tcp(QUERY))
    assert detect_tcp(tcp(QUERY)[:16])  # header only: a plausible query
    assert not detect_tcp(tcp(RESPONSE)[:16])  # a partial response is not enough
    assert not detect_tcp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not detect_tcp(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32))
    assert not detect_tcp(b"SSH-2.0-OpenSSH_9.7\r\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_fuzz_tcp_stream_only_raises_malformed(chunks: list[bytes]) -> None:
    a = DNSAnalyzer("tcp")
    try:
        for c in chunks:
            a.feed(Dir.SERVER, c, 0.0)
    except MalformedError:
        return
    a.record()
    a.summary()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_detectors_never_raise(data: bytes) -> None:
    detect_udp(data)
    detect_tcp(data)
