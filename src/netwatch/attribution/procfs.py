"""Process details from procfs (proc(5)): ``/proc/PID/{stat,status,cmdline,exe,cgroup}``.

``stat`` is ``pid (comm) state ppid ...``; ``comm`` may itself hold spaces and ``)``, so
the fields are split after the *last* ``)``. Field 22 (starttime, in clock ticks since
boot) tells a recycled pid from the process that held it before, so the cache is keyed
by (pid, starttime).

``comm`` is cut at 15 characters; when it is a prefix of the executable's or argv[0]'s
basename, that longer name is shown instead (so ``a-thirty-character-process-nam``
is not shown as ``a-thirty-charac``).

Races are normal: a process that exits mid-read yields None, never an exception.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Callable
from functools import lru_cache

from netwatch.attribution.container import parse_cgroup
from netwatch.model.process import ProcessInfo

MAX_ANCESTORS = 8
COMM_MAX = 15
RECHECK_SECONDS = 1.0
MAX_CACHED = 16384


@lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    """The login name of ``uid``, or the number as text when it has none."""
    if uid < 0:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def parse_stat(text: str) -> tuple[str, int, int]:
    """(comm, ppid, starttime) from a ``/proc/PID/stat`` line; ValueError when damaged."""
    open_, close = text.find("("), text.rfind(")")
    if open_ < 0 or close < open_:
        raise ValueError("stat: no (comm)")
    fields = text[close + 2 :].split()
    if len(fields) < 20:
        raise ValueError("stat: too few fields")
    return text[open_ + 1 : close], int(fields[1]), int(fields[19])


def full_name(comm: str, exe: str, cmdline: tuple[str, ...]) -> str:
    """``comm`` unless it was truncated and a longer name starts with it."""
    if len(comm) < COMM_MAX:
        return comm
    for candidate in (cmdline[0] if cmdline else "", exe):
        base = os.path.basename(candidate.split(" ", 1)[0]) if candidate else ""
        if base.startswith(comm):
            return base
    return comm


class ProcReader:
    """Reads and caches :class:`ProcessInfo` from a procfs tree (``root``, for tests)."""

    def __init__(
        self,
        root: str = "/proc",
        max_ancestors: int = MAX_ANCESTORS,
        recheck: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.max_ancestors = max_ancestors
        self.recheck = recheck
        self.clock = clock
        # pid -> (starttime, info, when the pid was last seen alive with that starttime)
        self._cache: dict[int, tuple[int, ProcessInfo, float]] = {}

    def _read(self, pid: int, name: str) -> str:
        with open(f"{self.root}/{pid}/{name}", encoding="utf-8", errors="replace") as f:
            return f.read()

    def stat(self, pid: int) -> tuple[str, int, int] | None:
        try:
            return parse_stat(self._read(pid, "stat"))
        except (OSError, ValueError):
            return None

    def _uid(self, pid: int) -> int:
        try:
            for line in self._read(pid, "status").splitlines():
                if line.startswith("Uid:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return -1

    def _exe(self, pid: int) -> str:
        try:
            exe = os.readlink(f"{self.root}/{pid}/exe")
        except OSError:
            return ""
        return exe.removesuffix(" (deleted)")

    def _cmdline(self, pid: int) -> tuple[str, ...]:
        try:
            raw = self._read(pid, "cmdline")
        except OSError:
            return ()
        return tuple(raw.rstrip("\0").split("\0")) if raw else ()

    def info(self, pid: int) -> ProcessInfo | None:
        """The process ``pid`` now, or None when it is gone.

        A process confirmed alive less than ``recheck`` seconds ago is served from the
        cache without touching /proc (lookups stay at dict speed); after that its stat
        is read again, which also catches a recycled pid (a new start time).
        """
        now = self.clock()
        hit = self._cache.get(pid)
        if hit is not None and now - hit[2] < self.recheck:
            return hit[1]
        st = self.stat(pid)
        if st is None:
            self._cache.pop(pid, None)
            return None
        comm, ppid, start = st
        if hit is not None and hit[0] == start:
            self._cache[pid] = (start, hit[1], now)
            return hit[1]
        exe = self._exe(pid)
        cmdline = self._cmdline(pid)
        uid = self._uid(pid)
        try:
            container = parse_cgroup(self._read(pid, "cgroup"))
        except OSError:
            container = None
        info = ProcessInfo(
            pid=pid,
            name=full_name(comm, exe, cmdline),
            exe=exe,
            cmdline=cmdline,
            user=user_name(uid),
            uid=uid,
            ppid=ppid,
            ancestors=self.ancestors(ppid),
            container=container,
        )
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()  # dead pids are never asked about again: start over
        self._cache[pid] = (start, info, now)
        return info

    def ancestors(self, ppid: int) -> tuple[tuple[int, str], ...]:
        """(pid, name) from the parent up, at most ``max_ancestors``, stopping at pid 0."""
        out: list[tuple[int, str]] = []
        seen: set[int] = set()
        pid = ppid
        while pid > 0 and pid not in seen and len(out) < self.max_ancestors:
            seen.add(pid)
            st = self.stat(pid)
            if st is None:
                break
            out.append((pid, st[0]))
            pid = st[1]
        return tuple(out)

    def pids(self) -> list[int]:
        try:
            return [int(n) for n in os.listdir(self.root) if n.isdigit()]
        except OSError:
            return []
