"""The terminal UI. Only this package imports Textual.

Entry points for the command line::

    from netwatch.tui import TuiConfig, load_config, run_tui
    config = load_config(cli={"filter": args.filter, "sort": args.sort})
    return run_tui(monitor, config)

``build_app(monitor, config)`` returns the Textual app without running it (tests, snapshot
tests). ``StaticMonitor`` serves a fixed list of snapshots (``--demo``, tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netwatch.tui.config import TuiConfig, load_config
from netwatch.tui.static import StaticMonitor

if TYPE_CHECKING:
    from netwatch.model.monitor import MonitorHandle
    from netwatch.tui.app import NetwatchApp

__all__ = ["StaticMonitor", "TuiConfig", "build_app", "load_config", "run_tui"]


def build_app(monitor: MonitorHandle, config: TuiConfig | None = None) -> NetwatchApp:
    """The app for ``monitor``; key overrides from ``config.keys`` become its bindings."""
    import os

    from netwatch.tui import keys
    from netwatch.tui.app import NetwatchApp

    config = config or TuiConfig()
    cls: type[NetwatchApp] = NetwatchApp
    if config.keys:
        cls = type("NetwatchApp", (NetwatchApp,), {"BINDINGS": keys.bindings(config.keys)})
    if not config.no_color:
        return cls(monitor, config)
    # Textual reads NO_COLOR once, while the app is built: set it just for that moment.
    before = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        return cls(monitor, config)
    finally:
        if before is None:
            del os.environ["NO_COLOR"]
        else:
            os.environ["NO_COLOR"] = before


def run_tui(monitor: MonitorHandle, config: TuiConfig | None = None) -> int:
    """Run the UI until the user quits; returns the exit code. Does not stop ``monitor``."""
    app = build_app(monitor, config)
    result = app.run()
    return 0 if result is None else int(result)
