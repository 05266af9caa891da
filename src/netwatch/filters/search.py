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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from netwatch.filters.fields import MAX_DEPTH, MAX_VALUES, RECORD_FIELDS
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
    "extra",
)


def _build(subject: Any, table: Mapping[str, Callable[[Any], Any]]) -> str:
    out: list[str] = []
    for name in SEARCH_FIELDS:
        _texts(table[name](subject), out, 0)
    return "\n".join(out).lower()


def _texts(obj: Any, out: list[str], depth: int) -> None:
    """Append the searchable text of ``obj``: strings and integers at any depth (floats and
    booleans, like RTTs and flags, would only add noise to a word search).

    Written for speed, not beauty: it runs once per new row and dominates the first
    keystroke on a fresh snapshot, so leaves are handled inline without a recursive call,
    and exact type checks come before the ABC ones.
    """
    t = type(obj)
    if t is str:
        out.append(obj)
    elif t is int:
        out.append(str(obj))
    elif obj is None or t is float or t is bool or depth > MAX_DEPTH or len(out) > MAX_VALUES:
        return
    elif t is dict or t is list or t is tuple or isinstance(obj, Mapping | list | tuple):
        items = obj.values() if isinstance(obj, Mapping) else obj
        for x in items:
            tx = type(x)
            if tx is str:
                out.append(x)
            elif tx is not float and tx is not bool and x is not None:
                _texts(x, out, depth + 1)
    elif isinstance(obj, bytes | bytearray):
        out.append(bytes(obj).hex())
    elif isinstance(obj, str | int) and not isinstance(obj, bool):
        out.append(str(obj))


def record_text(record: Mapping[str, Any]) -> str:
    """The search text of an analyze record (not cached: the recorder scans each once)."""
    return _build(record, RECORD_FIELDS)


def view_text_uncached(view: ConnectionView) -> str:
    """The search text of a view: the same text as :func:`record_text` of its record
    (a test holds them equal), read from the attributes directly because the generic
    accessor table costs half the build time, and the build is the cold-cache cost."""
    v = view
    la, ra = v.local_addr, v.remote_addr
    out = [
        v.proto,
        f"[{la}]:{v.local_port}" if ":" in la else f"{la}:{v.local_port}",
        f"[{ra}]:{v.remote_port}" if ":" in ra else f"{ra}:{v.remote_port}",
        v.state,
        v.service,
    ]
    if v.remote_name is not None:
        out.append(v.remote_name)
    p = v.process
    if p is not None:
        out += (p.name, str(p.pid), p.exe, *p.cmdline, p.user)
        if p.container is not None:
            out.append(p.container.id)
    _texts(v.app, out, 0)
    if v.geo is not None:
        _texts(v.geo, out, 0)
    if v.extra:
        _texts(v.extra, out, 0)
    return "\n".join(out).lower()


class _Row:
    """What the cache keeps per connection: the view it was built from, the search text
    (built on first use) and the values of nested paths (``app.*.sni``) asked so far."""

    __slots__ = ("text", "values", "view")

    def __init__(self, view: ConnectionView) -> None:
        self.view = view
        self.text: str | None = None
        self.values: dict[str, Sequence[Any]] = {}


class SearchCache:
    """Per-connection search text and nested values, reused while the view's searched
    fields are unchanged (its app, process and geo objects, addresses, state, names).

    A lookup with the very same view object (the common case: many keystrokes on one
    snapshot) is one dict lookup and one ``is``. Bounded: past ``max_entries`` (default
    2.5 times the 20,000 rows the TUI is sized for) the oldest half is dropped, so rows of
    long-gone connections do not pin their views in memory. Safe to share between
    threads: a race only costs a rebuild.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._rows: dict[int, _Row] = {}
        self._max = max_entries
        self._lock = threading.Lock()
        self.builds = 0  # search texts built (tests and the benchmark read it)

    def _row(self, view: ConnectionView) -> _Row:
        row = self._rows.get(view.id)
        if row is not None:
            old = row.view
            if old is view:
                return row
            if _same_search_fields(old, view):
                row.view = view
                return row
        row = _Row(view)
        if len(self._rows) >= self._max:
            self._trim()
        self._rows[view.id] = row
        return row

    def text(self, view: ConnectionView) -> str:
        row = self._row(view)
        text = row.text
        if text is None:
            text = row.text = view_text_uncached(view)
            self.builds += 1
        return text

    def values(
        self, view: ConnectionView, source: str, compute: Callable[[Any], Sequence[Any]]
    ) -> Sequence[Any]:
        row = self._row(view)
        vals = row.values.get(source)
        if vals is None:
            vals = row.values[source] = tuple(compute(view))
        return vals

    def prepare(self, views: Iterable[ConnectionView]) -> int:
        """Build the search text of rows not cached yet; returns how many were built.

        A front end may call this in its worker thread when a snapshot arrives, so that
        the first keystroke after it never pays for new rows."""
        before = self.builds
        for view in views:
            self.text(view)
        return self.builds - before

    def _trim(self) -> None:
        with self._lock:
            keys = list(self._rows)
            for k in keys[: len(keys) // 2]:
                self._rows.pop(k, None)

    def clear(self) -> None:
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


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
        and _same(a.extra, b.extra)
    )


#: The cache :func:`netwatch.filters.compile` uses unless given another.
DEFAULT_CACHE = SearchCache()
