"""The DNS package's shortcuts give what the plain code gives.

``parse_message`` remembers its last parse by the identity of the ``bytes`` it read, so
the engine's detect-then-feed of one datagram parses it once; A records are printed by
``socket.inet_ntoa`` instead of ``ipaddress``.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi import registry
from netwatch.dpi.base import Dir
from netwatch.dpi.dns import wire
from netwatch.dpi.dns.rdata import format_rdata
from netwatch.errors import MalformedError
from tests.unit.dpi.test_dns_wire import message, name, rr

QUERY = message()
ANSWER = message(
    flags=0x8180,
    answers=(rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 1])), rr(b"\xc0\x0c", 1, bytes([10, 0, 0, 1]))),
)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = wire._parse_message

    def counted(buf: bytes) -> wire.Message:
        calls.append(buf)
        return real(buf)

    monkeypatch.setattr(wire, "_parse_message", counted)
    return calls


def test_same_object_parsed_once_equal_object_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _counting(monkeypatch)
    first = wire.parse_message(QUERY)
    assert wire.parse_message(QUERY) is first
    assert len(calls) == 1
    copy = bytes(bytearray(QUERY))  # equal bytes, another object: parsed afresh
    assert copy is not QUERY
    assert wire.parse_message(copy) == first
    assert len(calls) == 2


def test_only_bytes_that_parsed_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    mutable = bytearray(QUERY)
    wire.parse_message(mutable)  # type: ignore[arg-type]  # a caller's bytearray
    mutable[-1] ^= 0xFF  # class 1 -> 254 (NONE): still parses, but a different message
    assert wire.parse_message(mutable).questions[0].qclass == 254  # type: ignore[arg-type]
    assert len(calls) == 2
    bad = QUERY[:-1]
    for _ in range(2):
        with pytest.raises(MalformedError):
            wire.parse_message(bad)
    assert len(calls) == 4


def test_engine_path_parses_the_first_datagram_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    an = registry.detect("udp", QUERY, 40000, 53)
    assert an is not None and an.protocol == "DNS"
    an.feed(Dir.CLIENT, QUERY, 1.0)
    an.feed(Dir.SERVER, ANSWER, 1.002)
    assert calls == [QUERY, ANSWER]
    (query,) = an.record()["queries"]
    assert query["qname"] == "example.com" and query["rtt_ms"] == 2.0
    assert [a["data"] for a in query["answers"]] == ["192.0.2.1", "10.0.0.1"]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=4, max_size=4))
def test_a_rdata_prints_like_ipaddress(addr: bytes) -> None:
    buf = name("a.test") + addr
    assert format_rdata(buf, len(buf) - 4, len(buf), 1) == (
        str(ipaddress.IPv4Address(addr)),
        (),
    )


@pytest.mark.parametrize("size", [1, 3, 5, 16])  # 0: empty rdata, which is legal
def test_a_rdata_of_another_size_is_malformed(size: int) -> None:
    buf = struct.pack("!H", 0) + bytes(size)
    with pytest.raises(MalformedError, match="A rdata"):
        format_rdata(buf, 2, 2 + size, 1)


def _detect_model(data: bytes) -> bool:
    """``detect_udp`` as it was before its header pre-checks: parse, then judge."""
    from netwatch.dpi.dns.wire import CLASSES

    if len(data) < 17:
        return False
    try:
        msg = wire.parse_message(data)
    except MalformedError:
        return False
    if msg.flags & 0x0040:
        return False
    if not msg.is_response and not msg.questions:
        return False
    if not msg.questions and not msg.answers:
        return False
    records = (*msg.answers, *msg.authority, *msg.additional)
    return all(q.qclass in CLASSES for q in msg.questions) and all(
        r.rclass in CLASSES for r in records
    )


@st.composite
def _mutated_messages(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from([QUERY, ANSWER, message(flags=0x8180)])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body) - 1))
        if draw(st.booleans()):
            body[at] = draw(st.integers(0, 255))
        else:
            body[at:at] = draw(st.binary(min_size=1, max_size=3))
    return bytes(body)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=64), _mutated_messages()))
def test_detect_udp_like_the_model(data: bytes) -> None:
    from netwatch.dpi.dns import detect_udp

    assert detect_udp(data) == _detect_model(data)


def test_detect_udp_real_messages() -> None:
    from netwatch.dpi.dns import detect_udp

    for data in (QUERY, ANSWER):
        assert detect_udp(data) and _detect_model(data)
    for flags in (0x0140, 0x1900):  # Z bit; opcode 3 (unassigned)
        data = message(flags=flags)
        assert not detect_udp(data) and not _detect_model(data)
