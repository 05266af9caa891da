"""The engine in its own thread (the monitor, IPFIX) reading a file at full speed publishes
a snapshot each ``snapshot_interval`` of the capture's clock, also when the whole file is
one batch of the reader (a small file): the seconds between are not skipped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netwatch.capture.open import open_file
from netwatch.engine import Engine
from netwatch.model.snapshot import Snapshot
from tests.util import build


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_snapshot_each_capture_second_inside_one_batch(tmp_path: Path, fmt: str) -> None:
    c, s = "198.18.0.1", "198.18.0.2"
    t0 = 1_700_000_000.0
    frames = [
        (t0 + i * 0.5, build.udp(c, 40000, s, 9999, bytes([i % 251]) * 10)) for i in range(40)
    ]  # 20 s of capture in 40 packets: one batch
    if fmt == "pcap":
        path = build.write_pcap(tmp_path / "a.pcap", frames)
    else:
        path = build.write_pcapng(
            tmp_path / "a.pcapng", [(t, 0, f) for t, f in frames], interfaces=[(1, 6)]
        )
    snaps: list[Snapshot] = []
    engine = Engine(open_file(str(path)), on_finish=lambda v: None, on_snapshot=snaps.append)
    engine.start()
    deadline = time.monotonic() + 30
    seq = 0
    while not engine.finished and time.monotonic() < deadline:
        snap = engine.wait_next(seq, 1.0)
        seq = snap.seq if snap is not None else seq
    engine.stop()
    assert engine.finished
    live = [round(x.ts - t0, 1) for x in snaps if not x.finished]
    assert live == [float(i) for i in range(0, 20)], live  # one per second of the capture
    assert [x.connections[0].packets_out for x in snaps[:3]] == [1, 3, 5]
