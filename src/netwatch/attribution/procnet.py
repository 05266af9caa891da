"""The socket tables in ``/proc/net/{tcp,tcp6,udp,udp6}`` (proc(5)): the fallback when
netlink sock_diag is not available (some sandboxes), joined to pids like sockdiag.

One line per socket after a header (cut at the inode column here)::

  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345

An address is the kernel's ``__be32`` words printed as host integers (``%08X``), so on a
little-endian machine each 4-byte group reads backwards: ``0100007F`` is 127.0.0.1. The
port is printed in host order (``0CEA`` = 3306); ``st`` is the TCP state in hex (``0A``
LISTEN, ``01`` ESTABLISHED; UDP shows ``07`` unconnected, ``01`` connected).
"""

from __future__ import annotations

import socket
import sys

from netwatch.attribution.base import BackendUnavailable, TableResolver
from netwatch.attribution.inodes import InodeIndex
from netwatch.attribution.procfs import ProcReader
from netwatch.attribution.table import SocketEntry
from netwatch.errors import MalformedError

TABLES: tuple[tuple[str, str], ...] = (("tcp", "tcp"), ("tcp", "tcp6"), ("udp", "udp"),
                                       ("udp", "udp6"))  # fmt: skip
TCP_LISTEN = 0x0A

ProcNetRow = tuple[int, int, tuple[str, int], tuple[str, int]]  # inode, state, local, remote


def decode_address(text: str, byteorder: str = sys.byteorder) -> tuple[str, int]:
    """``0100007F:0CEA`` -> ("127.0.0.1", 3306); MalformedError when damaged."""
    addr, sep, port = text.partition(":")
    if not sep or len(addr) not in (8, 32) or len(port) != 4:
        raise MalformedError("proc-net", f"address {text!r}")
    try:
        raw = bytes.fromhex(addr)
        number = int(port, 16)
    except ValueError as exc:
        raise MalformedError("proc-net", f"address {text!r}") from exc
    if byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), number


def parse_proc_net(text: str, byteorder: str = sys.byteorder) -> list[ProcNetRow]:
    """(inode, state, local, remote) for each socket line; the header is skipped.

    Lines of sockets without an owning file (inode 0: TIME_WAIT, SYN_RECV) are left out.
    """
    rows: list[ProcNetRow] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            if fields:
                raise MalformedError("proc-net", f"short line {line.strip()[:40]!r}")
            continue
        try:
            state = int(fields[3], 16)
            inode = int(fields[9])
        except ValueError as exc:
            raise MalformedError("proc-net", f"line {line.strip()[:40]!r}") from exc
        if inode:
            local = decode_address(fields[1], byteorder)
            remote = decode_address(fields[2], byteorder)
            rows.append((inode, state, local, remote))
    return rows


class ProcNetResolver(TableResolver):
    """``/proc/net`` socket tables joined to pids through ``/proc/PID/fd``."""

    name = "procfs"

    def __init__(self, proc_root: str = "/proc") -> None:
        super().__init__(ProcReader(proc_root))
        self.inodes = InodeIndex(proc_root)
        self._known: dict[tuple[int, int], SocketEntry] = {}
        self.malformed = 0

    def start(self) -> None:
        try:
            with open(f"{self.proc.root}/net/tcp", encoding="ascii"):
                pass
        except OSError as exc:
            raise BackendUnavailable(self.name, f"cannot read /proc/net/tcp ({exc})") from exc
        self.refresh()

    def refresh(self) -> None:
        seen: dict[tuple[int, int], SocketEntry] = {}
        for proto, table in TABLES:
            try:
                with open(f"{self.proc.root}/net/{table}", encoding="ascii") as f:
                    rows = parse_proc_net(f.read())
            except OSError:
                continue  # no IPv6 on this host
            except MalformedError:
                self.malformed += 1
                continue
            for inode, state, local, remote in rows:
                key = (inode, state)
                entry = self._known.get(key)
                if entry is None:
                    listening = proto == "tcp" and state == TCP_LISTEN
                    entry = SocketEntry(proto, local, remote, 0, listening)
                seen[key] = entry
        for key in self._known.keys() - seen.keys():
            old = self._known[key]
            self.table.discard(old.proto, old.local, old.remote)
        self.inodes.refresh({k[0] for k, e in seen.items() if not e.pid})
        for key, entry in seen.items():
            if entry.pid:
                continue
            pid = self.inodes.get(key[0])
            if pid is not None:
                entry = SocketEntry(entry.proto, entry.local, entry.remote, pid, entry.listening)
                seen[key] = entry
                self.table.add(entry)
        self._known = seen

    def diagnose(self) -> list[str]:
        out = list(self.notes)
        if self.malformed:
            out.append(f"procfs: {self.malformed} unreadable /proc/net tables")
        return out

    def close(self) -> None:
        self.table.clear()
