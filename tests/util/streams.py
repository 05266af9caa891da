"""Test-only stream extraction with dpkt, independent of netwatch's own engine.

Gives analyzer unit tests the application bytes of each flow of a real capture, in
capture order, so analyzers can be checked before (and apart from) the engine:

    for flow in flows_of(corpus_file("ndpi_ssh.pcap")):
        for direction, data, ts in flow.chunks: ...

TCP bytes are put in order per direction (a tiny reassembler: out-of-order segments wait,
retransmitted bytes are dropped). The originator is the SYN sender, else the first sender.
dpkt is fine here: this is a cold test path, not the product's hot path.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

CLIENT, SERVER = 0, 1


@dataclass
class _Dir:
    next_seq: int | None = None
    pending: dict[int, bytes] = field(default_factory=dict)


@dataclass
class Flow:
    transport: str
    client: tuple[str, int]
    server: tuple[str, int]
    chunks: list[tuple[int, bytes, float]] = field(default_factory=list)
    _dirs: tuple[_Dir, _Dir] = field(default_factory=lambda: (_Dir(), _Dir()))

    def data(self, direction: int) -> bytes:
        return b"".join(d for dr, d, _ in self.chunks if dr == direction)


def _ip_of(linktype: int, buf: bytes) -> dpkt.Packet | None:
    try:
        if linktype == dpkt.pcap.DLT_EN10MB:
            eth = dpkt.ethernet.Ethernet(buf)
            return eth.data if isinstance(eth.data, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
        if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            lo = dpkt.loopback.Loopback(buf)
            return lo.data if isinstance(lo.data, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
        if linktype in (dpkt.pcap.DLT_RAW, 12, 101, 14):
            return dpkt.ip.IP(buf) if buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
        if linktype == dpkt.pcap.DLT_LINUX_SLL:
            sll = dpkt.sll.SLL(buf)
            return sll.data if isinstance(sll.data, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
        if linktype == 276:  # SLL2: 20-byte header, protocol in the first 2 bytes
            inner = buf[20:]
            return dpkt.ip.IP(inner) if inner[0] >> 4 == 4 else dpkt.ip6.IP6(inner)
    except (dpkt.UnpackError, IndexError, ValueError):
        return None
    return None


def _reader(path: Path) -> Iterator[tuple[float, bytes, int]]:
    with path.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        rdr = dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        linktype = rdr.datalink()
        for ts, buf in rdr:
            yield float(ts), bytes(buf), linktype


def _addr(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def flows_of(path: Path) -> list[Flow]:
    """Every TCP connection and UDP 5-tuple of a capture, with its ordered chunks."""
    flows: dict[tuple[object, ...], Flow] = {}
    for ts, buf, linktype in _reader(path):
        ip = _ip_of(linktype, buf)
        if ip is None:
            continue
        l4 = ip.data
        if isinstance(l4, dpkt.tcp.TCP):
            transport = "tcp"
        elif isinstance(l4, dpkt.udp.UDP):
            transport = "udp"
        else:
            continue
        src = (_addr(ip.src), l4.sport)
        dst = (_addr(ip.dst), l4.dport)
        key = (transport, *sorted([src, dst]))
        flow = flows.get(key)
        if flow is None:
            if transport == "tcp" and (l4.flags & dpkt.tcp.TH_SYN) and (l4.flags & dpkt.tcp.TH_ACK):
                flow = Flow(transport, dst, src)  # SYN-ACK first: the receiver opened it
            else:
                flow = Flow(transport, src, dst)
            flows[key] = flow
        direction = CLIENT if src == flow.client else SERVER
        payload = bytes(l4.data)
        if transport == "udp":
            if payload:
                flow.chunks.append((direction, payload, ts))
            continue
        d = flow._dirs[direction]
        seq = l4.seq
        if l4.flags & dpkt.tcp.TH_SYN:
            d.next_seq = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        if d.next_seq is None:
            d.next_seq = seq
        d.pending.setdefault(seq, payload)
        while True:
            progressed = False
            for s in list(d.pending):
                data = d.pending[s]
                off = (d.next_seq - s) & 0xFFFFFFFF
                if off < len(data):  # starts at or before next_seq and reaches past it
                    del d.pending[s]
                    new = data[off:]
                    flow.chunks.append((direction, new, ts))
                    d.next_seq = (d.next_seq + len(new)) & 0xFFFFFFFF
                    progressed = True
                elif off < 0x80000000:  # entirely old: a retransmission
                    del d.pending[s]
            if not progressed:
                break
    return list(flows.values())
