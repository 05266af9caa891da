"""What a front end (TUI, web, metrics) holds: a handle on a running engine.

Front ends never touch the engine's tables. They read immutable snapshots and send a few
commands. Tests and the TUI's snapshot tests use a fake implementing this Protocol.
"""

from __future__ import annotations

from typing import Protocol

from netwatch.model.snapshot import Snapshot


class MonitorHandle(Protocol):
    def latest(self) -> Snapshot | None:
        """The newest published snapshot (None before the first)."""
        ...

    def wait_next(self, after_seq: int, timeout: float) -> Snapshot | None:
        """Block (in a worker thread) until a snapshot newer than ``after_seq`` exists."""
        ...

    def set_paused(self, paused: bool) -> None:
        """Replay: pause/resume the capture clock. Live: no effect on capture."""
        ...

    def set_speed(self, speed: float) -> None:
        """Replay speed factor (1.0 = recorded speed, 0 = as fast as possible)."""
        ...

    def clear_closed(self) -> None:
        """Forget the history of closed connections."""
        ...

    def stop(self) -> None:
        """Stop capture and the engine's threads."""
        ...
