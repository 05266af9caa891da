"""IP-layer byte counts against tshark's IP length fields, on every corpus capture.

tshark prints each TCP/UDP packet's innermost IP length (IPv4 total length, IPv6 payload
length + 40); summed per 5-tuple and direction they must equal netwatch's
``ip_bytes_out``/``ip_bytes_in`` summed over the rows of that 5-tuple.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.unit.engine.helpers import analyze
from tests.util.corpus import captures, expected

CAPTURES = captures()
Key = tuple[str, str, int, str, int]

FIELDS = [
    "frame.protocols", "ip.src", "ip.dst", "ip.len", "ipv6.src", "ipv6.dst", "ipv6.plen",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
]  # fmt: skip


def _tshark(path: Path) -> Counter[Key]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=l",
         "-E", "separator=\t", *(a for f in FIELDS for a in ("-e", f)),
         "-Y", "(tcp or udp) and not icmp and not icmpv6"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    sums: Counter[Key] = Counter()
    for line in out.splitlines():
        protos, s4, d4, len4, s6, d6, plen6, ts, td, us, ud = (line.split("\t") + [""] * 11)[:11]
        layers = protos.split(":")
        # The innermost IP header is the last of ip/ipv6 in the frame's protocol chain.
        inner6 = "ipv6" in layers and (
            "ip" not in layers or layers.index("ipv6") > layers.index("ip")
        )
        if inner6:
            src, dst, size = s6, d6, int(plen6) + 40
        else:
            src, dst, size = s4, d4, int(len4)
        if ts:
            sums[("tcp", src, int(ts), dst, int(td))] += size
        elif us:
            sums[("udp", src, int(us), dst, int(ud))] += size
    return sums


def _ours(records: list[dict[str, Any]]) -> Counter[Key]:
    sums: Counter[Key] = Counter()
    for r in records:
        if r["proto"] not in ("tcp", "udp"):
            continue
        la, lp, ra, rp = r["local_addr"], r["local_port"], r["remote_addr"], r["remote_port"]
        if r["ip_bytes_out"]:
            sums[(r["proto"], la, lp, ra, rp)] += r["ip_bytes_out"]
        if r["ip_bytes_in"]:
            sums[(r["proto"], ra, rp, la, lp)] += r["ip_bytes_in"]
    return sums


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_ip_bytes_match_tshark(path: Path) -> None:
    meta = next(e for e in expected(path.name.rsplit(".", 1)[0]) if e.get("kind") == "meta")
    if meta.get("ip_fragments"):
        # tshark gives the reassembled packet the last fragment's IP length; netwatch
        # counts the datagram once, whole (as Zeek does): tests/unit/flows/test_byte_counts.
        pytest.skip("IP fragments")
    assert _ours(analyze(path)) == _tshark(path)
