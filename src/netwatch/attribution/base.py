"""The process-resolver contract: socket 5-tuple in, owning process out.

The engine calls ``lookup`` off the packet path for each new connection (and again,
later, for rows still unattributed), so it only reads caches; ``refresh`` runs
periodically on the engine's worker thread and does the I/O, incrementally where the
backend allows. Backends (see ``choose.py`` for the order they are tried in):

    ebpf      kernel events from cgroup sock_addr hooks, tracepoints and an iterator
    sockdiag  netlink inet_diag socket table + /proc/PID/fd inode index (Linux)
    procfs    the same from /proc/net/{tcp,udp}[6] text tables (Linux without sock_diag)
    psutil    psutil.net_connections (macOS, Windows, BSD; last resort on Linux)
    lsof      ``lsof -F`` (macOS, when psutil cannot see other users' sockets)
    fake      canned answers, for tests and capture replay
"""

from __future__ import annotations

import time
from typing import Protocol

from netwatch.attribution.procfs import ProcReader
from netwatch.attribution.table import Endpoint, SocketTable
from netwatch.model.process import Attribution, ProcessInfo

Resolved = tuple[ProcessInfo, Attribution]


class ProcessResolver(Protocol):
    """One attribution backend. Chosen once by :func:`netwatch.attribution.choose_resolver`."""

    #: ebpf | sockdiag | procfs | psutil | lsof | fake: the ``Attribution.source`` it reports.
    name: str

    def start(self) -> None:
        """Acquire resources (load programs, open sockets) and take a first snapshot.

        Raises :class:`netwatch.attribution.base.BackendUnavailable` with the reason and
        the fix when this backend cannot run here.
        """

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        """The owner of the ``proto`` ("tcp"/"udp") socket ``local`` <-> ``remote``."""

    def refresh(self) -> None:
        """Catch up with the system (periodic; incremental where possible)."""

    def poll(self, timeout_ms: int) -> None:
        """Wait for news (kernel events) up to ``timeout_ms``, then refresh if due.

        The engine's attribution thread calls only this, in a loop; ``poll`` and
        ``refresh`` run on that one thread, while ``lookup`` may run on another.
        """

    def diagnose(self) -> list[str]:
        """Why better backends are not active, each with the exact fix."""

    def close(self) -> None:
        """Release everything ``start`` acquired. Idempotent."""


class BackendUnavailable(Exception):
    """A backend cannot run on this host; ``reason`` says why and how to fix it."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason


class TableResolver:
    """Shared ``lookup`` of the polling backends: a :class:`SocketTable` plus procfs.

    A subclass fills ``self.table`` in ``refresh``; ``procinfo`` turns a pid into a
    :class:`ProcessInfo` (procfs on Linux, psutil elsewhere).
    """

    name = "table"

    def __init__(self, proc: ProcReader | None = None) -> None:
        self.table = SocketTable()
        self.proc = proc if proc is not None else ProcReader()
        self.notes: list[str] = []

    #: Seconds between refreshes when polled (polling backends have no events to wait for).
    poll_interval = 1.0
    _last_poll = 0.0

    def poll(self, timeout_ms: int) -> None:
        """Sleep up to ``timeout_ms``; refresh once per ``poll_interval``."""
        now = time.monotonic()
        due = self._last_poll + self.poll_interval
        if now < due:
            time.sleep(min(due - now, timeout_ms / 1000.0))
            if time.monotonic() < due:
                return
        self._last_poll = time.monotonic()
        self.refresh()

    def refresh(self) -> None:
        """Subclasses fill ``self.table`` here."""

    def procinfo(self, pid: int) -> ProcessInfo | None:
        return self.proc.info(pid)

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        hit = self.table.lookup(proto, local, remote)
        if hit is None:
            return None
        info = self.procinfo(hit[0])
        if info is None:
            return None
        return info, Attribution(self.name, hit[1])

    def diagnose(self) -> list[str]:
        return list(self.notes)
