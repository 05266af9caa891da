"""The floor loops of benchmarks/bench_floor.py count what they claim to count.

Their timings bound what a pure-Python ``analyze`` can reach, so they must do the work
they are said to do: every record read, and one key per TCP/UDP 5-tuple direction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netwatch.capture.pcapfile import open_capture_file
from netwatch.decode.packet import decode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_floor  # noqa: E402


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("floor") / "mixed.pcap"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gen_mixed.py"), str(out), "--packets", "4000"],
        check=True,
        capture_output=True,
    )
    return out


Key = tuple[object, ...]


def _reference(path: Path) -> tuple[int, set[Key], dict[Key, int], dict[Key, int]]:
    """Records, directional TCP/UDP keys, their wire bytes and TCP flags ORed, by
    netwatch's decoder."""
    src = open_capture_file(path)
    n = 0
    keys: set[Key] = set()
    wire: dict[Key, int] = {}
    flags: dict[Key, int] = {}
    for block in src.batches():
        for _ts, linktype, data, wirelen in block:
            n += 1
            p = decode(linktype, data)
            if p.proto in (6, 17):
                k = (p.proto, p.src, p.dst, p.sport, p.dport)
                keys.add(k)
                wire[k] = wire.get(k, 0) + wirelen
                flags[k] = flags.get(k, 0) | (p.flags if p.proto == 6 else 0)
    src.close()
    return n, keys, wire, flags


def test_loops_do_the_work_they_claim(mixed: Path) -> None:
    n, keys, wire, flags = _reference(mixed)
    assert n >= 4000
    assert bench_floor.loop_read(str(mixed)) == n
    # One key per direction of every TCP/UDP flow (the loops do not orient flows).
    assert bench_floor.loop_flows(str(mixed)) == len(keys)
    assert bench_floor.loop_flows_bytes(str(mixed)) == (len(keys), sum(wire.values()))
    assert bench_floor.loop_rows(str(mixed)) == (len(keys), sum(flags.values()))


def test_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "big-endian.pcap"
    bad.write_bytes(b"\xa1\xb2\xc3\xd4" + bytes(20))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_floor.py"), "--pcap", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "little-endian" in proc.stdout
