"""Packet deduplication: the key, the window, the bound, and a capture where every packet
appears twice (as on ``-i any`` across a bridge: other MACs, TTL/hop limit one less, a new
IPv4 checksum) recorded with ``--dedup drop`` and ``--dedup count``."""

from __future__ import annotations

import json
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.cli import main
from netwatch.engine.dedup import Deduplicator, packet_key
from netwatch.store import store_path
from tests.util.corpus import corpus_file

ETH, SLL2 = 1, 276


def _ipv4(ttl: int = 64, csum: int = 0x1234, payload: bytes = b"hello") -> bytes:
    udp = struct.pack("!HHHH", 4000, 53, 8 + len(payload), 0) + payload
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0, ttl, 17, csum,
        bytes((198, 18, 0, 1)), bytes((198, 19, 0, 1)),
    ) + udp  # fmt: skip


def _eth(ip: bytes, mac: int = 1, etype: int = 0x0800) -> bytes:
    return bytes((2, 0, 0, 0, 0, mac)) + bytes((2, 0, 0, 0, 0, 9)) + etype.to_bytes(2, "big") + ip


def _sll2(ip: bytes, ifindex: int = 3) -> bytes:
    return struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 0, 6, bytes(8)) + ip


def test_copies_across_interfaces_and_hops_are_duplicates() -> None:
    d = Deduplicator()
    assert not d.is_duplicate(1.0, ETH, _eth(_ipv4()))
    assert d.is_duplicate(1.001, ETH, _eth(_ipv4(ttl=63, csum=0x1334), mac=7))
    assert d.is_duplicate(1.002, SLL2, _sll2(_ipv4(ttl=62, csum=0x9999)))
    assert d.duplicates == 2


def test_other_bytes_make_another_packet() -> None:
    d = Deduplicator()
    assert not d.is_duplicate(1.0, ETH, _eth(_ipv4(payload=b"hello")))
    assert not d.is_duplicate(1.0, ETH, _eth(_ipv4(payload=b"hellp")))


def test_ipv6_ignores_the_hop_limit_only() -> None:
    def v6(hops: int, flow: int = 0) -> bytes:
        hdr = struct.pack("!IHBB16s16s", 0x60000000 | flow, 8, 17, hops, bytes(16), bytes(16))
        return _eth(hdr + struct.pack("!HHHH", 1, 2, 8, 0), etype=0x86DD)

    d = Deduplicator()
    assert not d.is_duplicate(1.0, ETH, v6(64))
    assert d.is_duplicate(1.0, ETH, v6(63))
    assert not d.is_duplicate(1.0, ETH, v6(64, flow=5))


def test_window_and_non_ip() -> None:
    d = Deduplicator(window=0.05)
    pkt = _eth(_ipv4())
    assert not d.is_duplicate(1.0, ETH, pkt)
    assert not d.is_duplicate(1.2, ETH, pkt)  # a real resend, later than the window
    assert d.is_duplicate(1.21, ETH, pkt)
    arp = _eth(bytes(28), etype=0x0806)
    assert not d.is_duplicate(1.3, ETH, arp)
    assert not d.is_duplicate(1.3, ETH, arp)
    assert packet_key(ETH, arp) is None
    assert packet_key(ETH, _eth(b"\x45" + bytes(10))) is None  # truncated IP


def test_the_set_is_bounded() -> None:
    d = Deduplicator(max_entries=100)
    for i in range(10_000):
        d.is_duplicate(1.0, ETH, _eth(_ipv4(payload=i.to_bytes(4, "big"))))
    assert len(d._seen) <= 100
    assert d.duplicates == 0


def test_count_mode_keeps_the_batch() -> None:
    batch = [(1.0, ETH, _eth(_ipv4()), 47), (1.0, ETH, _eth(_ipv4(ttl=1), mac=3), 47)]
    counted = Deduplicator("count")
    assert list(counted.filter(batch)) == batch and counted.duplicates == 1
    dropped = Deduplicator("drop")
    assert list(dropped.filter(batch)) == batch[:1] and dropped.duplicates == 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.binary(max_size=120))
def test_any_frame_is_keyed_or_skipped(lt: int, data: bytes) -> None:
    key = packet_key(lt, data)
    assert key is None or isinstance(key, bytes)
    Deduplicator().filter([(0.0, lt, data, len(data))])


# ---------------------------------------------------------------- a doubled capture
def _double(src: Path, dst: Path) -> tuple[int, int]:
    """Every frame, then its copy as a bridge forwards it; returns (frames, IP frames)."""
    frames = ip_frames = 0
    with src.open("rb") as fh, dst.open("wb") as out:
        reader = dpkt.pcapng.Reader(fh) if src.suffix == ".pcapng" else dpkt.pcap.Reader(fh)
        assert reader.datalink() == ETH
        writer = dpkt.pcap.Writer(out, snaplen=262144, linktype=ETH)
        for ts, buf in reader:
            frames += 1
            copy = bytearray(buf)
            copy[0:12] = bytes((2, 0, 0, 0, 0, 0xAA)) + bytes((2, 0, 0, 0, 0, 0xBB))
            etype = int.from_bytes(buf[12:14], "big")
            if etype == 0x0800:
                copy[14 + 8] -= 1
                copy[14 + 10 : 14 + 12] = b"\xde\xad"
                ip_frames += 1
            elif etype == 0x86DD:
                copy[14 + 7] -= 1
                ip_frames += 1
            writer.writepkt(buf, ts)
            writer.writepkt(bytes(copy), ts)
    return frames, ip_frames


def _records(store: Path, tmp: Path) -> list[dict[str, Any]]:
    out = tmp / "r.jsonl"
    assert main(["export", "--store", str(store), "--format", "jsonl", "-o", str(out)]) == 0
    return sorted(
        (json.loads(x) for x in out.read_text().splitlines()),
        key=lambda r: (r["first_seen"], r["id"]),
    )


def _stats(store: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(store_path(store))
    try:
        row = db.execute("SELECT seen, stored, duplicates FROM packet_stats").fetchone()
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        db.close()


@pytest.mark.parametrize("name", ["foxio_tls-handshake.pcapng", "ndpi_http_ipv6.pcap"])
def test_doubled_capture_drop(name: str, tmp_path: Path) -> None:
    orig = corpus_file(name)
    doubled = tmp_path / "doubled.pcap"
    frames, ip_frames = _double(orig, doubled)
    assert ip_frames == frames  # every frame can be deduplicated in these captures
    ref = tmp_path / "ref"
    assert main(["record", "-r", str(orig), "--store", str(ref)]) == 0
    store = tmp_path / "dedup"
    argv = ["record", "-r", str(doubled), "--store", str(store), "--packets", "--dedup", "drop"]
    assert main(argv) == 0
    assert _records(store, tmp_path) == _records(ref, tmp_path)
    assert _stats(store) == (frames, frames, frames)
    # Without deduplication the copies count twice: the test above is not vacuous.
    plain = tmp_path / "plain"
    assert main(["record", "-r", str(doubled), "--store", str(plain)]) == 0
    doubled_counts = sum(r["packets_out"] + r["packets_in"] for r in _records(plain, tmp_path))
    assert doubled_counts == 2 * frames


def test_doubled_capture_count(tmp_path: Path) -> None:
    orig = corpus_file("foxio_tls-handshake.pcapng")
    doubled = tmp_path / "doubled.pcap"
    frames, _ = _double(orig, doubled)
    store = tmp_path / "count"
    argv = ["record", "-r", str(doubled), "--store", str(store), "--packets", "--dedup", "count"]
    assert main(argv) == 0
    assert _stats(store) == (2 * frames, 2 * frames, frames)
    assert sum(r["packets_out"] + r["packets_in"] for r in _records(store, tmp_path)) == 2 * frames


def test_dedup_without_packets_reports_on_stderr(tmp_path: Path) -> None:
    doubled = tmp_path / "doubled.pcap"
    frames, _ = _double(corpus_file("foxio_tls-handshake.pcapng"), doubled)
    argv = ["record", "-r", str(doubled), "--store", str(tmp_path / "s"), "--dedup", "drop"]
    # A process of its own: the recorder's log handler writes to the stderr it started with.
    done = subprocess.run(
        [sys.executable, "-m", "netwatch", *argv], capture_output=True, text=True, check=True
    )
    assert f"{frames} duplicate packets dropped" in done.stderr
