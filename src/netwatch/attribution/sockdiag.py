"""The Linux socket table over netlink ``NETLINK_SOCK_DIAG`` (sock_diag(7), inet_diag.h).

One ``SOCK_DIAG_BY_FAMILY`` dump per (family, protocol): AF_INET/AF_INET6 x TCP/UDP.
Request: ``nlmsghdr`` + ``inet_diag_req_v2`` (56 bytes). Each reply message is
``nlmsghdr`` (16) + ``inet_diag_msg`` (72) + attributes we do not ask for::

    0   family u8, state u8, timer u8, retrans u8
    4   id.sport be16, id.dport be16, id.src[16], id.dst[16], id.if u32, id.cookie[8]
    52  expires u32, rqueue u32, wqueue u32, uid u32, inode u32

The parse is done here with ``struct`` rather than pyroute2's message classes: pyroute2
decodes every reply into nested Python objects (about 70 us a socket, 1 s for 15,000),
while this reads 88 fixed bytes, and skips even that for an (inode, state) seen on the
previous refresh (``benchmarks/attribution.py`` measures both).

Owners come from :class:`netwatch.attribution.inodes.InodeIndex`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable

from netwatch.attribution.base import BackendUnavailable, Resolved, TableResolver
from netwatch.attribution.inodes import InodeIndex
from netwatch.attribution.procfs import ProcReader
from netwatch.attribution.table import Endpoint, SocketEntry
from netwatch.errors import MalformedError

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
TCP_CLOSE = 7
FULL_EVERY = 5.0  # seconds between full dumps; targeted queries in between
MAX_WANTED = 4096  # unknown tuples queued for the next refresh
MISS_TTL = 5.0  # a tuple the kernel did not know is not asked about again before this

Clock = Callable[[], float]

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


_SOCKID = struct.Struct("!HH16s16s")
_NOCOOKIE = struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # if=0, INET_DIAG_NOCOOKIE x2


def build_exact(proto: str, local: Endpoint, remote: Endpoint, seq: int) -> bytes:
    """A one-socket query (no NLM_F_DUMP): O(1) in the kernel, one reply or ENOENT.

    The kernel reads the id differently per protocol: TCP looks up (src=local, dst=remote)
    and falls back to the listener of the local port; UDP looks up like a received
    datagram, (src=remote, dst=local), which also finds unconnected sockets.
    """
    v6 = ":" in local[0] or ":" in remote[0]
    family = socket.AF_INET6 if v6 else socket.AF_INET
    first, second = (local, remote) if proto == "tcp" else (remote, local)
    a = socket.inet_pton(family, first[0]).ljust(16, b"\0")
    b = socket.inet_pton(family, second[0]).ljust(16, b"\0")
    protocol = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
    body = _REQ.pack(family, protocol, 0, ALL_STATES)[:8]
    body += _SOCKID.pack(first[1], second[1], a, b) + _NOCOOKIE
    return _NLH.pack(_HDR + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0) + body


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


_FAST: dict[int, struct.Struct] = {}


def uniform_records(data: memoryview | bytes) -> list[tuple[int, int, int, int]] | None:
    """(nlmsg_len, nlmsg_type, state, inode) of each message, when the datagram is a run of
    same-sized SOCK_DIAG_BY_FAMILY messages (all but the last datagram of a dump, as the
    kernel adds the same attributes to every socket); None otherwise (use iter_replies).

    One ``struct.iter_unpack`` over the datagram (a C loop) instead of a Python-level
    walk: this is what keeps a 10,000-socket refresh within a few milliseconds.
    """
    if len(data) < _MSG_MIN:
        return None
    (length,) = _INODE.unpack_from(data, 0)
    if length < _MSG_MIN or length % 4 or len(data) % length:
        return None
    fmt = _FAST.get(length)
    if fmt is None:
        fmt = _FAST[length] = struct.Struct(f"=IH11xB66xI{length - _MSG_MIN}x")
    recs: list[tuple[int, int, int, int]] = list(fmt.iter_unpack(data))
    if {(r[0], r[1]) for r in recs} != {(length, SOCK_DIAG_BY_FAMILY)}:
        return None
    return recs


class SockDiagResolver(TableResolver):
    """sock_diag socket table joined to pids through ``/proc/PID/fd``."""

    name = "sockdiag"

    def __init__(
        self,
        proc_root: str = "/proc",
        full_every: float = FULL_EVERY,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(ProcReader(proc_root))
        self.full_every = full_every
        self.clock = clock
        self._last_full: float | None = None
        self._wanted: dict[tuple[str, Endpoint, Endpoint], None] = {}
        self._misses: dict[tuple[str, Endpoint, Endpoint], float] = {}
        self.full_dumps = 0
        self.queries = 0
        self.inodes = InodeIndex(proc_root)
        self._sock: socket.socket | None = None
        self._buf = bytearray(1 << 20)
        self._seq = 0
        # (inode, state) -> the socket; pid 0 until the inode index resolves it
        self._known: dict[tuple[int, int], SocketEntry] = {}
        self._unresolved: set[tuple[int, int]] = set()
        self._resolve_due = False
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
        while True:
            n = self._sock.recv_into(buf)
            data = view[:n]
            recs = uniform_records(data)
            if recs is not None:
                # Fast path (every datagram but the last): the (inode, state) keys are
                # compared with the previous refresh as sets; only new sockets decoded.
                keys = [(r[3], r[2]) for r in recs]
                seen.update(keys)
                fresh = [i for i, key in enumerate(keys) if key[0] and key not in known]
                size = recs[0][0]
                for i in fresh:
                    self._add(proto, keys[i], data[i * size + _HDR :])
                continue
            for off, _length in iter_replies(data):
                if off < 0:
                    return
                (inode,) = _INODE.unpack_from(buf, off + _INODE_OFF)
                key = (inode, buf[off + _STATE_OFF])
                seen.add(key)
                if inode and key not in known:
                    self._add(proto, key, data[off + _HDR :])

    def _add(self, proto: str, key: tuple[int, int], body: memoryview) -> None:
        _fam, state, lip, lport, rip, rport, _ = decode_message(body)
        listening = proto == "tcp" and state == TCP_LISTEN
        self._known[key] = SocketEntry(proto, (lip, lport), (rip, rport), 0, listening)
        self._unresolved.add(key)
        self._resolve_due = True

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        """From the table; a miss is queued for a targeted query on the next refresh."""
        hit = super().lookup(proto, local, remote)
        # A listener match is a guess (the accepted socket may belong to a worker): ask
        # the kernel about the exact socket too.
        if (hit is None or hit[1].match == "listener") and len(self._wanted) < MAX_WANTED:
            self._wanted[(proto, local, remote)] = None
        return hit

    def refresh(self) -> None:
        """A full dump every ``full_every`` seconds; in between, only the queued misses.

        A full dump costs about 2 us of CPU per socket (half of it in the kernel building
        the replies): 20+ ms for 10,000 sockets, too much for every tick. A targeted
        query costs about 20 us, whatever the table size.
        """
        if self._sock is None:
            return
        now = self.clock()
        if self._last_full is None or now - self._last_full >= self.full_every:
            self._last_full = now
            self._wanted.clear()
            self._full_dump()
        elif self._wanted:
            self._query_wanted(now)
        if self._resolve_due:
            self._resolve_due = False
            self._resolve()

    def _query_wanted(self, now: float) -> None:
        assert self._sock is not None
        misses = self._misses
        for key in [k for k, t in misses.items() if t <= now]:
            del misses[key]
        wanted, self._wanted = self._wanted, {}
        # list(): a lookup on another thread may still be adding to the old dict
        for key in list(wanted):
            if key in misses:
                continue
            proto, local, remote = key
            self._seq += 1
            self.queries += 1
            try:
                self._sock.send(build_exact(proto, local, remote, self._seq))
                data = self._sock.recv(8192)
                replies = iter_replies(data)
            except (OSError, MalformedError, ValueError):
                misses[key] = now + MISS_TTL  # ENOENT: not a socket of this host (now)
                continue
            learnt = False
            for off, _length in replies:
                if off < 0:
                    continue
                (inode,) = _INODE.unpack_from(data, off + _INODE_OFF)
                state_key = (inode, data[off + _STATE_OFF])
                if inode and state_key not in self._known:
                    self._add(proto, state_key, memoryview(data)[off + _HDR :])
                    learnt = True
            if not learnt:  # only what we knew (the listener): do not ask every tick
                misses[key] = now + MISS_TTL

    def _full_dump(self) -> None:
        assert self._sock is not None
        self.full_dumps += 1
        self._resolve_due = bool(self._unresolved)  # owners may have appeared meanwhile
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
        for key in self._known.keys() - seen:
            entry = self._known.pop(key)
            self._unresolved.discard(key)
            self.table.discard(entry.proto, entry.local, entry.remote)

    def _resolve(self) -> None:
        """Owners for the sockets without one, through the incremental inode index."""
        self.inodes.refresh({k[0] for k in self._unresolved})
        for key in list(self._unresolved):
            pid = self.inodes.get(key[0])
            if pid is None:
                continue
            entry = self._known[key]
            resolved = SocketEntry(entry.proto, entry.local, entry.remote, pid, entry.listening)
            self._known[key] = resolved
            self._unresolved.discard(key)
            self.table.add(resolved)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
