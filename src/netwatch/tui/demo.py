"""``python -m netwatch.tui.demo``: the TUI on canned connections, no capture needed.

Options: ``--filter EXPR``, ``--interval SECONDS`` (between frames, default 1),
``--once`` (stop after the last frame instead of looping).
"""

from __future__ import annotations

import argparse

from netwatch.tui import StaticMonitor, load_config, run_tui
from netwatch.tui.demo_data import frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netwatch.tui.demo")
    parser.add_argument("--filter", default=None)
    parser.add_argument("--sort", default=None)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    monitor = StaticMonitor(frames(), interval=args.interval, loop=not args.once)
    config = load_config(cli={"filter": args.filter, "sort": args.sort})
    try:
        return run_tui(monitor, config)
    finally:
        monitor.stop()


if __name__ == "__main__":
    raise SystemExit(main())
