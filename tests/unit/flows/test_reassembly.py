"""The TCP stream reassembler: order, retransmissions, overlaps, holes, and its memory
bounds (per stream, and shared by all the streams of a tracker)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.reassembly.stream import MOD, PendingBudget, StreamReassembler
from tests.unit.flows.test_tracker import C, S
from tests.util import build


def _replay(out: list[bytes | int]) -> bytes:
    """Delivered items as a stream, gaps as NUL bytes."""
    return b"".join(x if isinstance(x, bytes) else b"\0" * x for x in out)


def test_the_docstring_example() -> None:
    r = StreamReassembler(1000)
    assert r.add(1010, b"bbbb") == []
    assert r.add(1000, b"aaaaaaaaaa") == [b"aaaaaaaaaa", b"bbbb"]
    assert r.add(1005, b"xxxxx") == []  # old bytes: a retransmission
    assert r.next_seq == 1014 and not r.pending


def test_wraps_around_the_sequence_space() -> None:
    r = StreamReassembler(MOD - 3)
    assert r.add(0, b"de") == []  # after the wrap: waits for the three bytes before it
    assert r.add(MOD - 3, b"abc") == [b"abc", b"de"]
    assert r.next_seq == 2


def test_a_stream_over_its_own_limit_declares_the_hole() -> None:
    r = StreamReassembler(0, max_pending=100)
    assert r.add(50, b"x" * 60) == []
    assert r.add(200, b"y" * 60) == [50, b"x" * 60]  # 120 > 100: the hole 0-50 is a gap
    assert r.pending_bytes == 60 and r.gap_bytes == 50


def test_streams_sharing_a_budget_stay_under_it_and_give_back() -> None:
    budget = PendingBudget(1000)
    a = StreamReassembler(0, budget=budget)
    b = StreamReassembler(0, budget=budget)
    assert a.add(10, b"a" * 900) == []
    assert budget.used == 900
    # b's out-of-order bytes would take the total past the limit: b gives up its hole
    out = b.add(5, b"b" * 200)
    assert out == [5, b"b" * 200] and budget.used == 900 and b.next_seq == 205
    # a's bytes are untouched, and come out when its hole fills
    assert a.add(0, b"A" * 10) == [b"A" * 10, b"a" * 900]
    assert budget.used == 0
    c = StreamReassembler(0, budget=budget)
    c.add(100, b"c" * 300)
    assert budget.used == 300
    c.release()
    assert budget.used == 0 and not c.pending


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.data())
def test_any_arrival_order_gives_the_stream_back(start: int, data: st.DataObject) -> None:
    """Segments of a stream, shuffled, repeated and overlapping, in several streams sharing
    a small budget: every byte delivered is the stream's byte at that place, gaps stand
    for bytes never delivered, the budget counts exactly what waits, and a flush ends each
    stream at its full length."""
    rnd = random.Random(data.draw(st.integers(0, 2**16)))
    budget = PendingBudget(data.draw(st.integers(0, 3000)))
    streams = []
    for _ in range(3):
        body = rnd.randbytes(rnd.randrange(1, 2000))
        cuts = sorted(
            {len(body), *rnd.sample(range(1, len(body) + 1), min(len(body), rnd.randrange(1, 12)))}
        )
        segs, prev = [], 0
        for cut in cuts:
            lo = max(0, prev - rnd.randrange(0, 20))  # overlap the previous segment a bit
            segs.append((lo, body[lo:cut]))
            prev = cut
        segs += rnd.sample(segs, min(len(segs), 3))  # retransmissions
        rnd.shuffle(segs)
        streams.append((body, segs, StreamReassembler(start, max_pending=1500, budget=budget)))
    got: list[list[bytes | int]] = [[] for _ in streams]
    pending = [list(segs) for _, segs, _ in streams]
    while any(pending):
        i = rnd.randrange(len(streams))
        if pending[i]:
            off, seg = pending[i].pop()
            got[i] += streams[i][2].add((start + off) % MOD, seg)
        assert budget.used == sum(r.pending_bytes for _, _, r in streams) >= 0
    for i, (body, _segs, r) in enumerate(streams):
        got[i] += r.flush()
        assert len(_replay(got[i])) == len(body)
        # Delivered bytes (not gaps) equal the body's bytes at their places.
        pos = 0
        for item in got[i]:
            if isinstance(item, bytes):
                assert item == body[pos : pos + len(item)]
                pos += len(item)
            else:
                pos += item
    assert budget.used == 0


def test_the_tracker_bounds_out_of_order_bytes_over_all_flows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many inspected flows each waiting on a hole hold no more than the total; the bytes
    come back when the rows end."""
    import netwatch.flows.tracker as tracker_mod

    monkeypatch.setattr(tracker_mod, "REASSEMBLY_TOTAL", 20_000)
    tr = tracker_mod.Tracker()
    req = b"GET / HTTP/1.1\r\nHost: h.example\r\n\r\n"
    for i in range(100):
        cp, t = 30000 + i, 1.0 + i * 1e-3
        pk = [
            (t, build.tcp(C, cp, S, 80, "S", seq=100)),
            (t + 1e-4, build.tcp(S, 80, C, cp, "SA", seq=500, ack=101)),
            (t + 2e-4, build.tcp(C, cp, S, 80, "A", seq=101, ack=501)),
            (t + 3e-4, build.tcp(C, cp, S, 80, "PA", seq=101, ack=501, payload=req)),
            # the response's first segment is lost; the next waits for it
            (
                t + 4e-4,
                build.tcp(S, 80, C, cp, "A", seq=1501, ack=101 + len(req), payload=b"z" * 900),
            ),
        ]
        for ts, f in pk:
            tr.packet(ts, 1, f, len(f))
        assert tr._reasm_budget.used <= 20_000
    assert tr._reasm_budget.used > 15_000  # the budget is used, not bypassed
    tr.expire(10_000.0)
    assert not tr.table and tr._reasm_budget.used == 0
