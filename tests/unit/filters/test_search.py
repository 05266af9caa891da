"""Plain words and bare regexes: what they search, case, substring, and the row cache."""

from __future__ import annotations

from dataclasses import replace

import pytest

from netwatch.filters import SearchCache, compile, compile_record
from netwatch.filters.search import record_text, view_text_uncached
from netwatch.model import ProcessInfo

from .samples import ALL, DNS, HTTP, NAMES, QUIC6, SSH, TLS, UDP_BARE

WORDS: list[tuple[str, set[str]]] = [
    ("github", {"TLS"}),  # sni, summary, remote name
    ("GitHub", {"TLS"}),  # case-insensitive
    ("HUB.C", {"TLS"}),  # substring, not whole words
    ("ghb", set()),  # substring, not subsequence
    ("firefox", {"TLS", "QUIC6"}),  # process name
    ("-firefox", {"DNS", "HTTP", "SSH", "ICMP6", "UDP"}),  # a leading '-' negates
    ('"-p"', {"TLS", "QUIC6", "SSH"}),  # quoted, it is text: argument -P, "SSH-2.0-PuTTY"
    ("/^-p$/", {"TLS", "QUIC6"}),  # the whole command-line argument
    ("alice", {"TLS", "QUIC6", "SSH"}),  # user; the sshd command line
    ("4242", {"TLS", "QUIC6"}),  # pid
    ("3f2a9c", {"SSH"}),  # container id
    ("140.82.112.3", {"TLS"}),  # address
    ("140.82.112.3:443", {"TLS"}),  # address:port
    (":443", {"TLS", "QUIC6"}),
    ("[2001:db8::10]", {"QUIC6"}),  # IPv6 endpoint in brackets
    ("2a00:1450", {"QUIC6"}),
    ("fe80::2", {"ICMP6"}),  # substring of "[fe80::2%eth0]:0"
    ("icmpv6", {"ICMP6"}),  # transport protocol
    ("time_wait", {"HTTP"}),  # state
    ("http-alt", {"HTTP"}),  # service
    ("ashburn", {"TLS"}),  # geo
    ("36459", {"TLS"}),  # geo asn (an integer)
    ("sectigo", {"TLS"}),  # nested DPI data: certificate issuer
    ("ja3", set()),  # field names are not searched, only values
    ("cd08e314", {"TLS"}),  # ja3
    ("q13d0312h3", {"QUIC6"}),  # ja4
    ("nxdomain", {"DNS"}),  # dns rcode
    ("edge.cdn.net", {"DNS"}),  # dns answer
    ("putty", {"SSH"}),
    ("curl/8.5", {"HTTP"}),  # user agent
    ("503", {"HTTP"}),  # an integer inside the app object
    ("echo-req", {"ICMP6"}),  # ICMP details (ConnectionView.extra)
    ("true", set()),  # booleans are not searched (they would match everything)
    ("92.5", set()),  # nor floats (RTTs)
    ("github firefox", {"TLS"}),
    ("github youtube", set()),
    ("github or youtube", {"TLS", "QUIC6"}),
    ("/^github\\.com$/", {"TLS"}),  # ^ and $ anchor at each field
    ("/^hub/", set()),
    ("/openssh_\\d+\\.\\d/", {"SSH"}),
    ("/GITHUB/", {"TLS"}),  # regexes are case-insensitive
]


@pytest.mark.parametrize(("expr", "want"), WORDS, ids=[w[0] for w in WORDS])
def test_words(expr: str, want: set[str]) -> None:
    f = compile(expr, cache=SearchCache())
    r = compile_record(expr)
    assert {NAMES[v.id] for v in ALL if f(v)} == want
    assert {NAMES[v.id] for v in ALL if r(v.to_record())} == want


def test_scoped_address_is_found_whole() -> None:
    assert compile('"fe80::2%eth0"', cache=SearchCache())(ALL[5])


def test_view_and_record_search_text_agree() -> None:
    for v in ALL:
        assert view_text_uncached(v) == record_text(v.to_record())
        assert view_text_uncached(v) == view_text_uncached(v).lower()


def test_same_view_object_is_a_cache_hit() -> None:
    cache = SearchCache()
    for expr in ("g", "gi", "git", "github"):
        f = compile(expr, cache=cache)
        assert [f(v) for v in ALL].count(True) >= 1
    assert cache.builds == len(ALL)  # one build per row for all four keystrokes
    assert len(cache) == len(ALL)


def test_equal_new_view_reuses_the_text() -> None:
    cache = SearchCache()
    compile("x", cache=cache)(TLS)
    newer = replace(TLS, last_seen=TLS.last_seen + 5, bytes_in=TLS.bytes_in + 1, app=dict(TLS.app))
    assert compile("github", cache=cache)(newer)
    assert cache.builds == 1


@pytest.mark.parametrize(
    "change",
    [
        {"app": {"protocol": "TLS", "tls": {"sni": "gitlab.com"}}},
        {"process": ProcessInfo(pid=1, name="gitlab-runner")},
        {"remote_name": "gitlab.com"},
        {"geo": {"country": "gitlab"}},
        {"state": "gitlab"},
    ],
    ids=["app", "process", "remote_name", "geo", "state"],
)
def test_changed_fields_rebuild_the_text(change: dict[str, object]) -> None:
    cache = SearchCache()
    assert not compile("gitlab", cache=cache)(TLS)
    changed = replace(TLS, **change)  # type: ignore[arg-type]
    assert compile("gitlab", cache=cache)(changed)
    assert compile(
        "sni:gitlab or process:gitlab or host:gitlab or country:gitlab or state:gitlab", cache=cache
    )(changed)
    assert cache.builds == 2


def test_cached_nested_values_follow_the_app_object() -> None:
    cache = SearchCache()
    f = compile("sni:github", cache=cache)
    assert f(TLS)
    moved = replace(TLS, app={"protocol": "TLS", "tls": {"sni": "example.net"}})
    assert not f(moved)
    assert compile("sni:example.net", cache=cache)(moved)


def test_counters_are_never_cached() -> None:
    cache = SearchCache()
    f = compile("bytes>10M", cache=cache)
    assert not f(TLS)
    assert f(replace(TLS, bytes_in=11_000_000))  # same search fields, new counters


def test_cache_is_bounded() -> None:
    cache = SearchCache(max_entries=100)
    f = compile("github", cache=cache)
    for i in range(1000):
        f(replace(TLS, id=i))
    assert len(cache) <= 100


def test_ids_shared_by_different_connections_do_not_leak() -> None:
    # A test double (or an id reused after expiry) with other fields must not see the
    # text of the connection that had the id before.
    cache = SearchCache()
    f = compile("github", cache=cache)
    assert f(TLS)
    assert not f(replace(DNS, id=TLS.id))
    assert not f(replace(HTTP, id=TLS.id))
    assert not f(replace(SSH, id=TLS.id))
    assert not f(replace(QUIC6, id=TLS.id))
    assert not f(replace(UDP_BARE, id=TLS.id))


def test_default_cache_is_used_without_an_argument() -> None:
    assert compile("github")(TLS)
    assert not compile("github")(DNS)


def test_prepare_builds_only_new_rows() -> None:
    cache = SearchCache()
    assert cache.prepare(ALL) == len(ALL)
    assert cache.prepare(ALL) == 0
    assert cache.prepare([replace(TLS, bytes_in=1), replace(DNS, state="x")]) == 1
    f = compile("github", cache=cache)
    assert [f(v) for v in ALL].count(True) == 1
    # The changed DNS row replaced the old one; filtering the old view builds it again.
    assert cache.builds == len(ALL) + 2


def test_package_prepare_fills_the_given_cache() -> None:
    from netwatch.filters import prepare

    cache = SearchCache()
    assert prepare(ALL, cache=cache) == len(ALL)
    assert prepare(ALL, cache=cache) == 0
    assert compile("github", cache=cache)(TLS)
    assert cache.builds == len(ALL)


def test_clear_forgets_every_row() -> None:
    cache = SearchCache()
    cache.prepare(ALL)
    cache.clear()
    assert len(cache) == 0
    assert cache.prepare(ALL) == len(ALL)
