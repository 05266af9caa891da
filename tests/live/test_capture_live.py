"""Live capture against tcpdump on a veth pair between two throwaway network namespaces.

Topology (names unique per run, removed in fixture teardown even on failure)::

    netns A: veth a 198.18.0.1/24  <---->  veth b 198.18.0.2/24 :netns B

Sources and tcpdump capture veth a (or ``any`` in A) at the same time, with the same
filter, while known UDP/TCP traffic crosses; packets, bytes and wire lengths must match
tcpdump's exactly. Sockets are opened inside a namespace by switching the calling
thread's network namespace (setns) for the duration of the ``socket()`` call: a socket
stays in the namespace it was created in.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pytest

from netwatch.capture.afpacket import AfPacketSource
from netwatch.capture.base import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW
from netwatch.capture.libpcap import LibpcapSource
from netwatch.errors import CaptureError

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tcpdump") is None,
        reason="needs root, iproute2 and tcpdump",
    ),
]

CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)
FILTER = "udp port 5555 or tcp port 5556"
A, B = "198.18.0.1", "198.18.0.2"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block with this thread in netns ``name`` (for creating sockets there)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _LIBC.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if _LIBC.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(target)
        os.close(home)


@dataclass
class Pair:
    ns_a: str
    ns_b: str
    if_a: str
    if_b: str


@pytest.fixture
def pair() -> Iterator[Pair]:
    tag = secrets.token_hex(3)
    p = Pair(f"nwcap-{tag}-a", f"nwcap-{tag}-b", f"nwc{tag}a", f"nwc{tag}b")
    try:
        sh("ip", "netns", "add", p.ns_a)
        sh("ip", "netns", "add", p.ns_b)
        sh("ip", "link", "add", p.if_a, "netns", p.ns_a, "type", "veth", "peer", "name",
           p.if_b, "netns", p.ns_b)  # fmt: skip
        for ns, ifname, addr in ((p.ns_a, p.if_a, A), (p.ns_b, p.if_b, B)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", ifname)
            sh("ip", "-n", ns, "link", "set", ifname, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield p
    finally:
        for ns in (p.ns_a, p.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


class Tcpdump:
    """tcpdump writing a pcap in a namespace; ``stop()`` returns (data, wirelen, ts)."""

    def __init__(self, ns: str, ifname: str, expr: str, path: Path) -> None:
        # On "any", ask for the SLL header libpcap gives LibpcapSource (not SLL2).
        link = ["-y", "LINUX_SLL"] if ifname == "any" else []
        self.path = path
        self.proc = subprocess.Popen(
            # -B: a big buffer, so that tcpdump (not the source under test) loses nothing
            # when the shared CPU is busy; stop() checks its drop count anyway.
            ["ip", "netns", "exec", ns, "tcpdump", "-i", ifname, "-n", "-U", "-s", "262144",
             "-B", "65536", *link,
             "--immediate-mode", "--time-stamp-precision=nano", "-w", str(path), expr],
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = ""
        while "listening on" not in line:  # printed once it is capturing
            line = self.proc.stderr.readline().decode()
            assert line, "tcpdump exited before capturing"

    def stop(self) -> list[tuple[bytes, int, float]]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        dropped = re.search(rb"(\d+) packets? dropped by kernel", err)
        assert dropped and dropped.group(1) == b"0", f"tcpdump lost packets: {err!r}"
        with self.path.open("rb") as fh:
            reader = dpkt.pcap.Reader(fh)
            out = []
            for ts, buf in reader:
                out.append((bytes(buf), 0, float(ts)))
        # dpkt does not expose the per-record wire length: read it from the records.
        raw = self.path.read_bytes()
        off, wire = 24, []
        while off + 16 <= len(raw):
            _s, _f, incl, orig = struct.unpack_from("<IIII", raw, off)
            wire.append(orig)
            off += 16 + incl
        return [(d, w, ts) for (d, _, ts), w in zip(out, wire, strict=True)]


class Collector:
    """Drains a source in a thread, copying every packet."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.packets: list[tuple[float, int, bytes, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: Exception | None = None
        self.thread.start()

    def _run(self) -> None:
        try:
            for batch in self.source.batches():
                for ts, lt, data, wire in batch:
                    self.packets.append((ts, lt, bytes(data), wire))
        except Exception as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def stop(self, settle: float = 0.4) -> list[tuple[float, int, bytes, int]]:
        time.sleep(settle)  # > timeout_ms: the last partly filled block is retired
        self.source.close()
        self.thread.join(5)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error
        return self.packets


def send_traffic(p: Pair, udp_count: int = 40) -> None:
    """``udp_count`` datagrams A→B (sizes 1..) and one TCP exchange on port 5556."""
    with in_netns(p.ns_b):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind((B, 5555))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((B, 5556))
        listener.listen(1)
    with in_netns(p.ns_a):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while len(data) < 3000:
                data += conn.recv(65536)
            conn.sendall(b"pong" * 100)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    with rx, tx, listener, client:
        for i in range(udp_count):
            tx.sendto(bytes([i % 256]) * (1 + 25 * i), (B, 5555))
        client.connect((B, 5556))
        client.sendall(b"ping" * 750)
        got = b""
        while len(got) < 400:
            got += client.recv(65536)
        client.shutdown(socket.SHUT_WR)
        server.join(5)
        time.sleep(0.2)


def open_source(kind: str, ns: str, ifname: str | None, bpf: str | None, **kw: Any) -> Any:
    with in_netns(ns):
        if kind == "afpacket":
            return AfPacketSource(ifname, bpf, timeout_ms=20, **kw)
        return LibpcapSource(ifname, bpf, timeout_ms=20, **kw)


def udp_payload_sizes(packets: list[tuple[float, int, bytes, int]], port: int) -> list[int]:
    sizes = []
    for _ts, lt, data, _w in packets:
        ip = dpkt.ethernet.Ethernet(data).data if lt == LINKTYPE_ETHERNET else dpkt.ip.IP(data)
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP):
            if ip.data.dport == port:
                sizes.append(len(ip.data.data))
    return sizes


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_veth_capture_matches_tcpdump(pair: Pair, kind: str, tmp_path: Path) -> None:
    dump = Tcpdump(pair.ns_a, pair.if_a, FILTER, tmp_path / "truth.pcap")
    source = open_source(kind, pair.ns_a, pair.if_a, FILTER)
    collector = Collector(source)
    send_traffic(pair)
    ours = collector.stop()
    truth = dump.stop()
    assert [(d, w) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]
    assert {lt for _ts, lt, _d, _w in ours} == {LINKTYPE_ETHERNET}
    assert udp_payload_sizes(ours, 5555) == [1 + 25 * i for i in range(40)]
    assert len(ours) >= 40 + 8  # UDP + at least handshake, data, FINs
    for (ts, *_), (_d, _w, truth_ts) in zip(ours, truth, strict=True):
        assert abs(ts - truth_ts) < 0.05
    stats = source.stats()
    assert stats.received == len(ours)
    assert stats.bytes_read == sum(len(d) for _ts, _lt, d, _w in ours)
    assert stats.kernel_drops == 0


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_any_interface_matches_tcpdump_and_sees_loopback_once(
    pair: Pair, kind: str, tmp_path: Path
) -> None:
    dump = Tcpdump(pair.ns_a, "any", "udp port 5555", tmp_path / "truth.pcap")
    source = open_source(kind, pair.ns_a, None, "udp port 5555")
    collector = Collector(source)
    send_traffic(pair, udp_count=10)
    with in_netns(pair.ns_a):
        lo_rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        lo_rx.bind(("127.0.0.1", 5555))
        with lo_rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as lo_tx:
            for i in range(5):
                lo_tx.sendto(b"L" * (i + 1), ("127.0.0.1", 5555))
            assert [len(lo_rx.recv(100)) for _ in range(5)] == [1, 2, 3, 4, 5]
    ours = collector.stop()
    truth = dump.stop()
    assert len(truth) == 15 == len(ours)  # lo: each datagram once, not out + in
    if kind == "afpacket":
        # Cooked capture: IP without the SLL header tcpdump adds.
        assert {lt for _ts, lt, _d, _w in ours} == {LINKTYPE_RAW}
        assert [(d[16:], w - 16) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]
    else:
        assert [(d, w) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]


def tagged_frame(tpid: int, vid: int, size: int) -> bytes:
    """Ethernet + 802.1Q/802.1ad tag + IPv4/UDP 198.19.0.2:5557 -> 198.19.0.1:5557."""
    udp = dpkt.udp.UDP(sport=5557, dport=5557, data=b"v" * size)
    ip = dpkt.ip.IP(src=socket.inet_aton("198.19.0.2"), dst=socket.inet_aton("198.19.0.1"),
                    p=dpkt.ip.IP_PROTO_UDP, ttl=64, data=udp)  # fmt: skip
    ip.len = 20 + 8 + size
    udp.ulen = 8 + size
    macs = bytes.fromhex("020000000001020000000002")
    return macs + struct.pack(">HHH", tpid, vid, 0x0800) + bytes(ip)


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_vlan_tag_is_reinserted(pair: Pair, kind: str, tmp_path: Path) -> None:
    # Tagged frames are written onto veth b; veth a's receive path moves the tag into
    # skb metadata (as a NIC with VLAN offload does) before the capture taps see it.
    frames = [tagged_frame(0x8100, 100, 10 + i) for i in range(6)]
    frames.append(tagged_frame(0x88A8, 0x2000 | 7, 40))  # 802.1ad, priority 1
    dump = Tcpdump(pair.ns_a, pair.if_a, "vlan and udp port 5557", tmp_path / "truth.pcap")
    # The kernel filter sees the frame without its tag, so a plain "udp" matches it;
    # libpcap's live-handle compiler knows that and reads the tag from metadata.
    bpf = "udp port 5557" if kind == "afpacket" else "vlan and udp port 5557"
    source = open_source(kind, pair.ns_a, pair.if_a, bpf)
    collector = Collector(source)
    with in_netns(pair.ns_b):
        inject = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    with inject:
        inject.bind((pair.if_b, 0))
        for frame in frames:
            inject.send(frame)
    ours = collector.stop()
    truth = dump.stop()
    assert [(lt, d, w) for _ts, lt, d, w in ours] == [
        (LINKTYPE_ETHERNET, f, len(f)) for f in frames
    ]
    assert [(d, w) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_close_wakes_a_blocked_reader_promptly(pair: Pair, kind: str) -> None:
    source = open_source(kind, pair.ns_a, pair.if_a, FILTER)
    collector = Collector(source)
    time.sleep(0.3)  # blocked in poll: no matching traffic
    start = time.monotonic()
    collector.stop(settle=0)
    assert time.monotonic() - start < 0.5  # poll() alone would wait 1 s (AF_PACKET) or forever
    assert collector.packets == []
    source.close()  # idempotent
    assert source.stats().received == 0


def test_close_before_reading_releases_and_batches_refuses(pair: Pair) -> None:
    source = open_source("afpacket", pair.ns_a, pair.if_a, None)
    source.close()
    with pytest.raises(Exception, match="closed"):
        next(iter(source.batches()))


def test_kernel_drops_are_counted_and_accumulated(pair: Pair) -> None:
    # A 2-block ring of one page each cannot hold 300 datagrams sent while nobody reads.
    source = open_source(
        "afpacket", pair.ns_a, pair.if_a, "udp port 5555", block_size=4096, block_count=2
    )
    with in_netns(pair.ns_a):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tx:
        for _ in range(300):
            tx.sendto(b"d" * 200, (B, 5555))
    time.sleep(0.1)
    first = source.stats()  # the kernel resets its counters on each read
    assert first.kernel_drops > 0
    collector = Collector(source)
    packets = collector.stop()
    final = source.stats()
    assert final.kernel_drops >= first.kernel_drops
    assert len(packets) + final.kernel_drops == 300
    assert final.received == len(packets)


def test_snaplen_truncates_but_keeps_wire_length(pair: Pair) -> None:
    source = open_source("afpacket", pair.ns_a, pair.if_a, "udp port 5555", snaplen=64)
    collector = Collector(source)
    with in_netns(pair.ns_a):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tx:
        tx.sendto(b"s" * 500, (B, 5555))
    (packet,) = collector.stop()
    assert len(packet[2]) == 64
    assert packet[3] == 14 + 20 + 8 + 500


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_removed_interface_ends_the_reader_with_capture_error(pair: Pair, kind: str) -> None:
    source = open_source(kind, pair.ns_a, pair.if_a, None)
    collector = Collector(source)
    time.sleep(0.2)
    sh("ip", "-n", pair.ns_a, "link", "del", pair.if_a)
    collector.thread.join(2)
    assert not collector.thread.is_alive()
    assert isinstance(collector.error, CaptureError)
    assert pair.if_a in str(collector.error)
    source.close()


def _promiscuity(ns: str, ifname: str) -> int:
    out = subprocess.run(
        ["ip", "-n", ns, "-d", "link", "show", "dev", ifname],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    found = re.search(r"promiscuity (\d+)", out)
    assert found, out
    return int(found.group(1))


def test_promiscuous_membership_lasts_as_long_as_the_source(pair: Pair) -> None:
    assert _promiscuity(pair.ns_a, pair.if_a) == 0
    source = open_source("afpacket", pair.ns_a, pair.if_a, None, promiscuous=True)
    assert _promiscuity(pair.ns_a, pair.if_a) == 1
    source.close()
    assert _promiscuity(pair.ns_a, pair.if_a) == 0
    plain = open_source("afpacket", pair.ns_a, pair.if_a, None)
    assert _promiscuity(pair.ns_a, pair.if_a) == 0
    plain.close()


@pytest.mark.parametrize("kind", ["afpacket", "libpcap"])
def test_ipv6_on_any_matches_tcpdump(pair: Pair, kind: str, tmp_path: Path) -> None:
    ends = ((pair.ns_a, pair.if_a, "fd00:6e77::1"), (pair.ns_b, pair.if_b, "fd00:6e77::2"))
    for ns, ifname, addr in ends:
        sh("ip", "-n", ns, "addr", "add", f"{addr}/64", "dev", ifname, "nodad")
    dump = Tcpdump(pair.ns_a, "any", "udp port 5558", tmp_path / "truth.pcap")
    source = open_source(kind, pair.ns_a, "any", "udp port 5558")
    collector = Collector(source)
    with in_netns(pair.ns_b):
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("fd00:6e77::2", 5558))
    with in_netns(pair.ns_a):
        tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    with rx, tx:
        for i in range(8):
            tx.sendto(b"6" * (i + 1), ("fd00:6e77::2", 5558))
        assert [len(rx.recv(100)) for _ in range(8)] == list(range(1, 9))
    ours = collector.stop()
    truth = dump.stop()
    assert len(ours) == 8 == len(truth)
    if kind == "afpacket":
        assert all(lt == LINKTYPE_RAW and d[0] >> 4 == 6 for _ts, lt, d, _w in ours)
        assert [(d[16:], w - 16) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]
    else:
        assert [(d, w) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]


def test_vlan_tag_on_any_goes_into_the_sll_header_as_libpcap_does(
    pair: Pair, tmp_path: Path
) -> None:
    frames = [tagged_frame(0x8100, 100, 10 + i) for i in range(4)]
    frames.append(tagged_frame(0x88A8, 7, 40))
    dump = Tcpdump(pair.ns_a, "any", "udp port 5557", tmp_path / "truth.pcap")
    source = open_source("afpacket", pair.ns_a, None, "udp port 5557")
    collector = Collector(source)
    with in_netns(pair.ns_b):
        inject = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    with inject:
        inject.bind((pair.if_b, 0))
        for frame in frames:
            inject.send(frame)
    ours = collector.stop()
    truth = dump.stop()
    assert {lt for _ts, lt, _d, _w in ours} == {LINKTYPE_LINUX_SLL}
    # SLL header, then the tag where the protocol was, then the original protocol.
    assert [d[14:20] for _ts, _lt, d, _w in ours] == [f[12:18] for f in frames]
    assert [d[20:] for _ts, _lt, d, _w in ours] == [f[18:] for f in frames]
    assert [(d, w) for d, w, _ts in truth] == [(d, w) for _ts, _lt, d, w in ours]
