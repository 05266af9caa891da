"""The recorder's sink: where ``netwatch record`` puts finished connections and events.

One :class:`RecordSink` protocol, two implementations: :class:`netwatch.store.StoreWriter`
(SQLite, a writer thread) and :class:`MemorySink`, the fake: it keeps the records and event
rows in lists, for tests and for front ends that want the recorder's view without a disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from netwatch.dpi.base import AppEvent
from netwatch.model.snapshot import ConnectionView
from netwatch.store.rows import dumps, event_row


@dataclass(frozen=True, slots=True)
class WriterStats:
    connections: int
    events: int
    dropped: int
    transactions: int
    queued: int


@runtime_checkable
class RecordSink(Protocol):
    #: The run number the sink's rows carry.
    run: int
    #: Why the sink stopped taking rows (disk full), or None.
    error: str | None

    def start(self) -> None: ...

    def put_connection(self, v: ConnectionView) -> None: ...

    def put_event_of(self, conn: int | None, ev: AppEvent) -> None: ...

    def stats(self) -> WriterStats: ...

    def close(self) -> None: ...


class MemorySink:
    """The fake sink: ``records`` (analyze records, JSON round-tripped as the store keeps
    them) and ``events`` (``(run, conn, ts, type, data)`` with ``data`` decoded)."""

    def __init__(self, run: int = 1) -> None:
        self.run = run
        self.error: str | None = None
        self.records: list[dict[str, Any]] = []
        self.events: list[tuple[int, int | None, float, str, Any]] = []
        self.closed = False

    def start(self) -> None:
        return None

    def put_connection(self, v: ConnectionView) -> None:
        self.records.append(json.loads(dumps(v.to_record())))

    def put_event_of(self, conn: int | None, ev: AppEvent) -> None:
        run, c, ts, kind, data = event_row(self.run, conn, ev)
        self.events.append((run, c, ts, kind, json.loads(data)))

    def stats(self) -> WriterStats:
        return WriterStats(len(self.records), len(self.events), 0, 0, 0)

    def close(self) -> None:
        self.closed = True
