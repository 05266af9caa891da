"""The Linux socket table over netlink ``NETLINK_SOCK_DIAG`` (sock_diag(7), inet_diag.h).

One ``SOCK_DIAG_BY_FAMILY`` dump per (family, protocol): AF_INET/AF_INET6 x TCP/UDP.
Request: ``nlmsghdr`` + ``inet_diag_req_v2`` (56 bytes). Each reply message is
``nlmsghdr`` (16) + ``inet_diag_msg`` (72) + attributes we do not ask for::

    0   family u8, state u8, timer u8, retrans u8
    4   id.sport be16, id.dport be16, id.src[16], id.dst[16], id.if u32, id.cookie[8]
    52  expires u32, rqueue u32, wqueue u32, uid u32, inode u32

The parse is done here with ``struct`` rather than pyroute2's message classes: pyroute2
decodes every reply into nested Python objects (about 50 us a socket, 0.5 s for 10,000),
while this reads 88 fixed bytes, and skips even that for an (inode, state) seen on the
previous refresh (``benchmarks/attribution.py`` measures both).

Owners come from :class:`netwatch.attribution.inodes.InodeIndex`.
"""

from __future__ import annotations

import os
import socket
import struct

from netwatch.attribution.base import BackendUnavailable, TableResolver
from netwatch.attribution.inodes import InodeIndex
from netwatch.attribution.procfs import ProcReader
from netwatch.attribution.table import SocketEntry
from netwatch.errors import MalformedError

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
TCP_CLOSE = 7

# Every TCP state but SYN_RECV (3) and TIME_WAIT (6), which have no owning file.
TCP_STATES = sum(1 << s for s in range(1, 12) if s not in (3, 6))
ALL_STATES = 0xFFFFFFFF

DUMPS: tuple[tuple[str, int, int, int], ...] = (
    ("tcp", socket.AF_INET, socket.IPPROTO_TCP, TCP_STATES),
    ("tcp", socket.AF_INET6, socket.IPPROTO_TCP, TCP_STATES),
    ("udp", socket.AF_INET, socket.IPPROTO_UDP, ALL_STATES),
    ("udp", socket.AF_INET6, socket.IPPROTO_UDP, ALL_STATES),
)

_NLH = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBxI48x")
# family, state, sport(be), dport(be), src, dst  (offsets relative to the message body)
_MSG = struct.Struct("=BBxx2s2s16s16s")
_INODE = struct.Struct("=I")
_INODE_OFF = 16 + 68
_STATE_OFF = 16 + 1
_HDR = 16
_MSG_MIN = 16 + 72


def build_request(family: int, protocol: int, states: int, seq: int) -> bytes:
    body = _REQ.pack(family, protocol, 0, states)
    return (
        _NLH.pack(_HDR + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body
    )


def _addr(family: int, raw: bytes) -> str:
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw)


def decode_message(body: memoryview | bytes) -> tuple[int, int, str, int, str, int, int]:
    """(family, state, lip, lport, rip, rport, inode) of one ``inet_diag_msg`` body."""
    family, state, sport, dport, src, dst = _MSG.unpack_from(body, 0)
    (inode,) = _INODE.unpack_from(body, 68)
    return (
        family,
        state,
        _addr(family, src),
        int.from_bytes(sport, "big"),
        _addr(family, dst),
        int.from_bytes(dport, "big"),
        inode,
    )


def iter_replies(data: memoryview | bytes) -> list[tuple[int, int]]:
    """(offset, length) of each message in one netlink datagram; DONE ends with (-1, 0).

    Raises OSError for an NLMSG_ERROR reply; MalformedError for a damaged datagram.
    """
    out: list[tuple[int, int]] = []
    off = 0
    end = len(data)
    while off + _HDR <= end:
        length, mtype, _flags, _seq, _pid = _NLH.unpack_from(data, off)
        if length < _HDR or off + length > end:
            raise MalformedError("sock_diag", f"netlink message length {length} at {off}")
        if mtype == NLMSG_DONE:
            out.append((-1, 0))
            return out
        if mtype == NLMSG_ERROR:
            if length < _HDR + 4:
                raise MalformedError("sock_diag", "truncated NLMSG_ERROR")
            (err,) = struct.unpack_from("=i", data, off + _HDR)
            if err:
                raise OSError(-err, os.strerror(-err))
        elif mtype == SOCK_DIAG_BY_FAMILY and length >= _MSG_MIN:
            out.append((off, length))
        off += (length + 3) & ~3
    return out


class SockDiagResolver(TableResolver):
    """sock_diag socket table joined to pids through ``/proc/PID/fd``."""

    name = "sockdiag"

    def __init__(self, proc_root: str = "/proc") -> None:
        super().__init__(ProcReader(proc_root))
        self.inodes = InodeIndex(proc_root)
        self._sock: socket.socket | None = None
        self._buf = bytearray(1 << 20)
        self._seq = 0
        # (inode, state) -> the socket; pid 0 until the inode index resolves it
        self._known: dict[tuple[int, int], SocketEntry] = {}
        self.sockets_seen = 0
        self.errors = 0

    def start(self) -> None:
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
        except (OSError, AttributeError) as exc:
            raise BackendUnavailable(self.name, f"no NETLINK_SOCK_DIAG socket ({exc})") from exc
        if not os.path.isdir(f"{self.proc.root}/1/fd") or not os.access(
            f"{self.proc.root}/1/fd", os.R_OK
        ):
            self.notes.append(
                "sockdiag: cannot read other users' /proc/PID/fd: only your own processes "
                "are attributed (run as root, or grant CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH)"
            )
        self.refresh()

    def _dump(
        self, proto: str, family: int, protocol: int, states: int, seen: set[tuple[int, int]]
    ) -> None:
        assert self._sock is not None
        self._seq += 1
        self._sock.send(build_request(family, protocol, states, self._seq))
        buf = self._buf
        view = memoryview(buf)
        known = self._known
        unpack_inode = _INODE.unpack_from
        while True:
            n = self._sock.recv_into(buf)
            for off, _length in iter_replies(view[:n]):
                if off < 0:
                    return
                (inode,) = unpack_inode(buf, off + _INODE_OFF)
                if inode == 0:
                    continue
                key = (inode, buf[off + _STATE_OFF])
                seen.add(key)
                if key in known:
                    continue
                _fam, state, lip, lport, rip, rport, _ = decode_message(view[off + _HDR :])
                listening = proto == "tcp" and state == TCP_LISTEN
                known[key] = SocketEntry(proto, (lip, lport), (rip, rport), 0, listening)

    def refresh(self) -> None:
        if self._sock is None:
            return
        seen: set[tuple[int, int]] = set()
        try:
            for proto, family, protocol, states in DUMPS:
                self._dump(proto, family, protocol, states, seen)
        except (MalformedError, OSError) as exc:
            # A damaged or refused dump: count it, start a clean socket (the rest of the
            # dump may still be queued on the old one) and keep the previous table.
            self.errors += 1
            self.notes.append(f"sockdiag: dump failed: {exc}")
            del self.notes[:-5]
            self._sock.close()
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
            return
        self.sockets_seen = len(seen)
        for key in [k for k in self._known if k not in seen]:
            entry = self._known.pop(key)
            self.table.discard(entry.proto, entry.local, entry.remote)
        unresolved = {k[0] for k, e in self._known.items() if e.pid == 0}
        self.inodes.refresh(unresolved)
        for key, entry in list(self._known.items()):
            if entry.pid:
                continue
            pid = self.inodes.get(key[0])
            if pid is None:
                continue
            resolved = SocketEntry(entry.proto, entry.local, entry.remote, pid, entry.listening)
            self._known[key] = resolved
            self.table.add(resolved)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
