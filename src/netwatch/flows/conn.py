"""The mutable row of the live table (never shown directly: see ``view()``).

Memory matters: a flood of one-packet flows must stay bounded, and the target is under
1 KiB per connection. So a row is one slotted object; TCP-only state lives in two small
:class:`TcpHalf` objects created for TCP rows only; DPI state exists only while an analyzer
is attached, and is replaced by its final record (a dict) when it detaches.
Per-direction fields use index 0 for originator→responder ("client→server").
"""

from __future__ import annotations

import struct
from typing import Any

from netwatch.decode.packet import PROTO_NAMES
from netwatch.dpi.base import Analyzer
from netwatch.model.process import Attribution, ProcessInfo
from netwatch.reassembly.stream import StreamReassembler

DPI_UNDECIDED, DPI_ACTIVE, DPI_DONE = 0, 1, 2

#: A row's key in the table: see :func:`wire_key` (TCP/UDP) and flows/icmp.py.
Key = tuple[Any, ...]
_PORTS = struct.Struct("!HH").pack

#: History letters (Zeek's conn.log ``history``): s SYN, h SYN+ACK, a pure ACK, d data,
#: f FIN, r RST, t retransmitted data. One int per row holds it all (memory: a row must stay
#: under 1 KiB): bits 0-13 say which (letter, direction) pairs were seen, and from bit 14 on
#: 4-bit codes (index*2 + direction + 1) record them in the order they were first seen.
HIST_LETTERS = "shadfrt"
HIST_BIT = {ch: 1 << (2 * i) for i, ch in enumerate(HIST_LETTERS)}
_HIST_SEQ = 14


def add_history(c: Conn, letter: str, d: int) -> None:
    """Record ``letter`` for direction ``d`` (0 = originator) the first time it is seen."""
    i = HIST_LETTERS.index(letter)
    bit = 1 << (2 * i + d)
    h = c.hist
    if not h & bit:
        count = (h & ((1 << _HIST_SEQ) - 1)).bit_count()
        c.hist = h | bit | ((2 * i + d + 1) << (_HIST_SEQ + 4 * count))


#: History strings by ``hist`` value: rows repeat a few patterns ("ShADadFf"), and a view
#: is built per row per frame; bounded (cleared when full).
_HISTORY_TEXT: dict[int, str] = {}


def history(c: Conn) -> str:
    """The Zeek history string: upper case for the originator, lower for the responder."""
    text = _HISTORY_TEXT.get(c.hist)
    if text is None:
        if len(_HISTORY_TEXT) >= 4096:
            _HISTORY_TEXT.clear()
        text = _HISTORY_TEXT[c.hist] = _history_text(c.hist)
    return text


def _history_text(hist: int) -> str:
    out = []
    seq = hist >> _HIST_SEQ
    while seq:
        code = (seq & 0xF) - 1
        ch = HIST_LETTERS[code >> 1]
        out.append(ch.upper() if not code & 1 else ch)
        seq >>= 4
    return "".join(out)


def wire_key(
    proto: int, src: bytes, sport: int, dst: bytes, dport: int, vlan: Any
) -> tuple[Key, bool]:
    """A TCP/UDP row's key, and whether the packet's source is the key's lower side.

    The key is ``(proto, wire, vlan)``, ``wire`` being the lower endpoint's address, the
    higher one's, then their ports, as the bytes sit in an IP/TCP header (source address,
    destination address, source port, destination port). One bytes object instead of two
    addresses and two port numbers: ~110 bytes less per row, and the fast path can build it
    from a packet's header bytes without decoding them.

    Lower: the smaller address, or the smaller port when the addresses are equal; as
    bytes, ``wire <= swapped(wire)``. ICMP, ARP and other rows keep the long form
    ``(proto, low address, low port or id, high address, high port or id, vlan)``."""
    if src < dst or (src == dst and sport <= dport):
        return (proto, src + dst + _PORTS(sport, dport), vlan), True
    return (proto, dst + src + _PORTS(dport, sport), vlan), False


def _wire_sides(wire: bytes) -> tuple[bytes, int, bytes, int]:
    """(lower address, its port, higher address, its port) of a key's wire bytes."""
    n = (len(wire) - 4) >> 1
    p = n + n
    return wire[:n], (wire[p] << 8) | wire[p + 1], wire[n:p], (wire[p + 2] << 8) | wire[p + 3]


def _side(key: Key, low: bool) -> tuple[bytes, int]:
    """(address, port) of a key's lower or higher side (port 0 for ICMP ids and the like)."""
    if len(key) == 3:  # (proto, wire, vlan)
        lo, lo_port, hi, hi_port = _wire_sides(key[1])
        return (lo, lo_port) if low else (hi, hi_port)
    port = key[2] if low else key[4]
    return (key[1] if low else key[3]), (port if type(port) is int else 0)


def originator_is_low(key: Key, c_addr: bytes, c_port: int) -> bool:
    """Is the originator (address, port) the key's lower side?"""
    return _side(key, True) == (c_addr, c_port)


class TcpHalf:
    """Sequence tracking for one direction of a TCP connection."""

    __slots__ = ("fin_ack", "hi", "hi_ts", "isn", "last_aw", "reasm", "start")

    def __init__(self) -> None:
        self.hi: int | None = None  # highest sequence end seen (SYN and FIN count one)
        self.hi_ts = 0.0
        self.fin_ack: int | None = None  # the ack value that acknowledges this side's FIN
        # The last ack number and window, packed as ``ack << 16 | window`` (one int, not
        # two: memory per row), for duplicate-ACK detection.
        self.last_aw = -1
        self.isn: int | None = None  # the SYN's sequence number, when seen
        # No SYN seen: one before the first byte this side sent (as if a SYN had been
        # there, as Zeek counts a picked-up side), for the payload byte count.
        self.start: int | None = None
        self.reasm: StreamReassembler | None = None


class Conn:
    __slots__ = (
        "analyzer",
        "app",
        "app_state",
        "by0",
        "by1",
        "closed",
        "closed_at",
        "clow",
        "detect_tries",
        "dpi",
        "dup_acks",
        "extra",
        "first",
        "h0",
        "h1",
        "hist",
        "id",
        "ipb0",
        "ipb1",
        "key",
        "last",
        "local_is_client",
        "name",
        "ooo",
        "pk0",
        "pk1",
        "prev_d0",
        "prev_d1",
        "proc",
        "proc_tries",
        "rate0",
        "rate1",
        "retrans",
        "rtt",
        "state",
        "syn_ts",
        "tick_by0",
        "tick_by1",
        "timeout",
    )

    def __init__(
        self,
        cid: int,
        key: Key,
        clow: bool,
        ts: float,
        local_is_client: bool,
    ) -> None:
        self.id = cid
        self.key = key
        # The endpoints, protocol and VLAN live in ``key`` only (memory: a row must stay
        # under 1 KiB); ``clow`` says whether the originator is the key's lower side.
        self.clow = clow
        self.first = ts
        self.last = ts
        self.pk0 = self.pk1 = self.by0 = self.by1 = 0
        self.ipb0 = self.ipb1 = 0  # IP-layer bytes (headers' lengths), Zeek's ip_bytes
        self.tick_by0 = self.tick_by1 = self.prev_d0 = self.prev_d1 = 0
        self.rate0 = self.rate1 = 0.0
        self.state = "NEW"
        self.closed = False
        self.closed_at: float | None = None  # TCP: the second FIN's time (Zeek's duration)
        self.timeout = 0.0  # 0: use the table's value for proto/state
        self.local_is_client = local_is_client
        # TCP only: the two directions' sequence state (two slots, not a tuple: memory).
        self.h0: TcpHalf | None = None
        self.h1: TcpHalf | None = None
        self.rtt: float | None = None
        self.retrans = self.ooo = self.dup_acks = 0
        self.dpi = DPI_UNDECIDED
        self.detect_tries = 0
        self.analyzer: Analyzer | None = None
        self.app: dict[str, Any] | None = None
        self.app_state: str | None = None
        self.extra: dict[str, Any] | None = None
        self.name: str | None = None  # the remote's name from DNS seen before the row began
        # The owning process, set by the engine's attribution step (live capture only).
        self.proc: tuple[ProcessInfo, Attribution] | None = None
        self.proc_tries = 0
        # Zeek-style history: each letter once per direction, in order of first sight;
        # upper case from the originator. ``hmask`` has one bit per (letter, direction).
        self.hist = 0  # see add_history
        self.syn_ts = 0.0  # TCP: when the originator's SYN was seen (0: never, picked up)

    # -- derived from the key (see __init__) ---------------------------------------------
    @property
    def proto(self) -> str:
        k0 = self.key[0]  # an IP protocol number, or "arp"
        if type(k0) is str:
            return k0
        return PROTO_NAMES.get(k0) or f"ip-{k0}"

    @property
    def ipver(self) -> int:
        return 4 if len(self.key[1]) in (4, 12) else 6

    @property
    def vlan(self) -> int | tuple[int, ...] | None:
        v: int | tuple[int, ...] | None = self.key[-1]
        return v

    @property
    def c_addr(self) -> bytes:
        return _side(self.key, self.clow)[0]

    @property
    def s_addr(self) -> bytes:
        return _side(self.key, not self.clow)[0]

    @property
    def c_port(self) -> int:
        return _side(self.key, self.clow)[1]

    @property
    def s_port(self) -> int:
        return _side(self.key, not self.clow)[1]

    def endpoints(self) -> tuple[bytes, int, bytes, int]:
        """(originator address, its port, responder address, its port) in one call."""
        key = self.key
        if len(key) == 3:
            lo, lo_port, hi, hi_port = _wire_sides(key[1])
            if self.clow:
                return lo, lo_port, hi, hi_port
            return hi, hi_port, lo, lo_port
        (a, ap), (b, bp) = _side(key, self.clow), _side(key, not self.clow)
        return a, ap, b, bp


_SEQ = 1 << 32
_SEQ_HALF = 1 << 31
#: Transport header bytes per packet of rows without sequence numbers (UDP, ICMP).
_L4_HEADER = {17: 8, 1: 8, 58: 8}


def _tcp_payload(h: TcpHalf, peer: TcpHalf, ip_bytes: int, packets: int) -> int:
    """Payload bytes one side sent, from sequence numbers as Zeek counts them: from its
    first sequence number (the SYN's, or one before the first byte of a side picked up)
    to the highest of its last byte seen and the peer's acknowledgement, less the SYN and
    FIN octets. Bytes lost before the capture but acknowledged are counted; repeats not."""
    start = h.isn if h.isn is not None else h.start
    last = h.hi
    if start is None or last is None:
        return 0
    if peer.last_aw >= 0:
        acked = peer.last_aw >> 16
        if 0 < (acked - last) % _SEQ < _SEQ_HALF:
            last = acked
    size = (last - start) % _SEQ
    if size:
        size -= 1  # the SYN's octet (or the one assumed for a side picked up)
    if h.fin_ack is not None and size:
        size -= 1  # the FIN's
    # Past 4 GiB the 32-bit difference wraps: the IP bytes (each packet carries at least
    # 40 bytes of headers) say how many times.
    if ip_bytes >= _SEQ:
        room = ip_bytes - 40 * packets - size
        if room >= _SEQ:
            size += (room // _SEQ) * _SEQ
    return size


def byte_counts(c: Conn) -> tuple[int, int, int, int] | None:
    """``(ip_bytes_0, ip_bytes_1, payload_bytes_0, payload_bytes_1)`` of a row, by
    direction (0: the originator's), or None for a row without IP (ARP).

    IP bytes are the sum of the packets' IP lengths (Zeek's ``orig_ip_bytes``). Payload
    bytes (Zeek's ``orig_bytes``): TCP from sequence numbers (:func:`_tcp_payload`); any
    other protocol, the IP bytes less each packet's IP header and, for UDP and ICMP, the
    8 bytes of its own header."""
    proto = c.key[0]
    if proto == "arp":
        return None
    ip0, ip1 = c.ipb0, c.ipb1
    if c.h0 is not None and c.h1 is not None:
        return (
            ip0,
            ip1,
            _tcp_payload(c.h0, c.h1, ip0, c.pk0),
            _tcp_payload(c.h1, c.h0, ip1, c.pk1),
        )
    per_packet = (20 if c.ipver == 4 else 40) + _L4_HEADER.get(proto, 0)
    x0 = x1 = 0
    if c.extra is not None and "_hx" in c.extra:
        x0, x1 = c.extra["_hx"]
    return (
        ip0,
        ip1,
        max(0, ip0 - per_packet * c.pk0 - x0),
        max(0, ip1 - per_packet * c.pk1 - x1),
    )
