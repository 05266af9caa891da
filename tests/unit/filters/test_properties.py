"""Properties over generated rows: views and records agree, and the cache never changes
an answer.

``compile`` (views, cached) and ``compile_record`` (dicts, uncached) share one
implementation; these tests hold them to the same answers on rows hypothesis builds, and a
shared cache fed a stream of rows that reuse ids (a connection changing, or ids reused) to
the answers of a fresh cache.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.filters import SearchCache, compile, compile_record
from netwatch.model import ConnectionView, ContainerInfo, ProcessInfo

from .test_keywords import CASES
from .test_search import WORDS

ADDRS = ["10.0.0.1", "192.168.1.10", "140.82.112.3", "2001:db8::1", "fe80::2", "::ffff:10.0.0.1"]
TEXT = st.sampled_from(
    ["github.com", "GitHub", "example.org", "curl", "firefox", "TLS", "QUIC", "DNS", "h2", "", "x"]
)
SCALAR = TEXT | st.integers(0, 70000) | st.booleans() | st.none() | st.floats(0, 1e4)
APP = st.fixed_dictionaries(
    {"protocol": TEXT, "summary": TEXT},
    optional={
        "tls": st.dictionaries(
            st.sampled_from(["sni", "ja3", "ja3s", "ja4", "alpn_offered", "resumed"]),
            SCALAR | st.lists(TEXT, max_size=3),
            max_size=4,
        ),
        "quic": st.dictionaries(st.sampled_from(["sni", "ja4", "version"]), SCALAR, max_size=3),
        "dns": st.fixed_dictionaries(
            {
                "queries": st.lists(
                    st.fixed_dictionaries(
                        {"qname": TEXT, "rcode": TEXT},
                        optional={
                            "answers": st.lists(
                                st.fixed_dictionaries({"name": TEXT, "data": TEXT}), max_size=2
                            )
                        },
                    ),
                    max_size=3,
                )
            }
        ),
        "http": st.fixed_dictionaries(
            {
                "requests": st.lists(
                    st.fixed_dictionaries({"host": TEXT, "status": st.integers(100, 599)}),
                    max_size=2,
                )
            }
        ),
        "ssh": st.dictionaries(
            st.sampled_from(["client_version", "server_version", "hassh"]), TEXT, max_size=3
        ),
    },
)
PROCESS = st.none() | st.builds(
    ProcessInfo,
    pid=st.integers(1, 5000),
    name=TEXT,
    exe=TEXT,
    cmdline=st.lists(TEXT, max_size=3).map(tuple),
    user=st.sampled_from(["root", "alice", ""]),
    uid=st.integers(0, 1001),
    container=st.none() | st.just(ContainerInfo("docker", "3f2a9c0d1e2b")),
)
GEO = st.none() | st.fixed_dictionaries(
    {"country": st.sampled_from(["US", "DE"]), "asn": st.sampled_from([36459, "AS15169", None])}
)


@st.composite
def views(draw: Any, ident: int | None = None) -> ConnectionView:
    first = draw(st.integers(1_600_000_000, 1_700_000_000))
    return ConnectionView(
        id=draw(st.integers(0, 3)) if ident is None else ident,
        proto=draw(st.sampled_from(["tcp", "udp", "icmp", "icmpv6"])),
        ip_version=4,
        local_addr=draw(st.sampled_from(ADDRS)),
        local_port=draw(st.integers(0, 65535)),
        remote_addr=draw(st.sampled_from(ADDRS)),
        remote_port=draw(st.sampled_from([22, 53, 443, 8000, 8100, 50000])),
        state=draw(st.sampled_from(["ESTABLISHED", "TIME_WAIT", "QUIC_CONNECTED", ""])),
        service=draw(st.sampled_from(["https", "ssh", ""])),
        first_seen=float(first),
        last_seen=float(first + draw(st.integers(0, 7200))),
        packets_out=draw(st.integers(0, 10)),
        packets_in=draw(st.integers(0, 10)),
        bytes_out=draw(st.integers(0, 3_000_000)),
        bytes_in=draw(st.integers(0, 3_000_000)),
        # Whole milliseconds: a record rounds rtt_ms to 3 decimals, which could flip a
        # boundary comparison on a float like 50.0004 (a rounding of the record, not of
        # the filter).
        rtt_ms=draw(st.none() | st.integers(0, 500).map(float)),
        retransmits=draw(st.integers(0, 3)),
        app=draw(APP),
        process=draw(PROCESS),
        remote_name=draw(st.none() | TEXT),
        geo=draw(GEO),
    )


EXPRS = [e for e, _ in CASES + WORDS if not e.startswith("rate")]
VIEW_FILTERS = [(e, compile(e, cache=SearchCache())) for e in EXPRS]
RECORD_FILTERS = [compile_record(e) for e in EXPRS]


@settings(max_examples=150, deadline=None)
@given(views())
def test_views_and_records_agree(v: ConnectionView) -> None:
    rec = v.to_record()
    for (expr, f), r in zip(VIEW_FILTERS, RECORD_FILTERS, strict=True):
        assert f(v) == r(rec), expr


@settings(max_examples=60, deadline=None)
@given(st.lists(views(), min_size=1, max_size=12))
def test_shared_cache_answers_like_a_fresh_one(stream: list[ConnectionView]) -> None:
    shared = SearchCache(max_entries=3)  # small: trimming happens too
    for expr in ("github", "sni:github", "tls.ja3:x", "dst:10.0.0.0/8 or curl", "/^dns$/"):
        for v in stream:
            assert compile(expr, cache=shared)(v) == compile(expr, cache=SearchCache())(v), expr
