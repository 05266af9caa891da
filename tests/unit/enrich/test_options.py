"""Flags and the [enrich] config table become EnrichOptions; precedence and errors."""

from __future__ import annotations

import argparse
import tomllib

import pytest

from netwatch.enrich import add_arguments, options_from
from netwatch.enrich.geoip import GeoIPPaths
from netwatch.enrich.options import EnrichOptions
from netwatch.errors import UsageError


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_defaults() -> None:
    assert options_from(_args()) == EnrichOptions()
    assert options_from() == EnrichOptions()
    assert options_from(live=False).host_tables is False


def test_flags() -> None:
    o = options_from(
        _args(
            "--geoip-city",
            "/g/City.mmdb",
            "--geoip-asn",
            "/g/ASN.mmdb",
            "--rdns",
            "--dns-server",
            "127.0.0.1:5353",
            "--dns-server",
            "[::1]:53",
            "--show-own-traffic",
        )
    )
    assert o.geoip == GeoIPPaths(city="/g/City.mmdb", asn="/g/ASN.mmdb")
    assert o.rdns and o.dns_servers == ("127.0.0.1:5353", "[::1]:53") and o.show_own_traffic
    assert options_from(_args("--no-geoip")).use_geoip is False
    assert options_from(_args("--geoip-dir", "/g")).geoip.directory == "/g"


def test_config_table_and_precedence() -> None:
    table = tomllib.loads(
        """
        [enrich]
        geoip = false
        geoip_dir = "/srv/geo"
        rdns = true
        dns_servers = ["192.0.2.53"]
        rdns_workers = 4
        """
    )["enrich"]
    o = options_from(_args(), table)
    assert not o.use_geoip and o.geoip.directory == "/srv/geo"
    assert o.rdns and o.dns_servers == ("192.0.2.53",) and o.rdns_workers == 4
    # flags win over the file
    o = options_from(_args("--no-rdns", "--dns-server", "198.18.0.53"), table)
    assert not o.rdns and o.dns_servers == ("198.18.0.53",)


@pytest.mark.parametrize(
    "table",
    [
        {"rdns": "yes"},
        {"rdns_workers": True},
        {"rdns_workers": 0},
        {"unknown": 1},
        {"dns_servers": ["dns.example"]},
    ],
)
def test_bad_config_is_a_usage_error(table: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        options_from(None, table)


def test_bad_dns_server_flag() -> None:
    with pytest.raises(UsageError, match="--dns-server"):
        options_from(_args("--dns-server", "resolver.example"))


def test_exported_members() -> None:
    import netwatch.enrich as pkg

    assert sorted(pkg.__all__) == sorted(
        [
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
    )
    for name in pkg.__all__:
        assert hasattr(pkg, name)
