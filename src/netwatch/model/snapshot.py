"""Immutable snapshots: what the UI, exporters and metrics read.

The engine publishes a :class:`Snapshot` at a fixed cadence; nothing outside the engine
ever reads the live connection table. ``ConnectionView.to_record()`` is the documented
``netwatch analyze`` record (``docs/schema/connection.schema.json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from netwatch.model.process import Attribution, ProcessInfo

_SECONDS: dict[int, str] = {}  # whole second -> "YYYY-MM-DDTHH:MM:SS" (bounded)


def rfc3339(ts: float) -> str:
    """Seconds since the epoch as RFC 3339 UTC with microseconds.

    The same string as ``datetime.fromtimestamp(ts, UTC).isoformat(...)``: the fraction
    is rounded half-even to microseconds as datetime does (``modf``, then round), and the
    date and time of a whole second are formatted once (measured: 2.1 -> 0.5 us; every
    record has two, and exports more).
    """
    frac, whole = math.modf(ts)
    if ts < 0:
        return _rfc3339_slow(ts)
    us = round(frac * 1e6)
    sec = int(whole)
    if us >= 1_000_000:
        us -= 1_000_000
        sec += 1
    head = _SECONDS.get(sec)
    if head is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        head = _SECONDS[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{us:06d}Z"


def _rfc3339_slow(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: The keys ``ConnectionView.to_record`` writes itself (``geo`` when known); every other key
#: of a record comes from ``ConnectionView.extra`` (``icmp``, ``history``, ``picked_up``...).
RECORD_KEYS = frozenset(
    {
        "id", "proto", "ip_version", "local_addr", "local_port", "remote_addr",
        "remote_port", "state", "service", "first_seen", "last_seen", "duration",
        "packets_out", "packets_in", "bytes_out", "bytes_in", "rtt_ms", "vlan",
        "retransmits", "out_of_order", "dup_acks", "app", "remote_name",
        "remote_name_source", "process", "attribution", "geo",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """One row of the connection table, frozen at snapshot time.

    ``local``/``remote``: live, the host's own address is local; offline, the side that
    opened the connection is local. Rates are bytes per second over a sliding window.
    ``staleness`` is idle time as a fraction of the row's protocol timeout (0..1+).
    """

    id: int
    proto: str
    ip_version: int
    local_addr: str
    local_port: int
    remote_addr: str
    remote_port: int
    state: str
    service: str
    first_seen: float
    last_seen: float
    packets_out: int
    packets_in: int
    bytes_out: int
    bytes_in: int
    rate_out: float = 0.0
    rate_in: float = 0.0
    rtt_ms: float | None = None
    vlan: int | None = None
    retransmits: int = 0
    out_of_order: int = 0
    dup_acks: int = 0
    staleness: float = 0.0
    timeout: float = 0.0
    closed: bool = False
    app: Mapping[str, Any] = field(default_factory=dict)
    process: ProcessInfo | None = None
    attribution: Attribution | None = None
    remote_name: str | None = None
    remote_name_source: str | None = None
    geo: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def app_protocol(self) -> str:
        return str(self.app.get("protocol", ""))

    @property
    def app_summary(self) -> str:
        return str(self.app.get("summary", ""))

    def to_record(self) -> dict[str, Any]:
        """The stable machine-readable record (JSON Schema in docs/schema/)."""
        rec: dict[str, Any] = {
            "id": self.id,
            "proto": self.proto,
            "ip_version": self.ip_version,
            "local_addr": self.local_addr,
            "local_port": self.local_port,
            "remote_addr": self.remote_addr,
            "remote_port": self.remote_port,
            "state": self.state,
            "service": self.service,
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "duration": round(max(0.0, self.last_seen - self.first_seen), 6),
            "packets_out": self.packets_out,
            "packets_in": self.packets_in,
            "bytes_out": self.bytes_out,
            "bytes_in": self.bytes_in,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 3),
            "vlan": self.vlan,
            "retransmits": self.retransmits,
            "out_of_order": self.out_of_order,
            "dup_acks": self.dup_acks,
            "app": dict(self.app),
            "remote_name": self.remote_name,
            "remote_name_source": self.remote_name_source,
            "process": self.process.to_dict() if self.process else None,
            "attribution": self.attribution.to_dict() if self.attribution else None,
        }
        if self.geo is not None:
            rec["geo"] = dict(self.geo)
        rec.update(self.extra)
        return rec


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Counters for the status bar and metrics. Kernel drops are kept apart from ours."""

    packets: int = 0
    bytes: int = 0
    kernel_drops: int = 0
    internal_drops: int = 0
    decode_errors: Mapping[str, int] = field(default_factory=dict)
    analyzer_errors: Mapping[str, int] = field(default_factory=dict)
    evictions: int = 0
    expired: int = 0
    fragments_pending: int = 0
    #: Bytes held now by the engine's bounded buffers: ``reassembly`` (out-of-order TCP
    #: bytes), ``before_detection`` (kept for the analyzer found later), ``analyzers``.
    buffered: Mapping[str, int] = field(default_factory=dict)
    active_connections: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a front end needs for one frame."""

    seq: int
    ts: float
    connections: tuple[ConnectionView, ...]
    closed: tuple[ConnectionView, ...] = ()
    stats: CaptureStats = field(default_factory=CaptureStats)
    interface: str = ""
    attribution_backend: str = ""
    finished: bool = False
    #: The last capture or engine error (the UI shows it in its status bar), if any.
    error: str | None = None
