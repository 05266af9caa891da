"""RDPAnalyzer: tshark truths and suricata-verify's RDP events on real captures (three
feeding shapes); negotiation failure, routing tokens, malformed PDUs, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.rdp import RDPAnalyzer, detect_tcp, protocol_names
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script, tcp_flows
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow

C, S = 0, 1


def only_flow(stem: str) -> Flow:
    (flow,) = tcp_flows(corpus_file(stem + ".pcap"), detect_tcp)
    return flow


@pytest.mark.parametrize("shape", SHAPES)
def test_nla_negotiation_hands_over_to_tls(shape: str) -> None:
    (t,) = [t for t in expected("ndpi_rdp") if t.get("kind") == "flow"]
    a = RDPAnalyzer()
    replay(a, only_flow("ndpi_rdp").chunks, shape)
    r = a.record()
    assert r["requested_protocols_flags"] == int(t["rdp_requested_protocols"], 16)
    assert r["requested_protocols"] == ["TLS", "CredSSP", "CredSSP-EX"]
    assert r["selected_protocol"] == "CredSSP-EX"
    assert a.handoff == "TLS" and not a.finished
    (peer,) = expected_peer("ndpi_rdp", "ndpi")
    assert peer["raw"]["proto"] == "88/RDP"


@pytest.mark.parametrize("shape", SHAPES)
def test_standard_security_client_data(shape: str) -> None:
    (t,) = [t for t in expected("sv_rdp-003") if t.get("kind") == "flow" and t.get("app")]
    events = [p for p in expected_peer("sv_rdp-003", "suricata-verify")]
    a = RDPAnalyzer()
    replay(a, only_flow("sv_rdp-003").chunks, shape)
    r = a.record()
    assert a.finished and a.handoff is None
    assert r["cookie"] == t["rdp_cookie"].split("mstshash=")[1]
    assert r["cookie"] == next(e["rdp_cookie"] for e in events if "rdp_cookie" in e)
    assert r["selected_protocol"] == "RDP" and r["requested_protocols"] is None
    client = r["client"]
    assert client["name"] == t["rdp_client_name"] and client["build"] == t["rdp_client_build"]
    connect = next(e["match"] for e in events if "rdp_client_name" in e)
    assert client["desktop_height"] == connect["rdp.client.desktop_height"]
    assert client["product_id"] == connect["rdp.client.id"]
    channels = [v for k, v in sorted(connect.items()) if k.startswith("rdp.channels[")]
    assert r["channels"] == channels
    assert a.summary() == "RDP A70067 RDP"


def tpkt(x224: bytes) -> bytes:
    return struct.pack("!BBH", 3, 0, len(x224) + 4) + x224


def request(var: bytes) -> bytes:
    return tpkt(bytes([6 + len(var), 0xE0, 0, 0, 0, 0, 0]) + var)


def confirm(var: bytes) -> bytes:
    return tpkt(bytes([6 + len(var), 0xD0, 0, 0, 0x12, 0x34, 0]) + var)


def test_negotiation_failure_and_routing_token() -> None:
    a = RDPAnalyzer()
    neg = struct.pack("<BBHI", 1, 0, 8, 0)
    fail = struct.pack("<BBHI", 3, 0, 8, 5)
    replay(a, script((C, request(b"Cookie: msts=3640205228.15629.0000\r\n" + neg)),
                     (S, confirm(fail))))  # fmt: skip
    r = a.record()
    assert r["routing_token"] == "msts=3640205228.15629.0000" and r["cookie"] is None
    assert r["requested_protocols"] == ["RDP"]
    assert r["negotiation_failure"] == "HYBRID_REQUIRED_BY_SERVER"
    assert a.finished and a.handoff is None


def test_trailing_bytes_after_the_request_wait() -> None:
    a = RDPAnalyzer()
    a.feed(Dir.CLIENT, request(b"Cookie: mstshash=eve\r\n") + b"\x03\x00\x00", 0.0)
    assert a.record()["cookie"] == "eve" and not a.finished


def test_protocol_names() -> None:
    assert protocol_names(0) == ["RDP"]
    assert protocol_names(0x1B) == ["TLS", "CredSSP", "CredSSP-EX", "RDSAAD"]


@pytest.mark.parametrize(
    "steps",
    [
        [(C, b"\x16\x03\x01\x00\x05hello")],
        [(C, b"\x03\x00\x00\x05\x00")],
        [(C, tpkt(bytes([6, 0xF0, 0, 0, 0, 0, 0])))],
        [(C, request(b"Cookie: mstshash=x"))],
        [(C, request(b"")), (S, tpkt(bytes([6, 0xE0, 0, 0, 0, 0, 0])))],
        [(C, request(b"")), (S, confirm(b"")), (C, tpkt(b"\x02\xf0\x80\x7f\x65\x82\xff\xff"))],
        [(C, request(b"")), (S, confirm(b"")), (C, tpkt(b"\x02\xf0\x80\x7f\x65\x02\x04\x00"))],
    ],
)
def test_malformed(steps: list[tuple[int, bytes]]) -> None:
    with pytest.raises(MalformedError):
        replay(RDPAnalyzer(), script(*steps))


@pytest.mark.parametrize(
    ("data", "rdp"),
    [(request(b"Cookie: mstshash=a\r\n"), True), (request(b""), True),
     (confirm(b""), False), (b"\x03\x00\x00\x13\x0e\xe0", False), (b"\x16\x03\x01", False)],
)  # fmt: skip
def test_detect(data: bytes, rdp: bool) -> None:
    assert detect_tcp(data) is rdp


test_fuzz = fuzz_only_malformed(RDPAnalyzer)
test_fuzz_standard = fuzz_only_malformed(
    RDPAnalyzer, script((C, request(b"")), (S, confirm(b"")), (C, b"\x03\x00\x01\x00\x02\xf0\x80"))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 411), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_real_connect_initial(edits: list[tuple[int, int]]) -> None:
    """The real MCS Connect Initial with a few bytes replaced: only MalformedError."""
    chunks = only_flow("sv_rdp-003").chunks[:3]
    pdu = bytearray(chunks[2][1])
    for pos, value in edits:
        pdu[pos % len(pdu)] = value
    a = RDPAnalyzer()
    try:
        replay(a, [*chunks[:2], (C, bytes(pdu), 0.0)])
    except MalformedError:
        pass
    assert isinstance(a.record(), dict)
