"""Reverse DNS off the hot path: a few resolver threads, a bounded queue, a TTL cache.

:meth:`ReverseResolver.lookup` never blocks: it answers from the cache (positive answers
for the record's TTL clamped to [``min_ttl``, ``max_ttl``], negative ones for the SOA's
negative TTL or ``negative_ttl``, failures for ``error_ttl``) and otherwise queues the
address for a worker and returns None; the name shows up in a later snapshot. A full
queue drops the request (counted): the next snapshot asks again. An expired name is
still returned while its refresh is queued.

Own traffic: each worker owns one UDP socket, bound once, for its whole life, so the
resolver's traffic is exactly the flows in :meth:`own_flows` (our source port, server
address, server port). The engine hides rows matching those (see docs/enrichment.md).
Queries go straight to the configured servers (``/etc/resolv.conf`` by default),
not through the C library, so /etc/hosts is not consulted and the ports are known.
"""

from __future__ import annotations

import queue
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netwatch.enrich.ptr import PtrAnswer, build_query, parse_answer, reverse_name
from netwatch.enrich.scopes import scope_of
from netwatch.errors import MalformedError

RESOLV_CONF = Path("/etc/resolv.conf")
#: Scopes never asked about: nothing on the Internet answers for them.
NO_RDNS_SCOPES = frozenset({"unspecified", "multicast", "broadcast", "reserved"})
_STOP = ""


def parse_resolv_conf(text: str) -> list[tuple[str, int]]:
    """``nameserver`` lines of resolv.conf(5) as (address, 53), in order."""
    out: list[tuple[str, int]] = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "nameserver":
            addr = f[1].partition("%")[0]
            try:
                scope_of(addr)
            except ValueError:
                continue
            out.append((addr, 53))
    return out


def system_servers(path: Path = RESOLV_CONF) -> list[tuple[str, int]]:
    try:
        return parse_resolv_conf(path.read_text(errors="replace"))
    except OSError:
        return []


@dataclass(slots=True)
class _Entry:
    name: str | None
    expires: float


@dataclass(frozen=True, slots=True)
class RdnsStats:
    queries: int
    answers: int
    negative: int
    failures: int
    dropped: int
    cached: int


class ReverseResolver:
    def __init__(
        self,
        servers: Sequence[tuple[str, int]],
        *,
        workers: int = 2,
        queue_size: int = 256,
        cache_size: int = 8192,
        timeout: float = 2.0,
        min_ttl: int = 60,
        max_ttl: int = 86400,
        negative_ttl: int = 300,
        error_ttl: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not servers:
            raise ValueError("no DNS server to ask")
        self.servers = [(str(a), int(p)) for a, p in servers]
        self.timeout = timeout
        self.min_ttl, self.max_ttl = min_ttl, max_ttl
        self.negative_ttl, self.error_ttl = negative_ttl, error_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_size = cache_size
        self._pending: set[str] = set()
        self._queue: queue.Queue[str] = queue.Queue(maxsize=queue_size)
        self._queries = self._answers = self._negative = self._failures = self._dropped = 0
        self._sockets: list[socket.socket] = []
        try:
            for _ in range(max(1, workers)):
                self._sockets.append(self._socket())
        except OSError:
            for s in self._sockets:
                s.close()
            raise
        ports = [int(s.getsockname()[1]) for s in self._sockets]
        self._own = frozenset((p, a, sp) for p in ports for a, sp in self.servers)
        self._threads = [
            threading.Thread(target=self._work, args=(s,), name=f"netwatch-rdns-{i}", daemon=True)
            for i, s in enumerate(self._sockets)
        ]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ sockets
    def _socket(self) -> socket.socket:
        """One dual-stack UDP socket bound to a kernel-chosen port, kept for life."""
        if any(":" in a for a, _ in self.servers):
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # a client socket: any source address (routing picks it), the port fixed now so
            # own_flows() is known before the first query
            s.bind(("0.0.0.0", 0))  # noqa: S104
        return s

    def _target(self, sock: socket.socket, addr: str, port: int) -> tuple[str, int]:
        if sock.family == socket.AF_INET6 and ":" not in addr:
            return (f"::ffff:{addr}", port)
        return (addr, port)

    def own_flows(self) -> frozenset[tuple[int, str, int]]:
        """(our UDP source port, server address, server port) of every query we send."""
        return self._own

    # ------------------------------------------------------------------ front
    def lookup(self, address: str) -> str | None:
        """The cached name of ``address`` (None while unknown); queues a lookup if due."""
        now = self._clock()
        with self._lock:
            entry = self._cache.get(address)
            if entry is not None:
                self._cache.move_to_end(address)
                if entry.expires > now:
                    return entry.name
            if address in self._pending:
                return entry.name if entry else None
            try:
                if scope_of(address) in NO_RDNS_SCOPES:
                    return None
            except ValueError:
                return None
            try:
                self._queue.put_nowait(address)
            except queue.Full:
                self._dropped += 1
            else:
                self._pending.add(address)
            return entry.name if entry else None

    def stats(self) -> RdnsStats:
        with self._lock:
            return RdnsStats(
                self._queries,
                self._answers,
                self._negative,
                self._failures,
                self._dropped,
                len(self._cache),
            )

    def wait_idle(self, timeout: float) -> bool:
        """Block until no lookup is queued or running (tests, one-shot tools)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        for _ in self._threads:
            try:
                self._queue.put(_STOP, timeout=1.0)
            except queue.Full:
                break
        for s in self._sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # UDP sockets that never connected: shutdown only wakes a blocked recv
        for t in self._threads:
            t.join(timeout=self.timeout + 1.0)
        for s in self._sockets:
            s.close()

    def __enter__(self) -> ReverseResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ workers
    def _work(self, sock: socket.socket) -> None:
        while True:
            address = self._queue.get()
            if address == _STOP:
                return
            try:
                answer = self._resolve(sock, address)
            except OSError:
                answer = PtrAnswer(None, None, "socket error")
            self._store(address, answer)

    def _store(self, address: str, answer: PtrAnswer) -> None:
        if answer.error is not None:
            ttl = self.error_ttl
        elif answer.name is None:
            ttl = self.negative_ttl if answer.ttl is None else min(answer.ttl, self.max_ttl)
        else:
            ttl = max(self.min_ttl, min(answer.ttl or 0, self.max_ttl))
        with self._lock:
            self._pending.discard(address)
            if answer.error is not None:
                self._failures += 1
                old = self._cache.get(address)
                if old is not None and old.name is not None:
                    old.expires = self._clock() + ttl  # keep the last good name a while
                    return
            elif answer.name is None:
                self._negative += 1
            else:
                self._answers += 1
            self._cache[address] = _Entry(answer.name, self._clock() + ttl)
            self._cache.move_to_end(address)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _resolve(self, sock: socket.socket, address: str) -> PtrAnswer:
        qname = reverse_name(address)
        last = PtrAnswer(None, None, "timeout")
        for server, port in self.servers:
            qid = secrets.randbits(16)
            target = self._target(sock, server, port)
            with self._lock:
                self._queries += 1
            sock.sendto(build_query(qid, qname), target)
            answer = self._receive(sock, qid, qname, target)
            if answer is not None and answer.error is None:
                return answer
            if answer is not None:
                last = answer
        return last

    def _receive(
        self, sock: socket.socket, qid: int, qname: str, target: tuple[str, int]
    ) -> PtrAnswer | None:
        """Wait for our answer, ignoring stray or forged datagrams, until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                return None
            if not data:
                return None  # woken by close()
            if (_canon(peer[0]), peer[1]) != (_canon(target[0]), target[1]):
                continue
            try:
                answer = parse_answer(data, qid, qname)
            except MalformedError:
                return PtrAnswer(None, None, "malformed answer")
            if answer is not None:
                return answer


def _canon(addr: str) -> str:
    addr = addr.partition("%")[0]
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr
