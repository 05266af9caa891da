"""Enrichment options: command-line flags, the ``[enrich]`` table of config.toml, defaults.

Precedence (lowest first): defaults, the config file's ``[enrich]`` table, the flags the
user passed. The CLI calls :func:`add_arguments` on each parser that captures and
:func:`options_from` with the parsed arguments and the config file's table::

    [enrich]
    geoip = true                     # look for GeoIP databases (default true)
    geoip_city = "/srv/geo/GeoLite2-City.mmdb"
    geoip_asn = "/srv/geo/GeoLite2-ASN.mmdb"
    geoip_dir = "/srv/geo"           # instead of the default search directories
    rdns = false                     # reverse DNS (default off)
    dns_servers = ["192.0.2.53", "[2001:db8::53]:5353"]
    rdns_workers = 2
    show_own_traffic = false         # show netwatch's own rDNS queries as rows
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netwatch.enrich.geoip import GeoIPPaths
from netwatch.errors import UsageError


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    geoip: GeoIPPaths = field(default_factory=GeoIPPaths)
    use_geoip: bool = True
    #: reverse DNS (off by default: it sends every remote address to a DNS server)
    rdns: bool = False
    #: ``ADDR``, ``ADDR:PORT`` or ``[V6ADDR]:PORT``; empty = /etc/resolv.conf
    dns_servers: tuple[str, ...] = ()
    rdns_workers: int = 2
    #: read the host's routes and neighbour tables (live capture only)
    host_tables: bool = True
    #: show netwatch's own reverse-DNS exchanges as rows (hidden by default)
    show_own_traffic: bool = False


def parse_server(text: str) -> tuple[str, int]:
    """``127.0.0.1``, ``127.0.0.1:5353``, ``::1``, ``[::1]:5353`` → (address, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad DNS server {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    ipaddress.ip_address(host)  # a name would need a resolver to find the resolver
    if not 0 < port < 65536:
        raise ValueError(f"bad DNS server port in {text!r}")
    return host, port


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("enrichment")
    g.add_argument("--geoip-city", metavar="FILE", help="MaxMind City or Country database")
    g.add_argument("--geoip-asn", metavar="FILE", help="MaxMind ASN (or ISP) database")
    g.add_argument(
        "--geoip-dir",
        metavar="DIR",
        help="look for GeoIP databases here (default: $XDG_DATA_HOME/netwatch, "
        "/usr/share/GeoIP, /var/lib/GeoIP)",
    )
    g.add_argument("--no-geoip", action="store_true", default=None, help="no GeoIP lookups")
    g.add_argument(
        "--rdns",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="name remote addresses by reverse DNS (default: off)",
    )
    g.add_argument(
        "--dns-server",
        action="append",
        metavar="ADDR[:PORT]",
        help="DNS server for reverse lookups (repeatable; default: /etc/resolv.conf)",
    )
    g.add_argument(
        "--show-own-traffic",
        action="store_true",
        default=None,
        help="show netwatch's own reverse-DNS queries as connections",
    )


_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "geoip": bool,
    "geoip_city": str,
    "geoip_asn": str,
    "geoip_dir": str,
    "rdns": bool,
    "dns_servers": list,
    "rdns_workers": int,
    "show_own_traffic": bool,
}


def _config(table: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        kind = _CONFIG_TYPES.get(key)
        if kind is None:
            raise UsageError(f"config.toml [enrich]: unknown key {key!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UsageError(f"config.toml [enrich] {key}: wrong type {type(value).__name__}")
        out[key] = value
    return out


def options_from(
    args: argparse.Namespace | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    live: bool = True,
) -> EnrichOptions:
    """Defaults < ``config`` (the ``[enrich]`` table) < flags in ``args``.

    Raises UsageError for a bad config value or DNS server address.
    """
    v: dict[str, Any] = {"geoip": True, "rdns": False, "dns_servers": [], "rdns_workers": 2}
    v["show_own_traffic"] = False
    v.update(_config(config or {}))
    if args is not None:
        flags = {
            "geoip_city": getattr(args, "geoip_city", None),
            "geoip_asn": getattr(args, "geoip_asn", None),
            "geoip_dir": getattr(args, "geoip_dir", None),
            "rdns": getattr(args, "rdns", None),
            "dns_servers": getattr(args, "dns_server", None),
            "show_own_traffic": getattr(args, "show_own_traffic", None),
        }
        if getattr(args, "no_geoip", None):
            flags["geoip"] = False
        v.update({k: x for k, x in flags.items() if x is not None})
    servers = tuple(str(s) for s in v["dns_servers"])
    for s in servers:
        try:
            parse_server(s)
        except ValueError as exc:
            raise UsageError(f"--dns-server {s}: {exc}") from None
    if v["rdns_workers"] < 1:
        raise UsageError("config.toml [enrich] rdns_workers: must be at least 1")
    return EnrichOptions(
        geoip=GeoIPPaths(
            city=v.get("geoip_city"), asn=v.get("geoip_asn"), directory=v.get("geoip_dir")
        ),
        use_geoip=bool(v["geoip"]),
        rdns=bool(v["rdns"]),
        dns_servers=servers,
        rdns_workers=int(v["rdns_workers"]),
        host_tables=live,
        show_own_traffic=bool(v["show_own_traffic"]),
    )
