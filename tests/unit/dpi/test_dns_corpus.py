"""DNS analyzer against real captures: tshark truths (``expected/``) and Zeek's dns.log."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from netwatch.dpi.base import Dir, NameResolved
from netwatch.dpi.dns import DNSAnalyzer, detect_tcp, detect_udp
from netwatch.errors import MalformedError
from tests.util.corpus import CORPUS, corpus_file, expected
from tests.util.streams import Flow, flows_of

DNS_PORTS = {53, 5353, 5355}
#: tshark prints data only for these; for the rest (RRSIG, DNSKEY) its value is null
COMPARABLE = {"A", "AAAA", "CNAME", "MX", "NS", "PTR"}


def dns_flows(path: Path) -> list[Flow]:
    return [f for f in flows_of(path) if f.chunks and {f.client[1], f.server[1]} & DNS_PORTS]


def run(flow: Flow) -> tuple[DNSAnalyzer, list[NameResolved], MalformedError | None]:
    analyzer = DNSAnalyzer(flow.transport)  # type: ignore[arg-type]
    events: list[NameResolved] = []
    try:
        for direction, data, ts in flow.chunks:
            events += [
                e for e in analyzer.feed(Dir(direction), data, ts) if isinstance(e, NameResolved)
            ]
    except MalformedError as exc:
        return analyzer, events, exc
    return analyzer, events, None


def tshark_answer(a: dict[str, Any]) -> tuple[Any, ...]:
    data = a["data"] if a["type"] in COMPARABLE else None
    return (a["name"], a["type"], a["ttl"], data)


@pytest.mark.parametrize(
    "stem",
    [
        "ndpi_dns",
        "sv_dns-udp-a-aaaa-mx",
        "sv_dns-tcp",
        "ndpi_whatsapp_login_chat",
        "tcpdump_LINKTYPE_RAW_ipv6",
        "sv_ssh-hassh",
        "sv_smtp-bug-3616",
    ],
)
def test_transactions_match_tshark(stem: str) -> None:
    path = corpus_file(stem + ".pcap")
    flows = dns_flows(path)
    # the test helper (dpkt) skips QinQ frames (ndpi_dns's second flow): judge what it sees
    ends = {frozenset((f.client, f.server)) for f in flows}
    truth = [
        r
        for r in expected(stem)
        if r.get("kind") == "dns"
        and frozenset(((r["src"], r["sport"]), (r["dst"], r["dport"]))) in ends
    ]
    assert truth, "the truth file has dns records"
    ours: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for flow in flows:
        analyzer, _, err = run(flow)
        assert err is None, err
        for q in analyzer.record()["queries"]:
            ours.setdefault((q["id"], q["qname"], q["qtype"]), []).append(q)
    checked = 0
    for rec in truth:
        key = (rec["id"], rec["qname"], rec["qtype"])
        assert key in ours, key
        checked += 1
        if not rec["response"]:
            continue
        answered = [q for q in ours[key] if q["rcode"] is not None]
        assert answered, key
        want_rcode = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN"}[rec["rcode"]]
        want = [tshark_answer(a) for a in rec.get("answers", [])]
        assert any(
            q["rcode"] == want_rcode and [tshark_answer(a) for a in q["answers"]] == want
            for q in answered
        ), (key, want)
    assert checked > 0


@pytest.mark.parametrize("stem", ["ndpi_dns", "sv_dns-udp-a-aaaa-mx", "sv_dns-tcp"])
def test_flow_qnames_and_answers_match_tshark(stem: str) -> None:
    path = corpus_file(stem + ".pcap")
    flows = {(f.transport, f.client, f.server): f for f in dns_flows(path)}
    for truth in (r for r in expected(stem) if r.get("kind") == "flow"):
        key = (truth["transport"], (truth["src"], truth["sport"]), (truth["dst"], truth["dport"]))
        flow = flows.get(key) or flows.get((key[0], key[2], key[1]))
        if flow is None:
            assert truth.get("vlan"), key  # only QinQ frames are invisible to the helper
            continue
        analyzer, events, err = run(flow)
        assert err is None
        queries = analyzer.record()["queries"]
        assert sorted({q["qname"] for q in queries}) == sorted(truth["dns_qnames"])
        answers = [a["data"] for q in queries for a in q["answers"] if a["type"] in COMPARABLE]
        assert answers == truth.get("dns_answers", [])
        addresses = [a for e in events for a in e.addresses]
        assert set(addresses) == {a for a in answers if ":" in a or a.replace(".", "").isdigit()}
        assert analyzer.app_state == "DNS_RESPONSE"


def test_mdns_flows_of_whatsapp_capture() -> None:
    path = corpus_file("ndpi_whatsapp_login_chat.pcap")
    mdns = [f for f in dns_flows(path) if f.server[1] == 5353]
    assert mdns
    for flow in mdns:
        assert detect_udp(flow.chunks[0][1])
        analyzer = DNSAnalyzer("udp", variant="mdns")
        for direction, data, ts in flow.chunks:
            analyzer.feed(Dir(direction), data, ts)
        rec = analyzer.record()
        assert rec["variant"] == "mdns"
        assert {q["qname"] for q in rec["queries"]} >= {"_airplay._tcp.local", "_raop._tcp.local"}
        assert analyzer.summary().startswith("mDNS PTR ")


def test_fragmented_capture_parses_whole_datagrams_and_rejects_first_fragments() -> None:
    """streams.py does not reassemble IP fragments, so the large DNSSEC responses of this
    capture arrive cut at the first fragment: those must fail as malformed (a lying
    rdlength), never crash; every query and every unfragmented response parses. The
    engine reassembles fragments before DNS sees them."""
    path = corpus_file("ndpi_dns_fragmented.pcap")
    truth = [r for r in expected("ndpi_dns_fragmented") if r.get("kind") == "dns"]
    parsed = failed = 0
    names: set[str] = set()
    for flow in dns_flows(path):
        analyzer, _, err = run(flow)
        if err is not None:
            failed += 1
            assert "runs past" in err.reason or "truncated" in err.reason
        else:
            parsed += 1
        names |= {q["qname"] for q in analyzer.record()["queries"]}
    assert failed > 0 and parsed > failed
    assert names == {r["qname"] for r in truth}


def zeek_answer(a: dict[str, Any]) -> str:
    """Zeek's dns.log text of one answer (what a Zeek exporter must print)."""
    if a["type"] == "SRV":
        return str(a["data"].split()[-1])
    if a["type"] == "TXT":
        return " ".join(f"TXT {len(s)} {s}" for s in a.get("strings", [a["data"]]))
    return str(a["data"])


def zeek_rows(log: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def test_zeek_wikipedia_dns_log() -> None:
    folder = CORPUS / "zeek" / "wikipedia"
    if not folder.is_dir():
        pytest.skip("zeek oracles not available")
    ours: Counter[tuple[str, ...]] = Counter()
    for flow in dns_flows(folder / "trace.pcap"):
        analyzer, _, err = run(flow)
        assert err is None
        for q in analyzer.record()["queries"]:
            answers = ",".join(zeek_answer(a) for a in q["answers"]) or "-"
            ttls = ",".join(f"{a['ttl']:.6f}" for a in q["answers"]) or "-"
            ends = sorted(
                [f"{flow.client[0]}/{flow.client[1]}", f"{flow.server[0]}/{flow.server[1]}"]
            )
            ours[(*ends, str(q["id"]), q["qname"].lower(), q["rcode"] or "-", answers, ttls)] += 1
    theirs: Counter[tuple[str, ...]] = Counter()
    for row in zeek_rows(folder / "dns.log"):
        if row["id.resp_p"] == "137":
            continue  # NetBIOS name service: Zeek decodes NetBIOS names, we do not
        ends = sorted(
            [f"{row['id.orig_h']}/{row['id.orig_p']}", f"{row['id.resp_h']}/{row['id.resp_p']}"]
        )
        key = (
            *ends,
            row["trans_id"],
            row["query"].lower(),
            row["rcode_name"],
            row["answers"],
            row["TTLs"],
        )
        theirs[key] += 1
    assert len(theirs) >= 15
    assert theirs == ours


def test_zeek_txt_with_two_strings() -> None:
    folder = CORPUS / "zeek" / "dns-txt-multiple"
    if not folder.is_dir():
        pytest.skip("zeek oracles not available")
    (row,) = zeek_rows(folder / "dns.log")
    (flow,) = dns_flows(folder / "trace.pcap")
    analyzer, _, err = run(flow)
    assert err is None
    (q,) = [q for q in analyzer.record()["queries"] if q["rcode"] is not None]
    assert q["qname"] == row["query"]
    assert ",".join(zeek_answer(a) for a in q["answers"]) == row["answers"]
    assert [a["type"] for a in q["answers"]] == ["CNAME", "CNAME", "TXT"]
    assert q["answers"][2]["strings"][0].startswith("k=rsa; p=MIGf")
    assert len(q["answers"][2]["strings"]) == 2


def test_detection_over_the_whole_corpus() -> None:
    """Every flow on a DNS port of the corpus is detected; no flow elsewhere is claimed,
    except NetBIOS name service (137), which is DNS-formatted."""
    seen = 0
    for path in sorted(CORPUS.glob("*.pcap*")):
        for flow in flows_of(path):
            if not flow.chunks:
                continue
            first = flow.chunks[0][1]
            hit = detect_udp(first) if flow.transport == "udp" else detect_tcp(first)
            ports = {flow.client[1], flow.server[1]}
            if ports & DNS_PORTS:
                # first fragments of big responses are cut short (see the test above)
                assert hit or path.stem == "ndpi_dns_fragmented", (path.name, flow.client)
                seen += hit
            elif not ports & {137}:
                assert not hit, (path.name, flow.client, flow.server)
    assert seen >= 20
