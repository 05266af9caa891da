"""QUICAnalyzer on real captures, compared with tshark's and the source projects' truths."""

from __future__ import annotations

from typing import Any

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.quic import QUICAnalyzer, detect_udp
from netwatch.dpi.quic.versions import version_name
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

IETF = [
    "ndpi_quic-29.pcap",
    "ndpi_quic-v2.pcapng",
    "ndpi_quic_frags_ch_in_multiple_packets.pcapng",
    "sv_quic-ietf.pcap",
    "sv_quic-frag-unordered.pcap",
    "foxio_chrome-cloudflare-quic-with-secrets.pcapng",
]

#: What the packet forms of each capture show (tshark has no notion of QUIC state).
STATES = {
    "ndpi_quic-29.pcap": "QUIC_CONNECTED",
    "ndpi_quic-v2.pcapng": "QUIC_CONNECTED",
    "ndpi_quic_frags_ch_in_multiple_packets.pcapng": "QUIC_HANDSHAKE",  # 4 packets only
    "sv_quic-ietf.pcap": "QUIC_CONNECTED",
    "sv_quic-frag-unordered.pcap": "QUIC_HANDSHAKE",  # the client's 1-RTT is not captured
    "foxio_chrome-cloudflare-quic-with-secrets.pcapng": "QUIC_CONNECTED",
}


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _udp_flows(name: str) -> list[Flow]:
    return [f for f in flows_of(corpus_file(name)) if f.transport == "udp" and f.chunks]


def _truth(name: str, flow: Flow) -> dict[str, Any]:
    for rec in expected(_stem(name)):
        if (
            rec.get("kind") == "flow"
            and rec.get("transport") == "udp"
            and (rec["src"], rec["sport"], rec["dst"], rec["dport"]) == (*flow.client, *flow.server)
        ):
            return rec
    raise AssertionError(f"no tshark truth for {flow.client} -> {flow.server}")


def _run(flow: Flow, tail: bytes = b"", stop_when_finished: bool = True) -> QUICAnalyzer:
    a = QUICAnalyzer()
    for direction, data, ts in flow.chunks:
        if stop_when_finished and a.finished:
            break
        a.feed(Dir(direction), data + tail, ts)
    return a


def _quic_flow(name: str) -> Flow:
    flows = [f for f in _udp_flows(name) if detect_udp(f.chunks[0][1])]
    assert len(flows) == 1
    return flows[0]


@pytest.mark.parametrize("name", IETF)
def test_matches_tshark(name: str) -> None:
    flow = _quic_flow(name)
    truth = _truth(name, flow)
    a = _run(flow)
    rec = a.record()
    assert rec["version"] == version_name(int(truth["quic_version"], 16))
    assert rec["sni"] == truth.get("quic_sni")
    assert rec["alpn_offered"] == truth["quic_alpn"]
    assert rec["ja4"] == truth["quic_ja4"]
    assert rec["ja3"] == truth["quic_ja3"]
    assert rec["tls_cipher"] == truth["quic_cipher"]
    if "quic_dcid" in truth:  # tshark 4.0 does not type v2 long headers, so has none there
        assert rec["dcid"] == truth["quic_dcid"]
    assert rec["state"] == STATES[name]
    assert a.finished == (STATES[name] == "QUIC_CONNECTED")
    assert rec["close_error"] is None


def test_v2_dcid_from_the_first_packet() -> None:
    flow = _quic_flow("ndpi_quic-v2.pcapng")
    assert _run(flow).record()["dcid"] == "0726272642fc2eb2"  # tshark's dcid column


def test_retry_in_draft_29_capture() -> None:
    rec = _run(_quic_flow("ndpi_quic-29.pcap")).record()
    assert rec["retry"] is True
    assert rec["version"] == "draft-29"
    assert rec["idle_timeout_ms"] == 30000


@pytest.mark.parametrize(
    ("name", "oracle"),
    [
        ("ndpi_quic-29.pcap", "ndpi"),
        ("ndpi_quic-v2.pcapng", "ndpi"),
        ("ndpi_quic_frags_ch_in_multiple_packets.pcapng", "ndpi"),
        ("foxio_chrome-cloudflare-quic-with-secrets.pcapng", "foxio-ja4"),
    ],
)
def test_matches_peer_tools(name: str, oracle: str) -> None:
    rec = _run(_quic_flow(name)).record()
    peers = [p for p in expected_peer(_stem(name), oracle) if p.get("transport") == "udp"]
    assert peers
    for peer in peers:
        assert rec["sni"] == peer.get("quic_sni")
        if "quic_alpn" in peer:
            assert rec["alpn_offered"] == peer["quic_alpn"]
        if "quic_ja3" in peer:
            assert rec["ja3"] == peer["quic_ja3"]
        if oracle == "foxio-ja4":  # nDPI's JA4 deviates from the spec (see corpus README)
            assert rec["ja4"] == peer["quic_ja4"]


@pytest.mark.parametrize("name", ["sv_quic-ietf.pcap", "sv_quic-frag-unordered.pcap"])
def test_matches_suricata_sni(name: str) -> None:
    rec = _run(_quic_flow(name)).record()
    (check,) = expected_peer(_stem(name), "suricata-verify")
    sni = [v for k, v in check["match"].items() if k.endswith("values[0]") and "." in v]
    assert rec["sni"] == sni[0]


@pytest.mark.parametrize("name", IETF)
@pytest.mark.parametrize("tail", [bytes(64), b"\x13\x37 trailing garbage \xff"])
def test_trailing_bytes_on_every_datagram_change_nothing(name: str, tail: bytes) -> None:
    flow = _quic_flow(name)
    assert _run(flow, tail).record() == _run(flow).record()


@pytest.mark.parametrize("name", IETF)
def test_fed_to_the_end_stays_consistent(name: str) -> None:
    # An engine that does not detach keeps feeding 1-RTT datagrams: nothing breaks.
    flow = _quic_flow(name)
    assert _run(flow, stop_when_finished=False).record() == _run(flow).record()


def test_chrome_summary_and_events() -> None:
    a = QUICAnalyzer()
    flow = _quic_flow("foxio_chrome-cloudflare-quic-with-secrets.pcapng")
    events = [e for d, data, ts in flow.chunks for e in a.feed(Dir(d), data, ts)]
    assert len(events) == 1
    assert a.summary() == "HTTP/3 (cloudflare-quic.com)"
    assert a.idle_timeout == 30.0


def test_gquic_q050_encrypted_chlo() -> None:
    flow = _quic_flow("ndpi_gquic.pcap")
    a = _run(flow)
    rec = a.record()
    (peer,) = expected_peer("ndpi_gquic", "ndpi")
    assert rec["version"] == peer["quic_version_name"] == "Q050"
    assert rec["sni"] == peer["quic_sni"]
    assert rec["user_agent"] == peer["raw"]["User-Agent"]
    assert rec["dcid"] == _truth("ndpi_gquic.pcap", flow)["quic_dcid"]
    assert rec["gquic"] is True
    assert a.summary() == "gQUIC (www.gstatic.com)"
    assert a.finished


def test_gquic_q025_plaintext_chlo() -> None:
    flows = [f for f in _udp_flows("ndpi_http_ipv6.pcap") if detect_udp(f.chunks[0][1])]
    assert len(flows) == 1
    truth = _truth("ndpi_http_ipv6.pcap", flows[0])
    rec = _run(flows[0]).record()
    assert rec["version"] == truth["gquic_version"]
    assert rec["sni"] == truth["gquic_sni"]
    assert rec["user_agent"] == truth["gquic_uaid"]


def test_other_udp_flows_are_not_quic() -> None:
    names = ["ndpi_dns.pcap", "ndpi_sip.pcap", "ndpi_stun.pcap", "sv_bittorrent-dht.pcap"]
    for name in names:
        for flow in _udp_flows(name):
            assert not any(detect_udp(data) for _, data, _ in flow.chunks), name
