"""Packets in, connection table out: the pure per-packet path.

``Tracker.packet(ts, linktype, data, wirelen)`` decodes one packet, finds or creates its
row, updates counters, TCP state (tcpstate.py), health counters (retransmissions,
out-of-order, duplicate ACKs), handshake RTT, and feeds the flow's analyzer (through the
bounded reassembler for TCP) until it detaches. Rows expire by the timeouts table; a hard
cap evicts the longest-idle rows first. Finished rows go to ``on_finish`` (the analyze
writer, the recorder) and to a bounded history of closed rows for the UI.

No I/O, no threads, no clock: time is the packets' timestamps (``now`` for ``tick``).
The engine owns the tracker and calls it from one thread.
"""

from __future__ import annotations

import heapq
import struct
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from netwatch.decode import packet as _pk
from netwatch.decode.fragments import FragmentReassembler
from netwatch.decode.packet import KIND_ARP, Packet, decode, decode_l4
from netwatch.dpi import registry
from netwatch.dpi.base import Analyzer, AppEvent, Dir, ExpectConnection, NameResolved
from netwatch.errors import DecodeError, MalformedError
from netwatch.flows import tcpstate, timeouts
from netwatch.flows.addr import pton
from netwatch.flows.conn import (
    DPI_ACTIVE,
    DPI_DONE,
    DPI_UNDECIDED,
    HIST_BIT,
    Conn,
    TcpHalf,
    add_history,
    originator_is_low,
    wire_key,
)
from netwatch.flows.icmp import arp_packet, icmp_packet
from netwatch.flows.services import ServiceTable
from netwatch.model.frames import FrameBlock
from netwatch.reassembly.stream import PendingBudget, StreamReassembler

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
# Ethernet type, then IPv4 (vihl, total length, flags+fragment, protocol), the addresses and
# the ports as one ``bytes``, then TCP's seq/ack/offset/flags/window (for UDP, the length
# field sits where TCP's seq does).
_ETH_IP4_L4 = struct.Struct("!12xHBxH2xHxB2x12sIIBBH").unpack_from
# Ethernet type, then IPv6 (payload length, next header, addresses), then as above.
_ETH_IP6_L4 = struct.Struct("!12xH4xHBx36sIIBBH").unpack_from
#: ... where the addresses and ports come as one ``bytes`` (the hot-row key), split by these.
_ADDRS4 = struct.Struct("!4s4sHH").unpack
_ADDRS6 = struct.Struct("!16s16sHH").unpack
#: Rows found by their wire addresses and ports (one entry a direction), without building
#: the canonical key: at most this many entries a protocol, cleared when full, so memory
#: per connection does not grow (~150 bytes an entry: ~10 MB at most, a fixed cost like
#: the capture ring). Measured on a table of 30,000 busy connections: 8,192 entries
#: missed most of the time (4.1 s), 65,536 held them (3.0 s, +9 MB).
HOT_ROWS = 65536
MOD, HALF = 1 << 32, 1 << 31
#: Without a measured RTT, a segment below the highest sequence that arrives within this
#: many seconds of it is out-of-order rather than retransmitted (Wireshark uses 3 ms too).
OOO_DEFAULT = 0.003
EXPIRE_EVERY = 1.0
LATE_WINDOW = 120.0
MAX_EXPECTED = 4096
#: TCP bytes kept from before detection, replayed into the analyzer detection then finds:
#: at most this many a flow, and at most PRE_DETECT_TOTAL over all flows (many flows of an
#: unknown protocol open at once, or a flood with payloads, must not hold 8 KiB each).
PRE_DETECT_BYTES = 8192
PRE_DETECT_TOTAL = 16 << 20
#: Out-of-order TCP bytes waiting for a hole to fill, over all flows: past it, a flow that
#: gets more declares its holes gaps (its analyzer is told, as for a lost segment).
REASSEMBLY_TOTAL = 64 << 20
#: Bytes the analyzers of all flows hold at once in buffers of their own (a handshake
#: message, an HTTP head, an SSH packet still incomplete: each also bounded a flow, up to
#: 256 KiB, which over 200,000 rows would be far too much). Past it, the analyzer whose
#: buffer grew fails ("buffer total reached", counted per protocol) and its flow is only
#: counted from then on, as after any analyzer failure.
ANALYZER_BUFFER_TOTAL = 64 << 20
_BIT_A, _BIT_D = HIST_BIT["a"], HIST_BIT["d"]
_BIT_D1 = _BIT_D << 1
_SYN_RECV = "SYN_RECV"
_TCP_TIMEOUTS = timeouts.TCP_TIMEOUTS
_ESTABLISHED_TIMEOUT = timeouts.TCP_TIMEOUTS["ESTABLISHED"]
_DIRS = (Dir.CLIENT, Dir.SERVER)

EventSink = Callable[[Conn, AppEvent], None]
PacketSink = Callable[[float, int, "bytes | memoryview", int, "Conn | None"], None]


def _by_id(c: Conn) -> int:
    return c.id


def header_excess(c: Conn, d: int, p: Packet) -> None:
    """Remember IP header bytes beyond the plain 20 (IPv4) or 40 (IPv6) of a packet of a
    row without sequence numbers (options, extension headers): its payload bytes are
    derived from its IP bytes, and these are not payload. Rare, so kept in ``extra``."""
    excess = p.iphl - (20 if p.ipver == 4 else 40)
    if excess:
        extra = c.extra if c.extra is not None else {}
        c.extra = extra
        extra.setdefault("_hx", [0, 0])[d] += excess


class Tracker:
    def __init__(
        self,
        *,
        live: bool = False,
        services: ServiceTable | None = None,
        max_connections: int = 200_000,
        history: int = 2000,
        dpi: bool = True,
        on_finish: Callable[[Conn], None] | None = None,
        on_event: EventSink | None = None,
        max_names: int = 65536,
        enrich: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.live = live
        self.services = services or ServiceTable()
        self.max_connections = max_connections
        self.dpi_enabled = dpi
        self.on_finish = on_finish
        self.on_event = on_event
        #: remote address -> ``geo`` object (GeoIP, scope...), injected; called at view time
        self.enrich = enrich
        #: every packet with the row it was counted in (None: undecodable, a fragment
        #: still waiting, a late packet): the recorder's packet store. Off by default.
        self.packet_sink: PacketSink | None = None
        self.table: dict[tuple[Any, ...], Conn] = {}
        #: the fast path's recently seen rows by wire addresses and ports, per direction
        #: (a finished row is recognised by ``closed`` and looked up afresh)
        self._hot_tcp: dict[bytes, tuple[Conn, int]] = {}
        self._hot_udp: dict[bytes, tuple[Conn, int]] = {}
        self.closed: deque[Conn] = deque(maxlen=history)
        self.local_addrs: frozenset[bytes] = frozenset()
        self.frags = FragmentReassembler()
        self.names: OrderedDict[bytes, str] = OrderedDict()
        self.max_names = max_names
        self._recent_closed: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        # (transport, responder address or None, responder port) -> announced connection
        self.expected: dict[tuple[str, bytes | None, int], tuple[ExpectConnection, int, float]] = {}
        self._next_id = 1
        self._next_expire = 0.0
        #: the shortest timeout any row can have (analyzers may set shorter ones)
        self._min_timeout = timeouts.MIN_TIMEOUT
        #: Expiry by schedule: rows to look at, by the whole second of capture time from
        #: which on they may have expired (see ``expire``); every live row is in a bucket
        #: at or before the second its timeout runs out. ``_wheel_low``: the first bucket
        #: not yet done (the current second's bucket is done again at the next pass).
        self._wheel: dict[int, list[Conn]] = {}
        self._wheel_low = 0
        self._pre_bytes = 0  # bytes kept before detection, all flows (PRE_DETECT_TOTAL)
        #: out-of-order bytes waiting in all reassemblers (each holds 256 KiB at most)
        self._reasm_budget = PendingBudget(REASSEMBLY_TOTAL)
        # Flows whose analyzer holds buffered bytes, with how many, and their sum
        # (ANALYZER_BUFFER_TOTAL); a flow leaves when its analyzer holds none or detaches.
        self._held: dict[Conn, int] = {}
        self.analyzer_buffered = 0
        self.now = 0.0
        # counters
        self.packets = 0
        self.bytes = 0
        self.decode_errors: Counter[str] = Counter()
        self.analyzer_errors: Counter[str] = Counter()
        self.evictions = 0
        self.expired = 0
        self.late_packets = 0
        self._last_tick = 0.0
        self._prev_dt = 0.0

    # ------------------------------------------------------------------ input
    def set_local_addresses(self, addrs: Iterable[bytes]) -> None:
        """Live mode: the host's own addresses decide local/remote orientation."""
        self.local_addrs = frozenset(addrs)

    def packets_batch(self, batch: Iterable[tuple[float, int, bytes | memoryview, int]]) -> None:
        """Process a batch; the common case never leaves this loop.

        Fast path: an Ethernet frame with a plain IPv4 header (no options, not a fragment) or
        a plain IPv6 header, carrying TCP or UDP, on a row that exists (found by the wire
        bytes of its addresses and ports among the hot rows): counters and the TCP health
        counters change here; in-order bytes of an inspected flow are skipped or fed to its
        analyzer from here; SYN+ACK, FIN, RST and ACKs of half-open rows run the general
        path's segment logic on the row found. A bare SYN, a new row, out-of-order bytes of
        an inspected flow (the reassembler) go through ``_plain`` (the general path without
        a second decode); any other frame through ``packet()`` and the full decoder. Rows
        expire before the packet that crosses the expiry time, as on the general path.

        Why it looks like this (measured, benchmarks/bench_analyze.py): one ``struct`` call
        reads Ethernet type, IP and transport headers at once (half the cost of indexing a
        memoryview byte by byte); the two common TCP cases (an in-order data segment, a pure
        ACK) are inlined and only the rare ones call ``_health``. The offsets are those of
        decode/link.py, decode/ip.py and decode/l4.py. A :class:`FrameBlock` (files, the
        ring) is read in place: headers at their offsets in the shared buffer, a frame's
        own slice made only for the general path and the packet sink.
        """
        slow = self.packet
        plain = self._plain
        hot_tcp = self._hot_tcp
        hot_udp = self._hot_udp
        e4 = _ETH_IP4_L4
        e6 = _ETH_IP6_L4
        health = self._health
        sink = self.packet_sink
        done = DPI_DONE
        n = nbytes = 0
        now = self.now
        c: Conn | None
        frames = FrameBlock.of(batch).frames
        next_expire = self._next_expire
        for ts, lt, d, fo, size, wirelen in frames:
            if ts < now or lt != 1 or size < 54:
                slow(ts, lt, d[fo : fo + size], wirelen)
                now, next_expire = self.now, self._next_expire
                continue
            if ts >= next_expire:  # rows expire before this packet, as on the general path
                self.now = now = ts
                self._next_expire = next_expire = ts + EXPIRE_EVERY
                self.expire(ts)
            if d[fo + 12] == 8:
                et, vihl, total, frag, proto, k, seq, ack, doff, flags, win = e4(d, fo)
                if et != 0x0800 or vihl != 0x45 or frag & 0x3FFF:
                    slow(ts, lt, d[fo : fo + size], wirelen)
                    now, next_expire = self.now, self._next_expire
                    continue
                l4 = fo + 34
                ipl = total
                end = fo + 14 + total
            elif d[fo + 12] == 0x86 and size >= 74 and d[fo + 14] >> 4 == 6:
                et, plen6, proto, k, seq, ack, doff, flags, win = e6(d, fo)
                if et != 0x86DD:
                    slow(ts, lt, d[fo : fo + size], wirelen)
                    now, next_expire = self.now, self._next_expire
                    continue
                l4 = fo + 54
                ipl = plen6 + 40
                end = fo + 54 + plen6
            else:
                slow(ts, lt, d[fo : fo + size], wirelen)
                now, next_expire = self.now, self._next_expire
                continue
            if end <= l4:  # a length of 0 (TSO) or too small: the decoder's rules apply
                slow(ts, lt, d[fo : fo + size], wirelen)
                now, next_expire = self.now, self._next_expire
                continue
            if end > fo + size:  # cut by the snap length
                end = fo + size
            if proto == 6:
                hl = (doff >> 4) * 4
                if hl < 20 or l4 + hl > end:  # a damaged header: the decoder counts it
                    slow(ts, lt, d[fo : fo + size], wirelen)
                    now, next_expire = self.now, self._next_expire
                    continue
                poff = l4 + hl
                if flags & SYN and not flags & ACK:  # may open a row, or reuse a closed one
                    plain(ts, d, fo, size, wirelen, 6, k, seq, ack, flags, win, poff, end, ipl)
                    now, next_expire = self.now, self._next_expire
                    continue
                hit = hot_tcp.get(k)
                if hit is not None and not hit[0].closed:
                    c, di = hit
                else:
                    c, di = self._hot_miss(hot_tcp, 6, k)
                    if c is None:
                        plain(ts, d, fo, size, wirelen, 6, k, seq, ack, flags, win, poff, end, ipl)
                        now, next_expire = self.now, self._next_expire
                        continue
                if flags & 7 or c.state == _SYN_RECV:
                    # SYN+ACK, FIN, RST, or an ACK that may open the row: the state may
                    # change. The general path's segment logic, on the row already found.
                    self._segment(c, di, seq, ack, flags, win, d[poff:end], ts, wirelen, ipl)
                    n += 1
                    nbytes += wirelen
                    if ts > now:
                        now = ts
                    if sink is not None:
                        sink(ts, lt, d[fo : fo + size], wirelen, c)
                    continue
                if di == 0:  # sent by the originator
                    h, o = c.h0, c.h1
                else:
                    h, o = c.h1, c.h0
                assert h is not None and o is not None  # TCP rows always have both halves
                plen = end - poff
                inspected = None
                if plen > 0 and c.dpi != done:
                    # An analyzer is attached (or detection pending): in-order bytes stay
                    # here, only counted if it said so (a body of known length), else fed
                    # below; anything out of order goes to the reassembler.
                    r = h.reasm
                    if r is None and (h.isn is None or (h.isn + 1) % MOD == seq):
                        r = h.reasm = StreamReassembler(seq, budget=self._reasm_budget)
                    if (
                        r is None
                        or r.pending
                        or (r.next_seq != seq and (r.next_seq - seq - plen) % MOD >= HALF)
                    ):  # out of order, or new bytes past a hole: the reassembler's
                        plain(ts, d, fo, size, wirelen, 6, k, seq, ack, flags, win, poff, end, ipl)
                        now, next_expire = self.now, self._next_expire
                        continue
                    if r.next_seq == seq:
                        r.next_seq = (seq + plen) % MOD
                        if r.skip >= plen:
                            r.skip -= plen
                            r.skipped += plen
                        else:
                            inspected = r
                    # (else bytes all delivered already, a retransmission or a keep-alive:
                    # the reassembler would drop them; only counted, as below)
                if di == 0:
                    c.pk0 += 1
                    c.by0 += wirelen
                    c.ipb0 += ipl
                    if c.rtt is None and c.syn_ts and o.isn is not None and flags & ACK:
                        c.rtt = ts - c.syn_ts  # the handshake's round trip (iRTT)
                else:
                    c.pk1 += 1
                    c.by1 += wirelen
                    c.ipb1 += ipl
                c.last = ts
                if o.fin_ack is not None:  # this ACK may acknowledge the peer's FIN
                    self._tcp_state_only(c, o, di, ack, flags)
                bit = (_BIT_D if plen > 0 else _BIT_A) << di
                if not c.hist & bit:
                    add_history(c, "d" if plen > 0 else "a", di)
                hi = h.hi
                aw = (ack << 16) | win
                if plen > 0 and hi is not None and 0 < (seq + plen - hi) % MOD < HALF:
                    h.hi = (seq + plen) % MOD  # in order: advances the highest byte seen
                    h.hi_ts = ts
                    h.last_aw = aw
                elif plen <= 0 and flags & ACK:
                    if aw == h.last_aw and seq == hi:
                        c.dup_acks += 1
                    h.last_aw = aw
                else:
                    health(c, h, di, seq, aw, flags, plen, ts)
                if inspected is not None:
                    self._inspect(c, di, inspected, d[poff:end], ts)
            elif proto == 17:
                if end - l4 < 8:  # a damaged header: the decoder counts it
                    slow(ts, lt, d[fo : fo + size], wirelen)
                    now, next_expire = self.now, self._next_expire
                    continue
                ulen = seq >> 16  # (the UDP length field sits where TCP's seq does)
                pend = min(end, l4 + ulen) if ulen >= 8 else end
                hit = hot_udp.get(k)
                if hit is not None and not hit[0].closed:
                    c, di = hit
                else:
                    c, di = self._hot_miss(hot_udp, 17, k)
                    if c is None:
                        plain(ts, d, fo, size, wirelen, 17, k, 0, 0, 0, 0, l4 + 8, pend, ipl)
                        now, next_expire = self.now, self._next_expire
                        continue
                data = pend > l4 + 8
                if di == 0:
                    c.pk0 += 1
                    c.by0 += wirelen
                    c.ipb0 += ipl
                    if data and not c.hist & _BIT_D:
                        add_history(c, "d", 0)
                else:
                    c.pk1 += 1
                    c.by1 += wirelen
                    c.ipb1 += ipl
                    if data and not c.hist & _BIT_D1:
                        add_history(c, "d", 1)
                c.last = ts
                if data and c.dpi != done:  # inspected: the datagram to its analyzer
                    self._feed(c, di, bytes(d[l4 + 8 : pend]), ts, "udp")
            else:
                slow(ts, lt, d[fo : fo + size], wirelen)
                now, next_expire = self.now, self._next_expire
                continue
            n += 1
            nbytes += wirelen
            if ts > now:
                now = ts
            if sink is not None:
                sink(ts, lt, d[fo : fo + size], wirelen, c)
        self.packets += n
        self.bytes += nbytes
        if now > self.now:
            self.now = now
            if now >= self._next_expire:
                self._next_expire = now + EXPIRE_EVERY
                self.expire(now)

    def _plain(
        self,
        ts: float,
        d: bytes | memoryview,
        fo: int,
        size: int,
        wirelen: int,
        proto: int,
        k: bytes,
        seq: int,
        ack: int,
        flags: int,
        win: int,
        poff: int,
        end: int,
        iplen: int,
    ) -> None:
        """The general path for an Ethernet/IPv4-or-IPv6/TCP-or-UDP packet whose headers the
        fast path has already read and checked as the decoder would (``k``: its addresses
        and ports as on the wire): ``packet()`` without decoding again (measured: decoding
        was about half of the general path's cost)."""
        self._count_packet(ts, wirelen)
        p = Packet()
        p.ipver = 4 if len(k) == 12 else 6
        p.iplen = iplen
        p.iphl = 20 if len(k) == 12 else 40  # (the fast path takes no options)
        p.proto = proto
        p.src, p.dst, p.sport, p.dport = (_ADDRS4 if len(k) == 12 else _ADDRS6)(k)
        p.payload = d[poff:end]
        if proto == 6:
            p.seq = seq
            p.ack = ack
            p.flags = flags
            p.win = win
            c: Conn | None = self._tcp(p, ts, wirelen)
        else:
            c = self._udp(p, ts, wirelen)
        if self.packet_sink is not None:
            self.packet_sink(ts, 1, d[fo : fo + size], wirelen, c)

    def _hot_miss(
        self, hot: dict[bytes, tuple[Conn, int]], proto: int, k: bytes
    ) -> tuple[Conn | None, int]:
        """The row of a plain packet whose addresses and ports ``k`` are not among the hot
        rows: looked up by its canonical key, and remembered with the packet's direction."""
        # The row's key from the wire bytes (see conn.wire_key): ``k`` itself when its
        # source is the lower side, else the two addresses and two ports swapped.
        n = 4 if len(k) == 12 else 16
        swapped = k[n : n + n] + k[:n] + k[n + n + 2 :] + k[n + n : n + n + 2]
        low = k <= swapped
        c = self.table.get((proto, k if low else swapped, None))
        if c is None:
            return None, 0
        di = 0 if low == c.clow else 1
        if len(hot) >= HOT_ROWS:
            hot.clear()
        hot[k] = (c, di)
        return c, di

    def _inspect(
        self, c: Conn, d: int, r: StreamReassembler, data: bytes | memoryview, ts: float
    ) -> None:
        """An in-order segment of an inspected flow, from the fast path (its counters done):
        what the reassembler would have delivered, without it."""
        if r.skipped:
            self._settle_half(c, d, r)
            if c.dpi == DPI_DONE:
                return
        self._feed(c, d, bytes(data), ts, "tcp")

    def _count_packet(self, ts: float, wirelen: int) -> None:
        self.packets += 1
        self.bytes += wirelen
        if ts > self.now:
            self.now = ts
            if ts >= self._next_expire:
                self._next_expire = ts + EXPIRE_EVERY
                self.expire(ts)

    def packet(self, ts: float, linktype: int, data: bytes | memoryview, wirelen: int) -> None:
        c = self._packet(ts, linktype, data, wirelen)
        if c is not None and ts < self.now:
            # A packet from the past (merged captures) may move the row's end back.
            self._reschedule(c)
        if self.packet_sink is not None:
            self.packet_sink(ts, linktype, data, wirelen, c)

    def _packet(
        self, ts: float, linktype: int, data: bytes | memoryview, wirelen: int
    ) -> Conn | None:
        """The general path; returns the row the packet was counted in (None: none)."""
        self._count_packet(ts, wirelen)
        try:
            p = decode(linktype, data)
            if p.frag is not None:
                whole = self._reassemble(p, ts)
                if whole is None:
                    return None
                if p.ipver == 6:
                    p.iphl -= 8  # the reassembled datagram has no Fragment header
                p.iplen = p.iphl + len(whole)
                decode_l4(p, whole, 0, len(whole))
        except DecodeError as exc:
            self.decode_errors[exc.reason] += 1
            return None
        if p.kind == KIND_ARP:
            return arp_packet(self, p, ts, wirelen)
        proto = p.proto
        if proto == _pk.PROTO_TCP:
            return self._tcp(p, ts, wirelen)
        if proto == _pk.PROTO_UDP:
            return self._udp(p, ts, wirelen)
        if proto == _pk.PROTO_ICMP or proto == _pk.PROTO_ICMPV6:
            return icmp_packet(self, p, ts, wirelen)
        return self._other(p, ts, wirelen)

    def _reassemble(self, p: Packet, ts: float) -> bytes | None:
        assert p.frag is not None
        ident, off, more = p.frag
        key = (p.ipver, p.src, p.dst, ident, p.proto)
        whole = self.frags.add(key, off, more, bytes(p.payload), ts)
        p.frag = None
        return whole

    # ------------------------------------------------------------------ rows
    def _new(self, key: tuple[Any, ...], p: Packet, client_is_src: bool, ts: float) -> Conn:
        if len(self.table) >= self.max_connections:
            self._evict()
        if client_is_src:
            c_addr, c_port, s_addr = p.src, p.sport, p.dst
        else:
            c_addr, c_port, s_addr = p.dst, p.dport, p.src
        local_is_client = True
        if self.live and c_addr not in self.local_addrs and s_addr in self.local_addrs:
            local_is_client = False
        # The originator is the key's lower side when its address and port come first.
        c = Conn(self._next_id, key, originator_is_low(key, c_addr, c_port), ts, local_is_client)
        self._next_id += 1
        if not self.dpi_enabled:
            c.dpi = DPI_DONE
        if self.names:
            c.name = self.names.get(s_addr if local_is_client else c_addr)
        if self.expected:
            self._claim_expected(c)
        self.table[key] = c
        # First look: at the shortest timeout any row has (its state, hence its own
        # timeout, is set by the caller after this).
        self._wheel_add(c, int(ts + self._min_timeout))
        return c

    def _reschedule(self, c: Conn) -> None:
        """The row's end may have moved sooner (to no less than ``MIN_TIMEOUT`` after its
        last packet): a look at its new end. An earlier look, if any, finds the row alive
        and moves on; two looks in one second count once. Not needed while the row's first
        look (``_min_timeout`` after its first packet) is still to come: that comes before
        any such end (a second of margin for the bucket of the current second). Skipping
        it there keeps most rows (handshakes, short flows) to one entry: memory."""
        if c.first <= c.last and self.now - c.first < self._min_timeout - 1.0:
            return
        self._wheel_add(c, int(c.last + self.timeout_of(c)))

    def _wheel_add(self, c: Conn, second: int) -> None:
        second = max(second, self._wheel_low)
        bucket = self._wheel.get(second)
        if bucket is None:
            self._wheel[second] = [c]
        else:
            bucket.append(c)

    def _finish(self, c: Conn, reason: str) -> None:
        if self.table.get(c.key) is c:
            del self.table[c.key]
        self._detach(c)
        self._take_pre(c)  # (the closed history keeps the row, not its early bytes)
        c.closed = True
        if c.proto == "tcp":
            self._recent_closed[c.key] = c.last
            self._recent_closed.move_to_end(c.key)
            while len(self._recent_closed) > 65536:
                self._recent_closed.popitem(last=False)
        self.closed.append(c)
        if reason == "timeout":
            self.expired += 1
        if self.on_finish is not None:
            self.on_finish(c)

    def _evict(self) -> None:
        """Over the cap: drop the longest-idle 1% at once (amortised O(1) per insert)."""
        n = max(1, len(self.table) // 100)
        for c in heapq.nsmallest(n, self.table.values(), key=lambda r: r.last):
            self.evictions += 1
            self._finish(c, "evicted")

    def timeout_of(self, c: Conn) -> float:
        if c.timeout:
            return c.timeout
        k0 = c.key[0]  # (the protocol number: cheaper than the ``proto`` name, per scan)
        if k0 == 6:
            return _TCP_TIMEOUTS.get(c.state, _ESTABLISHED_TIMEOUT)
        proto = c.proto
        if proto == "udp":
            app = c.app.get("protocol") if c.app else None
            if app is None and c.analyzer is not None:
                app = c.analyzer.protocol
            if app in timeouts.APP_TIMEOUTS:
                return timeouts.APP_TIMEOUTS[app]
            if c.s_port in timeouts.DNS_PORTS:
                return timeouts.APP_TIMEOUTS["DNS"]
            return timeouts.UDP_TIMEOUT
        if proto in ("icmp", "icmpv6"):
            return timeouts.ICMP_TIMEOUT
        if proto == "arp":
            return timeouts.ARP_TIMEOUT
        return timeouts.OTHER_TIMEOUT

    def expire(self, now: float) -> None:
        """Finish every row idle longer than its timeout at ``now`` (capture time).

        By schedule, not by a scan of the table: a row is looked at only in the bucket of
        the second it is due in (measured: scanning every row at every pass took 60% of a
        one-hour capture of 20,000 mostly idle connections). A row looked at and still
        alive goes to the bucket of the second its timeout runs out as things stand. A
        packet that moves its end later only makes that look early (it looks again then);
        whatever moves its end sooner (a TCP state with a shorter timeout, an analyzer's
        idle timeout, detection of a UDP protocol, a packet from the past) adds a look at
        the new end (``_reschedule``). The rows that expire are exactly those a scan of
        the table would find, in the table's order (a test holds the two equal).
        """
        wheel = self._wheel
        hi = int(now)
        low = self._wheel_low
        if hi >= low and wheel:
            if hi - low <= 4 * len(wheel) + 64:
                seconds: Iterable[int] = range(low, hi + 1)
            else:  # a jump in capture time: only the buckets there are
                seconds = sorted(k for k in wheel if k <= hi)
            timeout_of = self.timeout_of
            dead: list[Conn] = []
            again: list[Conn] = []  # still alive, due again within this second
            seen: set[Conn] = set()
            for second in seconds:
                bucket = wheel.pop(second, None)
                if bucket is None:
                    continue
                for c in bucket:
                    if c.closed or c in seen:
                        continue  # finished meanwhile, or a second entry of a row
                    seen.add(c)
                    timeout = timeout_of(c)
                    if now - c.last > timeout:
                        dead.append(c)
                        continue
                    due = int(c.last + timeout)
                    if due <= hi:
                        again.append(c)
                    else:
                        bucket2 = wheel.get(due)
                        if bucket2 is None:
                            wheel[due] = [c]
                        else:
                            bucket2.append(c)
            if again:
                wheel.setdefault(hi, []).extend(again)
            self._wheel_low = hi
            if dead:
                dead.sort(key=_by_id)  # the table's order: rows are created in id order
                for c in dead:
                    self._finish(c, "timeout")
        self.frags.expire(now)
        if self.expected:
            for k in [k for k, v in self.expected.items() if v[2] < now]:
                del self.expected[k]
        cutoff = now - LATE_WINDOW
        rc = self._recent_closed
        while rc:
            old, t = next(iter(rc.items()))
            if t >= cutoff:
                break
            del rc[old]

    def advance(self, now: float) -> None:
        """Live capture: time passes without packets too (rows expire on a quiet link)."""
        if now > self.now:
            self.now = now
            if now >= self._next_expire:
                self._next_expire = now + EXPIRE_EVERY
                self.expire(now)

    def finish_all(self) -> None:
        """End of capture: flush every open row to ``on_finish`` (oldest first)."""
        for c in sorted(self.table.values(), key=lambda r: (r.first, r.id)):
            self._flush_streams(c)
            self._detach(c)
            if self.on_finish is not None:
                self.on_finish(c)

    # ------------------------------------------------------------------ TCP
    def _tcp(self, p: Packet, ts: float, wirelen: int) -> Conn | None:
        src, dst, sport, dport = p.src, p.dst, p.sport, p.dport
        key, low = wire_key(6, src, sport, dst, dport, p.vlan)  # low: the key's first side
        flags = p.flags
        c = self.table.get(key)
        if (
            c is not None
            and flags & SYN
            and not flags & ACK
            and c.state in tcpstate.CLOSED_STATES
            and c.h0 is not None
            and c.h0.isn != p.seq
        ):
            # A new SYN on a closed tuple is a new connection; the same ISN again is the
            # old SYN retransmitted (e.g. after a RST) and stays in its row.
            self._finish(c, "reused")
            c = None
        if c is None:
            if not flags & SYN and not p.payload and key in self._recent_closed:
                self.late_packets += 1  # a late FIN/RST/ACK must not resurrect the row
                return None
            # (Data after the row ended is a new row, picked up mid-stream, as in Zeek:
            # bytes that still flow on a reset tuple are traffic to show, not noise.)
            if flags & SYN:
                client_is_src = not flags & ACK
            else:
                client_is_src = self._client_is_src("tcp", sport, dport)
            c = self._new(key, p, client_is_src, ts)
            c.h0, c.h1 = TcpHalf(), TcpHalf()
        self._segment(
            c,
            0 if low == c.clow else 1,
            p.seq,
            p.ack,
            flags,
            p.win,
            p.payload,
            ts,
            wirelen,
            p.iplen,
        )
        return c

    def _segment(
        self,
        c: Conn,
        d: int,
        seq: int,
        ack: int,
        flags: int,
        win: int,
        payload: bytes | memoryview,
        ts: float,
        wirelen: int,
        iplen: int,
    ) -> None:
        """One TCP segment of direction ``d`` (0: from the originator) on row ``c``: counters,
        history, state, handshake RTT, health counters and application data. The fast path
        calls it directly for segments whose flags may change the state."""
        plen = len(payload)
        c.last = ts
        if d == 0:
            c.pk0 += 1
            c.by0 += wirelen
            c.ipb0 += iplen
        else:
            c.pk1 += 1
            c.by1 += wirelen
            c.ipb1 += iplen
        h, other = (c.h0, c.h1) if d == 0 else (c.h1, c.h0)
        assert h is not None and other is not None
        # --- history letters (conn.log)
        if flags & SYN:
            add_history(c, "h" if flags & ACK else "s", d)
        elif plen:
            if not c.hist & (_BIT_D << d):
                add_history(c, "d", d)
        elif flags & ACK and not flags & (FIN | RST):
            if not c.hist & (_BIT_A << d):
                add_history(c, "a", d)
        if flags & FIN:
            add_history(c, "f", d)
        if flags & RST:
            add_history(c, "r", d)
        # --- state machine (local endpoint's view)
        if flags & RST:
            ev = "R"
        elif flags & SYN:
            ev = "SA" if flags & ACK else "S"
        else:
            acks_fin = (
                flags & ACK and other.fin_ack is not None and (ack - other.fin_ack) % MOD < HALF
            )
            if flags & FIN:
                ev = "FA" if acks_fin else "F"
            else:
                ev = "AF" if acks_fin else "A"
        direction = tcpstate.OUT if (d == 0) == c.local_is_client else tcpstate.IN
        state = c.state
        new_state = (
            tcpstate.TRANSITIONS.get((state, direction, ev), state)
            if ev != "R"
            else tcpstate.RESET_STATE
        )
        if new_state != state:
            c.state = new_state
            if _TCP_TIMEOUTS.get(new_state, _ESTABLISHED_TIMEOUT) < _TCP_TIMEOUTS.get(
                state, _ESTABLISHED_TIMEOUT
            ):
                self._reschedule(c)
        # --- handshake RTT (SYN → first ACK of the handshake, iRTT)
        if flags & SYN:
            if d == 0:
                c.syn_ts = ts
            h.isn = seq  # the reassembler starts at isn+1, created with the first payload
        elif c.rtt is None and d == 0 and c.syn_ts and other.isn is not None and flags & ACK:
            c.rtt = ts - c.syn_ts  # the handshake's round trip (SYN → its ACK, iRTT)
        if flags & FIN:
            h.fin_ack = (seq + plen + 1) % MOD
            if other.fin_ack is not None and c.closed_at is None:
                c.closed_at = ts  # the second FIN completes the close
        self._health(c, h, d, seq, (ack << 16) | win, flags, plen, ts)
        # --- application data
        if plen and c.dpi != DPI_DONE:
            self._tcp_dpi(c, d, h, seq, payload, ts)

    @staticmethod
    def _health(
        c: Conn, h: TcpHalf, d: int, seq: int, aw: int, flags: int, plen: int, ts: float
    ) -> None:
        """Retransmission / out-of-order / duplicate-ACK counters (Wireshark's rules).

        ``aw`` is the segment's ack number and window in one int (``ack << 16 | window``).
        """
        seglen = plen + (1 if flags & (SYN | FIN) else 0)
        if seglen:
            end = (seq + seglen) % MOD
            hi = h.hi
            if hi is None:
                h.hi = end
                h.hi_ts = ts
                if h.isn is None and not flags & SYN:  # picked up: as if a SYN came first
                    h.start = (seq - 1) % MOD
            else:
                adv = (end - hi) % MOD
                if adv and adv < HALF:
                    h.hi = end
                    h.hi_ts = ts
                elif not (plen <= 1 and (hi - seq) % MOD == 1 and not flags & (SYN | FIN)):
                    # At or below the highest byte seen, and not a keep-alive probe: soon
                    # after the highest segment, and not a re-send of exactly that segment's
                    # end, is out-of-order; otherwise a retransmission.
                    thresh = c.rtt if c.rtt else OOO_DEFAULT
                    if ts - h.hi_ts < thresh and end != hi:
                        c.ooo += 1
                    else:
                        c.retrans += 1
                        if plen:
                            add_history(c, "t", d)
        elif flags & ACK and not flags & (SYN | FIN | RST):
            # Same ack and window, and no data sent since (seq still at the highest byte).
            if aw == h.last_aw and seq == h.hi:
                c.dup_acks += 1
        if flags & ACK:  # (a RST or SYN without ACK carries no acknowledgement)
            h.last_aw = aw

    def _tcp_state_only(self, c: Conn, o: TcpHalf, d: int, ack: int, flags: int) -> None:
        """A plain ACK on a half-closed connection: does it acknowledge the peer's FIN?"""
        if not flags & ACK or o.fin_ack is None or (ack - o.fin_ack) % MOD >= HALF:
            return
        direction = tcpstate.OUT if (d == 0) == c.local_is_client else tcpstate.IN
        state = c.state
        c.state = tcpstate.TRANSITIONS.get((state, direction, "AF"), state)
        if c.state != state:
            self._reschedule(c)  # (FIN_WAIT1 -> FIN_WAIT2, CLOSING/LAST_ACK -> ...)

    def _client_is_src(self, transport: str, sport: int, dport: int) -> bool:
        """Mid-stream pick-up or first datagram: the well-known port is the server."""
        svc = self.services
        s_known = sport < 1024 or svc.is_known(transport, sport)
        d_known = dport < 1024 or svc.is_known(transport, dport)
        if s_known and not d_known:
            return False
        if d_known and not s_known:
            return True
        if s_known and d_known and sport < dport and transport == "tcp":
            return False
        return True

    def _tcp_dpi(
        self, c: Conn, d: int, h: TcpHalf, seq: int, payload: bytes | memoryview, ts: float
    ) -> None:
        if not self.dpi_enabled:
            c.dpi = DPI_DONE
            return
        r = h.reasm
        if r is None:
            start = (h.isn + 1) % MOD if h.isn is not None else seq
            r = h.reasm = StreamReassembler(start, budget=self._reasm_budget)
        elif r.skipped:
            self._settle_half(c, d, r)  # bytes passed by the fast path, before these
            if c.dpi == DPI_DONE:
                return
        for item in r.add(seq, bytes(payload)):
            if c.dpi == DPI_DONE:
                return
            if isinstance(item, int):
                self._gap(c, d, item)
            else:
                self._feed(c, d, item, ts, "tcp")

    def _gap(self, c: Conn, d: int, length: int) -> None:
        an = c.analyzer
        if an is None:
            c.dpi = DPI_DONE  # cannot detect across a hole
            self._drop_streams(c)
            return
        try:
            an.gap(_DIRS[d], length)
            held = an.buffered
        except MalformedError as exc:
            self._analyzer_failed(c, exc.protocol or an.protocol, exc.reason)
            return
        if held or c in self._held:  # (a gap may drop what the analyzer held)
            self._hold(c, an, held)

    def _flush_streams(self, c: Conn) -> None:
        if c.h0 is None or c.h1 is None or c.dpi == DPI_DONE:
            return
        self.settle(c)
        for d, h in enumerate((c.h0, c.h1)):
            if c.dpi == DPI_DONE:
                return
            if h.reasm is not None and h.reasm.pending:
                for item in h.reasm.flush():
                    if c.dpi == DPI_DONE:
                        return
                    if isinstance(item, int):
                        self._gap(c, d, item)
                    else:
                        self._feed(c, d, item, c.last, "tcp")

    def _drop_streams(self, c: Conn) -> None:
        if c.h0 is not None and c.h1 is not None:
            for h in (c.h0, c.h1):
                if h.reasm is not None:
                    h.reasm.release()
                    h.reasm = None

    def settle(self, c: Conn) -> None:
        """Tell the analyzer about bytes the fast path only counted (see ``skippable``):
        before its record is read (views, detaching) and before it is fed again."""
        if c.analyzer is None or c.h0 is None or c.h1 is None:
            return
        for d, h in enumerate((c.h0, c.h1)):
            r = h.reasm
            if r is not None and r.skipped:
                self._settle_half(c, d, r)

    def _settle_half(self, c: Conn, d: int, r: StreamReassembler) -> None:
        an = c.analyzer
        n, r.skipped = r.skipped, 0
        if an is None:
            return
        try:
            an.skipped(_DIRS[d], n)
        except MalformedError as exc:
            self._analyzer_failed(c, exc.protocol or an.protocol, exc.reason)
        except Exception as exc:  # noqa: BLE001 - an analyzer bug must not stop capture
            self._analyzer_failed(c, an.protocol, f"internal error: {type(exc).__name__}")

    # ------------------------------------------------------------------ DPI glue
    def _feed(self, c: Conn, d: int, data: bytes, ts: float, transport: str) -> None:
        an = c.analyzer
        if an is None:
            c.detect_tries += 1
            # Ports in the flow's own orientation, whichever side spoke first: the
            # analyzer must learn the responder's port (SMTP on 25 vs FTP on 21...).
            an = registry.detect(transport, data, c.c_port, c.s_port)
            if an is None:
                if c.detect_tries >= registry.MAX_DETECT_PACKETS:
                    c.dpi = DPI_DONE
                    self._drop_streams(c)
                    self._take_pre(c)
                elif transport == "tcp":
                    self._keep_undetected(c, d, data)
                return
            c.analyzer = an
            c.dpi = DPI_ACTIVE
            if transport == "udp":
                self._reschedule(c)  # DNS and QUIC rows have timeouts of their own
            pre = self._take_pre(c)
            if pre:
                # The other side spoke first in a form no detector knew (a CONNECT line
                # with spaces, a banner): the analyzer gets those bytes too, in order.
                for pd, pdata in pre:
                    self._feed(c, pd, pdata, ts, transport)
                    if c.analyzer is not an:
                        return
        direction = _DIRS[d]
        try:
            events = an.feed(direction, data, ts)
            held = an.buffered
        except MalformedError as exc:
            self._analyzer_failed(c, exc.protocol or an.protocol, exc.reason)
            return
        except Exception as exc:  # noqa: BLE001 - an analyzer bug must not stop capture
            self._analyzer_failed(c, an.protocol, f"internal error: {type(exc).__name__}")
            return
        if events:
            self._events(c, events)
        if (held or c in self._held) and self._hold(c, an, held):
            return
        c.app_state = an.app_state
        idle = an.idle_timeout
        if idle and idle != c.timeout:
            c.timeout = idle
            if idle < self._min_timeout:
                self._min_timeout = idle
            # (Possibly shorter than the first look's wait: always a look at the new end.)
            self._wheel_add(c, int(c.last + idle))
        if an.handoff:  # before ``finished``: a handing-over analyzer is also finished
            self._handoff(c, an.handoff, an)
        elif an.finished:
            self._detach(c)
        elif transport == "tcp":
            h = c.h0 if d == 0 else c.h1
            if h is not None and h.reasm is not None:
                h.reasm.skip = an.skippable(direction)

    def buffered(self) -> dict[str, int]:
        """Bytes held now in the bounded buffers over all flows (metrics)."""
        return {
            "reassembly": self._reasm_budget.used,
            "before_detection": self._pre_bytes,
            "analyzers": self.analyzer_buffered,
        }

    def _hold(self, c: Conn, an: Analyzer, held: int) -> bool:
        """Account for what ``c``'s analyzer now holds; fail it (True) past the total."""
        bufs = self._held
        self.analyzer_buffered += held - bufs.get(c, 0)
        if held:
            bufs[c] = held
        else:
            del bufs[c]
        if self.analyzer_buffered > ANALYZER_BUFFER_TOTAL:
            self._analyzer_failed(c, an.protocol, "analyzer buffer total reached")
            return True
        return False

    def _keep_undetected(self, c: Conn, d: int, data: bytes) -> None:
        """Keep a TCP flow's first undetected bytes (bounded, a flow and in all) for the
        analyzer found later. Past the total, a flow's early bytes are not kept: its
        analyzer, if one is found, starts from what comes next (as after a gap)."""
        size = len(data)
        if self._pre_bytes + size > PRE_DETECT_TOTAL:
            return
        if c.extra is None:
            c.extra = {}
        pre: list[tuple[int, bytes]] = c.extra.setdefault("_pre", [])
        if sum(len(x) for _, x in pre) + size <= PRE_DETECT_BYTES:
            pre.append((d, data))
            self._pre_bytes += size

    def _take_pre(self, c: Conn) -> list[tuple[int, bytes]] | None:
        """The bytes kept before detection, removed from the row (and the total)."""
        pre: list[tuple[int, bytes]] | None = (
            c.extra.pop("_pre", None) if c.extra is not None else None
        )
        if pre:
            self._pre_bytes -= sum(len(x) for _, x in pre)
        return pre

    def _handoff(self, c: Conn, protocol: str, old: Analyzer) -> None:
        """STARTTLS, HTTP CONNECT and friends: the old analyzer's record stays, a new one
        takes the stream, starting with the bytes the old one had already consumed."""
        self._detach(c, keep_streams=True)
        if protocol == "DETECT":
            c.dpi = DPI_UNDECIDED
            c.detect_tries = 0
        else:
            an = registry.create(protocol, c.proto, c.s_port)
            if an is None:
                c.dpi = DPI_DONE
                self._drop_streams(c)
                return
            c.analyzer = an
            c.dpi = DPI_ACTIVE
        for d in (0, 1):
            replay = old.tunnel_bytes(_DIRS[d])
            if replay and c.dpi != DPI_DONE:
                self._feed(c, d, replay, c.last, c.proto)

    def _analyzer_failed(self, c: Conn, protocol: str, reason: str) -> None:
        self.analyzer_errors[protocol] += 1
        an = c.analyzer
        self._detach(c)
        if c.app is not None and an is not None:
            c.app["error"] = reason

    def _detach(self, c: Conn, keep_streams: bool = False) -> None:
        """Freeze the analyzer's result into the row and stop feeding it."""
        an = c.analyzer
        if an is not None:
            self.settle(c)
            an = c.analyzer  # (settling may have failed it: then it is detached already)
        if an is not None:
            try:
                rec = an.record()
                summary = an.summary()
            except Exception as exc:  # noqa: BLE001 - never lose the row for a record() bug
                self.analyzer_errors[an.protocol] += 1
                rec, summary = {"error": f"record failed: {type(exc).__name__}"}, an.protocol
            app = c.app if c.app is not None else {}
            app["protocol"] = an.protocol
            app["summary"] = summary
            app[an.protocol.lower()] = rec
            c.app = app
            c.app_state = an.app_state
            c.analyzer = None
            held = self._held.pop(c, 0)
            if held:
                self.analyzer_buffered -= held
            if c.key[0] == 17 and self.table.get(c.key) is c:  # (not when it is ending)
                self._reschedule(c)  # a UDP row's timeout follows its protocol
        if not keep_streams:
            c.dpi = DPI_DONE
            self._drop_streams(c)
        elif c.h0 is not None and c.h1 is not None:
            for h in (c.h0, c.h1):
                if h.reasm is not None:
                    h.reasm.skip = 0  # the next analyzer says what it skips

    def _events(self, c: Conn, events: Iterable[AppEvent]) -> None:
        for ev in events:
            if isinstance(ev, NameResolved):
                self._learn_names(ev)
            elif isinstance(ev, ExpectConnection):
                self._expect(c, ev)
            if self.on_event is not None:
                self.on_event(c, ev)

    def _expect(self, parent: Conn, ev: ExpectConnection) -> None:
        addr = pton(ev.address) if ev.address else None
        self.expected[(ev.transport, addr, ev.port)] = (ev, parent.id, ev.ts + ev.timeout)
        while len(self.expected) > MAX_EXPECTED:
            del self.expected[next(iter(self.expected))]

    def _claim_expected(self, c: Conn) -> None:
        """A new row that an analyzer announced: label it, link it, skip detection."""
        hit = self.expected.pop((c.proto, c.s_addr, c.s_port), None) or self.expected.pop(
            (c.proto, None, c.s_port), None
        )
        if hit is None:
            return
        ev, parent_id, expiry = hit
        if c.first > expiry:
            return
        info = ev.info
        info.setdefault("parent", parent_id)
        c.app = {"protocol": ev.protocol, "summary": ev.protocol, ev.protocol.lower(): info}
        c.dpi = DPI_DONE

    def _learn_names(self, ev: NameResolved) -> None:
        names = self.names
        for a in ev.addresses:
            raw = pton(a)
            if raw is None:
                continue
            names[raw] = ev.name
            names.move_to_end(raw)
        while len(names) > self.max_names:
            names.popitem(last=False)

    # ------------------------------------------------------------------ UDP
    def _udp(self, p: Packet, ts: float, wirelen: int) -> Conn:
        src, dst, sport, dport = p.src, p.dst, p.sport, p.dport
        key, low = wire_key(17, src, sport, dst, dport, p.vlan)
        c = self.table.get(key)
        if c is None:
            c = self._new(key, p, self._client_is_src("udp", sport, dport), ts)
        if low == c.clow:  # sent by the originator
            d = 0
            c.pk0 += 1
            c.by0 += wirelen
            c.ipb0 += p.iplen
        else:
            d = 1
            c.pk1 += 1
            c.by1 += wirelen
            c.ipb1 += p.iplen
        header_excess(c, d, p)
        c.last = ts
        if p.payload:
            add_history(c, "d", d)
        if c.dpi != DPI_DONE and p.payload:
            if not self.dpi_enabled:
                c.dpi = DPI_DONE
                return c
            self._feed(c, d, bytes(p.payload), ts, "udp")
        return c

    # ------------------------------------------------------------------ ICMP, ARP, other
    def _other(self, p: Packet, ts: float, wirelen: int) -> Conn:
        src, dst = p.src, p.dst
        lo, hi = (src, dst) if src <= dst else (dst, src)
        key = (p.proto, lo, 0, hi, 0, p.vlan)
        c = self.table.get(key)
        if c is None:
            c = self._new(key, p, True, ts)
            c.state = "ACTIVE"
        self.count(c, p.src == c.c_addr, ts, wirelen, p)
        return c

    def count(
        self, c: Conn, from_client: bool, ts: float, wirelen: int, ip: Packet | None = None
    ) -> None:
        """One packet on a row of the general path; ``ip``: its decoded IP packet (None for
        ARP), for the IP-layer byte counts."""
        c.last = ts
        if from_client:
            c.pk0 += 1
            c.by0 += wirelen
            if ip is not None:
                c.ipb0 += ip.iplen
        else:
            c.pk1 += 1
            c.by1 += wirelen
            if ip is not None:
                c.ipb1 += ip.iplen
        if ip is not None:
            header_excess(c, 0 if from_client else 1, ip)

    # ------------------------------------------------------------------ rates
    def tick(self, now: float) -> None:
        """Update per-row rates: a two-interval sliding window ending at ``now``."""
        dt = now - self._last_tick if self._last_tick else 0.0
        if dt <= 0:
            self._last_tick = now
            return
        window = dt + self._prev_dt
        for c in self.table.values():
            d0 = c.by0 - c.tick_by0
            d1 = c.by1 - c.tick_by1
            c.rate0 = (d0 + c.prev_d0) / window
            c.rate1 = (d1 + c.prev_d1) / window
            c.prev_d0, c.prev_d1 = d0, d1
            c.tick_by0, c.tick_by1 = c.by0, c.by1
        self._prev_dt = dt
        self._last_tick = now

    def reset_rates(self) -> None:
        self._last_tick = 0.0
        self._prev_dt = 0.0
