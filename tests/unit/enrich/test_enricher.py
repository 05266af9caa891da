"""The composed hook: caching, gateways, neighbours and vendors, refresh, and the engine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from netwatch.enrich import Enricher, HostTables
from netwatch.enrich.options import EnrichOptions
from netwatch.enrich.setup import build_enricher
from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from tests.util import build


@dataclass
class CountingGeo:
    calls: list[str] = field(default_factory=list)

    def lookup(self, address: str) -> dict[str, Any]:
        self.calls.append(address)
        return {"country": "SE", "asn": 29518}


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def test_scope_always_and_geoip_only_where_it_can_know() -> None:
    geo = CountingGeo()
    enrich = Enricher(geoip=geo)
    assert enrich("89.160.20.112") == {"scope": "global", "country": "SE", "asn": 29518}
    assert enrich("10.0.0.1") == {"scope": "private"}
    assert enrich("fe80::1") == {"scope": "link-local"}
    assert enrich("64:ff9b::102:304") == {"scope": "nat64", "country": "SE", "asn": 29518}
    assert geo.calls == ["89.160.20.112", "1.2.3.4"]
    assert enrich("") is None and enrich("not-an-ip") is None


def test_cache_is_bounded_lru_and_results_are_private_copies() -> None:
    geo = CountingGeo()
    enrich = Enricher(geoip=geo, cache_size=2)
    a, b, c = "1.1.1.1", "8.8.8.8", "9.9.9.9"
    for addr in (a, b, a, c, a, b):
        enrich(addr)
    # a b (a hit) c evicts b, a hit, b again a miss
    assert geo.calls == [a, b, c, b]
    assert enrich.hits == 2 and enrich.misses == 4
    first = enrich(a)
    assert first is not None
    first["scope"] = "tampered"
    assert enrich(a) == {"scope": "global", "country": "SE", "asn": 29518}


def test_gateway_and_neighbour_vendor() -> None:
    host = HostTables(
        gateways=frozenset({"192.168.1.1", "fe80::1"}),
        neighbours={"192.168.1.1": "b8:27:eb:01:02:03", "192.168.1.7": "52:54:00:00:00:01"},
    )
    enrich = Enricher(host=host)
    assert enrich("192.168.1.1") == {
        "scope": "private",
        "gateway": True,
        "mac": "b8:27:eb:01:02:03",
        "vendor": "Raspberry Pi Foundation",
    }
    # a locally administered MAC has no vendor, but the MAC is shown
    assert enrich("192.168.1.7") == {"scope": "private", "mac": "52:54:00:00:00:01"}
    assert enrich("fe80::1") == {"scope": "link-local", "gateway": True}


def test_learned_macs_are_bounded() -> None:
    enrich = Enricher(max_learned=2)
    enrich.learn_macs([("10.0.0.1", "00:0C:29:00:00:01"), ("10.0.0.2", "00:0c:29:00:00:02")])
    assert enrich("10.0.0.1") == {
        "scope": "private",
        "mac": "00:0c:29:00:00:01",
        "vendor": "VMware, Inc.",
    }
    enrich.learn_mac("10.0.0.3", "00:0c:29:00:00:03")
    got = enrich("10.0.0.1")
    assert got is not None and "mac" not in got


def test_refresh_is_rate_limited() -> None:
    clock = FakeClock()
    reads: list[float] = []

    def reader() -> HostTables:
        reads.append(clock.now)
        return HostTables(gateways=frozenset({f"10.0.0.{len(reads)}"}))

    enrich = Enricher(host_reader=reader, refresh_interval=5.0, clock=clock)
    enrich.refresh()
    enrich.refresh()
    clock.now = 4.9
    enrich.refresh()
    assert reads == [0.0]
    got = enrich("10.0.0.1")
    assert got is not None and got.get("gateway") is True
    clock.now = 5.0
    enrich.refresh()
    assert reads == [0.0, 5.0]
    got = enrich("10.0.0.1")
    assert got is not None and "gateway" not in got
    enrich.refresh(force=True)
    assert len(reads) == 3


def test_no_rdns_no_own_flows() -> None:
    enrich = Enricher()
    assert enrich.own_flows() == frozenset()


def test_build_enricher_without_anything_still_gives_scopes() -> None:
    lines: list[str] = []
    handle = build_enricher(EnrichOptions(use_geoip=False, host_tables=False), lines.append)
    try:
        assert lines == []
        assert handle.enricher("100.64.1.2") == {"scope": "cgnat"}
    finally:
        handle.close()


def test_tracker_views_carry_geo() -> None:
    """The engine hook as the tracker calls it: every view's ``geo`` has a scope."""
    enrich = Enricher(host=HostTables(gateways=frozenset({"198.18.0.2"})))
    tr = Tracker(enrich=enrich)
    c, srv = "198.18.0.1", "198.18.0.2"
    packets = [
        (1.0, build.tcp(c, 40000, srv, 443, "S", seq=100)),
        (1.01, build.tcp(srv, 443, c, 40000, "SA", seq=500, ack=101)),
        (1.02, build.tcp(c, 40000, srv, 443, "A", seq=101, ack=501)),
    ]
    for ts, frame in packets:
        tr.packet(ts, 1, frame, len(frame))
    views = [view(tr, c, tr.now) for c in tr.table.values()]
    assert views and all(v.geo is not None for v in views)
    v = views[0]
    assert v.geo == {"scope": "benchmarking", "gateway": True}
    assert v.to_record()["geo"] == {"scope": "benchmarking", "gateway": True}


@pytest.mark.parametrize("rows", [50_000])
def test_hook_cost_per_row(rows: int) -> None:
    """Measured: the hook runs per row per snapshot; a cached call must stay cheap."""
    enrich = Enricher(geoip=CountingGeo())
    addrs = [f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(rows)]
    for a in addrs:
        enrich(a)
    t0 = time.perf_counter()
    for a in addrs:
        enrich(a)
    per_call = (time.perf_counter() - t0) / rows
    assert per_call < 20e-6, f"{per_call * 1e6:.2f} us per cached call"
