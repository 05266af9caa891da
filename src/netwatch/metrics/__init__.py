"""Prometheus metrics read from the engine's snapshots at scrape time (``--metrics``)."""

from __future__ import annotations

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
