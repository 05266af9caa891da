"""SVG snapshots of every screen at 80x24 and 200x50 (pytest-textual-snapshot).

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from netwatch.tui import TuiConfig, build_app
from tests.tui.canned import FakeMonitor, scaled, snapshot
from tests.tui.helpers import until

SIZES = [(80, 24), (200, 50)]
SCREENS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "details": ("down", "down", "enter"),
    "processes": ("3",),
    "graphs": ("4",),
    "help": ("h",),
    "filter": ("slash", *"process:firefox", "down"),
    "filter_error": ("slash", *"port:99999"),
    "grouped_closed": ("a", "t"),
}


def _prepare(keys: tuple[str, ...], monitor: FakeMonitor) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        await until(pilot, lambda: app.main.snapshot is not None)
        base = snapshot()
        for seq, factor in enumerate((0.5, 1.5, 0.8, 2.0, 1.2, 1.0), start=2):
            monitor.publish(scaled(base, seq, factor))
            await until(pilot, lambda s=seq: app.main.snapshot.seq == s)
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    monitor = FakeMonitor(snapshot())
    app = build_app(monitor, TuiConfig(refresh_rate=50.0))
    assert snap_compare(app, terminal_size=size, run_before=_prepare(SCREENS[screen], monitor))


def test_tiny_terminal(snap_compare: Any) -> None:
    monitor = FakeMonitor(snapshot())
    app = build_app(monitor, TuiConfig())
    assert snap_compare(app, terminal_size=(40, 10), run_before=_prepare((), monitor))
