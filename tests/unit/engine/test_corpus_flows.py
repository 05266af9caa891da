"""The connection table against tshark's truths for every capture of the shared corpus.

For each tshark flow (TCP stream or UDP 5-tuple) netwatch must have the same endpoints and,
summed over its rows for that 5-tuple, the same packet and byte counts each way. netwatch
may split a long-idle UDP 5-tuple into several rows where tshark keeps one (rows expire
by the timeouts table); the split must then happen at an idle gap longer than the row's
timeout. Orientation: where tshark knew the client (SYN, ClientHello, request) we must
agree; where it guessed from the first packet we may put the well-known port on the server.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from tests.unit.engine.helpers import analyze_engine
from tests.util.corpus import captures, expected

CAPTURES = captures()


def _ts(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_flows_match_tshark(path: Any) -> None:
    stem = path.name.rsplit(".", 1)[0]
    truth = expected(stem)
    flows = [e for e in truth if e.get("kind") == "flow"]
    engine, records = analyze_engine(path)
    ours: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["proto"] in ("tcp", "udp"):
            key = (r["proto"], r["local_addr"], r["local_port"], r["remote_addr"], r["remote_port"])
            ours[key].append(r)
    for e in flows:
        key = (e["transport"], e["src"], e["sport"], e["dst"], e["dport"])
        rkey = (e["transport"], e["dst"], e["dport"], e["src"], e["sport"])
        rows, flipped = ours.pop(key, None), False
        if rows is None:
            rows, flipped = ours.pop(rkey, None), True
        assert rows is not None, f"{stem}: flow {key} missing"
        if flipped:
            assert e.get("client_basis") == "first_packet", f"{stem}: {key} oriented wrongly"
            assert rows[0]["local_port"] > rows[0]["remote_port"], f"{stem}: {key} flip unjustified"
        if e["transport"] == "tcp" and len(rows) > 1:
            # tshark gives a reused TCP tuple its own stream: compare with the one that matches.
            rows = [r for r in rows if _ts(r["first_seen"]) == pytest.approx(float(e["first_ts"]))]
        out = sum(r["packets_out"] for r in rows)
        inn = sum(r["packets_in"] for r in rows)
        c2s, s2c = (inn, out) if flipped else (out, inn)
        assert (c2s, s2c) == (e["packets_c2s"], e["packets_s2c"]), f"{stem}: {key} packets"
        assert sum(r["bytes_out"] + r["bytes_in"] for r in rows) == e["bytes"], f"{stem}: {key}"
        if e.get("vlan"):
            assert rows[0]["vlan"] == e["vlan"][0], f"{stem}: {key} vlan"
        rows.sort(key=lambda r: r["first_seen"])
        for a, b in itertools.pairwise(rows):
            gap = _ts(b["first_seen"]) - _ts(a["last_seen"])
            assert gap > 10.0, f"{stem}: {key} split without an idle gap ({gap:.1f}s)"
    left = {k: v for k, v in ours.items() if v}
    assert not left, f"{stem}: rows tshark does not have: {list(left)[:3]}"
    assert not engine.tracker.decode_errors or stem == "ndpi_dns", engine.tracker.decode_errors


def test_tcp_health_counters_close_to_tshark() -> None:
    """Retransmissions and out-of-order segments follow Wireshark's rules closely."""
    total_ours = total_truth = 0
    for path in CAPTURES:
        meta = expected(path.name.rsplit(".", 1)[0])[0]
        _, records = analyze_engine(path)
        ours = sum(r["retransmits"] + r["out_of_order"] for r in records)
        truth = meta["tcp_retransmissions"] + meta["tcp_out_of_order"]
        assert abs(ours - truth) <= 3, path.name
        total_ours += ours
        total_truth += truth
    assert total_truth > 0
    assert abs(total_ours - total_truth) <= 0.1 * total_truth


def test_ip_fragments_reassembled() -> None:
    from tests.util.corpus import corpus_file

    engine, records = analyze_engine(corpus_file("ndpi_dns_fragmented.pcap"))
    assert engine.tracker.frags.completed > 0
    assert not engine.tracker.frags.dropped
    dns = [r for r in records if r["app"].get("protocol") == "DNS"]
    assert dns, "the reassembled DNS responses reach the analyzer"


def test_qinq_keeps_outer_vlan() -> None:
    from tests.util.corpus import corpus_file

    _, records = analyze_engine(corpus_file("sv_eve-flow-vlan-qinq.pcap"))
    # Suricata's truth: three flows, VLAN [6], [1, 10] and [1, 10, 100].
    stacks = sorted(tuple(r.get("vlan_stack") or [r["vlan"]]) for r in records)
    assert stacks == [(1, 10), (1, 10, 100), (6,)]
    assert {r["proto"] for r in records} == {"icmp"}
