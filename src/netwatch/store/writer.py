"""The recorder's single writer: a bounded queue in, batched SQLite transactions out.

The capture thread only enqueues (``put_connection``, ``put_event_of``: an append to a
bounded deque); when it is full the item is dropped and counted in ``dropped``, never
blocking a live capture (``block=True``, for files, waits for room instead). One thread
owns the database connection: every :data:`COMMIT_INTERVAL` seconds, or as soon as
:data:`BATCH_ROWS` items wait, it takes them and writes them in one transaction, and it
runs retention every ``retention_interval`` seconds.

A full disk (``SQLITE_FULL``) or any other write error rolls the transaction back (SQLite
keeps what was committed intact), records a one-line ``error``, and calls ``on_error``
(the recorder closes the capture source and exits non-zero).
"""

# ruff: noqa: S608 - SQL text is built only from this package's constant fragments;
# every value from the user or the capture is a bound parameter.
from __future__ import annotations

import collections
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netwatch import __version__
from netwatch.dpi.base import AppEvent
from netwatch.model.snapshot import ConnectionView
from netwatch.store.base import WriterStats
from netwatch.store.db import connect
from netwatch.store.retention import Retention, apply_retention
from netwatch.store.rows import CONNECTION_COLUMNS, connection_row, event_row

log = logging.getLogger("netwatch.record")

#: Longest time a finished connection waits in memory before it is committed: what a
#: ``kill -9`` can lose.
COMMIT_INTERVAL = 0.5
#: Items per transaction at most: a burst is written in several, so a commit never
#: waits for more than about a tenth of a second of writing.
BATCH_ROWS = 1000
#: Items waiting at most; beyond this the capture thread drops and counts.
QUEUE_SIZE = 100_000

_SQLITE_FULL = 13
_INSERT_CONN = f"INSERT INTO connections (id, {CONNECTION_COLUMNS}) VALUES "
_INSERT_DPI = "INSERT OR IGNORE INTO dpi_index (key, value, connection, num) VALUES "
_INSERT_EVENT = "INSERT INTO events (run, conn, ts, type, data) VALUES "
#: Bound parameters per statement (SQLite's limit is 32,766 since 3.32; 999 before).
MAX_VARIABLES = 999 if sqlite3.sqlite_version_info < (3, 32) else 30_000
#: Rows per INSERT statement, largest first (see ``StoreWriter._insert``).
_CHUNK_ROWS = (256, 64, 16, 4, 1)
_STATEMENTS: dict[tuple[str, int, int], str] = {}


def _statement(head: str, width: int, rows: int) -> str:
    """The text of a ``rows``-row INSERT, built once (the same object each time)."""
    key = (head, width, rows)
    sql = _STATEMENTS.get(key)
    if sql is None:
        one = "(" + ", ".join("?" * width) + ")"
        sql = _STATEMENTS[key] = head + ", ".join([one] * rows)
    return sql


class StoreWriter:
    """The SQLite :class:`~netwatch.store.base.RecordSink`: ``StoreWriter(dir, source=...)``;
    ``start()``; the engine's callbacks; ``close()``."""

    def __init__(
        self,
        directory: str | Path,
        *,
        source: str,
        retention: Retention | None = None,
        on_error: Callable[[str], None] | None = None,
        queue_size: int = QUEUE_SIZE,
        block: bool = False,
        commit_interval: float = COMMIT_INTERVAL,
        retention_interval: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self._retention = retention or Retention()
        self._retain_now = threading.Event()
        self.retention_interval = retention_interval
        self.commit_interval = commit_interval
        self._on_error = on_error
        # A deque, not queue.Queue: an append is atomic under the GIL and wakes nobody. The
        # writer sleeps a commit interval (or until a batch is waiting) and then drains;
        # Queue.get() woke it per item, a GIL hand-off per connection that cost more CPU
        # than the row's insert.
        self._q: collections.deque[Any] = collections.deque()
        self._max = queue_size
        self._wake = threading.Event()  # a full batch is waiting, or stop
        self._room = threading.Event()  # the writer drained: blocked producers go on
        self._stopping = False
        #: Wait for room instead of dropping: for files, where nothing is lost by waiting
        #: (the end of a capture hands over every open connection at once).
        self._block = block
        self.error: str | None = None
        self.dropped = 0
        self.connections = 0
        self.events = 0
        self.transactions = 0
        self._db = connect(self.directory, create=True)
        cur = self._db.execute(
            "INSERT INTO runs (started, source, netwatch_version) VALUES (?, ?, ?)",
            (time.time(), source, __version__),
        )
        self.run = int(cur.lastrowid or 0)
        last = self._db.execute("SELECT max(id) FROM connections").fetchone()[0]
        self._next_id = int(last or 0) + 1
        self._thread = threading.Thread(target=self._main, name="netwatch-store", daemon=True)

    @property
    def retention(self) -> Retention:
        return self._retention

    @retention.setter
    def retention(self, policy: Retention) -> None:
        """A new policy (SIGHUP): applied at the writer's next batch, not in a minute."""
        self._retention = policy
        self._retain_now.set()

    # ------------------------------------------------------------ capture thread side
    def start(self) -> None:
        self._thread.start()

    def put_connection(self, v: ConnectionView) -> None:
        self._put(v)

    def put_event(self, v: ConnectionView | None, ev: AppEvent) -> None:
        """``Engine(on_event=...)``: an event with the view of its row."""
        self.put_event_of(None if v is None else v.id, ev)

    def put_event_of(self, conn: int | None, ev: AppEvent) -> None:
        """An event of the row with id ``conn``: all the store needs of the row."""
        # Serialised here: an event may hold analyzer-owned dicts that change later.
        self._put(event_row(self.run, conn, ev))

    def _put(self, item: Any) -> None:
        if self.error is not None:
            self.dropped += 1
            return
        q = self._q
        if len(q) >= self._max:
            if not self._block:
                self.dropped += 1  # only this thread writes it: no lock needed
                return
            while len(q) >= self._max:  # a file: wait for the writer, unless it failed
                self._room.clear()
                self._wake.set()
                self._room.wait(0.5)
                if self._failed():
                    self.dropped += 1
                    return
        q.append(item)
        if len(q) == BATCH_ROWS:
            self._wake.set()

    def _failed(self) -> bool:
        return self.error is not None

    def stats(self) -> WriterStats:
        return WriterStats(
            self.connections, self.events, self.dropped, self.transactions, len(self._q)
        )

    def close(self) -> None:
        """Write what is queued, record the run's end, close the database."""
        if self._thread.is_alive():
            self._stopping = True
            self._wake.set()
            self._thread.join()
        if self.error is None:
            try:
                self._db.execute(
                    "UPDATE runs SET stopped = ?, dropped = ? WHERE id = ?",
                    (time.time(), self.dropped, self.run),
                )
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                self._fail(exc)
        self._db.close()

    # ------------------------------------------------------------ writer thread
    def _main(self) -> None:
        next_retention = time.monotonic()
        q = self._q
        while True:
            stopping = self._stopping  # read before draining: nothing is left behind
            if not stopping and len(q) < BATCH_ROWS:
                self._wake.wait(self.commit_interval)
            self._wake.clear()
            while q:
                batch = [q.popleft() for _ in range(min(len(q), BATCH_ROWS))]
                self._room.set()
                if self.error is None:
                    self._write(batch)  # else drop: the store is read-only from now on
            if stopping:
                return
            if self.error is None and (
                time.monotonic() >= next_retention or self._retain_now.is_set()
            ):
                self._retain_now.clear()
                next_retention = time.monotonic() + self.retention_interval
                self._retain()

    def _write(self, batch: list[Any]) -> None:
        """One transaction of multi-row INSERTs (the ids are ours: the only writer).

        Multi-row, not ``executemany``: the sqlite3 module lets go of the GIL around every
        row it steps, and taking it back from the busy capture thread can take a switch
        interval (5 ms) each time; a 1,000-row batch then needed seconds of wall time."""
        conns: list[tuple[Any, ...]] = []
        dpis: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        next_id = self._next_id
        for item in batch:
            if isinstance(item, tuple):
                events.append(item)
                continue
            row, dpi = connection_row(self.run, item)
            conns.append((next_id, *row))
            dpis.extend((k, t, next_id, n) for k, t, n in dpi)
            next_id += 1
        try:
            self._db.execute("BEGIN")
            self._insert(_INSERT_CONN, conns)
            self._insert(_INSERT_DPI, dpis)
            self._insert(_INSERT_EVENT, events)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            self._fail(exc)
            return
        self._next_id = next_id
        self.connections += len(conns)
        self.events += len(events)
        self.transactions += 1

    def _insert(self, head: str, rows: list[tuple[Any, ...]]) -> None:
        """Multi-row INSERTs of a few fixed sizes (256, 64, 16, 4, 1 rows), so that the
        same statement texts recur and SQLite's prepared statements are reused: a new
        1,000-row text per batch cost ~7 ms to prepare against 0.7 ms to run (measured),
        most of the recorder's SQLite time."""
        if not rows:
            return
        width = len(rows[0])
        limit = max(1, MAX_VARIABLES // width)
        i, n = 0, len(rows)
        for size in _CHUNK_ROWS:
            if size > limit or n - i < size:
                continue
            sql = _statement(head, width, size)
            while n - i >= size:
                chunk = rows[i : i + size]
                self._db.execute(sql, [x for r in chunk for x in r])
                i += size

    def _retain(self) -> None:
        try:
            removed = apply_retention(self._db, self._retention, time.time())
        except sqlite3.Error as exc:
            self._rollback()
            if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
                self._fail(exc)
            else:
                log.warning("retention failed: %s", exc)
            return
        if removed:
            log.info("retention removed %d connections", removed)

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite may have rolled back already (SQLITE_FULL does)

    def _fail(self, exc: sqlite3.Error) -> None:
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
            msg = f"{self.directory}: disk full, recording stopped (the store is intact)"
        else:
            msg = f"{self.directory}: cannot write the store ({exc}), recording stopped"
        self.error = msg
        log.debug("%s", msg)  # the recorder reports it once, as its last line
        if self._on_error is not None:
            self._on_error(msg)
