"""DHCPAnalyzer: every DHCPv4 message of the corpus against tshark's decode, the
suricata-verify expectations, DHCPv6 messages recorded from dnsmasq (tests/data/dhcp),
truncation and bounded fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir
from netwatch.dpi.dhcp import DHCPAnalyzer, detect_udp
from netwatch.errors import MalformedError
from tests.util.corpus import REPO, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/dhcp.schema.json").read_text()))
DATA = Path(__file__).resolve().parents[2] / "data" / "dhcp"
CAPTURES = {"sv_dhcp-eve-extended": "sv_dhcp-eve-extended.pcap", "foxio_dhcp": "foxio_dhcp.pcapng"}


def dhcp_flows(stem: str) -> list[Flow]:
    return [f for f in flows_of(corpus_file(CAPTURES[stem])) if f.transport == "udp"]


def run(chunks: list[tuple[int, bytes, float]]) -> DHCPAnalyzer:
    a = DHCPAnalyzer()
    for d, data, ts in chunks:
        a.feed(Dir(d), data, ts)
    SCHEMA.validate(a.record())
    return a


@pytest.mark.parametrize("stem", sorted(CAPTURES))
def test_each_message_matches_tshark(stem: str) -> None:
    truths = [r for r in expected(stem) if r.get("kind") == "dhcp"]
    packets = sorted(
        ((ts, d, data, f) for f in dhcp_flows(stem) for d, data, ts in f.chunks),
        key=lambda p: p[0],
    )
    assert len(packets) == len(truths) >= 2
    for (ts, d, data, _flow), t in zip(packets, truths, strict=True):
        assert detect_udp(data)
        rec = run([(d, data, ts)]).record()
        assert rec["version"] == 4
        assert rec["transaction_ids"] == [t["xid"]]
        assert rec["client_mac"] == t["client_mac"]
        assert rec["hostname"] == t.get("hostname")
        assert rec["server_id"] == t.get("server_id")
        assert rec["lease_time"] == t.get("lease_time")
        assert rec["routers"] == t.get("routers")
        assert rec["dns_servers"] == t.get("dns_servers")
        assert rec["parameter_list"] == t.get("params")
        if t["op"] == "reply":
            assert rec["message_types"][0] in ("OFFER", "ACK", "NAK")
            assert rec["assigned_ip"] == t["yiaddr"]
        else:
            assert rec["message_types"][0] in ("DISCOVER", "REQUEST", "INFORM", "RELEASE")
            want = t.get("requested_ip") or (t["ciaddr"] if t["ciaddr"] != "0.0.0.0" else None)
            assert rec["requested_ip"] == want


def test_dora_spans_two_flows() -> None:
    recs = {f.client: run(f.chunks).record() for f in dhcp_flows("foxio_dhcp")}
    client = recs[("0.0.0.0", 68)]
    server = recs[("192.168.0.1", 67)]
    assert client["message_types"] == ["DISCOVER", "REQUEST"]
    assert server["message_types"] == ["OFFER", "ACK"]
    assert client["requested_ip"] == server["assigned_ip"] == "192.168.0.10"
    assert client["transaction_ids"] == server["transaction_ids"] == ["0x00003d1d", "0x00003d1e"]
    a = run(dhcp_flows("foxio_dhcp")[1].chunks)
    assert a.summary() == "DHCP OFFER/ACK 192.168.0.10"
    assert a.app_state == "DHCP_ACK"


def test_suricata_verify_expectations() -> None:
    (flow,) = dhcp_flows("sv_dhcp-eve-extended")
    by_dir = {d: run([(d, data, ts)]).record() for d, data, ts in flow.chunks}
    events = [e["match"] for e in expected_peer("sv_dhcp-eve-extended", "suricata-verify")]
    dhcp_events = [m for m in events if m.get("event_type") == "dhcp"]
    assert len(dhcp_events) == 2
    for m in dhcp_events:
        rec = by_dir[Dir.CLIENT if m["src_port"] == 68 else Dir.SERVER]
        assert rec["message_types"] == [m["dhcp.dhcp_type"].upper()]
        assert rec["client_mac"] == m["dhcp.client_mac"]
        assert rec["hostname"] == m["dhcp.hostname"].rstrip("\x00")
        assert int(rec["transaction_ids"][0], 16) == m["dhcp.id"]
        if "dhcp.lease_time" in m:
            assert rec["lease_time"] == m["dhcp.lease_time"]
            assert rec["dns_servers"][0] == m["dhcp.dns_servers[0]"]
            assert rec["routers"][0] == m["dhcp.routers[0]"]
            assert rec["subnet_mask"] == m["dhcp.subnet_mask"]
        if "dhcp.client_id" in m:  # Suricata leaves out option 61's hardware-type byte
            assert rec["client_id"].endswith(m["dhcp.client_id"])
        if m["dhcp.assigned_ip"] != "0.0.0.0":
            assert rec["assigned_ip"] == m["dhcp.assigned_ip"]
        names = {"subnet_mask": 1, "router": 3, "domain": 15, "dns_server": 6}
        asked = [names[v] for k, v in m.items() if k.startswith("dhcp.params[")]
        assert all(code in (rec["parameter_list"] or []) for code in asked)


def v6_messages() -> list[tuple[int, bytes]]:
    path = DATA / "dnsmasq-v6.json"
    if not path.exists():
        pytest.skip("DHCPv6 fixture not recorded")
    return [(m["dir"], bytes.fromhex(m["hex"])) for m in json.loads(path.read_text())]


def test_dhcpv6_from_dnsmasq() -> None:
    msgs = v6_messages()
    assert all(detect_udp(data) for _, data in msgs)
    a = run([(d, data, float(i)) for i, (d, data) in enumerate(msgs)])
    rec = a.record()
    assert rec["version"] == 6
    assert rec["message_types"][:2] == ["SOLICIT", "ADVERTISE"]
    assert rec["assigned_ip"] is not None and rec["assigned_ip"].startswith("fd00:")
    assert rec["lease_time"] and rec["server_id"] and rec["client_id"]


def test_whole_message_then_trailing_bytes() -> None:
    (flow,) = dhcp_flows("sv_dhcp-eve-extended")
    data = flow.chunks[0][1]
    end = data.rindex(b"\xff") + 1  # the End option
    whole = run([(0, data[:end], 0.0)]).record()
    padded = run([(0, data[:end] + b"\x00" * 64, 0.0)]).record()
    assert whole == padded  # bytes after End are padding


@pytest.mark.parametrize("cut", [10, 236, 239, 241, 242])
def test_truncated_v4_is_malformed(cut: int) -> None:
    (flow,) = dhcp_flows("sv_dhcp-eve-extended")
    with pytest.raises(MalformedError):
        DHCPAnalyzer().feed(Dir.CLIENT, flow.chunks[0][1][:cut], 0.0)


def test_option_running_past_the_message_is_malformed() -> None:
    (flow,) = dhcp_flows("sv_dhcp-eve-extended")
    data = flow.chunks[0][1]
    bad = data[:240] + b"\x35\x01\x03\x0c\x40nas1"  # hostname claims 64 bytes
    with pytest.raises(MalformedError):
        DHCPAnalyzer().feed(Dir.CLIENT, bad, 0.0)


def corpus_datagrams() -> list[bytes]:
    out = [data for stem in CAPTURES for f in dhcp_flows(stem) for _, data, _ in f.chunks]
    path = DATA / "dnsmasq-v6.json"
    if path.exists():
        out += [bytes.fromhex(m["hex"]) for m in json.loads(path.read_text())]
    return out


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_messages(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(corpus_datagrams())))
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    a = DHCPAnalyzer()
    try:
        a.feed(Dir.CLIENT, bytes(base[:cut]), 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())
    a.summary()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    a = DHCPAnalyzer()
    try:
        a.feed(Dir.SERVER, data, 0.0)
    except MalformedError:
        pass
    detect_udp(data)
    SCHEMA.validate(a.record())
