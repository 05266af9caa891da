"""A resolver with canned answers: tests, capture replay, and front ends without a host.

Real code (not a mock): it honours the same exact / listener / wildcard rules as every
other backend, because it stores its answers in the same :class:`SocketTable`.
"""

from __future__ import annotations

import time

from netwatch.attribution.base import Resolved
from netwatch.attribution.table import Endpoint, SocketTable
from netwatch.model.process import Attribution, ProcessInfo


class FakeResolver:
    """``add`` sockets with their owners; ``lookup`` answers like a live backend."""

    def __init__(self, source: str = "fake", notes: list[str] | None = None) -> None:
        self.name = source
        self.table = SocketTable()
        self._procs: dict[int, ProcessInfo] = {}
        self._notes = list(notes or [])
        self.started = False
        self.closed = False
        self.refreshes = 0
        self.lookups = 0

    def add(
        self,
        proto: str,
        local: Endpoint,
        remote: Endpoint,
        process: ProcessInfo,
        listening: bool = False,
    ) -> None:
        self._procs[process.pid] = process
        self.table.put(proto, local, remote, process.pid, listening)

    def remove(self, proto: str, local: Endpoint, remote: Endpoint) -> None:
        self.table.discard(proto, local, remote)

    def start(self) -> None:
        self.started = True

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        self.lookups += 1
        hit = self.table.lookup(proto, local, remote)
        if hit is None:
            return None
        return self._procs[hit[0]], Attribution(self.name, hit[1])

    def refresh(self) -> None:
        self.refreshes += 1

    def poll(self, timeout_ms: int) -> None:
        time.sleep(timeout_ms / 1000.0)
        self.refresh()

    def diagnose(self) -> list[str]:
        return list(self._notes)

    def close(self) -> None:
        self.closed = True
