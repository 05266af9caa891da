"""Default gateways and neighbours from /proc/net text (samples from a real Linux host)."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

import pytest

from netwatch.enrich.routes import (
    parse_arp,
    parse_route4,
    parse_route6,
    read_gateways,
    read_neighbours,
)

ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
    "tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"  # no gateway: skipped
    "bad line\n"
    "eth1\tzzzzzzzz\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
)
IPV6_ROUTE = (
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe80000000000000021122fffe334455 00000400 00000002 00000000 00000003   wlan0\n"
    "short line\n"
)
ARP = (
    "IP address       HW type     Flags       HW address            Mask     Device\n"
    "192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n"
    "192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n"
    "192.168.1.1      0x1         0x6         B8:27:EB:01:02:03     *        wlan0\n"
    "garbage\n"
)


@pytest.mark.skipif(sys.byteorder != "little", reason="sample written on a little-endian host")
def test_ipv4_default_gateways() -> None:
    assert parse_route4(ROUTE) == ["192.0.2.1", "192.168.1.1"]


def test_ipv4_gateway_word_is_host_order() -> None:
    word = struct.unpack("=I", socket.inet_aton("198.18.0.1"))[0]
    text = (
        f"Iface\tDestination\tGateway\tFlags\tR\tU\tM\tMask\neth0\t0\t{word:08X}\t3\t0\t0\t0\t0\n"
    )
    assert parse_route4(text) == ["198.18.0.1"]


def test_ipv6_default_next_hops() -> None:
    assert parse_route6(IPV6_ROUTE) == ["fd00::1", "fe80::211:22ff:fe33:4455"]


def test_arp_complete_entries_only() -> None:
    assert parse_arp(ARP) == {"192.0.2.1": "02:fc:00:00:00:05", "192.168.1.1": "b8:27:eb:01:02:03"}


def test_readers_on_a_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(ROUTE)
    (tmp_path / "ipv6_route").write_text(IPV6_ROUTE)
    (tmp_path / "arp").write_text(ARP)
    gws = read_gateways(tmp_path)
    assert "fd00::1" in gws and len(gws) == 4
    assert read_neighbours(tmp_path, ipv6=False)["192.168.1.1"] == "b8:27:eb:01:02:03"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_gateways(empty) == frozenset()
    assert read_neighbours(empty, ipv6=False) == {}


def test_this_host_reads_without_error() -> None:
    gws = read_gateways()
    neigh = read_neighbours()
    assert all(isinstance(g, str) for g in gws)
    assert all(len(m.split(":")) == 6 for m in neigh.values())
