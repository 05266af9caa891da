"""The socket table every backend fills and ``lookup`` reads.

A backend turns what it sees (netlink replies, kernel events, psutil rows, lsof records)
into :class:`SocketEntry` values and hands them to a :class:`SocketTable`; lookups are
then three dict probes, in this order (the ``match`` of the Attribution says which hit):

    exact     (proto, local, remote) of a connected socket
    listener  TCP: a socket listening on the local port (an accepted connection whose own
              socket the backend has not seen, or that is already gone)
    wildcard  UDP: an unconnected socket bound to the local port (``sendto`` without
              ``connect``, servers), on the address itself or on 0.0.0.0 / ::

Addresses are normalised first: IPv4-mapped IPv6 (``::ffff:1.2.3.4``, what a dual-stack
socket reports) becomes plain IPv4, and v6 text is compressed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

Endpoint = tuple[str, int]

ANY4 = "0.0.0.0"  # noqa: S104 - the wildcard address as data, nothing binds here
ANY6 = "::"
WILDCARDS = (ANY4, ANY6)
UNCONNECTED4 = (ANY4, 0)


@lru_cache(maxsize=65536)
def norm_addr(addr: str) -> str:
    """Canonical text of an address: mapped v4 unwrapped, v6 compressed, zone dropped."""
    if ":" not in addr:
        return addr
    try:
        ip6 = ipaddress.IPv6Address(addr.split("%", 1)[0])
    except ValueError:
        return addr
    mapped = ip6.ipv4_mapped
    return str(mapped) if mapped is not None else str(ip6)


@dataclass(frozen=True, slots=True)
class SocketEntry:
    """One socket a backend saw, and the pid that owns it (0 when unknown)."""

    proto: str  # "tcp" | "udp"
    local: Endpoint
    remote: Endpoint  # ("0.0.0.0", 0) / ("::", 0) when unconnected
    pid: int
    listening: bool = False


def _unconnected(remote: Endpoint) -> bool:
    return remote[1] == 0


class SocketTable:
    """Owner pid by socket; rebuilt or updated by a backend, read by ``lookup``."""

    __slots__ = ("_bound", "_exact", "_listen")

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str, int, str, int], int] = {}
        self._listen: dict[tuple[str, int], int] = {}
        self._bound: dict[tuple[str, str, int], int] = {}

    def __len__(self) -> int:
        return len(self._exact) + len(self._listen) + len(self._bound)

    def clear(self) -> None:
        self._exact.clear()
        self._listen.clear()
        self._bound.clear()

    def add(self, entry: SocketEntry) -> None:
        self.put(entry.proto, entry.local, entry.remote, entry.pid, entry.listening)

    def put(
        self, proto: str, local: Endpoint, remote: Endpoint, pid: int, listening: bool = False
    ) -> None:
        laddr = norm_addr(local[0])
        if listening:
            self._listen[(laddr, local[1])] = pid
        elif _unconnected(remote):
            self._bound[(proto, laddr, local[1])] = pid
        else:
            self._exact[(proto, laddr, local[1], norm_addr(remote[0]), remote[1])] = pid

    def discard(self, proto: str, local: Endpoint, remote: Endpoint) -> None:
        laddr = norm_addr(local[0])
        if _unconnected(remote):
            self._bound.pop((proto, laddr, local[1]), None)
            if proto == "tcp":
                self._listen.pop((laddr, local[1]), None)
        else:
            self._exact.pop((proto, laddr, local[1], norm_addr(remote[0]), remote[1]), None)

    def pids(self) -> set[int]:
        """Every pid the table names."""
        return {*self._exact.values(), *self._listen.values(), *self._bound.values()}

    def prune(self, dead: set[int]) -> int:
        """Remove the entries owned by ``dead`` pids; returns how many went."""
        removed = 0
        for table in (self._exact, self._listen, self._bound):
            gone = [k for k, pid in table.items() if pid in dead]
            for k in gone:
                del table[k]  # type: ignore[arg-type]
            removed += len(gone)
        return removed

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> tuple[int, str] | None:
        """(pid, match) or None. match: exact | listener | wildcard."""
        laddr = norm_addr(local[0])
        lport = local[1]
        raddr = norm_addr(remote[0])
        # A connected socket may still show 0.0.0.0 / :: as its local address (bound to
        # any, connected UDP on some paths): the peer still matches exactly.
        for a in (laddr, *WILDCARDS):
            pid = self._exact.get((proto, a, lport, raddr, remote[1]))
            if pid:
                return pid, "exact"
        if proto == "tcp":
            for a in (laddr, *WILDCARDS):
                pid = self._listen.get((a, lport))
                if pid:
                    return pid, "listener"
        for a in (laddr, *WILDCARDS):
            pid = self._bound.get((proto, a, lport))
            if pid:
                return pid, "wildcard"
        return None
