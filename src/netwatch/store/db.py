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
from netwatch.store.schema import migrate

STORE_FILENAME = "netwatch.sqlite"


def store_path(directory: str | Path) -> Path:
    return Path(directory) / STORE_FILENAME


def connect(directory: str | Path, *, create: bool, readonly: bool = False) -> sqlite3.Connection:
    """Open (and with ``create``, make and migrate) the store in ``directory``."""
    path = store_path(directory)
    if not create and not path.exists():
        raise UsageError(f"{directory}: no netwatch store here (record one with 'netwatch record')")
    if create:
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{directory}: cannot create the store ({exc.strerror})") from None
    try:
        if readonly:
            db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db, str(path))
        else:
            from netwatch.store.schema import SCHEMA_VERSION, current_version

            version = current_version(db)
            if version != SCHEMA_VERSION:
                raise UsageError(
                    f"{path}: store schema version {version}, this netwatch reads "
                    f"{SCHEMA_VERSION} (open it once with 'netwatch record' to upgrade)"
                )
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: cannot open the store ({exc})") from None
    return db
