"""The recorder's SQLite schema, as ordered migration steps (SQLite 3.x, WAL journal).

``schema_version`` holds one row: the number of steps applied. Opening a store applies the
missing steps in order, each in its own transaction, so a store written by an older netwatch
is upgraded in place and a newer one is refused (we cannot know what it holds). Another
part of netwatch (the packet index, exporters) adds its tables by appending a step to
:data:`MIGRATIONS`; steps are never edited once released.

Tables (``docs/recorder.md`` documents every column):

* ``runs``: one row per ``netwatch record`` invocation (source, start/stop, drops);
* ``connections``: one row per finished connection: indexed columns for time, addresses
  (``*_ip``: a sortable key, so a CIDR is a ``BETWEEN``) and the remote port, plain columns
  for protocols, counters and the process, plus ``ConnectionView.to_record()`` as JSON in
  ``record``. No index on ``proto``/``app`` (a handful of values: scanning the time range is
  as fast) nor ``local_port`` (ephemeral on the side that connects); each index costs the
  writer about 8 µs per row;
* ``dpi_index``: the searchable DPI values of a connection (SNI, JA3/JA4, DNS names, HTTP
  hosts and statuses, HASSH), lower-cased text and, for numbers, ``num``;
* ``events``: analyzer events (type name + JSON of the fields) tied to ``(run, conn)``.
"""

from __future__ import annotations

import sqlite3

from netwatch.errors import UsageError
from netwatch.store.packets_schema import PACKET_TABLES

#: Ordered steps; step ``i`` (1-based) brings a store from version ``i-1`` to ``i``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started REAL NOT NULL,
            stopped REAL,
            source TEXT NOT NULL,
            netwatch_version TEXT NOT NULL,
            dropped INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE connections (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            conn INTEGER NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            proto TEXT NOT NULL,
            app TEXT,
            local_addr TEXT NOT NULL,
            local_ip BLOB,
            local_port INTEGER NOT NULL,
            remote_addr TEXT NOT NULL,
            remote_ip BLOB,
            remote_port INTEGER NOT NULL,
            remote_name TEXT,
            name_ip BLOB,
            packets_out INTEGER NOT NULL,
            packets_in INTEGER NOT NULL,
            bytes_out INTEGER NOT NULL,
            bytes_in INTEGER NOT NULL,
            process TEXT,
            pid INTEGER,
            record TEXT NOT NULL
        )""",
        "CREATE INDEX connections_first_seen ON connections(first_seen)",
        "CREATE INDEX connections_last_seen ON connections(last_seen)",
        "CREATE INDEX connections_local_ip ON connections(local_ip)",
        "CREATE INDEX connections_remote_ip ON connections(remote_ip)",
        "CREATE INDEX connections_remote_port ON connections(remote_port)",
        "CREATE INDEX connections_name_ip ON connections(name_ip) WHERE name_ip IS NOT NULL",
        "CREATE INDEX connections_run_conn ON connections(run, conn)",
        # WITHOUT ROWID, keyed by what queries look up: the table is its own (key, value)
        # index, one B-tree fewer for the writer to update per value.
        """CREATE TABLE dpi_index (
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            connection INTEGER NOT NULL,
            num REAL,
            PRIMARY KEY (key, value, connection)
        ) WITHOUT ROWID""",
        "CREATE INDEX dpi_index_num ON dpi_index(key, num) WHERE num IS NOT NULL",
        "CREATE INDEX dpi_index_connection ON dpi_index(connection)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            conn INTEGER,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX events_run_conn ON events(run, conn)",
        "CREATE INDEX events_ts ON events(ts)",
    ),
    # 2: the packet store (``--packets``): pcapng files and the index of each connection's
    # packets in them (netwatch.store.packets_schema, docs/recorder-packets.md).
    PACKET_TABLES,
    # 3: application (payload) bytes each way, for ``top --by payload`` and the filters'
    # ``payload`` keywords. NULL for rows stored before: their records never had them.
    (
        "ALTER TABLE connections ADD COLUMN payload_out INTEGER",
        "ALTER TABLE connections ADD COLUMN payload_in INTEGER",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: sqlite3.Connection) -> int:
    """The store's version; 0 for a new (empty) database."""
    row = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return 0
    got = db.execute("SELECT version FROM schema_version").fetchone()
    return int(got[0]) if got else 0


def migrate(db: sqlite3.Connection, path: str) -> int:
    """Apply the missing steps (each atomically); returns the version now in force.

    ``db`` must be in autocommit mode (``isolation_level=None``): each step runs in an
    explicit ``BEGIN IMMEDIATE`` so two processes opening a new store do not both create it.
    """
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{path}: store schema version {version} is newer than this netwatch "
            f"understands ({SCHEMA_VERSION}); upgrade netwatch"
        )
    while version < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) != version:  # another process migrated meanwhile
                db.execute("ROLLBACK")
                version = current_version(db)
                continue
            if version == 0:
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version VALUES (0)")
            for stmt in MIGRATIONS[version]:
                db.execute(stmt)
            version += 1
            db.execute("UPDATE schema_version SET version = ?", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return version
