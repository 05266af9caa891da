"""Address scope labels: the table's own rows, the RFC examples, and fuzzing."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.enrich.scopes import SCOPE_TABLE, SCOPES, ScopeRule, scope_of

CASES = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "reserved"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("172.32.0.1", "global"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("100.128.0.1", "global"),
    ("169.254.10.20", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::fb", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.200", "documentation"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.20.0.1", "global"),
    ("2001:2::1", "benchmarking"),
    ("fd00::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("fec0::1", "reserved"),
    ("192.0.0.8", "reserved"),
    ("192.88.99.1", "reserved"),
    ("64:ff9b::808:808", "nat64"),
    ("64:ff9b:1::1", "nat64"),
    ("100::1", "reserved"),
    ("2001::1", "global"),  # Teredo, more specific than the IETF block
    ("2001:4:112::1", "reserved"),  # AS112-v6 inside 2001::/23
    ("8.8.8.8", "global"),
    ("1.1.1.1", "global"),
    ("2606:4700::1111", "global"),
    ("4000::1", "reserved"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:8.8.8.8", "global"),
    ("::ffff:127.0.0.1", "loopback"),
]


@pytest.mark.parametrize(("address", "scope"), CASES)
def test_scope_examples(address: str, scope: str) -> None:
    assert scope_of(address) == scope


def test_every_label_is_reachable_and_declared() -> None:
    seen = {scope_of(a) for a, _ in CASES}
    assert seen == set(SCOPES)
    assert {r.scope for r in SCOPE_TABLE} <= set(SCOPES)


def _most_specific_other(rule_net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Does a longer rule cover the network's first address?"""
    first = rule_net.network_address
    for r in SCOPE_TABLE:
        net = ipaddress.ip_network(r.network)
        if net.version == rule_net.version and net.prefixlen > rule_net.prefixlen and first in net:
            return True
    return False


@pytest.mark.parametrize("rule", SCOPE_TABLE, ids=lambda r: r.network)
def test_each_rule_labels_its_own_network(rule: ScopeRule) -> None:
    net = ipaddress.ip_network(rule.network)
    assert rule.reference  # every row names where it comes from
    last = net.broadcast_address
    covered_last = any(
        ipaddress.ip_network(r.network).version == net.version
        and ipaddress.ip_network(r.network).prefixlen > net.prefixlen
        and last in ipaddress.ip_network(r.network)
        for r in SCOPE_TABLE
    )
    if not covered_last:
        assert scope_of(str(last)) == rule.scope
    if not _most_specific_other(net):
        assert scope_of(str(net.network_address)) == rule.scope


def test_not_an_address() -> None:
    for bad in ("", "example.com", "1.2.3", "::g", "999.1.1.1"):
        with pytest.raises(ValueError):
            scope_of(bad)


def test_agrees_with_the_standard_library_where_both_define_it() -> None:
    for a, _ in CASES:
        ip = ipaddress.ip_address(a.partition("%")[0])
        s = scope_of(a)
        if ip.is_loopback:
            assert s == "loopback"
        if ip.is_multicast:
            assert s == "multicast"
        if s == "global":
            assert not ip.is_private or ip in ipaddress.ip_network("2001::/32")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_fuzz_ipv4_and_its_mapped_form(n: int) -> None:
    v4 = ipaddress.IPv4Address(n)
    s = scope_of(str(v4))
    assert s in SCOPES
    assert scope_of(f"::ffff:{v4}") == s
    if v4.is_private and s == "global":  # the stdlib's private list is ours, or wider
        pytest.fail(f"{v4} is private to the stdlib but global here")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_fuzz_ipv6(n: int) -> None:
    v6 = ipaddress.IPv6Address(n)
    s = scope_of(str(v6))
    assert s in SCOPES
    if s == "global":
        assert v6 in ipaddress.ip_network("2000::/3")


def test_the_docs_show_the_table() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "enrichment.md"
    text = doc.read_text(encoding="utf-8")
    section = text.split("| network | scope | reference |", 1)[1].split("\n\n", 1)[0]
    rows = [
        tuple(cell.strip().strip("`") for cell in line.strip("|").split("|"))
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    assert rows == [(r.network, r.scope, r.reference) for r in SCOPE_TABLE]
