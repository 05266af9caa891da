"""Enrichment of remote addresses: scope labels, GeoIP, MAC vendors, reverse DNS.

The engine calls an :class:`Enricher` for each row's remote address when it builds a
view; the result is the row's ``geo`` object. :func:`build_enricher` makes one from the
options (:mod:`.options`: flags and config). Pure parts: :mod:`.scopes`, :mod:`.ptr`,
:mod:`.oui` (reads its bundled table once); I/O parts: :mod:`.geoip`, :mod:`.routes`,
:mod:`.rdns`, :mod:`.setup`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netwatch import lazy

if TYPE_CHECKING:
    from netwatch.enrich.enricher import Enricher, HostTables
    from netwatch.enrich.geoip import GeoIP, GeoIPPaths, open_geoip
    from netwatch.enrich.options import EnrichOptions, add_arguments, options_from, parse_server
    from netwatch.enrich.oui import vendor
    from netwatch.enrich.rdns import ReverseResolver
    from netwatch.enrich.scopes import SCOPE_TABLE, SCOPES, scope_of
    from netwatch.enrich.setup import EnrichHandle, build_enricher

__all__ = [
    "SCOPES",
    "SCOPE_TABLE",
    "EnrichHandle",
    "EnrichOptions",
    "Enricher",
    "GeoIP",
    "GeoIPPaths",
    "HostTables",
    "ReverseResolver",
    "add_arguments",
    "build_enricher",
    "open_geoip",
    "options_from",
    "parse_server",
    "scope_of",
    "vendor",
]

# Imported on first use (netwatch.lazy): start-up pays only for what a command uses.
__getattr__ = lazy.exports(
    __name__,
    {
        "Enricher": "netwatch.enrich.enricher",
        "HostTables": "netwatch.enrich.enricher",
        "GeoIP": "netwatch.enrich.geoip",
        "GeoIPPaths": "netwatch.enrich.geoip",
        "open_geoip": "netwatch.enrich.geoip",
        "EnrichOptions": "netwatch.enrich.options",
        "add_arguments": "netwatch.enrich.options",
        "options_from": "netwatch.enrich.options",
        "parse_server": "netwatch.enrich.options",
        "vendor": "netwatch.enrich.oui",
        "ReverseResolver": "netwatch.enrich.rdns",
        "SCOPE_TABLE": "netwatch.enrich.scopes",
        "SCOPES": "netwatch.enrich.scopes",
        "scope_of": "netwatch.enrich.scopes",
        "EnrichHandle": "netwatch.enrich.setup",
        "build_enricher": "netwatch.enrich.setup",
    },
)
