"""WireGuardAnalyzer: a wireguard-go tunnel capture (handshake, pings through it), message
layouts built by the whitepaper (cookie reply, mac2, keepalive), detection, fuzzing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.wireguard import (
    WireGuardAnalyzer,
    WireGuardHandshake,
    detect_udp,
    detect_udp_midstream,
)
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.streams import flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "wireguard"
(FLOW,) = [f for f in flows_of(DATA / "wireguard-go.pcap") if f.chunks]


def run(chunks: list[tuple[int, bytes, float]]) -> WireGuardAnalyzer:
    a = WireGuardAnalyzer()
    for d, data, ts in chunks:
        a.feed(Dir(d), data, ts)
    return a


def test_wireguard_go_tunnel() -> None:
    first = FLOW.chunks[0][1]
    assert detect_udp(first) and len(first) == 148
    a = run(FLOW.chunks)
    r = a.record()
    assert r["messages"] == {
        "handshake_initiation": 1,
        "handshake_response": 1,
        "cookie_reply": 0,
        "transport_data": 6,  # three pings and their replies
    }
    assert r["handshakes"] == 1 and r["initiator"] == "originator" and not r["under_load"]
    # the data packets name the peer's index: each side's packets carry the other's
    sender_c = FLOW.chunks[0][1][4:8][::-1].hex()
    assert r["originator_indices"] == [sender_c] and len(r["responder_indices"]) == 1
    receivers = {data[4:8][::-1].hex() for d, data, _ in FLOW.chunks if data[0] == 4 and d == 1}
    assert receivers == {sender_c}
    assert r["data_bytes_originator"] == r["data_bytes_responder"] == 3 * 96
    assert a.app_state == "WG_ESTABLISHED" and a.summary() == "WireGuard (1 handshake)"


def test_handshake_event() -> None:
    a = WireGuardAnalyzer()
    events = [e for d, data, ts in FLOW.chunks for e in a.feed(Dir(d), data, ts)]
    (hs,) = events
    r = a.record()
    assert hs == WireGuardHandshake(
        r["first_handshake"], r["originator_indices"][0], r["responder_indices"][0]
    )


def test_engine_record_matches_schema() -> None:
    recs = [r for r in analyze(DATA / "wireguard-go.pcap") if r.get("app")]
    assert [r["app"]["protocol"] for r in recs] == ["WireGuard"]
    assert not list(VALIDATOR.iter_errors(recs[0]))


def initiation(mac2: bytes = b"\x00" * 16) -> bytes:
    return b"\x01\x00\x00\x00" + os.urandom(4 + 32 + 48 + 28 + 16) + mac2


def test_cookie_reply_and_mac2_mean_under_load() -> None:
    a = WireGuardAnalyzer()
    a.feed(Dir.CLIENT, initiation(), 0.0)
    cookie = b"\x03\x00\x00\x00" + os.urandom(4 + 24 + 32)
    assert len(cookie) == 64 and detect_udp(cookie)
    a.feed(Dir.SERVER, cookie, 0.1)
    a.feed(Dir.CLIENT, initiation(mac2=os.urandom(16)), 0.2)
    r = a.record()
    assert r["under_load"] and r["messages"]["cookie_reply"] == 1 and r["handshakes"] == 0
    assert a.app_state == "WG_HANDSHAKE"


def test_keepalive_and_midstream_detection() -> None:
    keepalive = b"\x04\x00\x00\x00" + b"\x01\x02\x03\x04" + (7).to_bytes(8, "little") + b"t" * 16
    assert detect_udp_midstream(keepalive) and not detect_udp(keepalive)
    a = run([(0, keepalive, 0.0)])
    assert a.record()["keepalives"] == 1 and a.record()["max_counter"] == 7


@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x00\x00\x00" + b"\x00" * 100,  # initiation of the wrong size
        b"\x05\x00\x00\x00" + b"\x00" * 44,  # unknown type
        b"\x04\x00\x00\x01" + b"\x00" * 28,  # reserved bytes set
        b"\x04\x00\x00\x00" + b"\x00" * 29,  # data not a multiple of 16
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        WireGuardAnalyzer().feed(Dir.CLIENT, data, 0.0)


def test_detection_negatives() -> None:
    assert not detect_udp(b"\x01\x00\x00\x00" + b"\x00" * 143)  # 147 bytes
    assert not detect_udp(b"\x17\xfe\xfd" + b"\x00" * 145)  # DTLS
    assert not detect_udp_midstream(b"\x04\x00\x00\x00" + b"\x00" * 10 + b"\xff\xff" + b"\x00" * 16)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    chunk = bytearray(data.draw(st.sampled_from([c[1] for c in FLOW.chunks])))
    for _ in range(data.draw(st.integers(1, 4))):
        chunk[data.draw(st.integers(0, len(chunk) - 1))] = data.draw(st.integers(0, 255))
    chunk += data.draw(st.binary(max_size=20))
    a = WireGuardAnalyzer()
    try:
        a.feed(Dir.CLIENT, bytes(chunk), 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
