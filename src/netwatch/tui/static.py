"""A :class:`~netwatch.model.monitor.MonitorHandle` serving a fixed list of snapshots.

Used by ``--demo``, by ``python -m netwatch.tui.demo`` and by tests: a real implementation
of the handle, not a mock. Snapshots are released one per ``interval`` seconds (0 = all at
once); ``loop`` replays the list forever with increasing sequence numbers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from netwatch.model.snapshot import Snapshot


class StaticMonitor:
    """Publishes ``snapshots`` in order, as an engine would, honouring pause and clear."""

    def __init__(
        self, snapshots: Sequence[Snapshot], interval: float = 0.0, loop: bool = False
    ) -> None:
        if not snapshots:
            raise ValueError("StaticMonitor needs at least one snapshot")
        self._source = tuple(snapshots)
        self._interval = interval
        self._loop = loop
        self._cond = threading.Condition()
        self._published: Snapshot | None = None
        self._index = 0
        self._paused = False
        self._stopped = False
        self._speed = 1.0
        self._cleared_seq = -1
        self._next_due = time.monotonic()
        self.clear_calls = 0

    def _advance(self) -> None:
        """Publish every snapshot now due (caller holds the lock)."""
        now = time.monotonic()
        while not self._paused and not self._stopped and now >= self._next_due:
            if self._index >= len(self._source):
                if not self._loop:
                    return
                self._index = 0
            base = self._source[self._index]
            seq = (self._published.seq + 1) if self._published else base.seq
            snap = replace(base, seq=seq)
            if self._cleared_seq >= 0:
                snap = replace(snap, closed=())
            self._published = snap
            self._index += 1
            if self._interval <= 0:
                if self._index >= len(self._source) and not self._loop:
                    return
                continue
            step = self._interval / self._speed if self._speed > 0 else 0.0
            self._next_due += step
            if self._next_due < now - 1.0:  # fell far behind (paused): do not burst
                self._next_due = now + step

    def latest(self) -> Snapshot | None:
        with self._cond:
            self._advance()
            return self._published

    def wait_next(self, after_seq: int, timeout: float) -> Snapshot | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._advance()
                if self._published is not None and self._published.seq > after_seq:
                    return self._published
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopped:
                    return None
                wait = remaining
                if not self._paused:
                    wait = min(wait, max(0.001, self._next_due - time.monotonic()))
                self._cond.wait(wait)

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            if self._paused and not paused:
                self._next_due = time.monotonic()
            self._paused = paused
            self._cond.notify_all()

    def set_speed(self, speed: float) -> None:
        with self._cond:
            self._speed = max(0.0, speed)
            self._cond.notify_all()

    def clear_closed(self) -> None:
        with self._cond:
            self.clear_calls += 1
            self._cleared_seq = self._published.seq if self._published else 0
            if self._published is not None:
                self._published = replace(self._published, seq=self._published.seq + 1, closed=())
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
