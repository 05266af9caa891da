"""Retention: drop the oldest connections (and their DPI values and events) by age and size.

"Oldest" is by ``last_seen``: a connection leaves the store when its last packet is older
than ``max_age`` seconds (wall clock: a store recorded from an old capture file with an age
limit empties at once), or, while the store's used pages exceed ``max_bytes``, the oldest
fraction that brings it back under 90% of the limit (the margin avoids a delete per batch).
The file gives freed pages back to the file system (``auto_vacuum = INCREMENTAL``).
"""

# ruff: noqa: S608 - SQL text is built only from this package's constant fragments;
# every value from the user or the capture is a bound parameter.
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

#: Size retention aims below this fraction of ``max_bytes``.
SIZE_TARGET = 0.9


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: float | None = None
    max_bytes: int | None = None


def used_bytes(db: sqlite3.Connection) -> int:
    """Bytes of the database's pages that hold data (free pages excluded)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _delete_through(db: sqlite3.Connection, cutoff: float, *, inclusive: bool) -> int:
    op = "<=" if inclusive else "<"
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "DELETE FROM dpi_index WHERE connection IN "
            f"(SELECT id FROM connections WHERE last_seen {op} ?)",
            (cutoff,),
        )
        n = db.execute(f"DELETE FROM connections WHERE last_seen {op} ?", (cutoff,)).rowcount
        db.execute(f"DELETE FROM events WHERE ts {op} ?", (cutoff,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return int(n)


def apply_retention(db: sqlite3.Connection, policy: Retention, now: float) -> int:
    """Delete what ``policy`` no longer keeps; returns how many connections went."""
    removed = 0
    if policy.max_age is not None:
        removed += _delete_through(db, now - policy.max_age, inclusive=False)
    if policy.max_bytes is not None:
        for _ in range(8):  # each pass estimates from the average row; a few converge
            used = used_bytes(db)
            if used <= policy.max_bytes:
                break
            count = db.execute("SELECT count(*) FROM connections").fetchone()[0]
            if not count:
                break
            share = (used - policy.max_bytes * SIZE_TARGET) / used
            n = min(count, max(1, math.ceil(count * share)))
            row = db.execute(
                "SELECT last_seen FROM connections ORDER BY last_seen LIMIT 1 OFFSET ?",
                (n - 1,),
            ).fetchone()
            removed += _delete_through(db, float(row[0]), inclusive=True)
            db.execute("PRAGMA incremental_vacuum")
    if removed and policy.max_bytes is None:
        db.execute("PRAGMA incremental_vacuum")
    return removed
