"""Enrichment of remote addresses: scope labels, GeoIP, MAC vendors, reverse DNS.

The engine calls an :class:`Enricher` for each row's remote address when it builds a
view; the result is the row's ``geo`` object. :func:`build_enricher` makes one from the
options (:mod:`.options`: flags and config). Pure parts: :mod:`.scopes`, :mod:`.ptr`,
:mod:`.oui` (reads its bundled table once); I/O parts: :mod:`.geoip`, :mod:`.routes`,
:mod:`.rdns`, :mod:`.setup`.
"""

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
