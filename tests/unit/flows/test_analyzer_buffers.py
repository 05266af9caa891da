"""The total over all flows of what analyzers hold in their own buffers (ANALYZER_BUFFER_TOTAL).

Each analyzer bounds its buffers a flow; the tracker bounds their sum: past the total, the
analyzer whose buffer grew fails (counted per protocol, ``app.error`` says why) and its row
is only counted from then on; a flow's share is released when its analyzer lets go of the
bytes, detaches or fails, and when the row ends.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import netwatch.flows.tracker as tracker_mod
from netwatch.capture.pcapfile import open_capture_file
from netwatch.dpi import registry
from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.flows.tracker import Tracker
from tests.util import build
from tests.util.corpus import CORPUS

C, S = "198.18.0.1", "198.18.0.2"
LIMIT = 10_000


class Hoarder(AnalyzerBase):
    """Holds every byte until it sees b"END" (then it is finished); a gap drops them."""

    protocol = "HOARD"

    def __init__(self) -> None:
        self.held = 0
        self.done = False

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if data.endswith(b"END"):
            self.done = True
        self.held += len(data)
        return ()

    def gap(self, direction: Dir, length: int) -> None:
        self.held = 0

    @property
    def buffered(self) -> int:
        return 0 if self.done else self.held

    @property
    def finished(self) -> bool:
        return self.done

    def record(self) -> dict[str, object]:
        return {"held": self.held}

    def summary(self) -> str:
        return "HOARD"


@pytest.fixture
def tracker(monkeypatch: pytest.MonkeyPatch) -> Tracker:
    monkeypatch.setattr(tracker_mod, "ANALYZER_BUFFER_TOTAL", LIMIT)
    monkeypatch.setattr(registry, "detect", lambda *a: Hoarder())
    return Tracker()


def flow(tr: Tracker, port: int, t: float, *payloads: bytes, seq: int = 101) -> int:
    """A handshake on ``port`` at ``t``, then the payloads in order; the next seq."""
    pk = [
        (t, build.tcp(C, port, S, 7000, "S", seq=100)),
        (t + 1e-3, build.tcp(S, 7000, C, port, "SA", seq=500, ack=101)),
        (t + 2e-3, build.tcp(C, port, S, 7000, "A", seq=101, ack=501)),
    ]
    if seq != 101:
        pk = []
    for i, p in enumerate(payloads):
        pk.append(
            (t + 3e-3 + i * 1e-4, build.tcp(C, port, S, 7000, "PA", seq=seq, ack=501, payload=p))
        )
        seq += len(p)
    for ts, f in pk:
        tr.packet(ts, 1, f, len(f))
    return seq


def row(tr: Tracker, port: int):  # type: ignore[no-untyped-def]
    (c,) = [c for c in tr.table.values() if c.c_port == port]
    return c


def test_past_the_total_the_growing_analyzer_fails(tracker: Tracker) -> None:
    tr = tracker
    for i in range(5):
        flow(tr, 30000 + i, 1.0 + i, b"x" * 1500, b"y" * 1500)
    # Three flows fit (9,000 bytes); the fourth and fifth went over when their buffers grew.
    assert tr.analyzer_buffered == 9000
    assert tr.buffered() == {"reassembly": 0, "before_detection": 0, "analyzers": 9000}
    assert tr.analyzer_errors["HOARD"] == 2
    for i in range(3):
        assert row(tr, 30000 + i).analyzer is not None
    for i in (3, 4):
        c = row(tr, 30000 + i)
        assert c.analyzer is None and c.app["error"] == "analyzer buffer total reached"
        # The row is still counted, only no longer inspected.
        before = c.pk0
        flow(tr, 30000 + i, 9.0, b"z" * 100, seq=3101)
        assert c.pk0 == before + 1 and c.analyzer is None


def test_shares_are_released_when_analyzers_let_go(tracker: Tracker) -> None:
    tr = tracker
    nxt = [flow(tr, 30000 + i, 1.0 + i, b"x" * 3000) for i in range(3)]
    assert tr.analyzer_buffered == 9000 and len(tr._held) == 3
    # Finished (b"END"): the analyzer detaches and its share goes.
    flow(tr, 30000, 5.0, b"END", seq=nxt[0])
    assert row(tr, 30000).analyzer is None and tr.analyzer_buffered == 6000
    # A gap (a lost segment): the analyzer drops what it held, its share goes too.
    c1 = row(tr, 30001)
    tr._gap(c1, 0, 500)
    assert c1.analyzer is not None and tr.analyzer_buffered == 3000
    # The rows end: nothing stays accounted.
    tr.expire(10_000.0)
    assert not tr.table and tr.analyzer_buffered == 0 and not tr._held
    assert tr.analyzer_errors["HOARD"] == 0


def test_a_new_flow_fits_again_once_others_are_done(tracker: Tracker) -> None:
    tr = tracker
    nxt = [flow(tr, 30000 + i, 1.0 + i, b"x" * 3000) for i in range(3)]
    flow(tr, 30003, 4.0, b"x" * 3000)
    assert tr.analyzer_errors["HOARD"] == 1
    flow(tr, 30000, 5.0, b"END", seq=nxt[0])
    flow(tr, 30004, 6.0, b"x" * 3000)
    assert row(tr, 30004).analyzer is not None and tr.analyzer_buffered == 9000
    assert tr.analyzer_errors["HOARD"] == 1


def test_many_unfinished_tls_hellos_stay_within_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real TLS analyzers, each left holding a ClientHello that promises 100 KB and gets
    10 KB (a slow or hostile client, many at once): past the total they fail, counted."""
    monkeypatch.setattr(tracker_mod, "ANALYZER_BUFFER_TOTAL", 50_000)
    tr = Tracker()
    fragment = b"\x01" + (100_000).to_bytes(3, "big") + bytes(9_996)
    record = b"\x16\x03\x01" + len(fragment).to_bytes(2, "big") + fragment
    for i in range(10):
        port = 31000 + i
        pk = [
            (1.0 + i, build.tcp(C, port, S, 443, "S", seq=100)),
            (1.001 + i, build.tcp(S, 443, C, port, "SA", seq=500, ack=101)),
            (1.002 + i, build.tcp(C, port, S, 443, "A", seq=101, ack=501)),
        ]
        for k in range(0, len(record), 1400):
            seg = record[k : k + 1400]
            pk.append(
                (
                    1.003 + i + k * 1e-7,
                    build.tcp(C, port, S, 443, "PA", seq=101 + k, ack=501, payload=seg),
                )
            )
        for ts, f in pk:
            tr.packet(ts, 1, f, len(f))
    held = [c for c in tr.table.values() if c.analyzer is not None]
    failed = [c for c in tr.table.values() if (c.app or {}).get("error")]
    assert len(held) == 5 and len(failed) == 5
    assert tr.analyzer_buffered == 50_000 and tr.analyzer_errors["TLS"] == 5
    assert {c.app["protocol"] for c in failed} == {"TLS"}
    assert {c.app["error"] for c in failed} == {"analyzer buffer total reached"}
    tr.finish_all()
    assert tr.analyzer_buffered == 0 and not tr._held


CAPTURES = (
    sorted(
        str(p.relative_to(CORPUS)) for p in [*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/*.pcap")]
    )
    if CORPUS.is_dir()
    else []
)


@pytest.mark.skipif(not CAPTURES, reason="shared corpus not present")
@pytest.mark.parametrize("name", CAPTURES)
def test_the_total_is_what_attached_analyzers_hold(name: str) -> None:
    """On every corpus capture, after every packet (the fast path's batches included), the
    tracker's total equals the sum of what the attached analyzers say they hold; at the
    end nothing is held."""
    tr = Tracker()
    src = open_capture_file(CORPUS / name)
    for batch in src.batches():
        for f in [(ts, lt, bytes(d), w) for ts, lt, d, w in batch]:
            tr.packets_batch([f])
            rows = [c for c in tr.table.values() if c.analyzer is not None]
            assert tr.analyzer_buffered == sum(c.analyzer.buffered for c in rows)
            assert set(tr._held) <= set(rows)
    src.close()
    tr.finish_all()
    assert tr.analyzer_buffered == 0 and not tr._held
