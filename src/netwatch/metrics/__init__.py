"""Prometheus metrics read from the engine's snapshots at scrape time (``--metrics``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netwatch import lazy

if TYPE_CHECKING:
    from netwatch.metrics.collector import NetwatchCollector
    from netwatch.metrics.outputs import Outputs
    from netwatch.metrics.recorder import RecorderSample, RecorderStats, StoreFiles
    from netwatch.metrics.server import MetricsServer, parse_listen
    from netwatch.metrics.talkers import top_remotes
    from netwatch.metrics.totals import FlowTotals

__all__ = [
    "FlowTotals",
    "MetricsServer",
    "NetwatchCollector",
    "Outputs",
    "RecorderSample",
    "RecorderStats",
    "StoreFiles",
    "parse_listen",
    "top_remotes",
]

# Imported on first use (netwatch.lazy): start-up pays only for what a command uses.
__getattr__ = lazy.exports(
    __name__,
    {
        "NetwatchCollector": "netwatch.metrics.collector",
        "Outputs": "netwatch.metrics.outputs",
        "RecorderSample": "netwatch.metrics.recorder",
        "RecorderStats": "netwatch.metrics.recorder",
        "StoreFiles": "netwatch.metrics.recorder",
        "MetricsServer": "netwatch.metrics.server",
        "parse_listen": "netwatch.metrics.server",
        "top_remotes": "netwatch.metrics.talkers",
        "FlowTotals": "netwatch.metrics.totals",
    },
)
