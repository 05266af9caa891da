"""The recorder's store: connections and analyzer events in SQLite (``netwatch record``).

* :class:`StoreWriter`: the single writer thread behind a bounded queue (engine callbacks
  ``put_connection`` / ``put_event``), batched transactions, retention, disk-full handling;
  a :class:`RecordSink`, as is :class:`MemorySink`, the fake for tests;
* :class:`Store`: reading back by filter expression and time range, top talkers, stats;
* the schema and its migrations in :mod:`netwatch.store.schema` (``docs/recorder.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netwatch import lazy

if TYPE_CHECKING:
    from netwatch.store.base import MemorySink, RecordSink, WriterStats
    from netwatch.store.db import STORE_FILENAME, store_path
    from netwatch.store.reader import Plan, Store, StoredConnection, StoredEvent, TopRow
    from netwatch.store.retention import Retention
    from netwatch.store.schema import MIGRATIONS, SCHEMA_VERSION
    from netwatch.store.timespec import parse_age, parse_size, parse_time
    from netwatch.store.writer import StoreWriter

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STORE_FILENAME",
    "MemorySink",
    "Plan",
    "RecordSink",
    "Retention",
    "Store",
    "StoreWriter",
    "StoredConnection",
    "StoredEvent",
    "TopRow",
    "WriterStats",
    "parse_age",
    "parse_size",
    "parse_time",
    "store_path",
]

# Imported on first use (netwatch.lazy): start-up pays only for what a command uses.
__getattr__ = lazy.exports(
    __name__,
    {
        "MemorySink": "netwatch.store.base",
        "RecordSink": "netwatch.store.base",
        "WriterStats": "netwatch.store.base",
        "STORE_FILENAME": "netwatch.store.db",
        "store_path": "netwatch.store.db",
        "Plan": "netwatch.store.reader",
        "Store": "netwatch.store.reader",
        "StoredConnection": "netwatch.store.reader",
        "StoredEvent": "netwatch.store.reader",
        "TopRow": "netwatch.store.reader",
        "Retention": "netwatch.store.retention",
        "MIGRATIONS": "netwatch.store.schema",
        "SCHEMA_VERSION": "netwatch.store.schema",
        "parse_age": "netwatch.store.timespec",
        "parse_size": "netwatch.store.timespec",
        "parse_time": "netwatch.store.timespec",
        "StoreWriter": "netwatch.store.writer",
    },
)
