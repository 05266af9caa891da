"""STUNAnalyzer: the STUN/TURN flows of the corpus (UDP, TCP, RFC 4571-framed TCP, WebRTC
5-tuples mixing DTLS and RTP) against tshark's per-message decode and nDPI's mapped,
relayed and peer addresses; stream feeding whole, byte at a time and with trailing bytes;
truncation; bounded fuzzing."""

from __future__ import annotations

import json
from ipaddress import ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir
from netwatch.dpi.stun import STUNAnalyzer, detect_tcp, detect_udp, split_type, type_name
from netwatch.errors import MalformedError
from tests.util.corpus import REPO, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/stun.schema.json").read_text()))


def stun_flows() -> list[Flow]:
    return [f for f in flows_of(corpus_file("ndpi_stun.pcap")) if f.chunks]


def run(flow: Flow, chunks: list[tuple[int, bytes, float]] | None = None) -> STUNAnalyzer:
    a = STUNAnalyzer(transport=flow.transport)
    for d, data, ts in flow.chunks if chunks is None else chunks:
        a.feed(Dir(d), data, ts)
    SCHEMA.validate(a.record())
    return a


def key(flow: Flow) -> frozenset[tuple[str, int]]:
    return frozenset((flow.client, flow.server))


def _addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def test_every_flow_is_detected() -> None:
    for flow in stun_flows():
        first = flow.chunks[0][1]
        assert detect_tcp(first) if flow.transport == "tcp" else detect_udp(first)


def test_matches_tshark_per_flow() -> None:
    truths = [r for r in expected("ndpi_stun") if r.get("kind") == "stun" and "src" in r]
    flows = {key(f): f for f in stun_flows()}
    seen = 0
    for k, flow in flows.items():
        mine = [
            t for t in truths if frozenset(((t["src"], t["sport"]), (t["dst"], t["dport"]))) == k
        ]
        if not mine:
            continue
        seen += 1
        rec = run(flow).record()
        types = {type_name(int(t["type"], 16)) for t in mine if "type" in t}
        assert types <= set(rec["message_types"])
        assert {t["username"] for t in mine if "username" in t} <= set(rec["usernames"])
        software = {t["software"] for t in mine if "software" in t}
        assert software <= {rec["client_software"], rec["server_software"]}
        theirs = {
            _addr(ip, port)
            for t in mine
            for ip, port in zip(
                t.get("mapped_ipv4", []) + t.get("mapped_ipv6", []),
                t.get("mapped_port", []),
                strict=False,  # tshark may list more ports than addresses of one family
            )
        }
        ours = set(rec["mapped_addresses"]) | set(rec["relayed_addresses"])
        ours |= set(rec["peer_addresses"]) | set(rec["response_origins"])
        assert theirs <= ours | set(rec["other_addresses"])
    assert seen >= 6


def test_ndpi_addresses_and_realm() -> None:
    flows = {key(f): f for f in stun_flows()}
    checked = 0
    for p in expected_peer("ndpi_stun", "ndpi"):
        flow = flows.get(frozenset(((p["src"], p["sport"]), (p["dst"], p["dport"]))))
        if flow is None or p["ndpi_master"] not in ("STUN", "DTLS"):
            continue
        rec = run(flow).record()
        raw = p["raw"]
        for field, mine in (
            ("Mapped IP/Port", rec["mapped_addresses"]),
            ("Relayed IP/Port", rec["relayed_addresses"]),
            ("Peer IP/Port", rec["peer_addresses"]),
            ("Rsp Origin IP/Port", rec["response_origins"]),
            ("Other IP/Port", rec["other_addresses"]),
        ):
            if field in raw:
                host, _, port = raw[field].rpartition(":")
                want = _addr(str(ip_address(host.strip("[]"))), int(port))
                assert want in mine, (field, raw[field], mine)
                checked += 1
        if "stun_host" in p:
            assert rec["realm"] == p["stun_host"]
    assert checked >= 4


def test_turn_allocation_over_tcp() -> None:
    flow = next(f for f in stun_flows() if f.transport == "tcp" and f.server[1] == 3478)
    a = run(flow)
    rec = a.record()
    assert rec["turn_allocated"] and rec["relayed_addresses"] == ["66.55.92.16:40576"]
    assert rec["server_software"] == "Coturn-4.5.0.5 'dan Eider'"
    assert 401 in rec["error_codes"] and rec["realm"] == "apps-host.com"
    assert a.app_state == "TURN_ALLOCATED" and a.summary().startswith("TURN relay")


def test_rfc4571_framed_ice_tcp() -> None:
    flow = next(f for f in stun_flows() if f.transport == "tcp" and f.server[1] == 42000)
    rec = run(flow).record()
    assert rec["message_types"] == ["Binding request", "Binding success"]
    assert rec["requests"] == rec["responses"] == 6
    assert "10.77.110.51:41588" in rec["mapped_addresses"]


def test_webrtc_tuple_counts_dtls_and_rtp() -> None:
    flow = next(f for f in stun_flows() if f.server == ("142.250.82.99", 3478))
    rec = run(flow).record()
    assert rec["other_packets"] > 0 and rec["requests"] == 5


@pytest.mark.parametrize("mode", ["bytes", "trailing"])
def test_tcp_stream_feeding(mode: str) -> None:
    for flow in (f for f in stun_flows() if f.transport == "tcp"):
        whole = run(flow, [(d, flow.data(d), 0.0) for d in (0, 1)]).record()
        if mode == "bytes":
            chunks = [
                (d, flow.data(d)[i : i + 1], 0.0) for d in (0, 1) for i in range(len(flow.data(d)))
            ]
            assert run(flow, chunks).record() == whole
        else:
            a = run(flow, [(d, flow.data(d), 0.0) for d in (0, 1)])
            a.feed(Dir.CLIENT, b"\x00\x01\x00", 0.0)  # the start of a next message: waits
            assert a.record() == whole


def test_message_type_bits() -> None:
    assert split_type(0x0001) == (1, 0)
    assert split_type(0x0113) == (3, 3)  # Allocate error response
    assert split_type(0x0017) == (7, 1)  # Data indication
    assert type_name(0x0101) == "Binding success"


def test_attribute_past_the_end_is_malformed() -> None:
    flow = next(f for f in stun_flows() if f.server == ("74.125.247.128", 3478))
    msg = bytearray(flow.chunks[1][1])  # Allocate request with REQUESTED-TRANSPORT
    msg[22:24] = b"\x00\x40"  # attribute length 64
    with pytest.raises(MalformedError):
        STUNAnalyzer().feed(Dir.CLIENT, bytes(msg), 0.0)


def test_tcp_garbage_is_malformed() -> None:
    with pytest.raises(MalformedError):
        STUNAnalyzer(transport="tcp").feed(Dir.CLIENT, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0.0)


def corpus_messages() -> list[bytes]:
    return [
        d for f in stun_flows() if f.transport == "udp" for _, d, _ in f.chunks if detect_udp(d)
    ]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_messages(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(corpus_messages())))
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    for transport in ("udp", "tcp"):
        a = STUNAnalyzer(transport=transport)
        try:
            a.feed(Dir.SERVER, bytes(base[:cut]), 0.0)
        except MalformedError:
            pass
        SCHEMA.validate(a.record())
        a.summary()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_stream(data: bytes) -> None:
    a = STUNAnalyzer(transport="tcp")
    try:
        a.feed(Dir.CLIENT, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12 + data, 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())


def test_engine_labels_every_stun_flow() -> None:
    from tests.unit.engine.helpers import analyze

    recs = analyze(corpus_file("ndpi_stun.pcap"))
    stun = [r["app"]["stun"] for r in recs if (r.get("app") or {}).get("protocol") == "STUN"]
    assert len(stun) == len(stun_flows()) == 8
    tcp = [s for s in stun if s["transport"] == "tcp"]
    assert len(tcp) == 2 and any(s["turn_allocated"] for s in tcp)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_tcp_any_segmentation_gives_the_same_record(sizes: list[int]) -> None:
    for flow in (f for f in stun_flows() if f.transport == "tcp"):
        whole = run(flow, [(d, flow.data(d), 0.0) for d in (0, 1)]).record()
        chunks = []
        for d in (0, 1):
            data, pos, i = flow.data(d), 0, 0
            while pos < len(data):
                chunks.append((d, data[pos : pos + sizes[i % len(sizes)]], 0.0))
                pos, i = pos + sizes[i % len(sizes)], i + 1
        assert run(flow, chunks).record() == whole
