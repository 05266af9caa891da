"""Attribution through psutil: the portable backend (macOS, Windows, BSD).

On Linux it is the last resort: ``psutil.net_connections`` rereads every ``/proc/PID/fd``
on each call, where the sockdiag backend keeps an incremental index.
Process details come from psutil too, cached by (pid, create_time) so a recycled pid is
not mistaken for the process that held it before.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil

from netwatch.attribution.base import BackendUnavailable, TableResolver
from netwatch.attribution.container import parse_cgroup
from netwatch.attribution.procfs import MAX_ANCESTORS, RECHECK_SECONDS, full_name
from netwatch.attribution.table import ANY4, ANY6, SocketEntry
from netwatch.model.process import ProcessInfo

if TYPE_CHECKING:
    from psutil._ntuples import sconn

_PROTO = {1: "tcp", 2: "udp"}  # socket.SOCK_STREAM / SOCK_DGRAM


def entries_from_psutil(conns: list[sconn]) -> list[SocketEntry]:
    """Socket entries from ``psutil.net_connections`` rows (rows without pid skipped)."""
    out: list[SocketEntry] = []
    for c in conns:
        proto = _PROTO.get(int(c.type))
        if proto is None or not c.pid or not c.laddr:
            continue
        any_addr = ANY6 if ":" in c.laddr[0] else ANY4
        remote = (c.raddr[0], c.raddr[1]) if c.raddr else (any_addr, 0)
        listening = proto == "tcp" and c.status == psutil.CONN_LISTEN
        out.append(SocketEntry(proto, (c.laddr[0], c.laddr[1]), remote, c.pid, listening))
    return out


def psutil_process(pid: int) -> ProcessInfo | None:
    """A :class:`ProcessInfo` read through psutil; None when the process is gone."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            comm = p.name()
            try:
                exe = p.exe()
            except (psutil.AccessDenied, psutil.ZombieProcess):
                exe = ""
            try:
                cmdline = tuple(p.cmdline())
            except (psutil.AccessDenied, psutil.ZombieProcess):
                cmdline = ()
            try:
                user = p.username()
            except (psutil.AccessDenied, KeyError):
                user = ""
            uid = p.uids().real if hasattr(psutil.Process, "uids") else -1
            ppid = p.ppid()
        ancestors = tuple((a.pid, a.name()) for a in p.parents()[:MAX_ANCESTORS])
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return ProcessInfo(pid=pid, name=str(pid))
    container = None
    if psutil.LINUX:
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
                container = parse_cgroup(f.read())
        except OSError:
            pass
    return ProcessInfo(
        pid=pid,
        name=full_name(comm, exe, cmdline),
        exe=exe,
        cmdline=cmdline,
        user=user,
        uid=uid,
        ppid=ppid,
        ancestors=ancestors,
        container=container,
    )


class PsutilCache:
    """:func:`psutil_process` cached by (pid, create_time); a pid confirmed alive less
    than ``recheck`` seconds ago is served without asking the OS again."""

    def __init__(self, recheck: float = RECHECK_SECONDS) -> None:
        self.recheck = recheck
        self._cache: dict[int, tuple[float, ProcessInfo, float]] = {}

    def info(self, pid: int) -> ProcessInfo | None:
        now = time.monotonic()
        hit = self._cache.get(pid)
        if hit is not None and now - hit[2] < self.recheck:
            return hit[1]
        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            self._cache.pop(pid, None)
            return None
        if hit is not None and hit[0] == created:
            self._cache[pid] = (created, hit[1], now)
            return hit[1]
        info = psutil_process(pid)
        if info is not None:
            self._cache[pid] = (created, info, now)
        return info


class PsutilResolver(TableResolver):
    """``psutil.net_connections`` polled on every refresh."""

    name = "psutil"

    def __init__(self) -> None:
        super().__init__()
        self.cache = PsutilCache()

    def procinfo(self, pid: int) -> ProcessInfo | None:
        return self.cache.info(pid)

    def start(self) -> None:
        try:
            psutil.net_connections(kind="inet")
        except psutil.AccessDenied as exc:
            raise BackendUnavailable(
                self.name, "psutil cannot list sockets without privileges (run as root)"
            ) from exc
        self.refresh()

    def refresh(self) -> None:
        try:
            conns = psutil.net_connections(kind="inet")
        except psutil.Error:
            return
        self.table.clear()
        for entry in entries_from_psutil(conns):
            self.table.add(entry)

    def close(self) -> None:
        self.table.clear()
