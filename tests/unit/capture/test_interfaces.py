"""Interfaces, default route (fake /proc trees) and local addresses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netwatch.capture.interfaces import (
    default_route_interface,
    list_interfaces,
    local_addresses,
    parse_ipv4_routes,
    parse_ipv6_routes,
)

ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t010012C6\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010012C6\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000012C6\t00000000\t0001\t0\t0\t100\t0000FEFF\t0\t0\t0
bad0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0
"""
ZERO = "0" * 32
IPV6_ROUTE = f"""\
fd000000000000000000000000000000 40 {ZERO} 00 {ZERO} 00000100 00000002 00000000 00000001 eth1
{ZERO} 00 {ZERO} 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003 eth1
{ZERO} 00 {ZERO} 00 {ZERO} ffffffff 00000001 00000000 00200200 lo
"""


def test_ipv4_defaults_by_metric_skip_rejects_and_non_defaults() -> None:
    assert parse_ipv4_routes(ROUTE) == [(600, "wlan0"), (100, "eth0")]


def test_ipv6_default_skips_loopback_unreachable() -> None:
    assert parse_ipv6_routes(IPV6_ROUTE) == [(0x400, "eth1")]


def test_garbage_lines_are_ignored() -> None:
    assert parse_ipv4_routes("header\nshort line\neth0 zz zz zz 0 0 0 zz\n") == []
    assert parse_ipv6_routes("x y\n" + "q " * 10) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs routes")
def test_default_route_prefers_ipv4_lowest_metric(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "route").write_text(ROUTE)
    (tmp_path / "net" / "ipv6_route").write_text(IPV6_ROUTE)
    assert default_route_interface(tmp_path) == "eth0"
    (tmp_path / "net" / "route").write_text(ROUTE.splitlines()[0] + "\n")
    assert default_route_interface(tmp_path) == "eth1"
    (tmp_path / "net" / "ipv6_route").unlink()
    assert default_route_interface(tmp_path) is None


def test_host_interfaces_and_addresses() -> None:
    names = list_interfaces()
    assert names and len(set(names)) == len(names)
    if sys.platform.startswith("linux"):
        assert "lo" in names
    addrs = local_addresses()
    assert "127.0.0.1" in addrs
    assert not any("%" in a for a in addrs)
