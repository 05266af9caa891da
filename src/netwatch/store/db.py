"""Opening the store's database file: one place for the path and the pragmas.

WAL journal: readers (``query``, ``top``) never block the writer, and a crash (``kill -9``)
keeps every committed transaction. ``synchronous = NORMAL`` in WAL mode syncs at checkpoints
only: a power loss may drop the last transactions but never corrupts the file; a process
crash loses nothing committed. The recorder commits at least every
:data:`netwatch.store.writer.COMMIT_INTERVAL` seconds, which bounds what a crash loses.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from netwatch.errors import UsageError
from netwatch.store.schema import current_version, migrate

STORE_FILENAME = "netwatch.sqlite"


def store_path(directory: str | Path) -> Path:
    return Path(directory) / STORE_FILENAME


def connect(directory: str | Path, *, create: bool) -> sqlite3.Connection:
    """Open the store in ``directory``, upgrading its schema (``create``: make it first)."""
    path = store_path(directory)
    if not create and not path.exists():
        raise UsageError(f"{directory}: no netwatch store here (record one with 'netwatch record')")
    if create:
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{directory}: cannot create the store ({exc.strerror})") from None
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 5000")
        if current_version(db) == 0:
            # Before anything writes page 1 (WAL mode does): retention can then give
            # freed pages back to the file system.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrate(db, str(path))
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: cannot open the store ({exc})") from None
    return db
