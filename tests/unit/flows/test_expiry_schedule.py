"""Expiry by schedule (``Tracker.expire``'s buckets) must finish exactly the rows a scan of
the whole table would, at every pass and in the table's order: on every corpus capture,
on long random captures whose rows change timeouts (TCP states, DNS found on odd ports,
packets from the past), and on QUIC rows whose idle timeout is shorter than any other."""

from __future__ import annotations

import random
from typing import Any

import dpkt
import pytest

from netwatch.capture.pcapfile import open_capture_file
from netwatch.flows.conn import Conn
from netwatch.flows.tracker import Tracker
from tests.util import build, quic
from tests.util.corpus import CORPUS

CAPTURES = (
    sorted(
        str(p.relative_to(CORPUS)) for p in [*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/*.pcap")]
    )
    if CORPUS.is_dir()
    else []
)

Frame = tuple[float, int, bytes, int]


class ScanChecked(Tracker):
    """A tracker that, at every expiry pass, works out what a scan of the table finds and
    checks that the pass finished exactly those rows, in that order."""

    def __init__(self, **kw: Any) -> None:
        self.finished_rows: list[Conn] = []
        super().__init__(on_finish=self.finished_rows.append, **kw)
        self.passes = 0
        self.expired_rows = 0

    def expire(self, now: float) -> None:
        want = [c.id for c in self.table.values() if now - c.last > self.timeout_of(c)]
        start = len(self.finished_rows)
        super().expire(now)
        got = [c.id for c in self.finished_rows[start:]]
        assert got == want, f"at {now}: expired {got}, a scan finds {want}"
        self.passes += 1
        self.expired_rows += len(got)


def _run(frames: list[Frame], batched: bool) -> ScanChecked:
    tr = ScanChecked()
    if batched:
        for i in range(0, len(frames), 64):
            tr.packets_batch(frames[i : i + 64])
    else:
        for f in frames:
            tr.packet(*f)
    tr.finish_all()
    return tr


@pytest.mark.skipif(not CAPTURES, reason="shared corpus not present")
@pytest.mark.parametrize("name", CAPTURES)
def test_corpus_captures(name: str) -> None:
    src = open_capture_file(CORPUS / name)
    frames = [(ts, lt, bytes(d), w) for b in src.batches() for ts, lt, d, w in b]
    src.close()
    _run(frames, batched=True)


def _dns(qid: int, name: str, answer: str | None) -> bytes:
    msg = dpkt.dns.DNS(id=qid, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
    if answer is not None:
        msg.op = dpkt.dns.DNS_RA
        msg.qr = dpkt.dns.DNS_R
        rr = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=60)
        rr.ip = bytes(int(x) for x in answer.split("."))
        msg.an = [rr]
    return bytes(msg)


GAPS = (0.2, 3.0, 9.5, 10.5, 29.0, 31.0, 65.0, 130.0, 310.0, 3700.0)


def _random_capture(seed: int) -> list[Frame]:
    """Flows whose timeouts change along the way, with gaps around every timeout."""
    rnd = random.Random(seed)
    out: list[tuple[float, bytes]] = []
    t0 = 1_700_000_000.0
    for i in range(150):
        c = f"198.18.{i // 200}.{i % 200 + 1}"
        s = f"198.19.0.{i % 7 + 1}"
        t = t0 + rnd.uniform(0, 600)
        kind = rnd.random()
        if kind < 0.55:  # TCP: handshake, data with gaps, then FIN, RST, or nothing
            cp = 20000 + i
            for _attempt in range(rnd.choice((1, 1, 2))):  # 2: a new SYN on the tuple
                isn = rnd.getrandbits(31)
                out.append((t, build.tcp(c, cp, s, 443, "S", seq=isn)))
                t += 0.01
                out.append((t, build.tcp(s, 443, c, cp, "SA", seq=7, ack=isn + 1)))
                out.append((t + 0.01, build.tcp(c, cp, s, 443, "A", seq=isn + 1, ack=8)))
                seq = isn + 1
                for _ in range(rnd.randrange(0, 6)):
                    t += rnd.choice(GAPS)
                    out.append((t, build.tcp(c, cp, s, 443, "PA", seq=seq, ack=8, payload=b"x")))
                    seq += 1
                end = rnd.random()
                if end < 0.4:  # FIN both ways (TIME_WAIT), maybe data later
                    t += rnd.choice(GAPS)
                    out.append((t, build.tcp(c, cp, s, 443, "FA", seq=seq, ack=8)))
                    out.append((t + 0.01, build.tcp(s, 443, c, cp, "FA", seq=8, ack=seq + 1)))
                    out.append((t + 0.02, build.tcp(c, cp, s, 443, "A", seq=seq + 1, ack=9)))
                elif end < 0.6:  # the server closes first: CLOSE_WAIT, LAST_ACK, CLOSED
                    t += rnd.choice(GAPS)
                    out.append((t, build.tcp(s, 443, c, cp, "FA", seq=8, ack=seq)))
                    t += rnd.choice(GAPS)
                    out.append((t, build.tcp(c, cp, s, 443, "PA", seq=seq, ack=9, payload=b"y")))
                    seq += 1
                    if rnd.random() < 0.7:
                        t += rnd.choice(GAPS)
                        out.append((t, build.tcp(c, cp, s, 443, "FA", seq=seq, ack=9)))
                        t += rnd.choice(GAPS)  # the plain ACK of that FIN: CLOSED
                        out.append((t, build.tcp(s, 443, c, cp, "A", seq=9, ack=seq + 1)))
                elif end < 0.75:
                    t += rnd.choice(GAPS)
                    out.append((t, build.tcp(c, cp, s, 443, "R", seq=seq)))
                t += rnd.choice(GAPS)
        elif kind < 0.85:  # DNS, on 53 or on a port that does not hint at it
            port = rnd.choice((53, 5300, 40000))
            cp = 30000 + i
            if rnd.random() < 0.5:  # an empty datagram first: known as DNS only later
                out.append((t, build.udp(c, cp, s, port, b"")))
                t += rnd.choice(GAPS)
            for q in range(rnd.randrange(1, 4)):
                name = f"h{i}-{q}.example"
                out.append((t, build.udp(c, cp, s, port, _dns(q, name, None))))
                out.append((t + 0.003, build.udp(s, port, c, cp, _dns(q, name, "198.19.1.1"))))
                t += rnd.choice(GAPS)
        else:  # UDP nobody recognises
            cp = 40000 + i
            for _ in range(rnd.randrange(1, 5)):
                out.append((t, build.udp(c, cp, s, 9999, b"\x01\x02\x03")))
                t += rnd.choice(GAPS)
    out.sort(key=lambda p: p[0])
    # A few packets from the past (captures merged from two taps): each moved later in
    # the capture, keeping its time.
    for _ in range(len(out) // 40):
        j = rnd.randrange(0, len(out) - 40)
        out.insert(j + rnd.randrange(1, 40), out.pop(j))
    return [(ts, 1, f, len(f)) for ts, f in out]


@pytest.mark.parametrize("seed", range(6))
def test_random_long_captures(seed: int) -> None:
    frames = _random_capture(seed)
    batched = _run(frames, batched=True)
    single = _run(frames, batched=False)
    assert batched.passes > 100 and batched.expired_rows > 50
    assert [(c.id, c.state, c.pk0, c.pk1) for c in batched.finished_rows] == [
        (c.id, c.state, c.pk0, c.pk1) for c in single.finished_rows
    ]


def _quic_session(idle: float) -> list[tuple[int, bytes]]:
    """A real QUIC handshake (aioquic, in memory) whose client asks for ``idle`` seconds."""
    pytest.importorskip("aioquic")
    return quic.handshake("idle.example", quic.self_signed("idle.example"), idle, rounds=6)


def test_quic_idle_timeout_shorter_than_any_other() -> None:
    """The client asks for 2 s: the row ends 2 s after its last datagram (not after the
    10 s every other row waits at least), and a datagram 3 s later starts a new row (plain
    UDP: a short header names no protocol), which the one 12 s later still joins."""
    c, s = "198.18.0.1", "198.19.0.1"
    frames: list[Frame] = []
    t = 1_700_000_000.0
    for direction, data in _quic_session(2.0):
        t += 0.01
        f = (
            build.udp(c, 50000, s, 443, data)
            if direction == 0
            else build.udp(s, 443, c, 50000, data)
        )
        frames.append((t, 1, f, len(f)))
    last = t
    for gap in (1.5, 3.0, 12.0):  # within the 2 s, past them, past 10 s (not 180 s)
        t += gap
        f = build.udp(s, 443, c, 50000, b"\x40" + bytes(40))
        frames.append((t, 1, f, len(f)))
    # The client's first datagram alone (no answer: the analyzer stays on the row), and
    # again 3 s later on another port: the first row has ended by then.
    first = build.udp(c, 50001, s, 443, _quic_session(2.0)[0][1])
    lone = [(t + 1.0, 1, first, len(first))]
    again = build.udp(c, 50001, s, 443, b"\x40" + bytes(40))
    lone.append((t + 4.0, 1, again, len(again)))
    for batched in (True, False):
        tr = _run(lone, batched)  # alone: no row has had a short timeout before it
        ports = [r.c_port for r in tr.finished_rows]
        assert ports.count(50001) == 2, "the lone Initial's row ended 2 s after it"
        tr = _run(frames, batched)
        quic = [r for r in tr.finished_rows if r.timeout == 2.0 and r.c_port == 50000]
        assert quic and abs(quic[0].last - (last + 1.5)) < 1e-6, "the first row ends 2 s idle"
        rows = [r for r in tr.finished_rows if r.c_port == 50000]
        assert len(rows) == 2 and rows[1].pk0 + rows[1].pk1 == 2


def test_long_idle_capture_looks_at_rows_rarely() -> None:
    """An hour of 300 established connections with a keep-alive every minute: a row is
    looked at about when it could end, not at every pass (a scan looked at all 300 rows
    at each of ~3,500 passes)."""
    looks = 0
    rows: list[Conn] = []

    class Counting(Tracker):
        def timeout_of(self, c: Conn) -> float:
            nonlocal looks
            looks += 1
            return super().timeout_of(c)

    tr = Counting(on_finish=rows.append)
    rnd = random.Random(3)
    pk: list[tuple[float, bytes]] = []
    for i in range(300):
        c, cp, t = f"198.18.1.{i % 250 + 1}", 20000 + i, 1_700_000_000.0 + i * 0.01
        pk += [
            (t, build.tcp(c, cp, "198.19.0.1", 443, "S", seq=1)),
            (t + 0.001, build.tcp("198.19.0.1", 443, c, cp, "SA", seq=9, ack=2)),
            (t + 0.002, build.tcp(c, cp, "198.19.0.1", 443, "A", seq=2, ack=10)),
        ]
        pk += [
            (
                t + k * 60 + rnd.uniform(0, 59),
                build.tcp(c, cp, "198.19.0.1", 443, "A", seq=2, ack=10),
            )
            for k in range(1, 60)
        ]
    pk.sort(key=lambda p: p[0])
    tr.packets_batch([(ts, 1, f, len(f)) for ts, f in pk])
    assert tr.expired == 0 and len(tr.table) == 300
    assert looks < 300 * 10, f"{looks} looks at 300 rows"
