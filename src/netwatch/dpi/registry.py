"""Which analyzer takes a flow: detection by payload first, ports only as a hint (data).

Each :class:`Detector` row names a protocol, its transport, the ports that hint at it, a
content check run on the first payload of the flow, and the analyzer factory. For a new
flow the detectors hinted by either port are tried first, then all others, so TLS on
8443, SSH on 2222 or HTTP on 8082 are still recognised, and nothing is claimed on port
alone. Modules are imported on first use, so a front end that never sees a QUIC packet
never imports the QUIC code. A row may declare the first payload bytes its check can
accept at all (``Detector.first``); it is not tried on a payload starting with another
byte, which changes no result and spares most checks on traffic that no row takes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from netwatch.dpi.base import Analyzer
from netwatch.dpi.registry_types import ALNUM, HIGH_BIT, Detector

# fmt: off
TLS_PORTS = frozenset({443, 8443, 465, 993, 995, 636, 853, 5061, 8883, 4443})
HTTP_PORTS = frozenset({80, 8080, 8000, 8008, 8082, 8888, 3128})
DNS_PORTS = frozenset({53, 5353, 5355})
DETECTORS: tuple[Detector, ...] = (
    #        protocol transport module                         content check    analyzer
    # (first: a handshake record, 22, or an SSL 2.0 header, high bit set)
    Detector("TLS",  "tcp", "netwatch.dpi.tls.analyzer",  "detect_tcp", "TLSAnalyzer",
             TLS_PORTS, ("server_port",), first=frozenset({22}) | HIGH_BIT),
    # (first: CR/LF before a start line, a token character, or the HTTP/2 preface's P)
    Detector("HTTP", "tcp", "netwatch.dpi.http",          "detect_tcp", "HTTPAnalyzer",
             HTTP_PORTS, first=ALNUM | frozenset(b"\r\n!#$%&'*+-.^_`|~")),
    Detector("SSH",  "tcp", "netwatch.dpi.ssh",           "detect_tcp", "SSHAnalyzer",
             frozenset({22, 2222}), first=frozenset(b"S")),
    # (DNS: a length or an id first, any byte)
    Detector("DNS",  "tcp", "netwatch.dpi.dns",           "detect_tcp", "DNSAnalyzer",
             DNS_PORTS, ("transport", "variant")),
    Detector("DNS",  "udp", "netwatch.dpi.dns",           "detect_udp", "DNSAnalyzer",
             DNS_PORTS, ("transport", "variant")),
    # (first: a long header, high bit set, or gQUIC public flags with version and CID
    # bits set, reset and high bits clear)
    Detector("QUIC", "udp", "netwatch.dpi.quic.analyzer", "detect_udp", "QUICAnalyzer",
             frozenset({443, 80, 8443, 4433}),
             first=HIGH_BIT | frozenset(b for b in range(0x80) if b & 0x0B == 0x09)),
    # Last resort, no port hint: TLS records of a connection the capture joined mid-stream.
    # (first: a record content type, 20-24)
    Detector("TLS",  "tcp", "netwatch.dpi.tls.analyzer",  "detect_tcp_midstream",
             "TLSAnalyzer", frozenset(), ("server_port",), first=frozenset(range(20, 25))),
)
# fmt: on


def _extension_tables() -> tuple[Detector, ...]:
    """Detector tables of the analyzer groups beyond the core five (one module per group,
    each defining ``DETECTORS``), appended after the core rows: the core stays first."""
    rows: list[Detector] = []
    for name in EXTENSION_TABLES:
        mod = importlib.import_module(name)
        rows.extend(mod.DETECTORS)
    return tuple(rows)


#: Modules with more ``DETECTORS`` rows (issue 6's protocol groups).
EXTENSION_TABLES = ("netwatch.dpi.table_mail", "netwatch.dpi.table_more", "netwatch.dpi.table_apps")
DETECTORS = DETECTORS + _extension_tables()

#: How many payload-carrying packets a flow may show before detection gives up.
MAX_DETECT_PACKETS = 6

_loaded: dict[str, Any] = {}
_missing: set[str] = set()


def _module(name: str) -> Any | None:
    mod = _loaded.get(name)
    if mod is None and name not in _missing:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            # An analyzer not shipped in this build: the flow stays unclassified.
            _missing.add(name)
            return None
        _loaded[name] = mod
    return mod


def _candidates(transport: str, sport: int, dport: int) -> tuple[int, ...]:
    """Indexes into ``DETECTORS`` in trial order: rows hinted by a port, then the rest."""
    rows = [i for i, d in enumerate(DETECTORS) if d.transport == transport]
    hinted = [i for i in rows if sport in DETECTORS[i].ports or dport in DETECTORS[i].ports]
    return (*hinted, *(i for i in rows if i not in hinted))


def _resolve(index: int) -> tuple[Any, Callable[[bytes], bool]] | None:
    """A row's module and content check (None: the module is not shipped, or lacks the
    check); imports the module."""
    det = DETECTORS[index]
    mod = _module(det.module)
    check: Callable[[bytes], bool] | None = (
        getattr(mod, det.detect, None) if mod is not None else None
    )
    return (mod, check) if check is not None else None


def _never(data: bytes) -> bool:
    return False


class _Row:
    """One row's content check and analyzer factory, looked up on the row's first trial
    (its module imported then), not per trial: a flow that no detector takes tries every
    row of its transport on up to ``MAX_DETECT_PACKETS`` payloads. ``check`` starts as
    the lookup itself, which puts the real check in its place (or ``_never``, for a
    module not shipped or without the check) and runs it."""

    __slots__ = ("build", "check", "first", "index")

    def __init__(self, index: int) -> None:
        self.index = index
        self.first = DETECTORS[index].first
        self.check: Callable[[bytes], bool] = self._first_check
        self.build: Callable[[int], Analyzer] = self._unresolved

    def _first_check(self, data: bytes) -> bool:
        found = _resolve(self.index)
        if found is None:
            self.check = _never
            return False
        mod, check = found
        self.build = _builder(mod, DETECTORS[self.index])
        self.check = check
        return check(data)

    @staticmethod
    def _unresolved(server_port: int) -> Analyzer:
        raise AssertionError("a row builds only after its check took the flow")


def _builder(mod: Any, det: Detector) -> Callable[[int], Analyzer]:
    """A row's analyzer factory as a function of the responder's port, with the keyword
    arguments the row names fixed once (a closure per argument set: building a keyword
    dict per flow cost more than the call)."""
    factory = getattr(mod, det.factory)
    transport = det.transport
    kwargs = set(det.kwargs)
    if not kwargs:
        return lambda server_port: factory()
    if kwargs == {"server_port"}:
        return lambda server_port: factory(server_port=server_port)
    if kwargs == {"transport"}:
        return lambda server_port: factory(transport=transport)
    if kwargs == {"transport", "variant"}:
        # mDNS (5353) and LLMNR (5355) use the DNS parser under their own labels.
        variants = mod.PORT_VARIANTS
        return lambda server_port: factory(
            transport=transport, variant=variants.get(server_port, "dns")
        )
    raise ValueError(f"detector {det.protocol}/{det.transport}: unknown arguments {kwargs}")


#: One ``_Row`` per ``DETECTORS`` row, shared by every port pair's trial order.
_ROWS = tuple(_Row(i) for i in range(len(DETECTORS)))

#: Entries each of the two caches below may hold before it is emptied.
_CACHE_LIMIT = 4096

#: (transport, port hint, port hint) -> every row of the transport in trial order.
_ORDERS: dict[tuple[str, int, int], tuple[_Row, ...]] = {}

#: (transport, port hint, port hint, first byte or -1) -> the rows of that trial order
#: whose declared first bytes include the payload's (all of them for an empty payload).
_CACHE: dict[tuple[str, int, int, int], tuple[_Row, ...]] = {}


def _trial_rows(key: tuple[str, int, int, int]) -> tuple[_Row, ...]:
    """The rows to try for a ``_CACHE`` key, in the port pair's order (then cached)."""
    transport, sport, dport, first = key
    ports = (transport, sport, dport)
    order = _ORDERS.get(ports)
    if order is None:
        if len(_ORDERS) > _CACHE_LIMIT:
            _ORDERS.clear()
        order = _ORDERS[ports] = tuple(_ROWS[i] for i in _candidates(transport, sport, dport))
    if first >= 0:
        # A row whose check cannot accept this first byte would only return False.
        order = tuple(row for row in order if row.first is None or first in row.first)
    if len(_CACHE) > _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = order
    return order


def detect(transport: str, data: bytes, sport: int, dport: int) -> Analyzer | None:
    """Return a fresh analyzer for a flow whose first payload (either side's) is ``data``.

    ``sport``/``dport`` are the originator's and responder's ports, whichever side sent
    ``data``: the analyzer is built with the responder's port. Ports no row hints at are
    all alike (0 in the cache keys); rows that declare the first bytes they can accept
    are left out for a payload starting with another byte.
    """
    key = (
        transport,
        sport if sport < 1024 or sport in _HINT_PORTS else 0,
        dport if dport < 1024 or dport in _HINT_PORTS else 0,
        data[0] if data else -1,
    )
    rows = _CACHE.get(key)
    if rows is None:
        rows = _trial_rows(key)
    for row in rows:
        if row.check(data):
            return row.build(dport)
    return None


def create(protocol: str, transport: str, server_port: int) -> Analyzer | None:
    """An analyzer by name (hand-over after STARTTLS, or a data connection announced)."""
    for det in DETECTORS:
        if det.protocol == protocol and det.transport == transport:
            mod = _module(det.module)
            if mod is not None:
                return _builder(mod, det)(server_port)
    return None


_HINT_PORTS = frozenset().union(*(d.ports for d in DETECTORS))
