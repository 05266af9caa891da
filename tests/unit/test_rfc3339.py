"""``rfc3339`` formats a whole second once and rounds the fraction itself: it must give
exactly what datetime gives, ties (half a microsecond) and carries into the next second
included."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.model.snapshot import rfc3339


def _datetime(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_any_timestamp(ts: float) -> None:
    assert rfc3339(ts) == _datetime(ts)


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 4_000_000_000), st.integers(0, 1_999_999))
def test_half_microsecond_ties_and_carries(sec: int, half_us: int) -> None:
    ts = sec + half_us / 2e6
    assert rfc3339(ts) == _datetime(ts)


def test_known_values() -> None:
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000000Z"
    assert rfc3339(1700000000.9999996) == "2023-11-14T22:13:21.000000Z"
    assert rfc3339(-1.5) == _datetime(-1.5)
