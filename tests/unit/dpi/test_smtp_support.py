"""Shared helpers of the mail / file-transfer / remote-login analyzer tests.

``replay`` feeds one flow's chunks the way the tracker does (stopping at ``finished`` or
``handoff``) in three shapes, h11-style: as captured, with each run of same-direction
chunks joined into one feed, and one byte at a time. ``fuzz_only_malformed`` checks that
arbitrary input raises nothing but ``MalformedError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Analyzer, AppEvent, Dir
from netwatch.errors import MalformedError
from tests.util.streams import Flow, flows_of

Chunks = list[tuple[int, bytes, float]]
SHAPES = ("captured", "joined", "bytewise")


def tcp_flows(path: Path, detect: Callable[[bytes], bool]) -> list[Flow]:
    """The TCP flows whose first payload (either direction) the detector accepts."""
    return [
        f
        for f in flows_of(path)
        if f.transport == "tcp" and f.chunks and detect(f.chunks[0][1][:64])
    ]


def reshape(chunks: Chunks, shape: str) -> Chunks:
    if shape == "captured":
        return chunks
    if shape == "joined":
        out: Chunks = []
        for d, data, ts in chunks:
            if out and out[-1][0] == d:
                out[-1] = (d, out[-1][1] + data, out[-1][2])
            else:
                out.append((d, data, ts))
        return out
    return [(d, data[i : i + 1], ts) for d, data, ts in chunks for i in range(len(data))]


def replay(
    analyzer: Analyzer, chunks: Iterable[tuple[int, bytes, float]], shape: str = "captured"
) -> list[AppEvent]:
    """Feed like the tracker: stop once the analyzer is finished or hands over."""
    events: list[AppEvent] = []
    for d, data, ts in reshape(list(chunks), shape):
        if analyzer.finished or analyzer.handoff:
            break
        events.extend(analyzer.feed(Dir(d), data, ts))
    return events


def script(*steps: tuple[int, bytes]) -> Chunks:
    return [(d, data, float(i)) for i, (d, data) in enumerate(steps)]


def fuzz_only_malformed(
    factory: Callable[[], Analyzer], prefix: Chunks | None = None
) -> Callable[[], None]:
    """A hypothesis test: after ``prefix``, random chunks raise only MalformedError."""

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=12))
    def run(steps: list[tuple[int, bytes]]) -> None:
        a = factory()
        try:
            replay(a, prefix or [])
            for d, data in steps:
                if a.finished or a.handoff:
                    break
                a.feed(Dir(d), data, 0.0)
            a.gap(Dir.CLIENT, 10)
            rec: Any = a.record()
            assert isinstance(rec, dict)
            assert isinstance(a.summary(), str)
        except MalformedError:
            pass

    return run
