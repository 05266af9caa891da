"""SNMPAnalyzer and its BER reader: every SNMP message of the corpus against tshark's
decode (version, community, PDU type, variable names, v3 user), suricata-verify and
nDPI expectations, hand-checked X.690 vectors, and bounded fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir
from netwatch.dpi.snmp import Reader, SNMPAnalyzer, decode_oid, detect_udp
from netwatch.errors import MalformedError
from tests.util.corpus import REPO, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/snmp.schema.json").read_text()))
STEMS = ["ndpi_snmp", "sv_snmp-v2c-get"]


def snmp_flows(stem: str) -> list[Flow]:
    return [f for f in flows_of(corpus_file(stem + ".pcap")) if f.transport == "udp"]


def run(chunks: list[tuple[int, bytes, float]]) -> SNMPAnalyzer:
    a = SNMPAnalyzer()
    for d, data, ts in chunks:
        a.feed(Dir(d), data, ts)
    SCHEMA.validate(a.record())
    return a


@pytest.mark.parametrize("stem", STEMS)
def test_each_message_matches_tshark(stem: str) -> None:
    truths = [r for r in expected(stem) if r.get("kind") == "snmp"]
    packets = sorted(
        ((ts, d, data) for f in snmp_flows(stem) for d, data, ts in f.chunks), key=lambda p: p[0]
    )
    assert len(packets) == len(truths) > 2
    for (ts, d, data), t in zip(packets, truths, strict=True):
        assert detect_udp(data)
        rec = run([(d, data, ts)]).record()
        assert rec["version"] == t["version"]
        assert rec["community"] == t.get("community")
        assert rec["usm_user"] == t.get("usm_user")
        if "pdu_type" in t:
            assert rec["pdu_types"] == [t["pdu_type"]]
            assert not rec["encrypted"]
        else:  # tshark cannot see the PDU: it is encrypted (authPriv)
            assert rec["pdu_types"] == [] and rec["encrypted"]
            assert rec["security_level"] == "authPriv"
        names = [o for o in rec["oids"]]
        for trap in rec["traps"]:
            if trap["pdu_type"] == "trap_v2":
                names.insert(1, "1.3.6.1.6.3.1.1.4.1.0")  # tshark lists snmpTrapOID.0
        assert names == t.get("oids", [])


def test_v1_trap_identity() -> None:
    flows = [f for f in snmp_flows("ndpi_snmp") if f.server[1] == 162]
    recs = [run(f.chunks).record() for f in flows]
    v1 = next(r for r in recs if r["version"] == "1")
    assert [t["generic_trap"] for t in v1["traps"]] == ["linkDown", "linkUp"]
    assert v1["traps"][0]["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"  # RFC 3584 §3.1 mapping
    assert v1["traps"][0]["agent_address"] == "10.1.30.1"
    v2 = next(r for r in recs if r["version"] == "2c")
    assert [t["trap_oid"] for t in v2["traps"]] == ["1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"]


def test_suricata_verify_counts() -> None:
    recs = [
        run([(d, data, ts)]).record()
        for f in snmp_flows("sv_snmp-v2c-get")
        for d, data, ts in f.chunks
    ]
    for exp in expected_peer("sv_snmp-v2c-get", "suricata-verify"):
        m = exp["match"]
        if m.get("event_type") != "snmp":
            continue
        hits = [
            r
            for r in recs
            if r["version"] == "2c"
            and ("snmp.pdu_type" not in m or r["pdu_types"] == [m["snmp.pdu_type"]])
            and ("snmp.community" not in m or r["community"] == m["snmp.community"])
            and ("snmp.vars" not in m or r["oids"] == m["snmp.vars"])
        ]
        assert len(hits) == exp["count"], m


def test_ndpi_sees_the_same_flows() -> None:
    mine = {(f.client, f.server) for f in snmp_flows("ndpi_snmp") if detect_udp(f.chunks[0][1])}
    peers = {
        ((p["src"], p["sport"]), (p["dst"], p["dport"]))
        for p in expected_peer("ndpi_snmp", "ndpi")
        if p["ndpi_master"] == "SNMP"
    }
    assert peers and {frozenset(k) for k in peers} <= {frozenset(k) for k in mine}


def test_v3_user_and_error_status() -> None:
    recs = [run(f.chunks).record() for f in snmp_flows("ndpi_snmp")]
    users = {r["usm_user"]: r["security_level"] for r in recs if r["usm_user"]}
    assert users == {
        "NOAUTHNOPRIV": "noAuthNoPriv",
        "SHA1NOPRIV": "authNoPriv",
        "SHA1AES128": "authPriv",
    }
    assert any(r["error_status"] for r in recs)  # nDPI: "SNMP Error"


@pytest.mark.parametrize(
    ("raw", "oid"),
    [
        ("2b060102010105 00", "1.3.6.1.2.1.1.5.0"),
        ("2b06010401a96b 01", "1.3.6.1.4.1.5355.1"),
        ("01", "0.1"),
        ("8837", "2.999"),  # X.690 §8.19.5 example: first arcs 2.999
    ],
)
def test_oid_vectors(raw: str, oid: str) -> None:
    assert decode_oid(bytes.fromhex(raw.replace(" ", ""))) == oid


@pytest.mark.parametrize("raw", ["", "2b8f", "ffffffffffffffffffff7f"])
def test_bad_oids(raw: str) -> None:
    with pytest.raises(MalformedError):
        decode_oid(bytes.fromhex(raw))


def test_ber_lengths_are_checked() -> None:
    assert Reader(bytes.fromhex("020201f4")).integer() == 500
    assert Reader(bytes.fromhex("02820001ff")).integer() == -1  # long-form length
    for bad in ("0203 01f4", "0280 00", "0285 0000000001 00", "1f01 00"):
        with pytest.raises(MalformedError):
            Reader(bytes.fromhex(bad.replace(" ", ""))).integer()


def test_trailing_bytes_after_the_message_are_ignored() -> None:
    (flow, *_) = snmp_flows("sv_snmp-v2c-get")
    _, data, ts = flow.chunks[0]
    assert run([(0, data, ts)]).record() == run([(0, data + b"\x00\x00", ts)]).record()


def corpus_datagrams() -> list[bytes]:
    return [data for stem in STEMS for f in snmp_flows(stem) for _, data, _ in f.chunks]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_messages(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(corpus_datagrams())))
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    a = SNMPAnalyzer()
    detect_udp(bytes(base[:cut]))
    try:
        a.feed(Dir.CLIENT, bytes(base[:cut]), 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())
    a.summary()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    a = SNMPAnalyzer()
    try:
        a.feed(Dir.CLIENT, b"\x30" + data, 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())


def test_engine_labels_every_snmp_flow() -> None:
    from tests.unit.engine.helpers import analyze

    for stem in STEMS:
        recs = analyze(corpus_file(stem + ".pcap"))
        snmp = [r for r in recs if (r.get("app") or {}).get("protocol") == "SNMP"]
        assert len(snmp) == len(snmp_flows(stem))
        assert all(r["app"]["summary"].startswith("SNMPv") for r in snmp)
