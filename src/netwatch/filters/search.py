"""The text a plain word is searched in, and its per-connection cache.

A plain word is a case-insensitive *substring* of any field (not a subsequence: on rows
carrying DNS answers, certificates and hashes, a subsequence like ``gh`` matches nearly
everything, and substring is what the recorder's SQL can do with ``LIKE``). The fields are
lower-cased and joined with newlines into one string per connection, so a word costs one
``in`` and a bare ``/regex/`` one ``search`` (``^``/``$`` anchor at each field: MULTILINE).

The TUI filters ~20,000 rows per keystroke against the same snapshot, and snapshots change
only some rows each second, so :class:`SearchCache` keeps each row's string keyed by
connection id and reuses it while the fields it was built from are the same objects (or
equal). ``benchmarks/filter_speed.py`` measures it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from netwatch.filters.fields import RECORD_FIELDS, VIEW_FIELDS, collect, text_of
from netwatch.model.snapshot import ConnectionView

#: The fields a plain word searches, in both accessor tables.
SEARCH_FIELDS = (
    "proto",
    "local_endpoint",
    "remote_endpoint",
    "state",
    "service",
    "remote_name",
    "process.name",
    "process.pid",
    "process.exe",
    "process.cmdline",
    "process.user",
    "process.container",
    "app",
    "geo",
)


def _build(subject: Any, table: Mapping[str, Callable[[Any], Any]]) -> str:
    values: list[Any] = []
    for name in SEARCH_FIELDS:
        collect(table[name](subject), (), values)
    parts = [text_of(v) for v in values if not isinstance(v, float | bool)]
    return "\n".join(parts).lower()


def record_text(record: Mapping[str, Any]) -> str:
    """The search text of an analyze record (not cached: the recorder scans each once)."""
    return _build(record, RECORD_FIELDS)


def view_text_uncached(view: ConnectionView) -> str:
    return _build(view, VIEW_FIELDS)


class SearchCache:
    """Search text per connection id, reused while the view's searched fields are unchanged.

    Entries hold the view they were built from; a lookup with the very same view object
    (the common case: many keystrokes on one snapshot) is one dict lookup and one ``is``.
    Bounded: past ``max_entries`` the oldest half is dropped. Safe to share between threads
    (entries are replaced whole; a race only costs a rebuild).
    """

    def __init__(self, max_entries: int = 131072) -> None:
        self._entries: dict[int, tuple[ConnectionView, str]] = {}
        self._max = max_entries
        self._lock = threading.Lock()
        self.builds = 0  # how many strings were built (benchmark/test insight)

    def text(self, view: ConnectionView) -> str:
        entry = self._entries.get(view.id)
        if entry is not None:
            old = entry[0]
            if old is view:
                return entry[1]
            if _same_search_fields(old, view):
                self._entries[view.id] = (view, entry[1])
                return entry[1]
        text = _build(view, VIEW_FIELDS)
        self.builds += 1
        if len(self._entries) >= self._max:
            self._trim()
        self._entries[view.id] = (view, text)
        return text

    def _trim(self) -> None:
        with self._lock:
            keys = list(self._entries)
            for k in keys[: len(keys) // 2]:
                self._entries.pop(k, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _same(a: object, b: object) -> bool:
    return a is b or a == b


def _same_search_fields(a: ConnectionView, b: ConnectionView) -> bool:
    return (
        a.local_port == b.local_port
        and a.remote_port == b.remote_port
        and a.state == b.state
        and a.remote_name == b.remote_name
        and a.local_addr == b.local_addr
        and a.remote_addr == b.remote_addr
        and a.proto == b.proto
        and a.service == b.service
        and _same(a.process, b.process)
        and _same(a.app, b.app)
        and _same(a.geo, b.geo)
    )


#: The cache :func:`netwatch.filters.compile` uses unless given another.
DEFAULT_CACHE = SearchCache()
