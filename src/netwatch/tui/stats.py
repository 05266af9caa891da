"""Aggregates the screens show: totals, per-process sums, and the history of rates.

History is what this UI has seen: one point per applied snapshot, bounded. A connection's
history is kept while it is in the snapshot and dropped with it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from netwatch.model.snapshot import ConnectionView, Snapshot

HISTORY = 120  # points per series (2 minutes at 1 Hz)
CONN_HISTORY = 40


@dataclass(frozen=True, slots=True)
class Totals:
    connections: int
    by_proto: tuple[tuple[str, int], ...]
    by_state: tuple[tuple[str, int], ...]
    by_app: tuple[tuple[str, int], ...]
    rate_in: float
    rate_out: float


@dataclass(frozen=True, slots=True)
class ProcessRow:
    key: str
    name: str
    pid: int | None
    user: str
    connections: int
    rate_in: float
    rate_out: float
    bytes_in: int
    bytes_out: int


def totals(views: Iterable[ConnectionView]) -> Totals:
    """Counts by protocol, state and application; summed rates.

    One ``Counter`` per attribute over a generator: Counter's C counting loop is about
    twice as fast as incrementing three counters per row in Python (20,000 rows a frame).
    """
    rows = views if isinstance(views, (list, tuple)) else list(views)
    protos = Counter(v.proto.upper() for v in rows)
    states = Counter(v.state or "-" for v in rows)
    apps = Counter(v.app_protocol or "unknown" for v in rows)
    return Totals(
        len(rows),
        tuple(protos.most_common()),
        tuple(states.most_common()),
        tuple(apps.most_common()),
        sum(v.rate_in for v in rows),
        sum(v.rate_out for v in rows),
    )


def process_key(v: ConnectionView) -> str:
    p = v.process
    return "-" if p is None else f"{p.pid}"


class _Acc:
    __slots__ = ("bytes_in", "bytes_out", "n", "rate_in", "rate_out")

    def __init__(self) -> None:
        self.n = 0
        self.rate_in = 0.0
        self.rate_out = 0.0
        self.bytes_in = 0
        self.bytes_out = 0


def by_process(views: Iterable[ConnectionView]) -> list[ProcessRow]:
    acc: dict[str, tuple[ConnectionView, _Acc]] = {}
    for v in views:
        key = process_key(v)
        entry = acc.get(key)
        if entry is None:
            entry = acc[key] = (v, _Acc())
        a = entry[1]
        a.n += 1
        a.rate_in += v.rate_in
        a.rate_out += v.rate_out
        a.bytes_in += v.bytes_in
        a.bytes_out += v.bytes_out
    out = []
    for key, (first, a) in acc.items():
        p = first.process
        out.append(
            ProcessRow(
                key,
                "(unattributed)" if p is None else p.name,
                None if p is None else p.pid,
                "" if p is None else p.user,
                a.n,
                a.rate_in,
                a.rate_out,
                a.bytes_in,
                a.bytes_out,
            )
        )
    return out


class History:
    """Rates over the snapshots this UI applied: total, per process, per connection."""

    def __init__(self) -> None:
        self.total_in: deque[float] = deque(maxlen=HISTORY)
        self.total_out: deque[float] = deque(maxlen=HISTORY)
        self.conn_count: deque[float] = deque(maxlen=HISTORY)
        self.per_process: dict[str, deque[float]] = {}
        self.process_names: dict[str, str] = {}
        self.per_conn: dict[int, deque[float]] = {}
        self.last_seq = -1

    def record(self, snap: Snapshot, procs: list[ProcessRow], tot: Totals) -> None:
        if snap.seq == self.last_seq:
            return
        self.last_seq = snap.seq
        self.total_in.append(tot.rate_in)
        self.total_out.append(tot.rate_out)
        self.conn_count.append(float(tot.connections))
        seen: set[str] = set()
        for p in procs:
            series = self.per_process.get(p.key)
            if series is None:
                series = self.per_process[p.key] = deque(
                    [0.0] * (len(self.total_in) - 1), maxlen=HISTORY
                )
            series.append(p.rate_in + p.rate_out)
            self.process_names[p.key] = p.name if p.pid is None else f"{p.name} ({p.pid})"
            seen.add(p.key)
        for key in [k for k in self.per_process if k not in seen]:
            series = self.per_process[key]
            series.append(0.0)
            if not any(series):
                del self.per_process[key]
                self.process_names.pop(key, None)
        conns = self.per_conn
        alive: dict[int, deque[float]] = {}
        for v in snap.connections:
            series = conns.get(v.id)
            if series is None:
                series = deque(maxlen=CONN_HISTORY)
            series.append(v.rate_in + v.rate_out)
            alive[v.id] = series
        self.per_conn = alive

    def top_processes(self, n: int) -> list[tuple[str, list[float]]]:
        ranked = sorted(self.per_process.items(), key=lambda kv: -sum(kv[1]))
        return [(self.process_names.get(k, k), list(s)) for k, s in ranked[:n] if any(s)]

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]
