"""NTPAnalyzer: tshark and suricata-verify truths, the round trip against dpkt's decode
of the same packets, detection, truncation and bounded fuzzing."""

from __future__ import annotations

import json

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir
from netwatch.dpi.ntp import NTPAnalyzer, detect_udp, refid_text
from netwatch.errors import MalformedError
from tests.util.corpus import REPO, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/ntp.schema.json").read_text()))


def ntp_flows(stem: str) -> list[Flow]:
    path = corpus_file(stem + ".pcap")
    return [f for f in flows_of(path) if f.transport == "udp" and 123 in (f.server[1], f.client[1])]


def run(flow: Flow) -> NTPAnalyzer:
    a = NTPAnalyzer()
    for d, data, ts in flow.chunks:
        a.feed(Dir(d), data, ts)
    SCHEMA.validate(a.record())
    return a


@pytest.mark.parametrize("stem", ["sv_ntp-keywords", "ndpi_NTPv4"])
def test_matches_tshark(stem: str) -> None:
    truths = [r for r in expected(stem) if r.get("kind") == "ntp"]
    flows = ntp_flows(stem)
    assert flows and all(detect_udp(f.chunks[0][1]) for f in flows)
    for flow in flows:
        mine = [t for t in truths if (t["src"], t["sport"]) in (flow.client, flow.server)]
        rec = run(flow).record()
        assert rec["version"] == mine[-1]["version"]
        assert set(rec["modes"]) == {t["mode_name"] for t in mine}
        last = mine[-1]  # the reply when there is one: the server's stratum and refid
        assert rec["stratum"] == last["stratum"]
        raw = bytes.fromhex(last["refid"].replace(":", ""))
        assert rec["reference_id"] == refid_text(last["stratum"], raw, last["version"])
        assert rec["requests"] + rec["responses"] == len(mine)


def test_ndpi_refid_is_the_upstream_address() -> None:
    (flow,) = ntp_flows("ndpi_NTPv4")
    rec = run(flow).record()
    assert rec["reference_id"] == "131.188.3.223"  # 83:bc:03:df
    assert rec["round_trip"] is None  # only the request was captured
    peer = expected_peer("ndpi_NTPv4", "ndpi")
    assert [p["ndpi_proto"] for p in peer] == ["NTP"]


def test_suricata_verify_versions_modes_strata() -> None:
    recs = [run(f).record() for f in ntp_flows("sv_ntp-keywords")]
    checks = [p["match"] for p in expected_peer("sv_ntp-keywords", "suricata-verify")]
    versions = {m["ntp.version"] for m in checks if "ntp.version" in m}
    assert versions == {r["version"] for r in recs} == {3, 4}
    strata = {m["ntp.stratum"] for m in checks if "ntp.stratum" in m}
    assert 2 in strata and all(r["stratum"] == 2 for r in recs)
    modes = {m["ntp.mode"] for m in checks if "ntp.mode" in m and "alert.signature_id" not in m}
    assert modes == {3, 4} and all(r["modes"] == ["client", "server"] for r in recs)
    refids = {m["ntp.reference_id"] for m in checks if "ntp.reference_id" in m}
    assert "4c:4f:43:4c" in refids and all(r["reference_id"] == "76.79.67.76" for r in recs)


def test_round_trip_matches_an_independent_decode() -> None:
    """The suricata-verify reply leaves origin and receive zero (so no round trip); echo
    the request's transmit time and give it a 250 us hold, then check against dpkt."""
    for flow in ntp_flows("sv_ntp-keywords"):
        (_, req, t_req), (_, rep, t_rep) = flow.chunks
        assert run(flow).record()["round_trip"] is None
        xmt = int.from_bytes(rep[40:48], "big")
        rec = (xmt - int(0.00025 * 2**32)).to_bytes(8, "big")
        echoed = rep[:24] + req[40:48] + rec + rep[40:]
        pkt = dpkt.ntp.NTP(echoed)
        sent = int.from_bytes(pkt.transmit_time, "big")  # dpkt keeps the raw 64-bit fields
        hold = (sent - int.from_bytes(pkt.receive_time, "big")) / 2**32
        assert pkt.originate_time == req[40:48]
        a = NTPAnalyzer()
        a.feed(Dir.CLIENT, req, t_req)
        a.feed(Dir.SERVER, echoed, t_rep)
        want = max(0.0, (t_rep - t_req) - hold)
        assert a.record()["round_trip"] == pytest.approx(want, abs=1e-9)
        assert a.app_state == "NTP_SYNCED" and "rtt" in a.summary()


def test_server_time_after_2036_uses_era_1() -> None:
    (flow, *_) = ntp_flows("sv_ntp-keywords")
    # tshark: transmit time "Jan 16, 2049 02:34:43.290514766 UTC"
    assert run(flow).record()["server_time"] == pytest.approx(2494377283.290514766, abs=1e-6)


def test_round_trip_needs_the_echoed_origin() -> None:
    (flow, *_) = ntp_flows("sv_ntp-keywords")
    (_, req, t_req), (_, rep, t_rep) = flow.chunks
    wrong = rep[:24] + b"\x01" * 8 + rep[32:]  # origin no longer echoes the request
    a = NTPAnalyzer()
    a.feed(Dir.CLIENT, req, t_req)
    a.feed(Dir.SERVER, wrong, t_rep)
    assert a.record()["round_trip"] is None
    assert "rtt" not in a.summary()


def test_trailing_extension_bytes_and_control_messages() -> None:
    (flow, *_) = ntp_flows("sv_ntp-keywords")
    req = flow.chunks[0][1]
    a = NTPAnalyzer()
    a.feed(Dir.CLIENT, req + b"\x00" * 20, 1.0)  # a MAC after the header
    a.feed(Dir.CLIENT, bytes([0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), 2.0)  # ntpq READSTAT
    rec = a.record()
    assert rec["control_messages"] == 1 and rec["modes"] == ["client", "control"]


@pytest.mark.parametrize("cut", [0, 1, 12, 47])
def test_truncated_header_is_malformed(cut: int) -> None:
    (flow, *_) = ntp_flows("sv_ntp-keywords")
    data = flow.chunks[0][1][:cut]
    if not data:
        assert NTPAnalyzer().feed(Dir.CLIENT, data, 0.0) == ()
        return
    with pytest.raises(MalformedError):
        NTPAnalyzer().feed(Dir.CLIENT, data, 0.0)


def test_detect_accepts_chrony_client_requests() -> None:
    # chrony 4 client requests: v4 mode 3, poll 6, precision byte +32 (seen in the live test)
    assert detect_udp(bytes.fromhex("23000620") + bytes(40) + bytes.fromhex("0123456789abcdef"))


def test_detect_rejects_other_protocols() -> None:
    assert not detect_udp(b"\x00" * 48)  # version 0
    assert not detect_udp(b"\x23" + b"\x00" * 46)  # 47 bytes
    assert not detect_udp(b"\x23\x20" + b"\x00" * 46)  # stratum 32
    assert not detect_udp(b"GET / HTTP/1.1\r\n" * 3)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([Dir.CLIENT, Dir.SERVER]))
def test_fuzz_only_malformed_escapes(data: bytes, direction: Dir) -> None:
    a = NTPAnalyzer()
    try:
        a.feed(direction, data, 1.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())
    a.summary()
