"""Reading a store back: connections by filter and time, their events, aggregates.

``Store(dir).connections("tls.ja3 = ... and dst:10.0.0.0/8", since=t0)`` yields the
stored connections whose record the filter matches (``netwatch.filters.compile_record``):
the indexed part of the filter narrows the rows in SQL (``sql.py``), the compiled filter
decides on each candidate. Readers never block the recorder (WAL).
"""

# ruff: noqa: S608 - SQL text is built only from this package's constant fragments;
# every value from the user or the capture is a bound parameter.
from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwatch.filters import RecordFilter, compile_record
from netwatch.store.db import connect, store_path
from netwatch.store.sql import Cond, translate

TOP_KEYS = ("addr", "process", "port")
TOP_ORDERS = {
    "bytes": "bytes",
    "payload": "payload",
    "packets": "packets",
    "connections": "connections",
}
#: Bucket widths ``stats`` picks from (seconds), the smallest giving at most 48 buckets.
BUCKETS = (1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)


@dataclass(frozen=True, slots=True)
class StoredConnection:
    id: int
    run: int
    conn: int
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    run: int
    conn: int | None
    ts: float
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a query runs: the SQL condition, and whether each row is checked after."""

    where: str
    params: tuple[Any, ...]
    residual: RecordFilter | None


@dataclass(frozen=True, slots=True)
class TopRow:
    key: str
    connections: int
    bytes: int
    packets: int
    #: Application bytes both ways (connections stored without them count 0).
    payload: int = 0


class Store:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._db: sqlite3.Connection = connect(directory, create=False)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ selection
    def plan(self, expr: str = "", since: float | None = None, until: float | None = None) -> Plan:
        flt = compile_record(expr)
        conds: list[Cond] = []
        if since is not None:
            conds.append(Cond("last_seen >= ?", (since,), True))
        if until is not None:
            conds.append(Cond("first_seen <= ?", (until,), True))
        residual: RecordFilter | None = None
        if not flt.matches_all:
            got = translate(flt.ast)
            if got is not None:
                conds.append(got)
            if got is None or not got.exact:
                residual = flt
        where = " AND ".join(f"({c.sql})" for c in conds) or "1"
        return Plan(where, tuple(p for c in conds for p in c.params), residual)

    def connections(
        self,
        expr: str = "",
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredConnection]:
        """Matching connections, oldest first."""
        plan = self.plan(expr, since, until)
        cur = self._db.execute(
            f"SELECT id, run, conn, record FROM connections WHERE {plan.where} "
            "ORDER BY first_seen, id",
            plan.params,
        )
        left = limit
        for rid, run, conn, text in cur:
            rec = json.loads(text)
            if plan.residual is not None and not plan.residual(rec):
                continue
            yield StoredConnection(rid, run, conn, rec)
            if left is not None:
                left -= 1
                if left <= 0:
                    break

    def events_of(self, c: StoredConnection) -> list[StoredEvent]:
        cur = self._db.execute(
            "SELECT id, run, conn, ts, type, data FROM events WHERE run = ? AND conn = ? "
            "ORDER BY ts, id",
            (c.run, c.conn),
        )
        return [StoredEvent(i, r, cn, ts, ty, json.loads(d)) for i, r, cn, ts, ty, d in cur]

    def events(
        self, *, since: float | None = None, until: float | None = None, type: str | None = None
    ) -> Iterator[StoredEvent]:
        """Every stored event (also those whose connection never ended in the store)."""
        conds: list[str] = ["1"]
        params: list[Any] = []
        if since is not None:
            conds.append("ts >= ?")
            params.append(since)
        if until is not None:
            conds.append("ts <= ?")
            params.append(until)
        if type is not None:
            conds.append("type = ?")
            params.append(type)
        cur = self._db.execute(
            f"SELECT id, run, conn, ts, type, data FROM events WHERE {' AND '.join(conds)} "
            "ORDER BY ts, id",
            params,
        )
        for i, r, cn, ts, ty, d in cur:
            yield StoredEvent(i, r, cn, ts, ty, json.loads(d))

    def _selection(self, expr: str, since: float | None, until: float | None) -> Plan:
        """A plan without residual: rows the filter matches, by id if it must be checked."""
        plan = self.plan(expr, since, until)
        if plan.residual is None:
            return plan
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS selected (id INTEGER PRIMARY KEY)")
        self._db.execute("DELETE FROM temp.selected")
        ids = ((c.id,) for c in self.connections(expr, since=since, until=until))
        self._db.executemany("INSERT INTO temp.selected VALUES (?)", ids)
        return Plan("id IN (SELECT id FROM temp.selected)", (), None)

    # ------------------------------------------------------------ aggregates
    def top(
        self,
        key: str,
        by: str = "bytes",
        n: int = 10,
        expr: str = "",
        since: float | None = None,
        until: float | None = None,
    ) -> list[TopRow]:
        """Top talkers: by each endpoint address, by process name, or by remote port."""
        if key not in TOP_KEYS or by not in TOP_ORDERS:
            raise ValueError(f"top by {key}/{by}")
        sel = self._selection(expr, since, until)
        cols = (
            "count(*) AS connections, sum(bytes_in + bytes_out) AS bytes, "
            "sum(packets_in + packets_out) AS packets, "
            "sum(coalesce(payload_in, 0) + coalesce(payload_out, 0)) AS payload"
        )
        if key == "addr":
            inner = (
                f"SELECT local_addr AS k, * FROM connections WHERE {sel.where} UNION ALL "
                f"SELECT remote_addr AS k, * FROM connections WHERE {sel.where}"
            )
            params = sel.params * 2
        elif key == "process":
            inner = f"SELECT COALESCE(process, '-') AS k, * FROM connections WHERE {sel.where}"
            params = sel.params
        else:
            inner = f"SELECT proto || '/' || remote_port AS k, * FROM connections WHERE {sel.where}"
            params = sel.params
        cur = self._db.execute(
            f"SELECT k, {cols} FROM ({inner}) GROUP BY k ORDER BY {TOP_ORDERS[by]} DESC, k LIMIT ?",
            (*params, n),
        )
        return [
            TopRow(str(k), int(c), int(b or 0), int(p or 0), int(pay or 0))
            for k, c, b, p, pay in cur
        ]

    def protocols(
        self, expr: str = "", since: float | None = None, until: float | None = None
    ) -> list[TopRow]:
        """Connections, bytes and packets per application (or transport) protocol."""
        sel = self._selection(expr, since, until)
        cur = self._db.execute(
            "SELECT COALESCE(app, proto) AS k, count(*), sum(bytes_in + bytes_out), "
            f"sum(packets_in + packets_out) FROM connections WHERE {sel.where} "
            "GROUP BY k ORDER BY 3 DESC, k",
            sel.params,
        )
        return [TopRow(str(k), int(c), int(b or 0), int(p or 0)) for k, c, b, p in cur]

    def timeline(
        self,
        expr: str = "",
        since: float | None = None,
        until: float | None = None,
        width: float | None = None,
    ) -> tuple[float, list[tuple[float, int, int, int]]]:
        """(bucket width, [(bucket start, connections, bytes, packets)]) by ``first_seen``:
        what started in each bucket (a connection's bytes count where it began)."""
        sel = self._selection(expr, since, until)
        lo, hi = self._db.execute(
            f"SELECT min(first_seen), max(first_seen) FROM connections WHERE {sel.where}",
            sel.params,
        ).fetchone()
        if lo is None:
            return (width or 60.0, [])
        if width is None:
            span = max(float(hi) - float(lo), 1.0)
            width = float(next((b for b in BUCKETS if span / b <= 48), BUCKETS[-1]))
        cur = self._db.execute(
            f"SELECT CAST(first_seen / ? AS INTEGER) AS b, count(*), "
            "sum(bytes_in + bytes_out), sum(packets_in + packets_out) "
            f"FROM connections WHERE {sel.where} GROUP BY b ORDER BY b",
            (width, *sel.params),
        )
        return width, [(b * width, int(c), int(by or 0), int(p or 0)) for b, c, by, p in cur]

    def summary(self) -> dict[str, Any]:
        db = self._db
        conns, lo, hi = db.execute(
            "SELECT count(*), min(first_seen), max(last_seen) FROM connections"
        ).fetchone()
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        runs, dropped = db.execute(
            "SELECT count(*), COALESCE(sum(dropped), 0) FROM runs"
        ).fetchone()
        path = store_path(self.directory)
        size = sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
        return {
            "connections": int(conns),
            "events": int(events),
            "runs": int(runs),
            "dropped": int(dropped),
            "first_seen": lo,
            "last_seen": hi,
            "bytes_on_disk": size,
            "bytes_per_connection": math.ceil(size / conns) if conns else None,
        }
