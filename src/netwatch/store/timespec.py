"""Times and sizes on the recorder's command lines: ``--since 2h``, RFC 3339, ``10G``.

A time is an RFC 3339 timestamp (``2024-05-01T12:00:00Z``, ``2024-05-01T14:00:00+02:00``;
without an offset it is UTC), a date (``2024-05-01``, midnight UTC), seconds since the
epoch (``1714564800``), ``now``, or an age before now: a number with a unit ``s m h d w``
(``90s``, ``15m``, ``2h``, ``7d``). Sizes are bytes with the filter language's units
(``500M``, ``10G``, ``2Gi``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from netwatch.errors import FilterSyntaxError, UsageError
from netwatch.filters.values import parse_number

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\Z", re.IGNORECASE)
_AGE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_EPOCH = re.compile(r"\d{9,11}(?:\.\d+)?\Z")


def parse_age(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``7d``, ``2w`` → seconds."""
    m = _AGE.match(text.strip())
    if m is None:
        raise UsageError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 7d, 2w)")
    return float(m.group(1)) * _AGE_UNITS[m.group(2).lower()]


def parse_time(text: str, now: float) -> float:
    """A point in time as seconds since the epoch (see the module docstring)."""
    t = text.strip()
    if t.lower() == "now":
        return now
    if _AGE.match(t):
        return now - parse_age(t)
    if _EPOCH.match(t):
        return float(t)
    try:
        dt = datetime.fromisoformat(t.replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time (RFC 3339 like 2024-05-01T12:00:00Z, a date, "
            "epoch seconds, or an age like 2h)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_size(text: str) -> int:
    """``500M``, ``10G``, ``2Gi`` → bytes (at least one page)."""
    try:
        n = parse_number(text, "bytes", 0)
    except FilterSyntaxError as exc:
        raise UsageError(f"{text!r} is not a size (e.g. 500M, 10G, 2Gi): {exc}") from None
    if n < 4096:
        raise UsageError(f"{text!r}: a store needs more than 4 KiB")
    return int(n)
