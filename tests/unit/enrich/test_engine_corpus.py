"""The Enricher as the engine's hook over real captures: every record gets a ``geo``."""

from __future__ import annotations

import pytest

from netwatch.capture.pcapfile import open_capture_file
from netwatch.engine.engine import Engine
from netwatch.enrich import Enricher, EnrichHandle, GeoIPPaths, open_geoip, scope_of, vendor
from netwatch.model.snapshot import ConnectionView
from tests.util.corpus import SHARED, corpus_file

GEO = SHARED / "testdata" / "geoip"


@pytest.mark.parametrize(
    "name",
    [
        "ndpi_http_ipv6.pcap",
        "foxio_dhcp.pcapng",
        "ndpi_dns.pcap",
        "tcpdump_LINKTYPE_RAW_ipv6.pcap",
        "ndpi_bittorrent.pcap",
    ],
)
def test_every_record_has_scope_and_the_databases_values(name: str) -> None:
    path = corpus_file(name)
    geoip = None
    if (GEO / "GeoIP2-City-Test.mmdb").exists():
        geoip = open_geoip(
            GeoIPPaths(
                city=str(GEO / "GeoIP2-City-Test.mmdb"),
                asn=str(GEO / "GeoLite2-ASN-Test.mmdb"),
                search=False,
            ),
            pytest.fail,
        )
    enrich = Enricher(geoip=geoip)
    done: list[ConnectionView] = []
    Engine(
        open_capture_file(path), on_finish=done.append, enrich=EnrichHandle(enrich, geoip, None)
    ).run()
    assert done
    for v in done:
        assert v.geo is not None
        rec = v.to_record()
        assert rec["geo"]["scope"] == scope_of(v.remote_addr)
        if geoip is not None and rec["geo"]["scope"] == "global":
            for key, value in geoip.lookup(v.remote_addr).items():
                assert rec["geo"][key] == value
    scopes = {v.geo["scope"] for v in done if v.geo}
    assert scopes  # and the cache did its job: one miss per distinct remote address
    assert enrich.misses == len({v.remote_addr for v in done})


def test_arp_rows_teach_macs_and_vendors() -> None:
    """ARP rows of a real capture: their MACs become ``mac``/``vendor`` of later views."""
    path = corpus_file("sv_ssh-hassh.pcap")
    enrich = Enricher()
    arp: list[ConnectionView] = []

    def finished(v: ConnectionView) -> None:
        enrich.observe(v)
        if v.proto == "arp":
            arp.append(v)

    Engine(
        open_capture_file(path), on_finish=finished, enrich=EnrichHandle(enrich, None, None)
    ).run()
    if not arp:
        pytest.skip("no ARP rows in this capture")
    macs: dict[str, str] = {}
    for v in arp:
        macs.update(v.extra["arp"]["macs"])
    assert macs
    for addr, mac in macs.items():
        geo = enrich(addr)
        assert geo is not None and geo["mac"] == mac
        assert geo.get("vendor") == vendor(mac)
    # 08:00:27 is VirtualBox's OUI (registered to PCS Systemtechnik)
    assert enrich("192.168.0.103") == {
        "scope": "private",
        "mac": "08:00:27:ea:65:89",
        "vendor": "PCS Systemtechnik GmbH",
    }
