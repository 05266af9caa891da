"""Waiting until a capture process (netwatch, tcpdump) is armed on an interface.

A process is armed once it holds an AF_PACKET socket bound to the interface's index:
/proc/net/packet lists packet sockets (columns: sk RefCnt Type Proto Iface R Rmem User
Inode) and /proc/PID/fd links name the process's socket inodes. Tests start their traffic
only then, so the first connection is never half-captured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


def packet_socket_bound(pid: int, ifindex: int) -> bool:
    """True once ``pid`` holds an AF_PACKET socket bound to ``ifindex``."""
    try:
        lines = Path("/proc/net/packet").read_text().splitlines()[1:]
        bound = {f[8] for f in (line.split() for line in lines) if int(f[4]) == ifindex}
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            link = os.readlink(fd)
            if link.startswith("socket:[") and link[8:-1] in bound:
                return True
    except (OSError, IndexError, ValueError):
        return False
    return False


def wait_armed(proc: subprocess.Popen[bytes], iface: str, timeout: float = 20.0) -> None:
    """Block until ``proc`` captures on ``iface`` (it sets up its ring and filter first)."""
    ifindex = socket.if_nametoindex(iface)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if packet_socket_bound(proc.pid, ifindex):
            time.sleep(0.2)  # the ring and filter are set up before the bind
            return
        if proc.poll() is not None:
            raise AssertionError(f"capture exited early: {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError("capture did not start")
