"""pcap and pcapng readers: formats, clocks, interfaces, and damage."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from netwatch.capture.pcapfile import open_capture_file
from netwatch.errors import CaptureError, TruncatedCaptureError
from tests.util import build

PKT = build.udp("198.18.0.1", 1000, "198.18.0.2", 53, b"q")


def _read(path: Path) -> list[tuple[float, int, bytes, int]]:
    src = open_capture_file(path)
    out = [(ts, lt, bytes(d), w) for b in src.batches() for ts, lt, d, w in b]
    src.close()
    return out


@pytest.mark.parametrize("nanos", [False, True])
@pytest.mark.parametrize("big", [False, True])
def test_pcap_variants(tmp_path: Path, nanos: bool, big: bool) -> None:
    p = build.write_pcap(
        tmp_path / "a.pcap",
        [(1700000000.123456, PKT), (1700000001.5, PKT)],
        nanos=nanos,
        big_endian=big,
    )
    got = _read(p)
    assert [round(t, 6) for t, *_ in got] == [1700000000.123456, 1700000001.5]
    assert got[0][1] == 1 and got[0][2] == PKT


def test_pcapng_several_interfaces_and_resolutions(tmp_path: Path) -> None:
    raw = PKT[14:]  # the IP datagram alone, for a raw-IP interface
    p = build.write_pcapng(
        tmp_path / "a.pcapng",
        [(1700000000.25, 0, PKT), (1700000000.5, 1, raw)],
        interfaces=[(1, 6), (101, 9)],
    )
    got = _read(p)
    assert [(round(t, 6), lt) for t, lt, *_ in got] == [(1700000000.25, 1), (1700000000.5, 101)]


@pytest.mark.parametrize("big", [False, True])
def test_pcapng_other_blocks_between_packets(tmp_path: Path, big: bool) -> None:
    """Name resolution, custom and Simple Packet Blocks among the Enhanced Packet Blocks
    (which the reader walks in a tight loop): every packet, in order; the rest skipped."""
    pkts = [(1700000000 + i * 0.25, 0, PKT + bytes([i]) * i) for i in range(40)]
    spb = struct.pack(">I" if big else "<I", len(PKT)) + PKT
    between = {
        0: [(4, b"\x00" * 8)],  # a Name Resolution Block before the first packet
        7: [(0xBAD, b"custom block")],
        8: [(3, spb)],  # a Simple Packet Block: interface 0, no clock
        39: [(5, b"\x00" * 4)],  # an Interface Statistics Block
    }
    p = build.write_pcapng(
        tmp_path / "o.pcapng", pkts, interfaces=[(1, 6)], big_endian=big, between=between
    )
    got = _read(p)
    want = [d for _, _, d in pkts]
    want.insert(8, PKT)
    assert [d for _, _, d, _ in got] == want
    assert got[8][0] == 0.0 and round(got[9][0], 6) == 1700000002.0


def test_pcapng_damage_keeps_everything_before(tmp_path: Path) -> None:
    pkts = [(1700000000 + i, 0, PKT) for i in range(30)]
    p = build.write_pcapng(tmp_path / "t.pcapng", pkts, interfaces=[(1, 6)])
    whole = p.read_bytes()
    p.write_bytes(whole[:-7])  # the last block cut short
    seen = 0
    with pytest.raises(TruncatedCaptureError) as exc:
        for b in open_capture_file(p).batches():
            seen += len(b)
    assert seen == 29
    assert exc.value.offset == len(whole) - (32 + len(PKT) + (-len(PKT) % 4))

    bad = bytearray(whole)  # the 11th packet names an interface that was never described
    at = len(whole) - 20 * (32 + len(PKT) + (-len(PKT) % 4))
    bad[at + 8 : at + 12] = (3).to_bytes(4, "little")
    p.write_bytes(bytes(bad))
    seen = 0
    with pytest.raises(TruncatedCaptureError, match="unknown interface"):
        for b in open_capture_file(p).batches():
            seen += len(b)
    assert seen == 10


def test_many_records_across_chunks(tmp_path: Path) -> None:
    pkts = [(1700000000 + i * 0.001, PKT) for i in range(20000)]
    assert len(_read(build.write_pcap(tmp_path / "big.pcap", pkts))) == 20000


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_contents_exact_across_refills_and_huge_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The buffer is refilled in place: every packet, checked while its batch is current,
    must be the bytes written, across refills and records larger than the buffer."""
    import netwatch.capture.pcapfile as pf

    monkeypatch.setattr(pf, "CHUNK", 200_000)  # many refills
    frames = [PKT + bytes([i % 251]) * (i * 37 % 1500) for i in range(3000)]
    for i in range(50, 3000, 97):  # blocks that straddle a refill with a batch pending
        frames[i] = PKT + bytes([i % 13]) * 120_000
    frames[1000] = PKT + b"\xab" * 300_000  # larger than the whole buffer
    pkts = [(1700000000 + i * 0.001, f) for i, f in enumerate(frames)]
    if fmt == "pcap":
        path = build.write_pcap(tmp_path / "x.pcap", pkts)
    else:
        path = build.write_pcapng(
            tmp_path / "x.pcapng", [(t, 0, f) for t, f in pkts], interfaces=[(1, 6)]
        )
    src = open_capture_file(path)
    i = 0
    for batch in src.batches():
        for _ts, _lt, data, wirelen in batch:  # read while the batch is the current one
            assert bytes(data) == frames[i], i
            assert wirelen == len(frames[i])
            i += 1
    src.close()
    assert i == len(frames)


def test_truncated_file_yields_everything_before(tmp_path: Path) -> None:
    p = build.write_pcap(tmp_path / "t.pcap", [(1.0, PKT), (2.0, PKT), (3.0, PKT)])
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    src = open_capture_file(p)
    seen = 0
    with pytest.raises(TruncatedCaptureError) as exc:
        for b in src.batches():
            seen += len(b)
    assert seen == 2
    assert exc.value.offset == 24 + 2 * (16 + len(PKT))
    assert "byte offset" in str(exc.value)


def test_impossible_record_length(tmp_path: Path) -> None:
    p = build.write_pcap(tmp_path / "t.pcap", [(1.0, PKT)])
    data = bytearray(p.read_bytes())
    data[24 + 8 : 24 + 12] = (1 << 30).to_bytes(4, "little")
    p.write_bytes(bytes(data))
    with pytest.raises(TruncatedCaptureError, match="impossible record length"):
        for _ in open_capture_file(p).batches():
            pass


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"hello world, not a capture", "not a pcap or pcapng")],
)
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        open_capture_file(p)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        open_capture_file(tmp_path / "nope.pcap")
    with pytest.raises(CaptureError, match="is a directory"):
        open_capture_file(tmp_path)
