"""Queries return exactly what the filter language matches, and use the indexes to do it.

Every expression is run two ways over the same store: ``Store.connections(expr)`` (SQL over
the indexed columns, then the compiled filter on the candidates) and ``compile_record(expr)``
over every stored record. They must agree, whatever part of the expression SQL answers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import FilterSyntaxError
from netwatch.filters import compile_record
from netwatch.store import Store, StoreWriter
from netwatch.store.sql import translate
from tests.unit.store.conftest import Recorded
from tests.unit.store.synth import view

EXPRESSIONS = (
    "",
    "tls.ja3 = 773906b0efdefa24a7f2b8eb6985bf37",
    "tls.ja3 = 773906B0EFDEFA24A7F2B8EB6985BF37",
    "ja3:773906b0",
    "ja4:t13d1516h2",
    "tls.ja4 = t13d1516h2_8daaf6152771_e5627efa2ab1",
    "sni:google",
    "tls.sni = www.google.com",
    "quic.sni:cloudflare",
    "sni:/goog/",
    "sni:* -sni:google",
    "dns.qname ~ /.*\\.com$/",
    "dns.qname = www.google.com",
    "dns:google",
    "dns.qname:example",
    "http.status >= 500",
    "http.status >= 200 and http.status < 300",
    "http.status = 200",
    "http.status = 200.0",
    "http.host:example",
    "host:example",
    "http.requests.method = POST",
    "ssh.hassh:ec7378c1",
    "hassh:*",
    "ssh.hassh_server != b12d2871a1189eff20364cf5333619ee",
    "port:443",
    "port:1-1024",
    "sport>=50000",
    "dport:53 or dport:443",
    "port!=443",
    "not port:443",
    "not (port:443 or port:53)",
    "dst:8.8.8.8",
    "dst:142.251.0.0/16",
    "src:192.168.0.0/16 and dport:443",
    "addr:2001::/16",
    "ip:fe80::/10 or ip:10.0.0.0/8",
    "-dst:142.251.0.0/16",
    "dst:google",
    "proto:tcp",
    "proto:udp -proto:dns",
    "proto:tls or proto:quic",
    "proto!=tcp",
    "not proto:icmp",
    "proto:icmp",
    "bytes>10k",
    "bytes_in<=1.5k and packets>3",
    "packets:1-3",
    "duration>1",
    "duration<0.5 and proto:udp",
    "google",
    "GOOGLE",
    "443",
    "192.168.1.",
    ":443",
    "openssh",
    "h2 -proto:quic",
    "50%",
    "a_b",
    "/openssh_[0-9]/",
    "(sni:google or dns:google) and not port:53",
    "app.protocol = tls",
    "tls.resumed = true",
    "tls.resumed = no",
    "extra.picked_up = true",
    "vlan:*",
    "rtt>10",
    "state:estab",
    "service:https",
    "process:*",
)


def _all(store: Store) -> list[tuple[int, dict[str, Any]]]:
    return [(c.id, c.record) for c in store.connections()]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_query_equals_filter(recorded: Recorded, expr: str) -> None:
    f = compile_record(expr)
    with Store(recorded.store) as st:
        want = [i for i, rec in _all(st) if f(rec)]
        got = [c.id for c in st.connections(expr)]
    assert got == want


def test_expressions_are_not_vacuous(recorded: Recorded) -> None:
    """Most of the expressions above match something and miss something."""
    with Store(recorded.store) as st:
        rows = _all(st)
    informative = 0
    for expr in EXPRESSIONS:
        f = compile_record(expr)
        n = sum(1 for _, r in rows if f(r))
        informative += 0 < n < len(rows)
    assert informative >= len(EXPRESSIONS) * 2 // 3


def _values(recorded: Recorded) -> dict[str, list[str]]:
    """Real values from the store, to build random expressions that hit rows."""
    out: dict[str, set[str]] = {"sni": set(), "ja3": set(), "qname": set(), "port": set()}
    with Store(recorded.store) as st:
        for c in st.connections():
            r = c.record
            out["port"].add(str(r["remote_port"]))
            app = r["app"]
            for proto in ("tls", "quic"):
                if isinstance(app.get(proto), dict):
                    if app[proto].get("sni"):
                        out["sni"].add(app[proto]["sni"])
                    if app[proto].get("ja3"):
                        out["ja3"].add(app[proto]["ja3"])
            for q in (app.get("dns") or {}).get("queries", []):
                out["qname"].add(q["qname"])
    return {k: sorted(v)[:40] for k, v in out.items()}


_CACHE: dict[str, tuple[dict[str, list[str]], list[tuple[int, dict[str, Any]]]]] = {}


def _cached(recorded: Recorded) -> tuple[dict[str, list[str]], list[tuple[int, dict[str, Any]]]]:
    key = str(recorded.store)
    if key not in _CACHE:
        with Store(recorded.store) as store:
            _CACHE[key] = (_values(recorded), _all(store))
    return _CACHE[key]


def q(s: str) -> str:
    """A quoted filter value."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _terms(vals: dict[str, list[str]]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(vals["sni"]).map(lambda v: f"tls.sni = {q(v)}"),
        st.sampled_from(vals["sni"]).map(lambda v: f"sni:{q(v[:5])}"),
        st.sampled_from(vals["ja3"]).map(lambda v: f"ja3 = {v}"),
        st.sampled_from(vals["qname"]).map(lambda v: f"dns.qname = {q(v)}"),
        st.sampled_from(vals["port"]).map(lambda v: f"dport:{v}"),
        st.integers(0, 65535).map(lambda v: f"port<={v}"),
        st.sampled_from(["tcp", "udp", "tls", "quic", "dns", "http", "ssh", "icmp"]).map(
            lambda v: f"proto:{v}"
        ),
        st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "142.0.0.0/8", "::/0", "fe80::/10"]).map(
            lambda v: f"dst:{v}"
        ),
        st.integers(0, 5000).map(lambda v: f"bytes>{v}"),
        st.sampled_from(["google", "/^www/", "http.status >= 300", "tls.version:1.3"]),
        st.text(st.sampled_from("abcdefgoGO1234.-_%/:"), min_size=1, max_size=4).map(q),
    )


def _exprs(vals: dict[str, list[str]]) -> st.SearchStrategy[str]:
    return st.recursive(
        _terms(vals),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
            inner.map(lambda e: f"not {e}"),
        ),
        max_leaves=5,
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_expressions_equal_filter(recorded: Recorded, data: st.DataObject) -> None:
    vals, rows = _cached(recorded)
    assert all(vals.values())
    expr = data.draw(_exprs(vals), label="expr")
    f = compile_record(expr)
    want = [i for i, r in rows if f(r)]
    with Store(recorded.store) as store:
        assert [c.id for c in store.connections(expr)] == want, expr


def _plan(st: Store, expr: str) -> str:
    plan = st.plan(expr)
    rows = st._db.execute(  # the query the store runs, as SQLite plans it
        f"EXPLAIN QUERY PLAN SELECT id FROM connections WHERE {plan.where}", plan.params
    ).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("expr", "index"),
    [
        (
            "tls.ja3 = 773906b0efdefa24a7f2b8eb6985bf37",
            "dpi_index USING PRIMARY KEY (key=? AND value=?)",
        ),
        ("sni = www.google.com", "dpi_index USING PRIMARY KEY (key=? AND value=?)"),
        ("dns.qname = www.google.com", "dpi_index USING PRIMARY KEY (key=? AND value=?)"),
        ("http.status >= 500", "dpi_index_num"),
        ("dst:10.0.0.0/8", "connections_remote_ip"),
        ("dport:443", "connections_remote_port"),
    ],
)
def test_selective_terms_use_an_index(recorded: Recorded, expr: str, index: str) -> None:
    with Store(recorded.store) as st:
        assert index in _plan(st, expr)


def test_time_range(recorded: Recorded) -> None:
    with Store(recorded.store) as st:
        rows = list(st.connections())
        firsts = sorted(c.record["first_seen"] for c in rows)
        mid = firsts[len(firsts) // 2]
        from netwatch.store import parse_time

        t = parse_time(mid, 0)
        after = list(st.connections(since=t))
        before = list(st.connections(until=t))
    assert after and before
    assert all(c.record["last_seen"] >= mid for c in after)
    assert all(c.record["first_seen"] <= mid for c in before)
    assert len({c.id for c in after} | {c.id for c in before}) == len(rows)


def test_translation_is_a_superset_only_when_it_says_so() -> None:
    exact = translate(compile_record("port:443 and proto:tcp").ast)
    assert exact is not None and exact.exact
    word = translate(compile_record("google").ast)
    assert word is not None and not word.exact and "LIKE" in word.sql
    for unsafe in ('"a:b"', '"x\\"y"', '"[::1]"', "é"):
        assert translate(compile_record(unsafe).ast) is None, unsafe
    partial = translate(compile_record("port:443 google").ast)
    assert partial is not None and not partial.exact
    # a NOT of an inexact condition cannot be narrowed
    assert translate(compile_record("not sni:google").ast) is None


def test_bad_expression_is_a_syntax_error(recorded: Recorded) -> None:
    with Store(recorded.store) as st, pytest.raises(FilterSyntaxError):
        list(st.connections("port:70000"))


def test_remote_name_that_is_an_ip_is_found_by_dst(tmp_path: Path) -> None:
    """``dst`` compares an IP-literal remote name as an address; the SQL keeps such rows."""
    w = StoreWriter(tmp_path, source="test")
    w.start()
    w.put_connection(replace(view(1, 1000.0), remote_name="10.1.2.3"))
    w.put_connection(replace(view(2, 1001.0), remote_name="fe80::1%eth0"))
    w.put_connection(replace(view(3, 1002.0), remote_name="www.example.com"))
    w.close()
    with Store(tmp_path) as st:
        assert [c.conn for c in st.connections("dst:10.0.0.0/8")] == [1]
        assert [c.conn for c in st.connections("dst:fe80::/10")] == [2]
        assert [c.conn for c in st.connections("-dst:10.0.0.0/8")] == [2, 3]
        assert st.plan("dst:10.0.0.0/8").residual is None  # exact: no record is decoded


def test_words_in_non_ascii_records(tmp_path: Path) -> None:
    """LIKE folds ASCII only: a Kelvin sign lower-cases to 'k' for the filter, so records
    with non-ASCII text stay candidates and the filter decides."""
    w = StoreWriter(tmp_path, source="test")
    w.start()
    w.put_connection(replace(view(1, 1000.0), remote_name="\u212aelvin.example"))
    w.put_connection(replace(view(2, 1001.0), remote_name="Köln.example"))
    w.put_connection(replace(view(3, 1002.0), remote_name="kelvin.example"))
    w.put_connection(replace(view(4, 1003.0), remote_name='say "50%" a_b'))
    w.close()
    with Store(tmp_path) as st:
        assert [c.conn for c in st.connections("kelvin")] == [1, 3]
        assert [c.conn for c in st.connections("KÖLN")] == [2]
        assert [c.conn for c in st.connections("50%")] == [4]
        assert [c.conn for c in st.connections("a_b")] == [4]
        assert [c.conn for c in st.connections('"say \\"50"')] == [4]
