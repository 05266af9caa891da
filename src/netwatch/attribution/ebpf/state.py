"""What the kernel events say about socket ownership, folded into a socket table.

Pure: events in (from the ring buffer or a recording), answers out; time is passed in.

* Owner events (connect, sendmsg, bind, SYN_SENT, LISTEN, first UDP send, start-up walk)
  run in the owning task: they record cookie -> owner.
* ESTABLISHED carries the final 4-tuple (the local port is chosen after SYN_SENT), often
  from softirq: the owner comes from the cookie. An accepted connection has no owner
  event: it is left to the listener rule of the table (match ``listener``).
* CLOSE does not forget a connection at once: a short-lived client (curl, dig) is often
  gone before the engine asks, so the entry lives ``grace`` seconds more.
* Owners are kept after their process exits, so ``kernel_process`` can still name it
  (from the kernel's comm, uid and parent) when /proc no longer can.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from netwatch.attribution.ebpf.events import OWNER_KINDS, KernelEvent, Kind
from netwatch.attribution.table import UNCONNECTED4, SocketTable

TCP_LISTEN = 10
GRACE_SECONDS = 120.0
MAX_OWNERS = 200_000


@dataclass(frozen=True, slots=True)
class Owner:
    tgid: int
    uid: int
    ppid: int
    comm: str
    exe_name: str = ""
    args: tuple[str, ...] = ()


class KernelState:
    """Socket table and owners built from kernel events."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self.table = SocketTable()
        self.by_cookie: dict[int, Owner] = {}
        self.by_pid: dict[int, Owner] = {}
        self._closing: deque[tuple[float, str, tuple[str, int], tuple[str, int], int]] = deque()
        self.events = 0

    def apply(self, ev: KernelEvent, now: float) -> None:
        self.events += 1
        if ev.kind in OWNER_KINDS and ev.tgid:
            owner = Owner(ev.tgid, ev.uid, ev.ppid, ev.comm, ev.exe_name, ev.args)
            if ev.cookie:
                self.by_cookie[ev.cookie] = owner
            known = self.by_pid.get(ev.tgid)
            # Keep the richest record: tracing events know the leader's comm, the parent,
            # the executable and argv.
            if known is None or ev.ppid or not known.ppid:
                self.by_pid[ev.tgid] = owner
        kind = ev.kind
        if kind == Kind.ESTAB:
            owner_ = self.by_cookie.get(ev.cookie)
            if owner_ is not None and ev.local[1]:
                self.table.put(ev.proto, ev.local, ev.remote, owner_.tgid)
        elif kind == Kind.LISTEN or (kind == Kind.ITER and ev.state == TCP_LISTEN):
            if ev.proto == "tcp" and ev.local[1]:
                self.table.put("tcp", ev.local, UNCONNECTED4, ev.tgid, listening=True)
        elif kind == Kind.CLOSE:
            self._closing.append((now + self.grace, ev.proto, ev.local, ev.remote, ev.cookie))
        elif kind in (Kind.ITER, Kind.UDP_SEND, Kind.BIND, Kind.SENDMSG, Kind.CONNECT):
            self._put_local(ev)
        if len(self.by_cookie) > MAX_OWNERS:
            # Cookies of long-closed sockets: drop the oldest half (dicts keep order).
            for cookie in list(self.by_cookie)[: MAX_OWNERS // 2]:
                del self.by_cookie[cookie]

    def _put_local(self, ev: KernelEvent) -> None:
        if not ev.local[1]:
            return  # not bound yet: a later event (ESTAB, UDP_SEND) brings the port
        if ev.kind in (Kind.SENDMSG, Kind.BIND):
            # sendto() names a peer per datagram and bind() has none: the socket itself
            # stays unconnected, so it is a wildcard entry.
            self.table.put(ev.proto, ev.local, UNCONNECTED4, ev.tgid)
        elif ev.kind == Kind.CONNECT and ev.proto == "tcp":
            return  # the local address is not final before ESTABLISHED
        else:
            self.table.put(ev.proto, ev.local, ev.remote, ev.tgid)

    def expire(self, now: float) -> int:
        """Forget connections closed more than ``grace`` seconds ago; returns how many."""
        n = 0
        while self._closing and self._closing[0][0] <= now:
            _, proto, local, remote, cookie = self._closing.popleft()
            self.table.discard(proto, local, remote)
            self.by_cookie.pop(cookie, None)
            n += 1
        return n

    def lookup(
        self, proto: str, local: tuple[str, int], remote: tuple[str, int]
    ) -> tuple[int, str] | None:
        return self.table.lookup(proto, local, remote)
