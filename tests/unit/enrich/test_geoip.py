"""GeoIP over MaxMind's published test databases (maxmind/MaxMind-DB test-data/).

Expected values come from the databases' source JSON (source-data/*.json in the same
repository) and, for whole-database checks, from the maxminddb reference reader.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import maxminddb
import pytest

from netwatch.enrich import geoip as geoip_mod
from netwatch.enrich.enricher import Enricher
from netwatch.enrich.geoip import GeoIPPaths, default_dirs, find_databases, open_geoip
from tests.util.corpus import SHARED

DATA = SHARED / "testdata" / "geoip"
CITY = DATA / "GeoIP2-City-Test.mmdb"
LITE_CITY = DATA / "GeoLite2-City-Test.mmdb"
COUNTRY = DATA / "GeoLite2-Country-Test.mmdb"
ASN = DATA / "GeoLite2-ASN-Test.mmdb"
BROKEN = DATA / "GeoIP2-City-Test-Broken-Double-Format.mmdb"

pytestmark = pytest.mark.skipif(not CITY.exists(), reason="GeoIP test databases not available")


class Warnings(list[str]):
    def __call__(self, line: str) -> None:
        assert "\n" not in line
        self.append(line)


# From source-data/GeoIP2-City-Test.json and GeoLite2-ASN-Test.json.
CITY_TRUTH = {
    "2.125.160.216": {"country": "GB", "country_name": "United Kingdom", "city": "Boxford"},
    "81.2.69.142": {"country": "GB", "country_name": "United Kingdom", "city": "London"},
    "89.160.20.112": {"country": "SE", "country_name": "Sweden", "city": "Linköping"},
    "216.160.83.56": {"country": "US", "country_name": "United States", "city": "Milton"},
    "2001:218::1": {"country": "JP", "country_name": "Japan"},
}
ASN_TRUTH = {
    "1.128.0.1": {"asn": 1221, "as_org": "Telstra Pty Ltd"},
    "15.1.2.3": {"asn": 71, "as_org": "Hewlett-Packard Company"},
    "18.0.0.1": {"asn": 3, "as_org": "Massachusetts Institute of Technology"},
    "216.160.83.56": {"asn": 209},  # no organisation in the source
    "89.160.20.112": {"asn": 29518, "as_org": "Bredband2 AB"},
}


def test_city_and_asn_values_from_the_source_json() -> None:
    warn = Warnings()
    g = open_geoip(GeoIPPaths(city=str(CITY), asn=str(ASN), search=False), warn)
    assert g is not None and warn == []
    assert len(g.sources) == 2 and "GeoIP2-City" in g.sources[0]
    for addr, truth in CITY_TRUTH.items():
        got = g.lookup(addr)
        assert {k: got[k] for k in truth} == truth, addr
    for addr, asn_truth in ASN_TRUTH.items():
        got = g.lookup(addr)
        assert {k: got.get(k) for k in ("asn", "as_org") if k in got} == asn_truth, addr
    both = g.lookup("89.160.20.112")
    assert both == {
        "country": "SE",
        "country_name": "Sweden",
        "city": "Linköping",
        "asn": 29518,
        "as_org": "Bredband2 AB",
    }
    assert g.lookup("10.0.0.1") == {}
    assert g.lookup("not an address") == {}
    g.close()


@pytest.mark.parametrize("path", [CITY, LITE_CITY, COUNTRY, ASN], ids=lambda p: p.name)
def test_every_record_agrees_with_the_reference_reader(path: Path) -> None:
    g = open_geoip(GeoIPPaths(city=str(path), search=False), Warnings())
    assert g is not None
    ref = maxminddb.open_database(str(path))
    checked = 0
    for network, record in ref:
        addr = str(network.network_address)
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen < 96:
            addr = str(network.network_address + 1)
        got = g.lookup(addr)
        assert isinstance(record, dict)
        country = record.get("country")
        if isinstance(country, dict):
            assert got.get("country") == country.get("iso_code")
            assert got.get("country_name") == country["names"]["en"]
        else:
            assert "country" not in got
        city = record.get("city")
        assert got.get("city") == (city["names"].get("en") if isinstance(city, dict) else None)
        assert got.get("asn") == record.get("autonomous_system_number")
        assert got.get("as_org") == record.get("autonomous_system_organization")
        checked += 1
    assert checked > 100
    ref.close()
    g.close()


def test_broken_database_warns_once_and_is_not_used() -> None:
    warn = Warnings()
    assert open_geoip(GeoIPPaths(city=str(BROKEN), search=False), warn) is None
    assert len(warn) == 1
    assert str(BROKEN) in warn[0] and "running without it" in warn[0]
    # the monitor runs on: scopes are still there without GeoIP
    enrich = Enricher(geoip=None)
    assert enrich("2.125.160.216") == {"scope": "global"}


def test_broken_city_keeps_a_good_asn_database() -> None:
    warn = Warnings()
    g = open_geoip(GeoIPPaths(city=str(BROKEN), asn=str(ASN), search=False), warn)
    assert g is not None and len(warn) == 1
    assert g.lookup("1.128.0.1") == {"asn": 1221, "as_org": "Telstra Pty Ltd"}


def test_corruption_found_at_lookup_time_disables_that_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(geoip_mod, "PROBE_RECORDS", 0)  # let the broken file past the probe
    warn = Warnings()
    g = open_geoip(GeoIPPaths(city=str(BROKEN), asn=str(ASN), search=False), warn)
    assert g is not None and warn == []
    assert g.lookup("89.160.20.112") == {"asn": 29518, "as_org": "Bredband2 AB"}
    assert len(warn) == 1 and "corrupt" in warn[0] and g.lookup_errors == 1
    assert g.lookup("81.2.69.142") == {}  # no second warning, no exception
    assert len(warn) == 1 and len(g.sources) == 1


@pytest.mark.parametrize("bad", ["missing.mmdb", "SOURCES.md", "."], ids=["missing", "text", "dir"])
def test_unusable_files_warn_in_one_line(bad: str) -> None:
    warn = Warnings()
    assert open_geoip(GeoIPPaths(city=str(DATA / bad), search=False), warn) is None
    assert len(warn) == 1 and str(DATA / bad) in warn[0]


def test_role_comes_from_the_metadata_not_the_flag(tmp_path: Path) -> None:
    renamed = tmp_path / "GeoLite2-City.mmdb"
    shutil.copy(ASN, renamed)  # an ASN database given (or found) as the city one
    warn = Warnings()
    g = open_geoip(GeoIPPaths(city=str(renamed), search=False), warn)
    assert g is not None and warn == []
    assert g.lookup("1.128.0.1") == {"asn": 1221, "as_org": "Telstra Pty Ltd"}


def test_search_directories(tmp_path: Path) -> None:
    (tmp_path / "GeoLite2-City.mmdb").symlink_to(LITE_CITY)
    (tmp_path / "GeoLite2-ASN.mmdb").symlink_to(ASN)
    city, asn = find_databases(GeoIPPaths(directory=str(tmp_path)))
    assert city == tmp_path / "GeoLite2-City.mmdb" and asn == tmp_path / "GeoLite2-ASN.mmdb"
    city, asn = find_databases(GeoIPPaths(), dirs=[tmp_path / "none", tmp_path])
    assert city is not None and asn is not None
    assert find_databases(GeoIPPaths(search=False)) == (None, None)
    # explicit files win over the directory
    city, asn = find_databases(GeoIPPaths(city=str(CITY), directory=str(tmp_path)))
    assert city == CITY and asn == tmp_path / "GeoLite2-ASN.mmdb"
    g = open_geoip(GeoIPPaths(directory=str(tmp_path)), Warnings())
    assert g is not None and g.lookup("89.160.20.112")["city"] == "Linköping"
    # a country database is found when there is no city one
    (tmp_path / "GeoLite2-City.mmdb").unlink()
    (tmp_path / "GeoLite2-Country.mmdb").symlink_to(COUNTRY)
    g = open_geoip(GeoIPPaths(directory=str(tmp_path)), Warnings())
    assert g is not None and g.lookup("89.160.20.112") == {
        "country": "SE",
        "country_name": "Sweden",
        "asn": 29518,
        "as_org": "Bredband2 AB",
    }
    # nothing found by searching is silent
    warn = Warnings()
    assert open_geoip(GeoIPPaths(directory=str(tmp_path / "none")), warn) is None
    assert warn == []


def test_default_dirs_follow_xdg() -> None:
    dirs = default_dirs({"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"})
    assert dirs[0] == Path("/xdg/netwatch")
    assert Path("/usr/share/GeoIP") in dirs and Path("/var/lib/GeoIP") in dirs
    assert default_dirs({"HOME": "/home/u"})[0] == Path("/home/u/.local/share/netwatch")


def test_enricher_with_geoip_caches_and_keeps_scope() -> None:
    g = open_geoip(GeoIPPaths(city=str(CITY), asn=str(ASN), search=False), Warnings())
    assert g is not None
    enrich = Enricher(geoip=g)
    assert enrich("81.2.69.142") == {
        "scope": "global",
        "country": "GB",
        "country_name": "United Kingdom",
        "city": "London",
    }
    assert enrich("::ffff:81.2.69.142") == enrich("81.2.69.142")
    nat64 = enrich("64:ff9b::59a0:1470")  # 89.160.20.112 behind NAT64
    assert nat64 is not None and nat64["scope"] == "nat64" and nat64["city"] == "Linköping"
    assert enrich("192.168.1.1") == {"scope": "private"}
    assert enrich.misses == 4 and enrich.hits == 1
