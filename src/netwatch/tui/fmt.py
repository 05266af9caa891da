"""Text forms of numbers, endpoints and ports as the tables show them.

Port names come from a small table of the services people recognise, then from the
system services database (``/etc/services``), looked up once per port.
"""

from __future__ import annotations

import socket
from functools import lru_cache

from netwatch.model.snapshot import ConnectionView

# Ports shown by name when the display toggle (p) is on; the system database fills gaps.
PORT_NAMES: dict[tuple[str, int], str] = {
    ("tcp", 22): "ssh",
    ("tcp", 25): "smtp",
    ("tcp", 53): "domain",
    ("udp", 53): "domain",
    ("udp", 67): "bootps",
    ("udp", 68): "bootpc",
    ("tcp", 80): "http",
    ("udp", 123): "ntp",
    ("tcp", 143): "imap",
    ("tcp", 443): "https",
    ("udp", 443): "https",
    ("tcp", 465): "smtps",
    ("tcp", 853): "domain-s",
    ("tcp", 993): "imaps",
    ("tcp", 3306): "mysql",
    ("tcp", 5432): "postgres",
    ("udp", 5353): "mdns",
    ("tcp", 6379): "redis",
    ("tcp", 8080): "http-alt",
}

_UNITS = ("B", "K", "M", "G", "T")


@lru_cache(maxsize=4096)
def port_name(proto: str, port: int) -> str | None:
    """The service name of a well-known port, None when there is none."""
    proto = proto.lower()
    if proto == "quic":
        proto = "udp"
    name = PORT_NAMES.get((proto, port))
    if name is not None or not 0 < port < 1024 or proto not in ("tcp", "udp"):
        return name
    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return None


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5K"``: at most five characters."""
    value = float(n)
    for unit in _UNITS:
        if value < 999.5 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{value:.0f}B"
            return f"{value:.1f}{unit}" if value < 9.95 else f"{value:.0f}{unit}"
        value /= 1024.0
    raise AssertionError("unreachable")  # pragma: no cover


def human_rate(bps: float) -> str:
    """Bytes per second, blank when idle (keeps busy rows easy to spot)."""
    if bps <= 0.0:
        return ""
    return human_bytes(bps) + "/s"


def human_count(n: int) -> str:
    """``1234567`` -> ``"1.2M"`` for packet counters."""
    if n < 10_000:
        return str(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)  # pragma: no cover


def fmt_rtt(rtt_ms: float | None) -> str:
    if rtt_ms is None:
        return ""
    if rtt_ms < 10:
        return f"{rtt_ms:.1f}ms"
    return f"{rtt_ms:.0f}ms"


def host(addr: str) -> str:
    """IPv6 addresses in brackets so a following port reads unambiguously."""
    return f"[{addr}]" if ":" in addr else addr


def endpoint(addr: str, port: int, proto: str, names: bool) -> str:
    """``addr:port``, the port by service name when ``names`` and one is known."""
    if port == 0 and proto.lower() not in ("tcp", "udp"):
        return host(addr)
    shown = (port_name(proto, port) or str(port)) if names else str(port)
    return f"{host(addr)}:{shown}"


def remote_text(view: ConnectionView, hostnames: bool, port_names: bool) -> str:
    """The remote endpoint: the resolved name first (``d``), else the address."""
    addr = view.remote_addr
    if hostnames and view.remote_name:
        return endpoint(view.remote_name, view.remote_port, view.proto, port_names).replace(
            f"[{view.remote_name}]", view.remote_name
        )
    return endpoint(addr, view.remote_port, view.proto, port_names)


def process_text(view: ConnectionView) -> str:
    proc = view.process
    if proc is None:
        return "-"
    return f"{proc.name} ({proc.pid})"


def has_location(view: ConnectionView) -> bool:
    """A real location (GeoIP), not only the scope every row has: shows the column."""
    geo = view.geo
    if not geo:
        return False
    return any(geo.get(k) for k in ("country", "country_code", "city", "as_org"))


def geo_text(view: ConnectionView) -> str:
    geo = view.geo
    if not geo:
        return ""
    country = geo.get("country") or geo.get("country_code") or ""
    city = geo.get("city") or ""
    asn = geo.get("as_org") or ""
    parts = [str(p) for p in (country, city) if p]
    text = "/".join(parts)
    if asn:
        text = f"{text} {asn}" if text else str(asn)
    return text


def app_text(view: ConnectionView) -> str:
    return view.app_summary or view.app_protocol
