"""Attribution from ``lsof -F`` output: the macOS fallback when psutil is refused.

``lsof -nP -iTCP -iUDP -F pcuftPnT`` prints one field per line, the first character
naming it (lsof(8), OUTPUT FOR OTHER PROGRAMS)::

    p1234            process set: pid
    cnginx           command (at most 15 characters on Linux, 9+ on macOS)
    u0               uid
    f6               file set: descriptor
    tIPv4            type
    PTCP             protocol
    n*:80            name: local[->remote]; IPv6 in brackets: [::1]:53
    TST=LISTEN       TCP info (repeatable)

Fields of a file set apply until the next ``f``; a ``p`` starts a new process.
"""

from __future__ import annotations

import shutil
import subprocess

from netwatch.attribution.base import BackendUnavailable, TableResolver
from netwatch.attribution.psutil_backend import PsutilCache
from netwatch.attribution.table import ANY4, ANY6, Endpoint, SocketEntry
from netwatch.model.process import ProcessInfo

LSOF_ARGS = ("-nP", "-iTCP", "-iUDP", "-F", "pcuftPnT")


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_endpoint(text: str) -> Endpoint:
    """``1.2.3.4:80`` / ``[::1]:53`` / ``*:22`` -> (address, port); ValueError if damaged."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"lsof endpoint without port: {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "*":
        host = ANY4
    if port == "*":
        return host, 0
    if not _is_number(port) or int(port) > 65535:
        raise ValueError(f"lsof endpoint with a bad port: {text!r}")
    return host, int(port)


def parse_lsof(text: str) -> tuple[list[SocketEntry], dict[int, tuple[str, int]]]:
    """Socket entries and {pid: (command, uid)} from ``lsof -F`` output."""
    entries: list[SocketEntry] = []
    procs: dict[int, tuple[str, int]] = {}
    pid = 0
    cmd = ""
    uid = -1
    file: dict[str, str] = {}

    def flush() -> None:
        if not pid or "n" not in file or file.get("P", "").lower() not in ("tcp", "udp"):
            return
        name = file["n"]
        local_text, _, remote_text = name.partition("->")
        try:
            local = parse_endpoint(local_text)
            v6 = file.get("t") == "IPv6" or ":" in local[0]
            remote = parse_endpoint(remote_text) if remote_text else (ANY6 if v6 else ANY4, 0)
        except ValueError:
            return
        if v6 and local[0] == ANY4:
            local = (ANY6, local[1])
        proto = file["P"].lower()
        listening = proto == "tcp" and file.get("TST") == "LISTEN"
        entries.append(SocketEntry(proto, local, remote, pid, listening))

    for line in text.splitlines():
        if not line:
            continue
        tag, value = line[0], line[1:]
        if tag == "p":
            flush()
            file = {}
            pid = int(value) if _is_number(value) else 0
            cmd, uid = "", -1
        elif tag == "f":
            flush()
            file = {}
        elif tag == "c":
            cmd = value
        elif tag == "u":
            uid = int(value) if _is_number(value) else -1
        elif tag == "T":
            key, _, val = value.partition("=")
            file["T" + key] = val
        else:
            file[tag] = value
        if pid:
            procs[pid] = (cmd, uid)
    flush()
    return entries, procs


class LsofResolver(TableResolver):
    """Runs ``lsof -F`` on every refresh (slow: for macOS without privileges only)."""

    name = "lsof"

    def __init__(self, lsof: str | None = None) -> None:
        super().__init__()
        self.lsof = lsof or shutil.which("lsof") or ""
        self._procs: dict[int, tuple[str, int]] = {}
        self.cache = PsutilCache()

    def start(self) -> None:
        if not self.lsof:
            raise BackendUnavailable(self.name, "lsof is not installed")
        self.refresh()

    def refresh(self) -> None:
        try:
            out = subprocess.run(
                [self.lsof, *LSOF_ARGS], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return
        entries, self._procs = parse_lsof(out)
        self.table.clear()
        for entry in entries:
            self.table.add(entry)

    def procinfo(self, pid: int) -> ProcessInfo | None:
        info = self.cache.info(pid)
        if info is not None:
            return info
        cmd, uid = self._procs.get(pid, ("", -1))
        return ProcessInfo(pid=pid, name=cmd, uid=uid) if cmd else None

    def close(self) -> None:
        self.table.clear()
