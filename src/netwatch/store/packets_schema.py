"""The packet store's tables: migration step 2 of :data:`netwatch.store.schema.MIGRATIONS`.

* ``packet_files``: one row per pcapng file under ``packets/`` (its name relative to the
  store, capture-time span, size, and the link type of each of its interfaces, in IDB
  order, comma-separated: ``"1,113"``);
* ``packet_index``: where a connection's packets are: per ``(run, conn)`` and file, the byte
  offsets of their Enhanced Packet Blocks, packed as little-endian uint64 (one row per
  connection per writer batch, not one per packet: the writer inserts a few rows per commit
  whatever the packet rate). ``conn`` is the tracker's row id, as in ``connections.conn``;
  0 for packets counted in no connection (IP fragments awaiting the rest, decode errors);
* ``packet_stats``: per run, what the packet recorder saw and did (stored, sampled out,
  dropped under load, duplicates).
"""

from __future__ import annotations

PACKET_TABLES: tuple[str, ...] = (
    """CREATE TABLE packet_files (
        id INTEGER PRIMARY KEY,
        run INTEGER NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        first_ts REAL,
        last_ts REAL,
        packets INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        linktypes TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX packet_files_last_ts ON packet_files(last_ts)",
    """CREATE TABLE packet_index (
        run INTEGER NOT NULL,
        conn INTEGER NOT NULL,
        file INTEGER NOT NULL,
        count INTEGER NOT NULL,
        offsets BLOB NOT NULL
    )""",
    "CREATE INDEX packet_index_conn ON packet_index(run, conn)",
    "CREATE INDEX packet_index_file ON packet_index(file)",
    """CREATE TABLE packet_stats (
        run INTEGER PRIMARY KEY,
        seen INTEGER NOT NULL DEFAULT 0,
        stored INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        sampled_out INTEGER NOT NULL DEFAULT 0,
        adaptive_skipped INTEGER NOT NULL DEFAULT 0,
        adaptive_engaged INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        sample_every INTEGER NOT NULL DEFAULT 1
    )""",
)
