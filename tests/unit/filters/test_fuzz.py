"""Any input either compiles or raises FilterSyntaxError; a compiled filter never raises.

Three generators: arbitrary text, a soup of the language's own fragments (which reaches the
value parsers far more often than random text), and arbitrary JSON-like records fed to
compiled filters (records come from disk and may hold anything).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import FilterSyntaxError
from netwatch.filters import Filter, compile, compile_record
from netwatch.filters.keywords import KEYWORD_INDEX

from .samples import ALL
from .test_keywords import CASES

FRAGMENTS = [
    *[f"{k}:" for k in KEYWORD_INDEX],
    *[f"{k}" for k in KEYWORD_INDEX],
    "tls.ja3",
    "dns.qname",
    "http.status",
    "process.pid",
    "geo.asn",
    "app.*.sni",
    ":",
    "=",
    "==",
    "!=",
    "~",
    "!~",
    "<",
    "<=",
    ">",
    ">=",
    "(",
    ")",
    '"',
    "/",
    "\\",
    "-",
    "!",
    "not",
    "and",
    "or",
    "&&",
    "||",
    "|",
    "&",
    "*",
    "443",
    "8000-8100",
    "1M",
    "1.5ki",
    "10ms",
    "5m",
    "-1",
    "1e9",
    "10.0.0.0/8",
    "fe80::1",
    "::ffff:1.2.3.4",
    "::/0",
    "1.2.3.4/33",
    "github",
    "(a|b)",
    "[",
    "a{2,1}",
    "?",
    "(?i)",
    "\u00e9",
    "\x00",
    "AS15169",
    "true",
]


def _check(expr: str) -> None:
    try:
        f = compile(expr)
        r = compile_record(expr)
    except FilterSyntaxError as err:
        assert isinstance(err.position, int)
        assert 0 <= err.position <= len(expr)
        assert str(err)
        return
    assert isinstance(f, Filter)
    for v in ALL:
        assert f(v) in (True, False)
        assert r(v.to_record()) in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text(expr: str) -> None:
    _check(expr)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(["", "", " ", "  "])),
        max_size=12,
    )
)
def test_fragment_soup(parts: list[tuple[str, str]]) -> None:
    _check("".join(frag + sep for frag, sep in parts))


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = [
    "proto",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "service",
    "remote_name",
    "bytes_in",
    "bytes_out",
    "packets_in",
    "packets_out",
    "rtt_ms",
    "duration",
    "retransmits",
    "app",
    "process",
    "geo",
]
_FILTERS = [compile_record(expr) for expr, _ in CASES] + [
    compile_record(e) for e in ("github", "/^tcp$/", "tls.x.y.z = 1", "app.*.*:*", "a b c")
]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_KEYS), _json, max_size=10)
    | _json.map(lambda x: x if isinstance(x, dict) else {"app": x})
)
def test_records_of_any_shape(record: dict[str, Any]) -> None:
    for f in _FILTERS:
        assert f(record) in (True, False)


def test_deeply_nested_and_cyclic_records_are_bounded() -> None:
    deep: dict[str, Any] = {"sni": "needle"}
    for _ in range(200):
        deep = {"x": deep}
    rec = {"app": {"tls": deep}}
    assert compile_record("sni:*")(rec) is False  # beyond the depth cap: not reached
    assert compile_record("needle")(rec) is False
    shallow = {"app": {"tls": {"x": {"x": {"sni": "needle"}}}}}
    assert compile_record("sni:needle")(shallow) is True  # found below the missing key
    assert compile_record("needle")(shallow) is True
    cyclic: dict[str, Any] = {"protocol": "TLS"}
    cyclic["self"] = cyclic
    assert compile_record("tls.nothing = 1")({"app": {"tls": cyclic}}) is False
    assert compile_record("needle")({"app": cyclic}) is False
