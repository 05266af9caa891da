"""The host's default gateways and on-link neighbours, read from Linux's /proc/net.

I/O module. The parsers take the files' text (pure, tested with fixed samples); the
``read_*`` functions open the files and treat a missing one as empty (containers,
non-Linux). Formats (one line each, after a header line for ``route`` and ``arp``)::

    /proc/net/route       Iface Destination Gateway Flags ... Mask ...
                          eth0  00000000    010200C0 0003       00000000
        (addresses are the kernel's 32-bit words in host byte order: 010200C0 on a
         little-endian host is 192.0.2.1; flag 0x2 = RTF_GATEWAY)
    /proc/net/ipv6_route  dest(32 hex) plen src(32 hex) plen next-hop(32 hex) metric
                          refcnt use flags iface      (network byte order)
    /proc/net/arp         IP-address HW-type Flags HW-address Mask Device
        (flag 0x2 = ATF_COM, a complete entry)

IPv6 neighbours (NDP) have no /proc file; :func:`read_neighbours6` asks netlink through
pyroute2 when it is importable.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path
from typing import Any

PROC_NET = Path("/proc/net")
RTF_UP = 0x1
RTF_GATEWAY = 0x2
ATF_COM = 0x2
#: NUD states (linux/neighbour.h) that mean "this link-layer address is known".
NUD_VALID = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERM


def parse_route4(text: str) -> list[str]:
    """Gateways of the IPv4 default routes (destination and mask 0, flags UP|GATEWAY)."""
    out: list[str] = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        try:
            dest, gw, flags, mask = int(f[1], 16), int(f[2], 16), int(f[3], 16), int(f[7], 16)
        except ValueError:
            continue
        if dest == 0 and mask == 0 and flags & RTF_UP and flags & RTF_GATEWAY and gw:
            addr = socket.inet_ntoa(struct.pack("=I", gw & 0xFFFFFFFF))
            if addr not in out:
                out.append(addr)
    return out


def parse_route6(text: str) -> list[str]:
    """Next hops of the IPv6 default routes (::/0 with a non-zero next hop)."""
    out: list[str] = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10 or f[0] != "0" * 32 or f[1] != "00":
            continue
        try:
            hop = ipaddress.IPv6Address(bytes.fromhex(f[4]))
            flags = int(f[8], 16)
        except ValueError:
            continue
        if int(hop) and flags & RTF_UP:
            addr = str(hop)
            if addr not in out:
                out.append(addr)
    return out


def parse_arp(text: str) -> dict[str, str]:
    """Complete IPv4 neighbour entries: address → MAC (lower case, colon separated)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 4:
            continue
        try:
            flags = int(f[2], 16)
            ipaddress.IPv4Address(f[0])
        except ValueError:
            continue
        if flags & ATF_COM and f[3] != "00:00:00:00:00:00":
            out[f[0]] = f[3].lower()
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def read_gateways(proc_net: Path = PROC_NET) -> frozenset[str]:
    """The host's default gateways, IPv4 and IPv6 (empty when unknown)."""
    return frozenset(
        parse_route4(_read(proc_net / "route")) + parse_route6(_read(proc_net / "ipv6_route"))
    )


def read_neighbours6() -> dict[str, str]:
    """IPv6 neighbour cache over netlink (empty without pyroute2 or permission)."""
    try:
        from pyroute2 import IPRoute  # optional, Linux only: imported when used
    except ImportError:
        return {}
    out: dict[str, str] = {}
    try:
        with IPRoute() as ipr:
            msgs: Any = ipr.get_neighbours(family=socket.AF_INET6)
            for msg in msgs:
                dst, mac = msg.get_attr("NDA_DST"), msg.get_attr("NDA_LLADDR")
                if (
                    isinstance(dst, str)
                    and isinstance(mac, str)
                    and msg["state"] & NUD_VALID
                    and mac != "00:00:00:00:00:00"
                    and not dst.startswith("ff")
                ):
                    out[dst] = mac.lower()
    except (OSError, ValueError):
        return {}
    return out


def read_neighbours(proc_net: Path = PROC_NET, ipv6: bool = True) -> dict[str, str]:
    """Known on-link neighbours: address → MAC (ARP cache, plus NDP when ``ipv6``)."""
    table = parse_arp(_read(proc_net / "arp"))
    if ipv6:
        table.update(read_neighbours6())
    return table
