"""Socket inode -> pid, from the ``socket:[INODE]`` links in ``/proc/PID/fd``.

Reading every fd link of every process each tick is what makes naive tools slow (10,000
sockets = 10,000 readlink calls). This index is incremental:

* a pid seen for the first time is scanned once;
* a known pid is rescanned only when its fd count changed. Since Linux 6.2 ``stat()`` of
  ``/proc/PID/fd`` reports the number of open fds in ``st_size``, one cheap call per pid;
  on older kernels (``st_size == 0``) the directory is listed instead;
* an inode the socket table has but the index lacks (a pid that closed one fd and opened
  another, same count) triggers a full rescan, at most once per ``full_every`` seconds;
  an inode that a full rescan could not find never triggers one again.
"""

from __future__ import annotations

import os
import time


class InodeIndex:
    """Maps socket inodes to the tgid holding them (the first holder, if shared)."""

    def __init__(
        self, root: str = "/proc", full_every: float = 2.0, count_by_stat: bool | None = None
    ) -> None:
        self.root = root
        # st_size means "open fds" only on a real procfs (a test tree's directories have
        # filesystem sizes): trust it when /proc/self/fd reports a count.
        if count_by_stat is None:
            count_by_stat = root == "/proc" and os.stat("/proc/self/fd").st_size > 0
        self.count_by_stat = count_by_stat
        self.full_every = full_every
        self._by_inode: dict[int, int] = {}
        self._pid_inodes: dict[int, list[int]] = {}
        self._pid_fds: dict[int, int] = {}
        self._last_full = 0.0
        self._given_up: set[int] = set()
        self.scanned_pids = 0  # counters, for the benchmark and diagnose
        self.full_rescans = 0

    def get(self, inode: int) -> int | None:
        return self._by_inode.get(inode)

    def _fd_count(self, pid: int) -> int:
        path = f"{self.root}/{pid}/fd"
        if self.count_by_stat:
            return os.stat(path).st_size
        return len(os.listdir(path))

    def _scan(self, pid: int) -> None:
        fd_dir = f"{self.root}/{pid}/fd"
        inodes: list[int] = []
        try:
            # Counted the way refresh() counts (before listing: listing our own fd dir
            # opens one more fd).
            count = self._fd_count(pid)
            names = os.listdir(fd_dir)
        except OSError:
            count, names = 0, []
        for name in names:
            try:
                link = os.readlink(f"{fd_dir}/{name}")
            except OSError:
                continue  # closed meanwhile
            if link.startswith("socket:["):
                inodes.append(int(link[8:-1]))
        self.scanned_pids += 1
        for inode in self._pid_inodes.get(pid, ()):
            if self._by_inode.get(inode) == pid:
                del self._by_inode[inode]
        self._pid_inodes[pid] = inodes
        self._pid_fds[pid] = count
        for inode in inodes:
            self._by_inode.setdefault(inode, pid)

    def _drop(self, pid: int) -> None:
        for inode in self._pid_inodes.pop(pid, ()):
            if self._by_inode.get(inode) == pid:
                del self._by_inode[inode]
        self._pid_fds.pop(pid, None)

    def refresh(self, wanted: set[int] | None = None, now: float | None = None) -> None:
        """Bring the index up to date; ``wanted``: inodes that must resolve if possible."""
        now = time.monotonic() if now is None else now
        try:
            pids = {int(n) for n in os.listdir(self.root) if n.isdigit()}
        except OSError:
            return
        if not self._pid_fds:
            self._last_full = now  # the first pass is a full scan already
        for pid in [p for p in self._pid_fds if p not in pids]:
            self._drop(pid)
        for pid in pids:
            known = self._pid_fds.get(pid)
            if known is not None:
                try:
                    if self._fd_count(pid) == known:
                        continue
                except OSError:
                    self._drop(pid)
                    continue
            self._scan(pid)
        if wanted and now - self._last_full >= self.full_every:
            # Inodes a full scan already failed to find (kernel-held sockets, ones being
            # closed, other pid namespaces) do not trigger another: only new ones do.
            self._given_up &= wanted
            missing = [i for i in wanted if i not in self._by_inode and i not in self._given_up]
            if missing:
                self._last_full = now
                self.full_rescans += 1
                for pid in pids:
                    self._scan(pid)
                self._given_up.update(i for i in missing if i not in self._by_inode)
