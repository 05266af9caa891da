"""SIPAnalyzer: every SIP message of the corpus against tshark's decode, flows against
nDPI, call states, RTP/RTCP linking from SDP (checked against the capture's own media
flows and end to end through the engine), TCP framing (whole, byte at a time, trailing
bytes), malformed input and bounded fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir, ExpectConnection
from netwatch.dpi.sip import (
    CALL_TRANSITIONS,
    SIPAnalyzer,
    StreamFramer,
    detect_tcp,
    detect_udp,
    parse_datagram,
    parse_sdp,
)
from netwatch.dpi.sip.message import addr_of
from netwatch.errors import MalformedError
from tests.util.corpus import REPO, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/sip.schema.json").read_text()))


def all_flows() -> list[Flow]:
    return [f for f in flows_of(corpus_file("ndpi_sip.pcap")) if f.chunks]


def sip_flows() -> list[Flow]:
    return [f for f in all_flows() if detect_udp(f.chunks[0][1])]


def run(flow: Flow, transport: str = "udp") -> tuple[SIPAnalyzer, list[ExpectConnection]]:
    a = SIPAnalyzer(transport=transport)
    events: list[ExpectConnection] = []
    for d, data, ts in flow.chunks:
        events += [e for e in a.feed(Dir(d), data, ts) if isinstance(e, ExpectConnection)]
    SCHEMA.validate(a.record())
    return a, events


def test_each_message_matches_tshark() -> None:
    truths = [r for r in expected("ndpi_sip") if r.get("kind") == "sip"]
    msgs = sorted((ts, data) for f in sip_flows() for _, data, ts in f.chunks if data.strip())
    assert len(msgs) == len(truths) > 40
    for (_, data), t in zip(msgs, truths, strict=True):
        m = parse_datagram(data)
        assert m.method == t.get("method")
        assert m.status == t.get("status")
        assert m.uri == t.get("r_uri")
        assert addr_of(m.headers["from"]) == t["from_addr"]
        assert addr_of(m.headers["to"]) == t["to_addr"]
        assert m.headers["call-id"] == t["call_id"]
        assert m.headers["cseq"] == t["cseq"]
        assert m.headers.get("user-agent") == t.get("user_agent")
        assert m.headers.get("server") == t.get("server")


def test_flows_match_tshark_and_ndpi() -> None:
    truths = {
        ((t["src"], t["sport"]), (t["dst"], t["dport"])): t
        for t in expected("ndpi_sip")
        if t.get("kind") == "flow" and "sip_methods" in t
    }
    flows = {(f.client, f.server): f for f in sip_flows()}
    assert flows.keys() == truths.keys()
    for k, t in truths.items():
        rec = run(flows[k])[0].record()
        assert set(rec["methods"]) == set(t["sip_methods"])
        assert rec["call_ids"] == t["sip_call_ids"]
    ndpi = {
        ((p["src"], p["sport"]), (p["dst"], p["dport"]))
        for p in expected_peer("ndpi_sip", "ndpi")
        if p["ndpi_master"] == "SIP"
    }
    assert ndpi == set(flows)


def test_call_states() -> None:
    recs = {f.server[0]: run(f)[0].record() for f in sip_flows()}
    cyber = {c["call_id"]: c["state"] for c in recs["212.242.33.35"]["calls"]}
    assert cyber["578222729-4665d775@578222732-4665d772"] is None  # REGISTER only
    assert cyber["11894297-4432a9f8@192.168.1.2"] == "failed"  # 183 then 480
    brujula = recs["200.68.120.81"]
    assert [c["state"] for c in brujula["calls"]] == ["cancelled"]  # INVITE, CANCEL, 408
    assert brujula["status_codes"] == [100, 408]


def test_media_announcements_name_the_rtp_and_rtcp_flows() -> None:
    media = [f for f in all_flows() if not detect_udp(f.chunks[0][1])]
    assert {f.server for f in media} == {("212.242.33.36", 40392), ("212.242.33.36", 40393)}
    flow = next(f for f in sip_flows() if f.server[0] == "212.242.33.35")
    _, events = run(flow)
    announced = {(e.address, e.port): e for e in events}
    rtp = announced[("212.242.33.36", 40392)]
    rtcp = announced[("212.242.33.36", 40393)]
    assert (rtp.protocol, rtcp.protocol) == ("RTP", "RTCP")
    assert rtp.transport == "udp" and rtp.info["call_id"] == "11894297-4432a9f8@192.168.1.2"
    assert rtp.info["media"] == "audio" and rtp.info["codecs"] == ["PCMA", "PCMU"]
    assert ("192.168.1.2", 30000) in announced  # the caller's own offer
    # Each call announces each of its streams once (the caller reuses port 30000 per call).
    assert len(events) == len({(e.info["call_id"], e.address, e.port) for e in events})


def test_engine_links_rtp_to_its_sip_row() -> None:
    from tests.unit.engine.helpers import analyze

    recs = analyze(corpus_file("ndpi_sip.pcap"))
    protos = sorted((r.get("app") or {}).get("protocol") or "" for r in recs)
    assert protos == ["RTCP", "RTP", "SIP", "SIP"]  # one row per signalling association
    rtp = [r for r in recs if r["app"]["protocol"] in ("RTP", "RTCP")]
    parents = set()
    for r in rtp:
        info = r["app"][r["app"]["protocol"].lower()]
        assert isinstance(info["parent"], int)
        parents.add(info["parent"])
        assert info["call_id"] == "11894297-4432a9f8@192.168.1.2"
        assert {r["local_port"], r["remote_port"]} & {40392, 40393}
    assert len(parents) == 1


CALL = [
    (0, "INVITE sip:bob@198.18.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.0.1;branch=z9hG4bK1\r\n"
        "From: <sip:alice@198.18.0.1>;tag=1\r\nTo: <sip:bob@198.18.0.2>\r\nCall-ID: c1\r\n"
        "CSeq: 1 INVITE\r\nContact: <sip:alice@198.18.0.1>\r\nContent-Type: application/sdp\r\n"
        "Content-Length: {n}\r\n\r\n",
     "v=0\r\no=- 1 1 IN IP4 198.18.0.1\r\ns=-\r\nc=IN IP4 198.18.0.1\r\nt=0 0\r\n"
     "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
     "m=video 0 RTP/AVP 96\r\n"),
    (1, "SIP/2.0 180 Ringing\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        "From: <sip:alice@198.18.0.1>;tag=1\r\nTo: <sip:bob@198.18.0.2>;tag=2\r\nl: 0\r\n\r\n", ""),
    (1, "SIP/2.0 200 OK\r\ni: c1\r\nCSeq: 1 INVITE\r\nf: <sip:alice@198.18.0.1>;tag=1\r\n"
        "t: <sip:bob@198.18.0.2>;tag=2\r\nServer: test\r\nc: application/sdp\r\nl: {n}\r\n\r\n",
     "v=0\r\no=- 2 2 IN IP4 198.18.0.2\r\ns=-\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n"
     "c=IN IP4 198.18.0.2\r\na=rtcp:50011\r\n"),
    (0, "ACK sip:bob@198.18.0.2 SIP/2.0\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\n"
        "Content-Length: 0\r\n\r\n", ""),
    (0, "BYE sip:bob@198.18.0.2 SIP/2.0\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\n"
        "Content-Length: 0\r\n\r\n", ""),
    (1, "SIP/2.0 200 OK\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n", ""),
]  # fmt: skip


def call_bytes() -> list[tuple[int, bytes]]:
    return [(d, (h.format(n=len(b.encode())) + b).encode()) for d, h, b in CALL]


def test_a_whole_call_over_tcp_whole_and_byte_at_a_time() -> None:
    msgs = call_bytes()
    assert detect_tcp(msgs[0][1])
    states: list[str | None] = []
    whole = SIPAnalyzer(transport="tcp")
    events: list[ExpectConnection] = []
    for d, data in msgs:
        events += [e for e in whole.feed(Dir(d), data, 1.0) if isinstance(e, ExpectConnection)]
        states.append(whole.record()["calls"][0]["state"])
    assert states == [
        "calling",
        "ringing",
        "established",
        "established",
        "terminating",
        "terminated",
    ]
    assert [(e.port, e.protocol) for e in events] == [
        (40000, "RTP"), (40001, "RTCP"), (50000, "RTP"), (50011, "RTCP"),
    ]  # fmt: skip
    assert whole.record()["calls"][0]["media"][0]["codecs"] == ["PCMU", "telephone-event"]
    bytewise = SIPAnalyzer(transport="tcp")
    for d, data in msgs:
        for i in range(len(data)):
            bytewise.feed(Dir(d), data[i : i + 1], 1.0)
    assert bytewise.record() == whole.record()
    SCHEMA.validate(whole.record())


def test_tcp_trailing_partial_message_waits() -> None:
    msgs = call_bytes()
    a = SIPAnalyzer(transport="tcp")
    a.feed(Dir.CLIENT, msgs[0][1] + b"\r\n" + msgs[3][1][:20], 1.0)  # keep-alive + partial
    assert a.record()["requests"] == 1
    a.feed(Dir.CLIENT, msgs[3][1][20:], 1.0)
    assert a.record()["methods"] == ["INVITE", "ACK"]


def test_tcp_needs_content_length() -> None:
    with pytest.raises(MalformedError):
        StreamFramer().push(b"OPTIONS sip:x@y SIP/2.0\r\nCall-ID: a\r\n\r\n")


def test_udp_keepalives_are_counted() -> None:
    flow = next(f for f in sip_flows() if f.server[0] == "212.242.33.35")
    rec = run(flow)[0].record()
    assert rec["keepalives"] == sum(1 for _, d, _ in flow.chunks if not d.strip()) > 0


@pytest.mark.parametrize(
    "data",
    [
        b"INVITE sip:a@b SIP/2.0\r\nCall-ID x\r\n\r\n",  # header without colon
        b"SIP/2.0 200 OK\r\nContent-Length: 99\r\n\r\nshort",  # body shorter than claimed
        b"HELLO world\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n",
    ],
)
def test_malformed_messages(data: bytes) -> None:
    with pytest.raises(MalformedError):
        SIPAnalyzer().feed(Dir.CLIENT, data, 0.0)


def test_sdp_hold_and_disabled_streams_are_not_expected() -> None:
    body = b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n"
    assert parse_sdp(body) == []


def test_transition_table_is_closed() -> None:
    states = {s for s, _ in CALL_TRANSITIONS} | set(CALL_TRANSITIONS.values())
    schema = json.loads((REPO / "docs/schema/app/sip.schema.json").read_text())
    call_states = schema["properties"]["calls"]["items"]["properties"]["state"]["enum"]
    assert states == set(call_states)


def corpus_messages() -> list[bytes]:
    return [d for f in sip_flows() for _, d, _ in f.chunks if d.strip()] + [
        d for _, d in call_bytes()
    ]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_messages(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(corpus_messages())))
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    for transport in ("udp", "tcp"):
        a = SIPAnalyzer(transport=transport)
        try:
            a.feed(Dir.CLIENT, bytes(base[:cut]), 0.0)
        except MalformedError:
            pass
        SCHEMA.validate(a.record())
        a.summary()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=30))
def test_tcp_any_segmentation_gives_the_same_record(sizes: list[int]) -> None:
    whole = SIPAnalyzer(transport="tcp")
    split = SIPAnalyzer(transport="tcp")
    i = 0
    for d, data in call_bytes():  # each message cut into segments, directions in call order
        whole.feed(Dir(d), data, 1.0)
        pos = 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            split.feed(Dir(d), data[pos : pos + n], 1.0)
            pos, i = pos + n, i + 1
    assert split.record() == whole.record()
