"""Generate a long, quiet capture: many established TCP connections that stay open for an
hour, each sending a keep-alive segment about once a minute (a server's idle keep-alive
connections, a forensic capture of a quiet link). What it stresses is expiry: the table
holds every connection for the whole hour while capture time advances second by second.

    python benchmarks/gen_idle.py OUT.pcap [--connections 20000] [--minutes 60]

Then, for instance: ``python benchmarks/bench_analyze.py --pcap OUT.pcap``. Addresses are
in 198.18.0.0/15 only. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
from pathlib import Path

from gen_mixed import ACK, PSH, SYN, ip4, tcp


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--connections", type=int, default=20_000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    packets: list[tuple[float, bytes]] = []
    base = 1_700_000_000.0
    for i in range(a.connections):
        c, s = ip4(i + 256), ip4(0x10000 + i % 50)
        cp = 20000 + i % 40000
        t = base + i * 0.002
        packets.append((t, tcp(c, cp, s, 443, 1000, 0, SYN)))
        packets.append((t + 0.001, tcp(s, 443, c, cp, 5000, 1001, SYN | ACK)))
        packets.append((t + 0.002, tcp(c, cp, s, 443, 1001, 5001, ACK)))
        for k in range(1, a.minutes):
            ts = t + k * 60 + rnd.random() * 59
            packets.append((ts, tcp(c, cp, s, 443, 1001, 5001, ACK | PSH, b"x")))
    packets.sort(key=lambda p: p[0])
    with a.out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for ts, frame in packets:
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
    print(f"{a.out}: {len(packets)} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
