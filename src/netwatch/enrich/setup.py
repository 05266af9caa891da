"""Building an :class:`Enricher` from the user's options: the one place that opens things.

The CLI turns its flags into :class:`EnrichOptions` and calls :func:`build_enricher`;
every problem (a corrupt GeoIP file, no DNS server) is reported through ``warn`` as one
line and the monitor runs without that part. The caller owns the result and calls
:meth:`EnrichHandle.close` at exit (it stops the resolver threads).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from netwatch.enrich.enricher import Enricher, HostTables
from netwatch.enrich.geoip import GeoIP, GeoIPPaths, Warn, open_geoip
from netwatch.enrich.rdns import ReverseResolver, system_servers
from netwatch.enrich.routes import read_gateways, read_neighbours


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
    ipaddress.ip_address(host)  # raises ValueError for a name: we resolve names, not use them
    if not 0 < port < 65536:
        raise ValueError(f"bad DNS server port in {text!r}")
    return host, port


def read_host_tables() -> HostTables:
    return HostTables(read_gateways(), read_neighbours())


@dataclass(slots=True)
class EnrichHandle:
    enricher: Enricher
    geoip: GeoIP | None
    resolver: ReverseResolver | None

    def close(self) -> None:
        if self.resolver is not None:
            self.resolver.close()
        if self.geoip is not None:
            self.geoip.close()


def _resolver(servers: Sequence[str], workers: int, warn: Warn) -> ReverseResolver | None:
    try:
        parsed = [parse_server(s) for s in servers] if servers else system_servers()
    except ValueError as exc:
        warn(f"reverse DNS disabled: {exc}")
        return None
    if not parsed:
        warn("reverse DNS disabled: no nameserver in /etc/resolv.conf (give --dns-server)")
        return None
    try:
        return ReverseResolver(parsed, workers=workers)
    except OSError as exc:
        warn(f"reverse DNS disabled: cannot open a UDP socket ({exc.strerror or exc})")
        return None


def build_enricher(options: EnrichOptions, warn: Warn) -> EnrichHandle:
    geoip = open_geoip(options.geoip, warn) if options.use_geoip else None
    resolver = _resolver(options.dns_servers, options.rdns_workers, warn) if options.rdns else None
    reader = read_host_tables if options.host_tables else None
    enricher = Enricher(geoip=geoip, names=resolver, host_reader=reader)
    enricher.refresh(force=True)
    return EnrichHandle(enricher, geoip, resolver)
