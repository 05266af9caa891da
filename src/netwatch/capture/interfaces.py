"""The host's interfaces, its default-route interface and its own addresses.

Linux reads the routing tables the kernel publishes in procfs (``/proc/net/route``:
hex little-endian IPv4 fields; ``/proc/net/ipv6_route``: the ``ip -6 route`` table as
hex, see ``net/ipv6/route.c:rt6_info_seq_show``)::

    Iface  Destination  Gateway   Flags  RefCnt  Use  Metric  Mask      ...
    eth0   00000000     010200C0  0003   0       0    0       00000000  -> default via 192.0.2.1

Other platforms have no such file: psutil's interface table is used instead, and the
default interface is a guess (the first interface that is up, not loopback, with an
IPv4 address). Interface names come from ``if_nameindex(3)``, which answers for the
calling thread's network namespace (``/sys/class/net`` would not).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import psutil

# A plain str, so type checkers do not prune the non-Linux branch as unreachable.
_PLATFORM: str = sys.platform
RTF_UP = 0x0001
RTF_REJECT = 0x0200


def list_interfaces() -> list[str]:
    """Interface names in index order (``any`` not included)."""
    try:
        return [name for _index, name in socket.if_nameindex()]
    except OSError:
        return sorted(psutil.net_if_addrs())


def parse_ipv4_routes(text: str) -> list[tuple[int, str]]:
    """(metric, interface) of each usable IPv4 default route in ``/proc/net/route``."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, dest, flags, metric, mask = fields[0], fields[1], fields[3], fields[6], fields[7]
        try:
            up = int(flags, 16) & RTF_UP and not int(flags, 16) & RTF_REJECT
            if up and int(dest, 16) == 0 and int(mask, 16) == 0:
                out.append((int(metric), iface))
        except ValueError:
            continue
    return out


def parse_ipv6_routes(text: str) -> list[tuple[int, str]]:
    """(metric, interface) of each usable IPv6 default route in ``/proc/net/ipv6_route``."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        dest, plen, metric, flags, iface = fields[0], fields[1], fields[5], fields[8], fields[9]
        try:
            usable = int(flags, 16) & RTF_UP and not int(flags, 16) & RTF_REJECT
            if usable and int(dest, 16) == 0 and int(plen, 16) == 0 and iface != "lo":
                out.append((int(metric, 16), iface))
        except ValueError:
            continue
    return out


def default_route_interface(proc: Path = Path("/proc")) -> str | None:
    """The interface of the lowest-metric default route (IPv4 first, then IPv6)."""
    if _PLATFORM.startswith("linux"):
        for name, parse in (("route", parse_ipv4_routes), ("ipv6_route", parse_ipv6_routes)):
            try:
                routes = parse((proc / "net" / name).read_text())
            except OSError:
                continue
            if routes:
                return min(routes)[1]
        return None
    return _guess_default_interface()


def _guess_default_interface() -> str | None:
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        st = stats.get(name)
        if st is None or not st.isup or name.startswith(("lo", "Loopback")):
            continue
        if any(a.family == socket.AF_INET and not a.address.startswith("127.") for a in addrs):
            return name
    return None


def local_addresses() -> set[str]:
    """Every IPv4/IPv6 address of this host (scope suffix ``%eth0`` removed).

    One psutil call (a netlink dump on Linux): cheap enough to repeat when addresses
    change (DHCP renewal, VPN up).
    """
    out: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                out.add(addr.address.split("%", 1)[0])
    return out
