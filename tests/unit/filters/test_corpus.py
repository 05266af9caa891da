"""The filter on rows built from real captures by the real analyzers, checked against tshark.

Each flow of a capture becomes a view whose ``app`` holds the analyzer's record (the shape
the engine publishes: ``{"protocol", "summary", "<proto>": record()}``). For every value
tshark saw (SNI, JA3/JA3S, HASSH, SSH banners, DNS names, HTTP hosts), the keyword term
for it must select exactly the flows tshark says carry it, on views and records alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from netwatch.dpi import registry
from netwatch.dpi.base import Dir
from netwatch.errors import MalformedError
from netwatch.filters import SearchCache, compile, compile_record
from netwatch.model import ConnectionView
from tests.util.corpus import corpus_file, expected
from tests.util.streams import flows_of

# Flows are matched by their two endpoints in either order: the test stream reader and
# tshark may disagree on who opened a UDP exchange whose first packet was lost.
Key = tuple[tuple[str, int], tuple[str, int]]


def _endpoints(a: tuple[str, int], b: tuple[str, int]) -> Key:
    return (a, b) if a <= b else (b, a)


def _views(capture: str) -> dict[Key, ConnectionView]:
    out: dict[Key, ConnectionView] = {}
    for i, fl in enumerate(flows_of(corpus_file(capture))):
        first = next((d for dr, d, _ in fl.chunks if dr == 0 and d), b"")
        analyzer = registry.detect(fl.transport, first, fl.client[1], fl.server[1])
        app: dict[str, Any] = {}
        if analyzer is not None:
            try:
                for direction, data, ts in fl.chunks:
                    analyzer.feed(Dir(direction), data, ts)
            except MalformedError:
                pass  # the row keeps what was learnt, as in the engine
            app = {
                "protocol": analyzer.protocol,
                "summary": analyzer.summary(),
                analyzer.protocol.lower(): analyzer.record(),
            }
        ts0 = fl.chunks[0][2] if fl.chunks else 0.0
        key = _endpoints(fl.client, fl.server)
        out[key] = ConnectionView(
            id=i,
            proto=fl.transport,
            ip_version=6 if ":" in fl.client[0] else 4,
            local_addr=fl.client[0],
            local_port=fl.client[1],
            remote_addr=fl.server[0],
            remote_port=fl.server[1],
            state="",
            service="",
            first_seen=ts0,
            last_seen=ts0,
            packets_out=0,
            packets_in=0,
            bytes_out=0,
            bytes_in=0,
            app=app,
        )
    return out


def _truth_flows(stem: str) -> list[dict[str, Any]]:
    return [r for r in expected(stem) if r.get("kind") == "flow"]


def _key(r: dict[str, Any]) -> Key:
    return _endpoints((r["src"], int(r["sport"])), (r["dst"], int(r["dport"])))


def _values(r: dict[str, Any], fields: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for f in fields:
        v = r.get(f)
        for x in v if isinstance(v, list) else [v]:
            if x not in (None, ""):
                out.add(str(x).lower())
    return out


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _needs(module: str) -> None:
    """The registry silently leaves a flow unclassified when an analyzer cannot be
    imported; here that would read as a filter failure, so say what is missing instead."""
    pytest.importorskip(module, reason=f"{module} does not import")


def _check(
    stem: str, keyword: str, fields: tuple[str, ...], op: str = "=", min_terms: int = 1
) -> None:
    views = _views(stem + (".pcapng" if stem.startswith("foxio") else ".pcap"))
    truth = [r for r in _truth_flows(stem) if _key(r) in views]
    wanted: dict[str, set[Key]] = {}
    for r in truth:
        for value in _values(r, fields):
            wanted.setdefault(value, set()).add(_key(r))
    assert len(wanted) >= min_terms, f"{stem}: too few {keyword} values in the truth"
    cache = SearchCache()
    for value, keys in wanted.items():
        expr = f"{keyword}{op}{_quote(value)}"
        f: Callable[[ConnectionView], bool] = compile(expr, cache=cache)
        rf = compile_record(expr)
        got = {k for k, v in views.items() if f(v)}
        got_rec = {k for k, v in views.items() if rf(v.to_record())}
        assert got == keys, expr
        assert got_rec == keys, expr


@pytest.mark.parametrize(
    "stem", ["sv_ja4-tls", "ndpi_tls-rdn-extract", "foxio_tls-handshake", "sv_tls-alpn-rawip"]
)
def test_tls_fingerprints(stem: str) -> None:
    _needs("netwatch.dpi.tls.analyzer")
    _check(stem, "ja3", ("ja3", "ja3s"))
    _check(stem, "ja4", ("ja4",))


@pytest.mark.parametrize("stem", ["ndpi_tls-rdn-extract", "foxio_tls-handshake", "ndpi_http_ipv6"])
def test_tls_sni(stem: str) -> None:
    _needs("netwatch.dpi.tls.analyzer")
    _check(stem, "sni", ("tls_sni", "quic_sni"))
    _check(stem, "tls.sni", ("tls_sni",), " = ")


@pytest.mark.parametrize("stem", ["ndpi_ssh", "sv_ssh-hassh"])
def test_ssh(stem: str) -> None:
    _needs("netwatch.dpi.ssh")
    _check(stem, "ssh", ("ssh_client_version", "ssh_server_version"))
    _check(stem, "hassh", ("hassh", "hassh_server"))
    _check(stem, "ssh.hassh_server", ("hassh_server",), " == ")


@pytest.mark.parametrize("stem", ["sv_dns-udp-a-aaaa-mx", "ndpi_dns", "sv_dns-tcp"])
def test_dns(stem: str) -> None:
    _needs("netwatch.dpi.dns")
    _check(stem, "dns", ("dns_qnames", "dns_answers"))


def test_dns_qname_dotted_regex() -> None:
    _needs("netwatch.dpi.dns")
    views = _views("sv_dns-udp-a-aaaa-mx.pcap")
    f = compile_record(r"dns.qname ~ /^google\.com$/ and dns.qtype = MX")
    hits = [k for k, v in views.items() if f(v.to_record())]
    assert len(hits) == 1


@pytest.mark.parametrize("stem", ["sv_http-ipv6", "foxio_http1-with-cookies"])
def test_http_host(stem: str) -> None:
    _needs("netwatch.dpi.http")
    _check(stem, "host", ("http_host", "tls_sni"))
    _check(stem, "http.status", ("http_status",), " = ")
