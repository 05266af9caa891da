"""DNSAnalyzer on recorded real exchanges (dig + dnsmasq; see tests/data/dns/README.md)."""

from __future__ import annotations

import struct
from pathlib import Path

from netwatch.dpi.base import Dir, NameResolved
from netwatch.dpi.dns import DNSAnalyzer, detect_tcp, detect_udp
from tests.util.corpus import REPO

DATA = REPO / "tests" / "data" / "dns"


def load(path: Path) -> list[tuple[Dir, bytes]]:
    """Records of ``direction (1) | length (4, big-endian) | bytes``."""
    raw = path.read_bytes()
    out, pos = [], 0
    while pos < len(raw):
        d, n = struct.unpack_from("!BI", raw, pos)
        out.append((Dir(d), raw[pos + 5 : pos + 5 + n]))
        pos += 5 + n
    assert pos == len(raw)
    return out


def run(transport: str, chunks: list[tuple[Dir, bytes]]) -> tuple[DNSAnalyzer, list[NameResolved]]:
    a = DNSAnalyzer(transport)  # type: ignore[arg-type]
    events = [e for d, data in chunks for e in a.feed(d, data, 1.0) if isinstance(e, NameResolved)]
    return a, events


def test_https_record() -> None:
    chunks = load(DATA / "dnsmasq_https_udp.bin")
    assert all(detect_udp(data) for _, data in chunks)
    a, events = run("udp", chunks)
    (q,) = a.record()["queries"]
    assert (q["qname"], q["qtype"], q["rcode"], q["nodata"]) == (
        "svc.nw.test",
        "HTTPS",
        "NOERROR",
        False,
    )
    assert q["answers"][0]["data"] == "1 . alpn=h2,h3 ipv4hint=192.0.2.80"
    assert events == []  # hints are not resolutions
    assert a.summary() == "DNS HTTPS svc.nw.test"


def test_cname_chain_udp() -> None:
    a, events = run("udp", load(DATA / "dnsmasq_cname_chain_udp.bin"))
    assert [(e.name, e.addresses) for e in events] == [("alias.nw.test", ("192.0.2.5",))]
    assert a.record()["queries"][0]["edns_udp_size"] == 1232


def test_tcp_whole_bytewise_and_with_trailing_partial() -> None:
    chunks = load(DATA / "dnsmasq_aaaa_tcp.bin")
    assert detect_tcp(chunks[0][1])
    whole, events = run("tcp", chunks)
    assert [(e.name, e.addresses) for e in events] == [("alias.nw.test", ("2001:db8::5",))]
    bytewise, _ = run("tcp", [(d, data[i : i + 1]) for d, data in chunks for i in range(len(data))])
    assert bytewise.record() == whole.record()
    partial, _ = run("tcp", [*chunks, (Dir.CLIENT, b"\x00\x30\x12")])  # a next message begins
    assert partial.record() == whole.record()
