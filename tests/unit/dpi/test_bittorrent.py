"""BitTorrentAnalyzer: the nDPI peer-wire capture against tshark and nDPI, the
suricata-verify DHT capture against tshark and Suricata, libtorrent captures (TCP, uTP,
DHT, announces to opentracker over UDP); bencoding; h11-style feeding; bounded fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.bittorrent import BitTorrentAnalyzer, detect_tcp, detect_udp
from netwatch.dpi.bittorrent.analyzer import PeerHandshake, TrackerAnnounce
from netwatch.dpi.bittorrent.bencode import decode, decode_prefix
from netwatch.dpi.bittorrent.clients import client_of
from netwatch.dpi.bittorrent.tracker import MAGIC, parse_request, parse_response
from netwatch.dpi.bittorrent.utp import parse_utp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "bittorrent"


def run(flow: Flow, mode: str = "whole") -> BitTorrentAnalyzer:
    a = BitTorrentAnalyzer(flow.transport)
    for d, data, ts in flow.chunks:
        if mode == "bytes" and flow.transport == "tcp":
            for i in range(len(data)):
                a.feed(Dir(d), data[i : i + 1], ts)
        else:
            a.feed(Dir(d), data, ts)
        if a.finished:
            break
    return a


def by_client(path: Path) -> dict[tuple[str, int], Flow]:
    return {f.client: f for f in flows_of(path) if f.chunks}


@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_peer_wire_matches_tshark(mode: str) -> None:
    flows = by_client(corpus_file("ndpi_bittorrent.pcap"))
    truths = [t for t in expected("ndpi_bittorrent") if t.get("kind") == "flow"]
    assert len(truths) == 24
    for t in truths:
        flow = flows[(t["src"], t["sport"])]
        assert detect_tcp(flow.data(0))
        r = run(flow, mode).record()
        assert r["kind"] == "tcp"
        assert [r["info_hash"]] == t["bittorrent_info_hash"]
        assert r["peer_ids"] == t["bittorrent_peer_id"]


def test_peer_wire_matches_ndpi() -> None:
    flows = by_client(corpus_file("ndpi_bittorrent.pcap"))
    peers = expected_peer("ndpi_bittorrent", "ndpi")
    assert len(peers) == 24
    for p in peers:
        flow = flows.get((p["src"], p["sport"])) or flows[(p["dst"], p["dport"])]
        assert [run(flow).record()["info_hash"]] == p["bittorrent_info_hash"]


def test_clients_and_extension_handshake() -> None:
    flow = by_client(corpus_file("ndpi_bittorrent.pcap"))[("192.168.1.3", 52887)]
    r = run(flow).record()
    assert r["clients"] == ["uTorrent Mac 1.8.6", "uTorrent 3.4.5"]
    assert r["client_names"] == ["μTorrent 3.4.5"]
    assert r["listen_ports"] == [53137]
    assert "ut_metadata" in r["extensions"] and "ut_pex" in r["extensions"]
    assert r["messages"]["have"] == 24


def test_joined_mid_stream_side_is_skipped() -> None:
    # The responder's first captured bytes are the middle of its extension handshake.
    flow = by_client(corpus_file("ndpi_bittorrent.pcap"))[("192.168.1.3", 52888)]
    r = run(flow).record()
    assert r["peer_ids"] == ["2d554d313836302d418e181ac9ba17987152663e"]
    assert r["messages"] == {}


def test_dht_matches_tshark_and_suricata() -> None:
    flows = by_client(corpus_file("sv_bittorrent-dht.pcap"))
    for t in [t for t in expected("sv_bittorrent-dht") if t.get("kind") == "flow"]:
        flow = flows[(t["src"], t["sport"])]
        assert detect_udp(flow.chunks[0][1])
        r = run(flow).record()
        assert r["kind"] == "dht" and r["dht_queries"] == t["bt_dht_queries"]
    records = {f.client: run(f).record() for f in flows.values()}
    for e in expected_peer("sv_bittorrent-dht", "suricata-verify"):
        m = e["match"]
        r = records.get((e["src"], e["sport"])) or records[(e["dst"], e["dport"])]
        for field in ("bittorrent_dht.request.id", "bittorrent_dht.response.id"):
            if field in m:
                assert m[field] in r["dht_node_ids"]
        if "bittorrent_dht.error.msg" in m:
            code, msg = m["bittorrent_dht.error.num"], m["bittorrent_dht.error.msg"]
            assert {"code": code, "message": msg} in r["dht_errors"]
        if m.get("bittorrent_dht.request_type"):
            assert m["bittorrent_dht.request_type"] in r["dht_queries"]


def test_libtorrent_tcp_and_utp() -> None:
    for name, kind in (("libtorrent-tcp.pcap", "tcp"), ("libtorrent-utp.pcap", "utp")):
        (flow,) = [f for f in flows_of(DATA / name) if f.chunks]
        a = run(flow)
        r = a.record()
        assert r["kind"] == kind and a.finished
        assert r["clients"] == ["libtorrent 2.0.8", "libtorrent 2.0.8"]
        assert r["client_names"] == ["netwatch-test/1.0", "netwatch-test/1.0"]
        assert len(r["peer_ids"]) == 2 and r["info_hash"] is not None
        if kind == "utp":
            assert r["utp_types"][:2] == ["syn", "state"]


def events(flow: Flow) -> list[object]:
    a = BitTorrentAnalyzer(flow.transport)
    return [e for d, data, ts in flow.chunks for e in a.feed(Dir(d), data, ts)]


def test_handshake_and_announce_events() -> None:
    for name in ("libtorrent-tcp.pcap", "libtorrent-utp.pcap"):
        (flow,) = [f for f in flows_of(DATA / name) if f.chunks]
        hs = [e for e in events(flow) if isinstance(e, PeerHandshake)]
        assert [e.direction for e in hs] == [Dir.CLIENT, Dir.SERVER]
        # a hybrid v1/v2 torrent: libtorrent answers with the other (truncated v2) hash
        assert len(hs[0].info_hash) == len(hs[1].info_hash) == 40
        assert hs[0].peer_id != hs[1].peer_id
        assert hs[0].client == "libtorrent 2.0.8"
    flow = by_client(corpus_file("ndpi_bittorrent.pcap"))[("192.168.1.3", 52888)]
    assert [e.peer_id for e in events(flow) if isinstance(e, PeerHandshake)] == [
        "2d554d313836302d418e181ac9ba17987152663e"
    ]
    flows = [f for f in flows_of(DATA / "opentracker-udp.pcap") if f.chunks]
    announces = [e for f in flows for e in events(f)]
    assert all(isinstance(e, TrackerAnnounce) for e in announces)
    # the seeder starts; the leecher starts, then completes its download
    assert sorted(str(e.event) for e in announces if isinstance(e, TrackerAnnounce)) == [
        "completed",
        "started",
        "started",
    ]


def test_libtorrent_dht() -> None:
    (flow,) = [f for f in flows_of(DATA / "libtorrent-dht.pcap") if f.chunks]
    r = run(flow).record()
    assert r["kind"] == "dht" and "get_peers" in r["dht_queries"]
    assert r["dht_versions"] == ["LT0208"]  # libtorrent 2.0.8


def test_opentracker_udp_announces() -> None:
    flows = sorted(
        (f for f in flows_of(DATA / "opentracker-udp.pcap") if f.chunks), key=lambda f: f.client
    )
    seeder, leecher = (run(f).record() for f in flows)
    assert detect_udp(flows[0].chunks[0][1])  # a connect request
    assert detect_udp(flows[1].chunks[0][1])  # an announce reusing the connection id
    assert seeder["kind"] == leecher["kind"] == "tracker"
    assert seeder["info_hash"] == leecher["info_hash"]
    assert seeder["tracker_actions"] == ["connect", "announce"]
    assert (seeder["tracker_event"], seeder["tracker_port"]) == ("started", 16881)
    assert (seeder["tracker_seeders"], seeder["tracker_peers"]) == (1, 1)
    assert leecher["tracker_actions"] == ["announce"]
    assert (leecher["tracker_event"], leecher["tracker_seeders"]) == ("completed", 2)
    assert leecher["clients"] == ["libtorrent 2.0.8"]


def test_tracker_scrape_and_error_by_the_spec() -> None:
    a = BitTorrentAnalyzer("udp")
    a.feed(Dir.CLIENT, MAGIC + b"\x00\x00\x00\x00" + b"tid1", 0.0)
    a.feed(Dir.SERVER, b"\x00\x00\x00\x00tid1" + b"C" * 8, 0.0)
    a.feed(Dir.CLIENT, b"C" * 8 + b"\x00\x00\x00\x02tid2" + b"h" * 40, 0.0)
    a.feed(Dir.SERVER, b"\x00\x00\x00\x02tid2" + b"\x00" * 24, 0.0)
    a.feed(Dir.SERVER, b"\x00\x00\x00\x03tid3torrent not registered", 0.0)
    r = a.record()
    assert r["tracker_actions"] == ["connect", "scrape", "error"]
    assert r["info_hash"] == "68" * 20 and r["tracker_error"] == "torrent not registered"
    with pytest.raises(MalformedError):
        a.feed(Dir.CLIENT, b"C" * 8 + b"\x00\x00\x00\x02tid4" + b"h" * 30, 0.0)


@pytest.mark.parametrize(
    "name",
    [
        "libtorrent-tcp.pcap",
        "libtorrent-utp.pcap",
        "libtorrent-dht.pcap",
        "opentracker-udp.pcap",
    ],
)
def test_engine_records_match_schema(name: str) -> None:
    recs = [r for r in analyze(DATA / name) if r.get("app")]
    assert recs and {r["app"]["protocol"] for r in recs} == {"BitTorrent"}
    for rec in recs:
        assert not list(VALIDATOR.iter_errors(rec))


def test_bencode() -> None:
    assert decode(b"d1:ad2:id2:abe1:q4:ping1:y1:qe") == {
        b"a": {b"id": b"ab"},
        b"q": b"ping",
        b"y": b"q",
    }
    assert decode(b"li-3ei0e0:e") == [-3, 0, b""]
    assert decode_prefix(b"i7etrailing") == (7, 3)
    nested = b"l" * 40 + b"e" * 40
    for bad in (b"i03e", b"i-e", b"5:abc", b"l", b"di1e1:ae", b"x", b"i1ei2e", nested):
        with pytest.raises(MalformedError):
            decode(bad)


def test_peer_id_conventions() -> None:
    assert client_of(b"-qB4630-" + b"x" * 12) == "qBittorrent 4.6.3"
    assert client_of(b"-TR3000-" + b"x" * 12) == "Transmission 3"
    assert client_of(b"M7-4-3--" + b"x" * 12) == "BitTorrent (mainline) 7.4.3"
    assert client_of(b"\x00" * 20) is None
    assert client_of(b"-ZZ1000-" + b"x" * 12) is None


def test_detect_rejects_other_protocols() -> None:
    assert not detect_tcp(b"GET / HTTP/1.1\r\n\r\n")
    assert not detect_tcp(b"\x13BitTorrent")  # too short to tell
    assert not detect_udp(b"d1:xi1ee")  # bencoded, but not KRPC
    assert not detect_udp(b"\x41\x00" + b"\x00" * 10)  # uTP SYN shape, too short
    assert not detect_udp(b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00")  # DNS
    assert not detect_udp(MAGIC + b"\x00\x00\x00\x01" + b"t" * 4)  # magic, not a connect
    # announce shape with a peer id no client uses
    assert not detect_udp(b"C" * 8 + b"\x00\x00\x00\x01" + b"\x00" * 86)


def test_huge_peer_message_is_malformed() -> None:
    a = BitTorrentAnalyzer("tcp")
    hs = b"\x13BitTorrent protocol" + b"\x00" * 8 + b"h" * 20 + b"-UT3450-" + b"p" * 12
    a.feed(Dir.CLIENT, hs, 0.0)
    with pytest.raises(MalformedError):
        a.feed(Dir.CLIENT, b"\x7f\x00\x00\x00\x07", 0.0)


def test_piece_bodies_are_skipped() -> None:
    a = BitTorrentAnalyzer("tcp")
    hs = b"\x13BitTorrent protocol" + b"\x00" * 8 + b"h" * 20 + b"-UT3450-" + b"p" * 12
    piece = (16384 + 9).to_bytes(4, "big") + b"\x07" + b"\x00" * 8
    a.feed(Dir.SERVER, hs + piece, 0.0)
    for _ in range(4):
        a.feed(Dir.SERVER, b"z" * 4096, 0.0)
        assert len(a._peers[1].buf) == 0
    a.feed(Dir.SERVER, b"\x00\x00\x00\x01\x01", 0.0)  # unchoke, framing intact
    assert a.record()["messages"] == {"piece": 1, "unchoke": 1}


STREAMS = [
    (f.transport, [d for _, d, _ in f.chunks][:12])
    for name in (
        "libtorrent-tcp.pcap",
        "libtorrent-utp.pcap",
        "libtorrent-dht.pcap",
        "opentracker-udp.pcap",
    )
    for f in flows_of(DATA / name)
    if f.chunks
]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    transport, chunks = data.draw(st.sampled_from(STREAMS))
    i = data.draw(st.integers(0, len(chunks) - 1))
    mutated = bytearray(chunks[i])
    for _ in range(data.draw(st.integers(1, 8))):
        if mutated:
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    mutated += data.draw(st.binary(max_size=32))
    a = BitTorrentAnalyzer(transport)
    try:
        for j, chunk in enumerate(chunks):
            a.feed(Dir(j % 2), bytes(mutated) if j == i else chunk, 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()


def _encode(value: object) -> bytes:
    """Test-only bencoder (BEP 3), to check the decoder against generated values."""
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(_encode(v) for v in value) + b"e"
    assert isinstance(value, dict)
    return b"d" + b"".join(_encode(k) + _encode(value[k]) for k in sorted(value)) + b"e"


BENCODED = st.recursive(
    st.integers(-(2**63), 2**63) | st.binary(max_size=24),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(BENCODED)
def test_bencode_round_trip(value: object) -> None:
    assert decode(_encode(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bencode_and_tracker_parsers(data: bytes) -> None:
    for parse in (decode, parse_request, parse_response, parse_utp):
        try:
            parse(data)
        except MalformedError:
            pass
