"""The batch fast path (``Tracker.packets_batch``) must give exactly what the general
per-packet path (``Tracker.packet``) gives: same rows, counters, states, RTTs, health
counters and application records. Both are driven one packet per batch, so rows expire at
the same moments; only the path a packet takes differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netwatch.capture.pcapfile import open_capture_file
from netwatch.flows.conn import Conn
from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from netwatch.model.frames import FrameBlock
from tests.util import build
from tests.util.corpus import CORPUS

C, S = "198.18.0.1", "198.18.0.2"
CAPTURES = (
    sorted(
        str(p.relative_to(CORPUS)) for p in [*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/*.pcap")]
    )
    if CORPUS.is_dir()
    else []
)


def _records(packets: list[tuple[float, int, bytes, int]], fast: bool | str) -> list[str]:
    """``fast``: True (tuple batches), "block" (frames inside a larger shared buffer, as
    the file reader and the ring hand them over), "one block" (the whole capture in one
    batch: rows must expire between its packets as on the general path), False (the
    general path only)."""
    done: list[Conn] = []
    tr = Tracker(on_finish=done.append)
    if fast == "one block":
        buf = b"".join(p[2] for p in packets)
        frames, off = [], 0
        for ts, lt, d, w in packets:
            frames.append((ts, lt, buf, off, len(d), w))
            off += len(d)
        tr.packets_batch(FrameBlock(frames))
        packets = []
    for i, p in enumerate(packets):
        if fast == "block":
            ts, lt, d, w = p
            pad = i % 7  # frames at varied offsets, with other bytes after them
            buf = b"\xee" * pad + d + b"\x45\x00\xff" * 3
            tr.packets_batch(FrameBlock([(ts, lt, buf, pad, len(d), w)]))
        elif fast:
            tr.packets_batch([p])
        else:
            tr.packet(*p)
    tr.finish_all()
    return [json.dumps(view(tr, c, tr.now).to_record(), sort_keys=True) for c in done]


def _read(path: Path) -> list[tuple[float, int, bytes, int]]:
    src = open_capture_file(path)
    out = [(ts, lt, bytes(d), w) for b in src.batches() for ts, lt, d, w in b]
    src.close()
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_fast_path_equals_general_path_on_the_corpus(name: str) -> None:
    packets = _read(CORPUS / name)
    general = _records(packets, fast=False)
    assert _records(packets, fast=True) == general
    assert _records(packets, fast="block") == general
    assert _records(packets, fast="one block") == general


def _http_keepalive(reorder: bool) -> list[tuple[float, int, bytes, int]]:
    """Two requests on one connection; the first response's body comes in six segments
    (one retransmitted, optionally two swapped), the second is chunked."""
    cp, t = 40000, 1.0
    pk: list[tuple[float, bytes]] = [
        (t, build.tcp(C, cp, S, 80, "S", seq=100)),
        (t + 0.01, build.tcp(S, 80, C, cp, "SA", seq=500, ack=101)),
        (t + 0.011, build.tcp(C, cp, S, 80, "A", seq=101, ack=501)),
    ]
    req = b"GET /a HTTP/1.1\r\nHost: h.example\r\n\r\n"
    pk.append((1.02, build.tcp(C, cp, S, 80, "PA", seq=101, ack=501, payload=req)))
    cs = 101 + len(req)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n"
    pk.append((1.03, build.tcp(S, 80, C, cp, "PA", seq=501, ack=cs, payload=head)))
    ss = 501 + len(head)
    body = [(ss + i * 1000, bytes([65 + i]) * 1000) for i in range(6)]
    order = [0, 1, 3, 2, 4, 5] if reorder else [0, 1, 2, 3, 4, 5]
    for k, i in enumerate(order):
        seq, data = body[i]
        pk.append((1.04 + k * 0.001, build.tcp(S, 80, C, cp, "A", seq=seq, ack=cs, payload=data)))
        if k == 1:  # a retransmission of a skipped segment
            pk.append((1.0415, build.tcp(S, 80, C, cp, "A", seq=seq, ack=cs, payload=data)))
        pk.append((1.0405 + k * 0.001, build.tcp(C, cp, S, 80, "A", seq=cs, ack=seq + 1000)))
    ss += 6000
    req2 = b"GET /b HTTP/1.1\r\nHost: h.example\r\n\r\n"
    pk.append((1.1, build.tcp(C, cp, S, 80, "PA", seq=cs, ack=ss, payload=req2)))
    cs += len(req2)
    chunked = (
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"7d0\r\n"
        + b"x" * 2000
        + b"\r\n0\r\n\r\n"
    )
    for i in range(0, len(chunked), 700):
        part = chunked[i : i + 700]
        pk.append((1.11 + i * 1e-6, build.tcp(S, 80, C, cp, "A", seq=ss, ack=cs, payload=part)))
        ss += len(part)
    pk.append((1.2, build.tcp(C, cp, S, 80, "FA", seq=cs, ack=ss)))
    pk.append((1.21, build.tcp(S, 80, C, cp, "FA", seq=ss, ack=cs + 1)))
    pk.append((1.22, build.tcp(C, cp, S, 80, "A", seq=cs + 1, ack=ss + 1)))
    return [(ts, 1, f, len(f)) for ts, f in pk]


@pytest.mark.parametrize("reorder", [False, True])
def test_http_bodies_are_skipped_not_fed_and_still_counted(
    reorder: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netwatch.dpi.http.analyzer import HTTPAnalyzer

    packets = _http_keepalive(reorder)
    fed: list[int] = []
    real = HTTPAnalyzer.feed

    def counting(self: HTTPAnalyzer, *a: object) -> object:
        fed.append(len(a[1]))  # type: ignore[arg-type]
        return real(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(HTTPAnalyzer, "feed", counting)
    fast = _records(packets, fast=True)
    fed_fast, fed[:] = len(fed), []
    assert fast == _records(packets, fast=False)
    assert fast == _records(packets, fast="block")
    assert fed_fast < len(fed) - 4  # the in-order body segments were passed by
    (rec,) = (json.loads(r) for r in fast)
    reqs = rec["app"]["http"]["requests"]
    assert [(r["path"], r["status"], r["response_body_bytes"]) for r in reqs] == [
        ("/a", 200, 6000),
        ("/b", 404, 2000),
    ]
    assert rec["retransmits"] == 1


def test_keepalives_on_a_flow_still_undetected_stay_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TCP keep-alives (the last byte again, every minute) on a flow whose one byte named
    no protocol: retransmitted bytes would give the analyzer nothing, so they are counted
    on the fast path (retransmissions and all), not sent to the reassembler; new bytes
    out of order and partly new segments still are."""
    cp = 40001
    pk: list[tuple[float, bytes]] = [
        (1.0, build.tcp(C, cp, S, 5000, "S", seq=100)),
        (1.01, build.tcp(S, 5000, C, cp, "SA", seq=500, ack=101)),
        (1.011, build.tcp(C, cp, S, 5000, "A", seq=101, ack=501)),
        (1.02, build.tcp(C, cp, S, 5000, "PA", seq=101, ack=501, payload=b"x")),
    ]
    pk += [
        (1.02 + k * 60, build.tcp(C, cp, S, 5000, "PA", seq=101, ack=501, payload=b"x"))
        for k in range(1, 8)
    ]
    pk.append((500.0, build.tcp(C, cp, S, 5000, "PA", seq=104, ack=501, payload=b"zz")))
    pk.append((500.1, build.tcp(C, cp, S, 5000, "PA", seq=101, ack=501, payload=b"xyz")))
    packets = [(ts, 1, f, len(f)) for ts, f in pk]
    general = _records(packets, fast=False)
    plain = []
    real = Tracker._plain

    def counting(self: Tracker, *a: object) -> None:
        plain.append(a[0])
        real(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(Tracker, "_plain", counting)
    assert _records(packets, fast=True) == general
    assert plain == [1.0, 500.0, 500.1]  # the SYN (a new row), then new bytes out of order
    (rec,) = (json.loads(r) for r in general)
    # Keep-alives are not retransmissions (Wireshark's rule); the segment re-sending the
    # "x" with new bytes after it is one.
    assert rec["retransmits"] == 1 and rec["packets_out"] == 12


def test_a_view_mid_body_shows_the_bytes_passed_by() -> None:
    packets = _http_keepalive(False)[:12]  # three of the first body's six segments
    tr = Tracker()
    for p in packets:
        tr.packets_batch([p])
    (c,) = tr.table.values()
    (req,) = view(tr, c, tr.now).app["http"]["requests"]
    assert req["response_body_bytes"] == 3000


def test_udp_edge_cases_on_a_known_row_match_the_general_path() -> None:
    """An empty datagram (no data letter in the history), a UDP length that claims more
    than was sent, and a header cut short (a decode error), on a row that exists."""
    first = build.udp(C, 40000, S, 5000, b"hello")
    empty = build.udp(S, 5000, C, 40000, b"")  # the responder only ever sends empty ones
    liar = bytearray(build.udp(C, 40000, S, 5000, b"abcdef"))
    liar[38:40] = (200).to_bytes(2, "big")  # UDP length 200 for 14 bytes
    cut = bytearray(build.udp(C, 40000, S, 5000, b""))
    cut[16:18] = (20 + 4).to_bytes(2, "big")  # IPv4 total length: half a UDP header
    # Eight datagrams no detector takes: detection gives up and the row is only counted,
    # so the rest meets the fast path on a detached row.
    frames = [first] * 8 + [empty, bytes(liar), bytes(cut)]
    # Padded to Ethernet's 60-byte minimum, as on the wire: the padding is no payload.
    frames = [f + b"\x00" * max(0, 60 - len(f)) for f in frames]
    packets = [(1.0 + i * 0.01, 1, f, len(f)) for i, f in enumerate(frames)]
    for mode in (True, "block", "one block"):
        assert _records(packets, fast=mode) == _records(packets, fast=False)
    rec = json.loads(_records(packets, fast=True)[0])
    assert (rec["packets_out"], rec["packets_in"]) == (9, 1)  # the cut one is not counted
    assert rec["history"] == "D"  # no data from the responder


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def test_the_rest_of_an_oversized_message_is_skipped_not_fed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MQTT keeps the head of a big PUBLISH and discards its payload: the fast path passes
    the discarded bytes by, and the next message is still parsed."""
    from netwatch.dpi.mqtt import MQTTAnalyzer

    cp = 40001
    connect = _mqtt(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1")
    big = _mqtt(0x30, b"\x00\x05a/b/c" + b"p" * 200_000)  # over the 64 KiB it keeps
    small = _mqtt(0x30, b"\x00\x05d/e/f" + b"hello")
    pk: list[tuple[float, bytes]] = [
        (1.0, build.tcp(C, cp, S, 1883, "S", seq=100)),
        (1.01, build.tcp(S, 1883, C, cp, "SA", seq=500, ack=101)),
        (1.011, build.tcp(C, cp, S, 1883, "A", seq=101, ack=501)),
    ]
    cs, t = 101, 1.02
    stream = connect + big + small
    for i in range(0, len(stream), 1400):
        part = stream[i : i + 1400]
        pk.append((t, build.tcp(C, cp, S, 1883, "PA", seq=cs, ack=501, payload=part)))
        cs += len(part)
        t += 0.001
    packets = [(ts, 1, f, len(f)) for ts, f in pk]
    fed: list[int] = []
    real = MQTTAnalyzer.feed

    def counting(self: MQTTAnalyzer, *a: object) -> object:
        fed.append(1)
        return real(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(MQTTAnalyzer, "feed", counting)
    fast = _records(packets, fast="block")
    fed_fast, fed[:] = len(fed), []
    assert fast == _records(packets, fast=False)
    assert fed_fast < len(fed) - 50  # ~97 segments beyond the kept 64 KiB passed by
    (rec,) = (json.loads(r) for r in fast)
    assert "d/e/f" in json.dumps(rec["app"])  # the message after the big one was parsed
