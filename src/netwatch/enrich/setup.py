"""Building an :class:`Enricher` from the user's options: the one place that opens things.

The CLI turns its flags into :class:`EnrichOptions` and calls :func:`build_enricher`;
every problem (a corrupt GeoIP file, no DNS server) is reported through ``warn`` as one
line and the monitor runs without that part. The caller owns the result and calls
:meth:`EnrichHandle.close` at exit (it stops the resolver threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netwatch.enrich.enricher import Enricher, HostTables
from netwatch.enrich.geoip import GeoIP, Warn, open_geoip
from netwatch.enrich.options import EnrichOptions, parse_server
from netwatch.enrich.rdns import ReverseResolver, system_servers
from netwatch.enrich.routes import read_gateways, read_neighbours
from netwatch.model.snapshot import ConnectionView


def read_host_tables() -> HostTables:
    return HostTables(read_gateways(), read_neighbours())


@dataclass(slots=True)
class EnrichHandle:
    enricher: Enricher
    geoip: GeoIP | None
    resolver: ReverseResolver | None
    show_own_traffic: bool = False

    def hidden(self, view: ConnectionView) -> bool:
        """Should the engine leave ``view`` out of snapshots (netwatch's own rDNS queries)?"""
        return not self.show_own_traffic and self.enricher.is_own(view)

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
    return EnrichHandle(enricher, geoip, resolver, options.show_own_traffic)
