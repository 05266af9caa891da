"""The floor of pure-Python packet handling, beside ndpiReader, on the same capture.

    python benchmarks/bench_floor.py [--pcap FILE] [--rounds 5]

Runs, each as its own process and in interleaved rounds, loops that do *less* than any
connection tracker must, and ndpiReader (full DPI, in C) on the same file:

* ``read``: walk every pcap record (``struct.unpack_from`` over an ``mmap``) and count them.
* ``flows``: ``read``, plus each IPv4/IPv6 TCP/UDP packet's flow key (addresses and ports
  as one ``bytes`` slice) counted in a dict: the loop the engine issue calls "a throwaway
  pure-Python loop with struct.unpack_from over a memoryview and a dict flow table".
* ``flows+bytes``: ``flows`` that also adds the packet's length to a per-flow counter, in
  both directions' orientation: still no states, no timestamps, no expiry, no output.
* ``rows``: ``flows+bytes`` that also keeps first and last seen and ORs the TCP flags: the
  least a row needs for its times and a state. Still one row per direction (the two are
  never joined), no sequence numbers, no expiry, no output.

Each loop is written as tight as this interpreter allows (locals only, one ``unpack_from``
per record, no function call per packet). A connection table that keeps the issue's
per-row fields cannot run faster than these loops, so their ratio to ndpiReader bounds what
a pure-Python ``analyze`` can reach on this machine. ``netwatch analyze`` with and without
DPI runs in the same rounds (``--no-netwatch`` leaves it out): one table, the whole ladder.
CPU seconds of the child (wait4), median of the rounds; ratios are ndpiReader's CPU time
over the loop's (≥ 1 means at least as fast as ndpiReader).
"""

from __future__ import annotations

import argparse
import mmap
import shutil
import statistics
import struct
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_analyze import compile_netwatch, run  # noqa: E402  (the same CPU measure)

# Each loop repeats the previous one's lines and adds its own: sharing them through a
# helper would put a call per packet into what is being measured.


def loop_read(path: str) -> int:
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        unpack = struct.Struct("<IIII").unpack_from
        pos, end, n = 24, len(m), 0
        while pos + 16 <= end:
            _s, _f, incl, _o = unpack(m, pos)
            pos += 16 + incl
            n += 1
        return n


def loop_flows(path: str) -> int:
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        d = memoryview(m)
        unpack = struct.Struct("<IIII").unpack_from
        flows: dict[bytes, int] = {}
        get = flows.get
        pos, end = 24, len(m)
        while pos + 16 <= end:
            _s, _f, incl, _o = unpack(d, pos)
            fo = pos + 16
            pos = fo + incl
            if d[fo + 12] == 8 and d[fo + 14] == 0x45:
                if d[fo + 23] in (6, 17):
                    k = bytes(d[fo + 26 : fo + 38])  # addresses, then both ports (IHL 5)
                    flows[k] = get(k, 0) + 1
            elif d[fo + 12] == 0x86 and d[fo + 20] in (6, 17):
                k = bytes(d[fo + 22 : fo + 58])
                flows[k] = get(k, 0) + 1
        del d
        return len(flows)


def loop_flows_bytes(path: str) -> tuple[int, int]:
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        d = memoryview(m)
        unpack = struct.Struct("<IIII").unpack_from
        flows: dict[bytes, list[int]] = {}
        get = flows.get
        pos, end = 24, len(m)
        while pos + 16 <= end:
            _s, _f, incl, orig = unpack(d, pos)
            fo = pos + 16
            pos = fo + incl
            if d[fo + 12] == 8 and d[fo + 14] == 0x45:
                if d[fo + 23] not in (6, 17):
                    continue
                k = bytes(d[fo + 26 : fo + 38])
            elif d[fo + 12] == 0x86 and d[fo + 20] in (6, 17):
                k = bytes(d[fo + 22 : fo + 58])
            else:
                continue
            row = get(k)
            if row is None:
                row = flows[k] = [0, 0]
            row[0] += 1
            row[1] += orig
        del d
        return len(flows), sum(row[1] for row in flows.values())


def loop_rows(path: str) -> tuple[int, int]:
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        d = memoryview(m)
        unpack = struct.Struct("<IIII").unpack_from
        flows: dict[bytes, list[float]] = {}
        get = flows.get
        pos, end = 24, len(m)
        while pos + 16 <= end:
            sec, usec, incl, orig = unpack(d, pos)
            fo = pos + 16
            pos = fo + incl
            if d[fo + 12] == 8 and d[fo + 14] == 0x45:
                proto = d[fo + 23]
                if proto == 6:
                    flags = d[fo + 47]
                elif proto == 17:
                    flags = 0
                else:
                    continue
                k = bytes(d[fo + 26 : fo + 38])
            elif d[fo + 12] == 0x86 and d[fo + 20] in (6, 17):
                flags = d[fo + 67] if d[fo + 20] == 6 else 0
                k = bytes(d[fo + 22 : fo + 58])
            else:
                continue
            ts = sec + usec * 1e-6
            row = get(k)
            if row is None:
                row = flows[k] = [0, 0, ts, ts, 0]
            row[0] += 1
            row[1] += orig
            row[3] = ts
            row[4] |= flags
        del d
        return len(flows), sum(int(row[4]) for row in flows.values())


LOOPS: dict[str, Callable[[str], object]] = {
    "read": loop_read,
    "flows": loop_flows,
    "flows+bytes": loop_flows_bytes,
    "rows": loop_rows,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pcap", type=Path, default=HERE / "out" / "mixed-1000000.pcap")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--no-netwatch",
        action="store_true",
        help="leave out netwatch analyze (with and without DPI) on the same capture",
    )
    ap.add_argument("--loop", choices=sorted(LOOPS), help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.loop:
        print(LOOPS[args.loop](str(args.pcap)))
        return 0
    if not args.pcap.exists():
        print(f"no capture {args.pcap}: make it with gen_mixed.py (or bench_analyze.py)")
        return 2
    with args.pcap.open("rb") as fh:
        if fh.read(4) != b"\xd4\xc3\xb2\xa1":
            print(f"{args.pcap}: these loops read little-endian pcap only")
            return 2
    cmds: dict[str, list[str]] = {
        name: [sys.executable, __file__, "--pcap", str(args.pcap), "--loop", name] for name in LOOPS
    }
    if not args.no_netwatch:
        compile_netwatch()
        nw = [sys.executable, "-m", "netwatch", "analyze", "-r", str(args.pcap)]
        cmds["netwatch --no-dpi"] = [*nw, "--no-dpi"]
        cmds["netwatch"] = nw
    if shutil.which("ndpiReader"):
        cmds["ndpiReader -i"] = ["ndpiReader", "-i", str(args.pcap), "-q"]
    else:
        print("ndpiReader: not installed, no ratio")
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            times[name].append(run(argv)[0])
    med = {name: statistics.median(t) for name, t in times.items()}
    ndpi = med.get("ndpiReader -i")
    print(f"{args.pcap.name}, median CPU seconds of {args.rounds} interleaved rounds")
    for name, t in med.items():
        ratio = f"  {ndpi / t:.2f}x ndpiReader" if ndpi and name != "ndpiReader -i" else ""
        print(f"  {name:<17} {t:6.2f} s{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
