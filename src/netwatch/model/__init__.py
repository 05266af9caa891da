"""Value types shared by every layer: processes, connection views, snapshots."""

from netwatch.model.process import Attribution, ContainerInfo, ProcessInfo
from netwatch.model.snapshot import CaptureStats, ConnectionView, Snapshot

__all__ = [
    "Attribution",
    "CaptureStats",
    "ConnectionView",
    "ContainerInfo",
    "ProcessInfo",
    "Snapshot",
]
