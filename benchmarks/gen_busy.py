"""Generate a busy server's capture: many TCP connections open at once, all moving data,
their packets interleaved round-robin. What it stresses is finding rows when the table is
large and every row is active (the fast path's cache of recently seen rows).

    python benchmarks/gen_busy.py OUT.pcap [--connections 30000] [--rounds 30]

Then, for instance: ``python benchmarks/bench_analyze.py --pcap OUT.pcap``. Addresses are
in 198.18.0.0/15 only. Deterministic.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from gen_mixed import ACK, SYN, ip4, tcp


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--connections", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()
    flows = [(ip4(256 + i), 20000 + i % 40000, ip4(0x10000 + i % 50)) for i in range(a.connections)]
    t = 1_700_000_000.0
    n = 0
    with a.out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

        def put(ts: float, frame: bytes) -> None:
            nonlocal n
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
            n += 1

        for c, cp, s in flows:
            put(t, tcp(c, cp, s, 443, 1000, 0, SYN))
            put(t, tcp(s, 443, c, cp, 5000, 1001, SYN | ACK))
            put(t, tcp(c, cp, s, 443, 1001, 5001, ACK))
            t += 1e-5
        seqs = [5001] * len(flows)
        data = b"y" * 600
        for r in range(a.rounds):  # data one way, its ACK the next round
            for i, (c, cp, s) in enumerate(flows):
                t += 2e-6
                if r % 2:
                    put(t, tcp(s, 443, c, cp, seqs[i], 1001, ACK, data))
                    seqs[i] += len(data)
                else:
                    put(t, tcp(c, cp, s, 443, 1001, seqs[i], ACK))
    print(f"{a.out}: {n} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
