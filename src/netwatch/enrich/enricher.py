"""The engine's ``enrich`` hook: remote address → the row's ``geo`` object.

Composes the parts of this package; does no I/O of its own (the GeoIP readers, the host
table reader and the reverse resolver are handed in, see :mod:`netwatch.enrich.setup`).
The object it returns for ``89.160.20.112`` with GeoIP and rDNS configured::

    {"scope": "global", "country": "SE", "country_name": "Sweden", "city": "Linköping",
     "asn": 29518, "as_org": "Bredband2 AB", "rdns": "host.example.net"}

and for the default gateway, learnt from the neighbour table::

    {"scope": "private", "gateway": True, "mac": "b8:27:eb:12:34:56",
     "vendor": "Raspberry Pi Foundation"}

``scope`` is always there. The static part (scope, GeoIP) is cached per address in a
bounded LRU, because the hook runs for every row of every snapshot; gateway, neighbour
and rDNS fields are added per call from their own (small) tables.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from netwatch.enrich import oui
from netwatch.enrich.scopes import scope_of
from netwatch.model.snapshot import ConnectionView

#: Scopes whose addresses GeoIP databases can place (the others are never in them).
GEO_SCOPES = frozenset({"global", "nat64"})
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"),)


class GeoLookup(Protocol):
    def lookup(self, address: str) -> dict[str, Any]: ...


class NameLookup(Protocol):
    def lookup(self, address: str) -> str | None: ...

    def own_flows(self) -> frozenset[tuple[int, str, int]]: ...


@dataclass(frozen=True, slots=True)
class HostTables:
    """What the routing and neighbour tables said: default gateways, address → MAC."""

    gateways: frozenset[str] = frozenset()
    neighbours: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1024)
def _vendor(mac: str) -> str | None:
    return oui.vendor(mac)


def _geo_address(address: str, scope: str) -> str:
    """The address GeoIP should place: the IPv4 inside a NAT64 address, else itself."""
    if scope == "nat64":
        ip = ipaddress.IPv6Address(address.partition("%")[0])
        if any(ip in n for n in NAT64_PREFIXES):
            return str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return address


class Enricher:
    """``enricher(address)`` → the ``geo`` dict, or None for a non-address (``""``).

    Call it from one thread (the engine's). ``host_reader`` is called by :meth:`refresh`
    at most every ``refresh_interval`` seconds; ``names`` is the reverse resolver.
    """

    def __init__(
        self,
        *,
        geoip: GeoLookup | None = None,
        names: NameLookup | None = None,
        host: HostTables | None = None,
        host_reader: Callable[[], HostTables] | None = None,
        refresh_interval: float = 5.0,
        cache_size: int = 65536,
        max_learned: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.geoip = geoip
        self.names = names
        self._host = host or HostTables()
        self._host_reader = host_reader
        self._refresh_interval = refresh_interval
        self._next_refresh = 0.0
        self._clock = clock
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._learned: OrderedDict[str, str] = OrderedDict()
        self._max_learned = max_learned
        self.hits = self.misses = 0

    # ------------------------------------------------------------------ the hook
    def __call__(self, address: str) -> dict[str, Any] | None:
        base = self._static(address)
        if base is None:
            return None
        out = dict(base)
        if address in self._host.gateways:
            out["gateway"] = True
        mac = self._host.neighbours.get(address) or self._learned.get(address)
        if mac:
            out["mac"] = mac
            vendor = _vendor(mac)
            if vendor:
                out["vendor"] = vendor
        if self.names is not None:
            name = self.names.lookup(address)
            if name:
                out["rdns"] = name
        return out

    def _static(self, address: str) -> dict[str, Any] | None:
        cache = self._cache
        base = cache.get(address)
        if base is not None:
            self.hits += 1
            cache.move_to_end(address)
            return base
        self.misses += 1
        try:
            scope = scope_of(address)
        except ValueError:
            return None
        base = {"scope": scope}
        if self.geoip is not None and scope in GEO_SCOPES:
            base.update(self.geoip.lookup(_geo_address(address, scope)))
        cache[address] = base
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return base

    # ------------------------------------------------------------------ inputs
    def refresh(self, force: bool = False) -> None:
        """Re-read the gateways and neighbours if due (the engine calls this often)."""
        if self._host_reader is None:
            return
        now = self._clock()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + self._refresh_interval
        self._host = self._host_reader()

    def set_host(self, host: HostTables) -> None:
        self._host = host

    def learn_mac(self, address: str, mac: str) -> None:
        """A MAC seen on the wire for an on-link address (ARP/NDP rows, offline files)."""
        learned = self._learned
        learned[address] = mac.lower()
        learned.move_to_end(address)
        if len(learned) > self._max_learned:
            learned.popitem(last=False)

    def learn_macs(self, macs: Iterable[tuple[str, str]]) -> None:
        for address, mac in macs:
            self.learn_mac(address, mac)

    def observe(self, view: ConnectionView) -> None:
        """Learn the MACs an ARP row saw (``extra["arp"]["macs"]``: address → MAC), so
        later views of those addresses carry ``mac`` and ``vendor`` (offline files)."""
        if view.proto != "arp":
            return
        arp = view.extra.get("arp")
        macs = arp.get("macs") if isinstance(arp, Mapping) else None
        if isinstance(macs, Mapping):
            self.learn_macs((str(a), str(m)) for a, m in macs.items())

    # ------------------------------------------------------------------ own traffic
    def own_flows(self) -> frozenset[tuple[int, str, int]]:
        """(our UDP port, DNS server, server port) of netwatch's own rDNS queries."""
        return self.names.own_flows() if self.names is not None else frozenset()

    def is_own(self, view: ConnectionView) -> bool:
        """Is ``view`` one of netwatch's own rDNS exchanges (hidden by default)?"""
        if view.proto != "udp" or self.names is None:
            return False
        own = self.names.own_flows()
        if not own:
            return False
        local = (view.local_port, _canon(view.remote_addr), view.remote_port)
        remote = (view.remote_port, _canon(view.local_addr), view.local_port)
        return local in own or remote in own


def _canon(addr: str) -> str:
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr
