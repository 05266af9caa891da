"""Running the app headless on canned snapshots and reading what it shows."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from textual.pilot import Pilot

from netwatch.tui import TuiConfig, build_app
from netwatch.tui.app import NetwatchApp
from tests.tui.canned import FakeMonitor, snapshot


def run(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body with asyncio.run (no pytest asyncio plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


async def until(pilot: Pilot[int], cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``cond()`` holds (the worker thread needs real time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


@asynccontextmanager
async def running(
    monitor: FakeMonitor | None = None,
    config: TuiConfig | None = None,
    size: tuple[int, int] = (140, 40),
) -> AsyncIterator[tuple[NetwatchApp, Pilot[int], FakeMonitor]]:
    monitor = monitor or FakeMonitor(snapshot())
    app = build_app(monitor, config or TuiConfig())
    async with app.run_test(size=size) as pilot:
        if monitor.latest() is not None:
            await until(pilot, lambda: app.main.snapshot is not None)
        await pilot.pause()
        yield app, pilot, monitor


def column_texts(app: NetwatchApp, column: str) -> list[str]:
    """The text of one column, top to bottom, as the table would draw it."""
    table = app.main.table
    return [str(c) for c in table.get_column(column)]


def keys_in_order(app: NetwatchApp) -> list[str]:
    return list(app.main.table.order)


def status_text(app: NetwatchApp) -> str:
    from netwatch.tui.widgets.bars import StatusBar

    return str(app.main.query_one(StatusBar).render())
