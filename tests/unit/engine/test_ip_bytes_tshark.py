"""IP-layer byte counts against tshark's IP length fields, on every corpus capture.

For each packet tshark prints the IP length (IPv4 total length, IPv6 payload length + 40)
of the IP header that carries the transport: the innermost of a tunnel, the outer one of an
ICMP error (whose quoted header is payload). Summed per direction of a flow (TCP/UDP: the
5-tuple; other protocols: protocol and addresses) they must equal netwatch's
``ip_bytes_out``/``ip_bytes_in`` summed over the rows of that flow.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from netwatch.export.ids import proto_number
from tests.unit.engine.helpers import analyze
from tests.util.corpus import captures, expected

CAPTURES = captures()
Key = tuple[int, str, int, str, int]

FIELDS = [
    "frame.protocols", "ip.src", "ip.dst", "ip.len", "ip.proto", "ipv6.src", "ipv6.dst",
    "ipv6.plen", "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
]  # fmt: skip
#: Transport layers by tshark's protocol name, for the layer after the carrying IP header.
LAYER_PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "igmp": 2}


def _carrier(layers: list[str]) -> tuple[str, int, str] | None:
    """(``ip`` or ``ipv6``, which occurrence of it, the next layer) of the IP header that
    carries the transport: IP headers (and IPv6 extension headers) one after the other are
    a tunnel, the last one counts; the first other layer ends the walk."""
    seen = {"ip": -1, "ipv6": -1}
    found: tuple[str, int, str] | None = None
    for i, layer in enumerate(layers):
        if layer in seen:
            seen[layer] += 1
            found = (layer, seen[layer], layers[i + 1] if i + 1 < len(layers) else "")
        elif found is not None and layer.startswith("ipv6."):
            found = (found[0], found[1], layers[i + 1] if i + 1 < len(layers) else "")
        elif found is not None:
            break
    return found


def _tshark(path: Path) -> Counter[Key]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a",
         "-E", "aggregator=,", "-E", "separator=\t", *(a for f in FIELDS for a in ("-e", f)),
         "-Y", "ip or ipv6"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    sums: Counter[Key] = Counter()
    for line in out.splitlines():
        cols = [c.split(",") for c in (line.split("\t") + [""] * len(FIELDS))[: len(FIELDS)]]
        protos, s4, d4, len4, p4, s6, d6, plen6, nxt6, ts, td, us, ud = cols
        carrier = _carrier(protos[0].split(":"))
        if carrier is None:
            continue
        kind, k, after = carrier
        if kind == "ipv6":
            src, dst, size = s6[k], d6[k], int(plen6[k]) + 40
            proto = LAYER_PROTO.get(after, int(nxt6[k]))
        else:
            src, dst, size = s4[k], d4[k], int(len4[k])
            proto = LAYER_PROTO.get(after, int(p4[k]))
        if after == "tcp":
            sums[(6, src, int(ts[0]), dst, int(td[0]))] += size
        elif after == "udp":
            sums[(17, src, int(us[0]), dst, int(ud[0]))] += size
        else:
            sums[(proto, src, 0, dst, 0)] += size
    return sums


def _ours(records: list[dict[str, Any]]) -> Counter[Key]:
    sums: Counter[Key] = Counter()
    for r in records:
        if "ip_bytes_out" not in r:
            continue  # ARP
        proto = proto_number(r["proto"])
        assert proto is not None, r["proto"]
        ported = proto in (6, 17)
        la, ra = r["local_addr"], r["remote_addr"]
        lp, rp = (r["local_port"], r["remote_port"]) if ported else (0, 0)
        if r["ip_bytes_out"]:
            sums[(proto, la, lp, ra, rp)] += r["ip_bytes_out"]
        if r["ip_bytes_in"]:
            sums[(proto, ra, rp, la, lp)] += r["ip_bytes_in"]
    return sums


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_ip_bytes_match_tshark(path: Path) -> None:
    meta = next(e for e in expected(path.name.rsplit(".", 1)[0]) if e.get("kind") == "meta")
    if meta.get("ip_fragments"):
        # tshark gives the reassembled packet the last fragment's IP length; netwatch
        # counts the datagram once, whole (as Zeek does): tests/unit/flows/test_byte_counts.
        pytest.skip("IP fragments")
    ours = _ours(analyze(path))
    assert ours, "no IP flow to compare"
    assert ours == _tshark(path)
