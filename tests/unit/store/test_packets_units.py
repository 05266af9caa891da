"""The packet store's parts: pcapng blocks, the writer's rotation, retention, sampling and
queue bound, each checked on the files and the index they leave."""

from __future__ import annotations

import io
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.engine.sampling import STEP_PACKETS, Sampler
from netwatch.errors import MalformedError
from netwatch.store import Retention, StoreWriter, store_path
from netwatch.store.packets import PacketWriter, comment_of, offsets_of
from netwatch.store.packets_export import export_packets
from netwatch.store.pcapng import (
    interface_block,
    packet_block,
    parse_packet_block,
    read_packet_at,
    section_header,
)

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _udp_frame(i: int, size: int = 100) -> bytes:
    """An Ethernet/IPv4/UDP frame 198.18.0.1:1000+i -> 198.19.0.1:53 of ``size`` bytes."""
    payload = bytes(size - 42)
    udp = struct.pack("!HHHH", 1000 + i % 50000, 53, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
        bytes((198, 18, 0, 1)), bytes((198, 19, 0, 1)),
    )  # fmt: skip
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp


# ------------------------------------------------------------------ pcapng blocks
def test_worked_example_of_the_docstring() -> None:
    block = packet_block(0, 1.5, bytes(60), 60, "hi")
    assert block[:8].hex() == "0600000068000000"
    assert block[8:28].hex() == "000000000000000060e316003c0000003c000000"
    assert block[88:].hex() == "01000200686900000000000068000000"


@needs_tshark
def test_tshark_reads_comments_and_link_types(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    sll2 = bytes(20)  # a Linux SLL2 header with protocol 0: tshark shows it as such
    with path.open("wb") as fh:
        fh.write(section_header("netwatch test"))
        fh.write(interface_block(1))
        fh.write(packet_block(0, 1_700_000_000.25, _udp_frame(1), 100, "conn=7 dir=c2s é"))
        fh.write(interface_block(276))
        fh.write(packet_block(1, 1_700_000_001.0, sll2, 20, ""))
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.comment",
         "-e", "frame.encap_type", "-e", "frame.time_epoch"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert len(out) == 2
    comment, encap, epoch = out[0].split("\t")
    assert comment == "conn=7 dir=c2s é"
    assert float(epoch) == pytest.approx(1_700_000_000.25)
    assert out[1].split("\t")[0] == ""
    assert encap != out[1].split("\t")[1]  # two interfaces, two link types


def test_block_round_trip() -> None:
    block = packet_block(3, 12.000001, b"abcde", 1500, "x" * 5)
    p = read_packet_at(io.BytesIO(b"pad!" + block), 4)
    assert (p.interface, p.ts_us, p.data, p.wirelen, p.comment) == (
        3,
        12_000_001,
        b"abcde",
        1500,
        "xxxxx",
    )
    assert len(block) % 4 == 0


def test_comment_is_cut_at_a_character_boundary() -> None:
    p = parse_packet_block(packet_block(0, 0.0, b"", 0, "é" * 2000))
    assert p.comment == "é" * 512


def test_wrong_offsets_are_malformed() -> None:
    data = section_header("t") + interface_block(1) + packet_block(0, 1.0, b"abc", 3)
    for off in (0, 4, len(data), len(data) - 8):
        with pytest.raises(MalformedError):
            read_packet_at(io.BytesIO(data), off)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 120))
def test_damaged_blocks_raise_malformed_only(noise: bytes, cut: int) -> None:
    block = packet_block(0, 1.0, b"payload!", 8, "comment")
    for damaged in (noise, block[:cut] + noise, block[: len(block) - cut % len(block)]):
        try:
            parse_packet_block(damaged)
            read_packet_at(io.BytesIO(damaged), 0)
        except MalformedError:
            pass


# ------------------------------------------------------------------ the writer
def _writer(tmp_path: Path, **kw: object) -> tuple[StoreWriter, PacketWriter]:
    sw = StoreWriter(tmp_path, source="test")
    pw = PacketWriter(tmp_path, run=sw.run, **kw)  # type: ignore[arg-type]
    return sw, pw


def _db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(store_path(tmp_path))


def test_rotation_by_size_keeps_every_packet_findable(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, rotate_bytes=20_000)
    for i in range(1000):
        pw.sink(1_700_000_000 + i * 0.001, 1, memoryview(_udp_frame(i)), 100, None)
    pw.close()
    sw.close()
    files = sorted((tmp_path / "packets").glob("*.pcapng"))
    assert len(files) > 5
    assert all(f.stat().st_size < 20_000 + 300 for f in files)
    out = io.BytesIO()
    counts = export_packets(tmp_path, None, out, "pcap")
    assert counts.packets == 1000 and counts.missing == 0
    out.seek(0)
    frames = [bytes(b) for _, b in dpkt.pcap.Reader(out)]
    assert frames == [_udp_frame(i) for i in range(1000)]
    db = _db(tmp_path)
    (n,) = db.execute("SELECT sum(count) FROM packet_index WHERE conn = 0").fetchone()
    assert n == 1000
    assert db.execute("SELECT sum(packets) FROM packet_files").fetchone()[0] == 1000


def test_rotation_by_capture_time(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, rotate_seconds=10.0)
    for i in range(30):
        pw.sink(1_700_000_000 + i, 1, _udp_frame(i), 100, None)
    pw.close()
    sw.close()
    spans = _db(tmp_path).execute("SELECT first_ts, last_ts FROM packet_files ORDER BY id")
    assert [(b - a) for a, b in spans] == [9.0, 9.0, 9.0]


def test_retention_removes_files_with_their_index_rows(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, rotate_seconds=10.0)
    now = 1_700_000_030.0
    for i in range(30):
        pw.sink(now - 30 + i, 1, _udp_frame(i), 100, None)
    pw.close()  # the last file is closed too: nothing is kept back now
    sw.close()
    # Three files whose last packets are 21, 11 and 1 s old: two are past 5 s.
    pw2 = PacketWriter(tmp_path, run=99, retention=Retention(max_age=5.0))
    assert pw2.retain(now) == 2
    pw2.close()
    db = _db(tmp_path)
    assert db.execute("SELECT count(*) FROM packet_files").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM packet_index WHERE file NOT IN "
                      "(SELECT id FROM packet_files)").fetchone()[0] == 0  # fmt: skip
    assert len(list((tmp_path / "packets").glob("*.pcapng"))) == 1
    out = io.BytesIO()
    assert export_packets(tmp_path, None, out, "pcapng").packets == 10


def test_size_retention_keeps_the_newest_under_the_budget(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, rotate_bytes=10_000)
    for i in range(500):
        pw.sink(1_700_000_000 + i, 1, _udp_frame(i), 100, None)
    pw.close()
    sw.close()
    pw2 = PacketWriter(tmp_path, run=99, retention=Retention(max_bytes=30_000))
    assert pw2.retain(1_700_000_500) > 0
    pw2.close()
    sizes = [f.stat().st_size for f in (tmp_path / "packets").glob("*.pcapng")]
    assert sum(sizes) <= 30_000
    (newest,) = _db(tmp_path).execute("SELECT max(last_ts) FROM packet_files").fetchone()
    assert newest == 1_700_000_499


def test_fixed_sampling_stores_one_in_n(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, sampler=Sampler(3))
    for i in range(300):
        pw.sink(1_700_000_000 + i * 0.01, 1, _udp_frame(i), 100, None)
    pw.close()
    sw.close()
    row = _db(tmp_path).execute("SELECT seen, stored, sampled_out, sample_every FROM packet_stats")
    assert row.fetchone() == (300, 100, 200, 3)


def _overload(tmp_path: Path, cap: int, sampler: Sampler | None, n: int) -> tuple[int, ...]:
    """The writer thread is not started: the backlog only grows, as under overload."""
    sw, pw = _writer(tmp_path, queue_size=cap, sampler=sampler)
    for i in range(n):
        pw.sink(1_700_000_000 + i * 1e-4, 1, _udp_frame(i), 100, None)
    st = pw.stats()
    pw.close()  # not started: close() writes what is queued, in this thread
    sw.close()
    row = (
        _db(tmp_path)
        .execute(
            "SELECT seen, stored, adaptive_skipped, adaptive_engaged, dropped FROM packet_stats"
        )
        .fetchone()
    )
    assert row == (n, st.seen - st.adaptive_skipped - st.dropped, *row[2:])
    assert row[2:] == (st.adaptive_skipped, st.adaptive_engaged, st.dropped)
    return tuple(row)


def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    seen, stored, skipped, engaged, dropped = _overload(tmp_path, 4000, None, 10_000)
    assert (seen, stored, skipped, engaged, dropped) == (10_000, 4000, 0, 0, 6000)


def test_adaptive_sampling_engages_before_the_queue_is_full(tmp_path: Path) -> None:
    cap = 4000
    n = 20 * STEP_PACKETS
    _seen, stored, skipped, engaged, dropped = _overload(
        tmp_path, cap, Sampler(adaptive=True, capacity=cap), n
    )
    assert engaged == 1
    assert dropped == 0  # sampling kept the backlog under the bound
    assert skipped > n // 2
    assert cap // 2 <= stored < cap


def test_adaptive_sampling_releases_when_the_backlog_drains() -> None:
    s = Sampler(adaptive=True, capacity=1000)
    for _ in range(4 * STEP_PACKETS):
        s.keep(900)
    assert s.adaptive_every == 16
    kept = sum(s.keep(0) for _ in range(8 * STEP_PACKETS))
    assert s.adaptive_every == 1
    assert kept > 4 * STEP_PACKETS


def test_sink_copies_the_buffer(tmp_path: Path) -> None:
    """The source reuses its buffer after a batch: what is stored is the packet as it was."""
    sw, pw = _writer(tmp_path)
    buf = bytearray(_udp_frame(1))
    pw.sink(1.0, 1, memoryview(buf), len(buf), None)
    buf[:] = bytes(len(buf))
    pw.close()
    sw.close()
    out = io.BytesIO()
    export_packets(tmp_path, None, out, "pcap")
    out.seek(0)
    assert [bytes(b) for _, b in dpkt.pcap.Reader(out)] == [_udp_frame(1)]


def test_comment_without_a_connection() -> None:
    assert comment_of(1, _udp_frame(1), None) == "conn=- (no connection)"


def test_offsets_pack_round_trip() -> None:
    from array import array

    a = array("Q", [0, 24, 2**40])
    from netwatch.store.packets import _le

    assert list(offsets_of(_le(a))) == [0, 24, 2**40]


class _Row:
    """The attributes of a tracker row that a comment reads."""

    id = 5
    c_addr = bytes((198, 18, 0, 1))
    s_addr = bytes((198, 18, 0, 1))  # same host both sides: the port decides
    c_port = 1000
    analyzer = None
    app = {"protocol": "DNS"}
    proc = None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.binary(max_size=80))
def test_comments_of_any_frame(lt: int, data: bytes) -> None:
    text = comment_of(lt, data, _Row())  # type: ignore[arg-type]
    assert text.startswith("conn=5 dir=")


def test_comment_direction_by_port_on_one_host() -> None:
    row = _Row()
    assert comment_of(1, _udp_frame(0), row) == "conn=5 dir=c2s app=DNS"  # type: ignore[arg-type]
    assert comment_of(1, _udp_frame(1), row) == "conn=5 dir=s2c app=DNS"  # type: ignore[arg-type]


def test_lossless_writer_makes_the_reader_wait(tmp_path: Path) -> None:
    """Reading a file: a full queue waits for the writer thread instead of dropping."""
    sw, pw = _writer(tmp_path, queue_size=64, lossless=True, commit_interval=0.01)
    pw.start()
    for i in range(3000):
        pw.sink(1_700_000_000 + i * 1e-3, 1, _udp_frame(i), 100, None)
    pw.close()
    sw.close()
    st = pw.stats()
    assert (st.seen, st.stored, st.dropped) == (3000, 3000, 0)


def test_lossless_writer_not_started_does_not_hang(tmp_path: Path) -> None:
    sw, pw = _writer(tmp_path, queue_size=10, lossless=True)
    for i in range(30):
        pw.sink(1.0 + i, 1, _udp_frame(i), 100, None)
    assert pw.stats().dropped == 20
    pw.close()
    sw.close()
