"""HTTPAnalyzer against real captures: tshark truths (http, http2 records) and Zeek's
http.log baselines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.http import HTTPAnalyzer, detect_tcp
from tests.util.corpus import CORPUS, corpus_file, expected
from tests.util.streams import Flow, flows_of


def http_flows(path: Path) -> list[Flow]:
    return [
        f
        for f in flows_of(path)
        if f.transport == "tcp"
        and f.chunks
        and (detect_tcp(f.data(0)[:64]) or detect_tcp(f.data(1)[:64]))
    ]


def analyze(flow: Flow) -> HTTPAnalyzer:
    a = HTTPAnalyzer()
    for direction, data, ts in flow.chunks:
        a.feed(Dir(direction), data, ts)
    return a


def ours(path: Path) -> list[dict[str, Any]]:
    return [r for f in http_flows(path) for r in analyze(f).record()["requests"]]


@pytest.mark.parametrize(
    "name", ["foxio_http1-with-cookies.pcapng", "sv_http-ipv6.pcap", "sv_decode-sll2-01.pcap"]
)
def test_http1_matches_tshark(name: str) -> None:
    truth = [r for r in expected(name.rsplit(".", 1)[0]) if r.get("kind") == "http"]
    assert truth
    got = ours(corpus_file(name))

    def key(r: dict[str, Any], path_field: str) -> tuple[Any, ...]:
        return (
            r.get("method"),
            r.get("host"),
            r.get(path_field),
            r.get("user_agent"),
            r.get("status"),
        )

    assert sorted(map(str, (key(r, "path") for r in got))) == sorted(
        map(str, (key(r, "uri") for r in truth))
    )


@pytest.mark.parametrize(
    ("name", "version"), [("ndpi_http2.pcapng", "h2c"), ("sv_dns-over-http2.pcap", "h2c")]
)
def test_cleartext_http2_matches_tshark(name: str, version: str) -> None:
    truth = [r for r in expected(name.rsplit(".", 1)[0]) if r.get("kind") == "http2"]
    assert truth
    (flow,) = http_flows(corpus_file(name))
    a = analyze(flow)
    assert a.record()["version"] == version
    got = Counter(
        (r["method"], r["host"], r["path"], r["status"])
        for r in a.record()["requests"]
        if r["version"] == "HTTP/2"
    )
    want = Counter((r["method"], r["authority"], r["path"], r.get("status")) for r in truth)
    assert got == want


def test_dns_over_h2c_prior_knowledge_carries_dns_messages() -> None:
    (flow,) = http_flows(corpus_file("sv_dns-over-http2.pcap"))
    a = analyze(flow)
    requests = a.record()["requests"]
    assert len(requests) == 4
    assert {r["content_type"] for r in requests} == {"application/dns-message"}
    assert all(r["response_body_bytes"] > 12 for r in requests)  # a DNS message each


def test_no_http_in_the_tls_and_quic_capture() -> None:
    assert http_flows(corpus_file("ndpi_http_ipv6.pcap")) == []


def zeek_http(folder: str) -> list[dict[str, str]]:
    log = CORPUS / "zeek" / folder / "http.log"
    if not log.exists():
        pytest.skip("zeek oracles not available")
    fields: list[str] = []
    rows = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def zeek_keys(folder: str) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]]:
    theirs: Counter[tuple[str, ...]] = Counter(
        (
            r["id.orig_p"],
            r["trans_depth"],
            r["method"],
            r["host"],
            r["uri"],
            r["referrer"],
            r["status_code"],
            r["response_body_len"],
            r["request_body_len"],
            r["version"],
        )
        for r in zeek_http(folder)
    )
    decoded = {
        (r["id.orig_p"], r["trans_depth"]): r["response_body_len"] for r in zeek_http(folder)
    }
    mine: Counter[tuple[str, ...]] = Counter()
    for flow in http_flows(CORPUS / "zeek" / folder / "trace.pcap"):
        for depth, r in enumerate(analyze(flow).record()["requests"], 1):
            # Zeek counts a gzip body *decoded*; we count the bytes on the wire
            body = decoded.get((str(flow.client[1]), str(depth)), str(r["response_body_bytes"]))
            if r["content_encoding"]:
                assert int(body) > r["response_body_bytes"]
            else:
                body = str(r["response_body_bytes"])
            mine[
                (
                    str(flow.client[1]),
                    str(depth),
                    r["method"],
                    r["host"],
                    r["path"],
                    r["referrer"] or "-",
                    str(r["status"]),
                    body,
                    str(r["request_body_bytes"]),
                    (r["response_version"] or r["version"]).removeprefix("HTTP/"),
                )
            ] += 1
    return theirs, mine


def test_zeek_pipelining() -> None:
    theirs, mine = zeek_keys("http-pipelining")
    assert len(theirs) == 5
    assert mine == theirs


def test_zeek_wikipedia() -> None:
    """Zeek logs 14 of the 15 requests: it picked the flow from port 35634 up without
    its handshake and made no http row for it; we parse it (the request is whole)."""
    theirs, mine = zeek_keys("wikipedia")
    assert len(theirs) == 14
    extra = mine - theirs
    assert not theirs - mine
    assert [k[0] for k in extra] == ["35634"]


def test_zeek_connect_then_smtp() -> None:
    (row,) = zeek_http("http-connect-smtp")
    (flow,) = http_flows(CORPUS / "zeek" / "http-connect-smtp" / "trace.pcap")
    a = analyze(flow)
    (r,) = a.record()["requests"]
    assert (r["method"], r["path"], str(r["status"]), r["status_msg"]) == (
        row["method"],
        row["uri"],
        row["status_code"],
        row["status_msg"],
    )
    assert a.handoff == "SMTP" and a.finished
    assert a.tunnel_bytes(Dir.SERVER).startswith(b"220 ")
