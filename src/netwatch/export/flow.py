"""One connection record (``ConnectionView.to_record()``) seen from the originator's side.

The exports speak of originator and responder (Zeek's ``orig``/``resp``, Suricata's
``src``/``dest``, ``toserver``/``toclient``), while the record speaks of local and remote.
Offline the local side is the one that opened the connection, so the two agree; a live
record whose remote side opened the connection carries ``"initiator": "remote"`` and is
turned around here. ICMP rows take their "ports" from the first message's type and code,
as Zeek's conn.log does.

Optional record fields the exports use when present (see docs/exports.md):
``ip_bytes_out``/``_in`` (sum of IP total lengths), ``payload_bytes_out``/``_in`` (TCP: new
sequence space; UDP: payload) and ``missed_bytes``, which the engine is to add, and
``closed_at`` (RFC 3339 time of the packet that completed the close), which it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from netwatch.errors import MalformedError
from netwatch.export.ids import community_id, flow_id, icmp_ports, proto_number, zeek_uid

#: The record ``proto`` values that are IP flows (ARP rows and the like are not exported).
IP_PROTOS = frozenset({"tcp", "udp", "icmp", "icmpv6", "sctp", "igmp"})


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What a writer wrote: events (EVE, by ``event_type``) or rows (Zeek, by log path),
    and how many records it skipped as malformed."""

    written: Mapping[str, int] = field(default_factory=dict)
    malformed: int = 0

    @property
    def total(self) -> int:
        return sum(self.written.values())


@contextmanager
def record_boundary() -> Iterator[None]:
    """Turn a record whose shape is wrong (a stored record damaged on disk, a field of the
    wrong type) into :class:`MalformedError`, so a writer can skip and count it."""
    try:
        yield
    except MalformedError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedError("export", f"bad record: {type(exc).__name__}: {exc}") from None


def checked(build: Callable[[Mapping[str, Any]], T], record: Mapping[str, Any]) -> T:
    """``build(record)`` inside :func:`record_boundary`."""
    with record_boundary():
        if not isinstance(record, Mapping):
            raise MalformedError("export", "a record is not an object")
        return build(record)


def epoch(ts: str) -> float:
    """An RFC 3339 timestamp (as the record writes them) in seconds since the epoch."""
    try:
        return datetime.fromisoformat(ts).timestamp()
    except (TypeError, ValueError):
        raise MalformedError("export", f"bad timestamp {ts!r}") from None


@dataclass(frozen=True, slots=True)
class Flow:
    """The parts of a record every export needs, oriented originator → responder."""

    proto: str
    ip_proto: int
    ip_version: int
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    orig_pkts: int
    resp_pkts: int
    orig_wire_bytes: int
    resp_wire_bytes: int
    start: float
    end: float
    history: str | None
    uid: str
    flow_id: int
    community_id: str
    vlans: tuple[int, ...]
    app: Mapping[str, Any]
    record: Mapping[str, Any]

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def zeek_duration(self) -> float:
        """Zeek's duration: up to the packet that completed the close (the second FIN),
        when the record has ``closed_at``; trailing ACKs after it do not count."""
        closed = self.record.get("closed_at")
        if isinstance(closed, str):
            return max(0.0, min(self.end, epoch(closed)) - self.start)
        return self.duration

    def extra(self, key: str) -> Any:
        """An optional record field (``payload_bytes_out``...) in originator terms."""
        return self.record.get(key)

    def directional(self, stem: str) -> tuple[Any, Any]:
        """``(orig, resp)`` values of an optional ``<stem>_out``/``<stem>_in`` pair."""
        out, inn = self.record.get(f"{stem}_out"), self.record.get(f"{stem}_in")
        return (inn, out) if _flipped(self.record) else (out, inn)


def _flipped(record: Mapping[str, Any]) -> bool:
    return record.get("initiator") == "remote"


def _int(record: Mapping[str, Any], key: str) -> int:
    value = record.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedError("export", f"record field {key} is not an integer")
    return value


def flow_of(record: Mapping[str, Any]) -> Flow | None:
    """The record as a :class:`Flow`, or None when it is not an IP flow (ARP)."""
    proto = str(record.get("proto", ""))
    number = proto_number(proto)
    if number is None or (proto not in IP_PROTOS and not proto.startswith("ip-")):
        return None
    la, ra = str(record.get("local_addr")), str(record.get("remote_addr"))
    lp, rp = _int(record, "local_port"), _int(record, "remote_port")
    po, pi = _int(record, "packets_out"), _int(record, "packets_in")
    bo, bi = _int(record, "bytes_out"), _int(record, "bytes_in")
    if _flipped(record):
        la, lp, ra, rp, po, pi, bo, bi = ra, rp, la, lp, pi, po, bi, bo
    one_way = False
    v6 = record.get("ip_version") == 6
    icmp = record.get("icmp")
    if proto in ("icmp", "icmpv6") and isinstance(icmp, Mapping):
        lp, rp, one_way = icmp_ports(int(icmp.get("type") or 0), int(icmp.get("code") or 0), v6)
    try:
        cid = community_id(la, ra, number, lp, rp, one_way=one_way)
    except ValueError as exc:
        raise MalformedError("export", f"bad endpoint: {exc}") from None
    vlan = record.get("vlan")
    stack = record.get("vlan_stack")
    vlans = tuple(stack) if isinstance(stack, list) else ((vlan,) if isinstance(vlan, int) else ())
    hist = record.get("history")
    app = record.get("app")
    rec = dict(record)
    return Flow(
        proto=proto,
        ip_proto=number,
        ip_version=6 if v6 else 4,
        orig_h=la,
        orig_p=lp,
        resp_h=ra,
        resp_p=rp,
        orig_pkts=po,
        resp_pkts=pi,
        orig_wire_bytes=bo,
        resp_wire_bytes=bi,
        start=epoch(str(record.get("first_seen"))),
        end=epoch(str(record.get("last_seen"))),
        history=hist if isinstance(hist, str) else None,
        uid=zeek_uid(rec),
        flow_id=flow_id(rec),
        community_id=cid,
        vlans=vlans,
        app=app if isinstance(app, Mapping) else {},
        record=rec,
    )
