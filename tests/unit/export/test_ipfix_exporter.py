"""The UDP exporter against a socket on loopback: directions, delta counts under active
timeouts, end reasons, template refresh, and a collector that is not there."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from netwatch.errors import UsageError
from netwatch.export.ipfix import (
    END_ACTIVE,
    END_FORCED,
    END_IDLE,
    END_OF_FLOW,
    TEMPLATE_V4,
    TEMPLATE_V6,
    decode_message,
)
from netwatch.export.ipfix_exporter import IpfixExporter, parse_collector, tcp_flags
from tests.unit.export.test_ipfix import fields_of
from tests.unit.metrics.snapshots import conn, grow, snap


class Collector:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.port = self.sock.getsockname()[1]
        self.messages: list[bytes] = []

    def drain(self) -> list[dict[int, int | str]]:
        """Every record received so far, with the message's header fields under 0/-1."""
        self.sock.settimeout(0.2)
        out = []
        while True:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            self.messages.append(data)
            d = decode_message(data)
            for tid, raw in d.records:
                f = fields_of(tid, raw)
                f[0], f[-1] = d.sequence, tid
                out.append(f)
        return out


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.sock.close()


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_finished_connection_as_two_directions(collector: Collector) -> None:
    exp = IpfixExporter("127.0.0.1", collector.port)
    v = conn(7, pk=(3, 2), by=(300, 250), first=1000.25, last=1002.5, vlan=12,
             extra={"history": "ShADadFf"}, closed=True)  # fmt: skip
    v = replace(v, state="CLOSED")
    exp.finished(v)
    exp.close()
    out, back = collector.drain()
    assert (out[8], out[12], out[7], out[11]) == ("192.0.2.10", "198.51.100.1", 40007, 443)
    assert (back[8], back[12], back[7], back[11]) == ("198.51.100.1", "192.0.2.10", 443, 40007)
    assert (out[2], out[1], out[352], back[2], back[1]) == (3, 300, 300, 2, 250)
    assert (out[4], out[58], out[148], out[136]) == (6, 12, 7, END_OF_FLOW)
    assert (out[152], out[153]) == (1_000_250, 1_002_500)
    assert out[6] == 0x02 | 0x10 | 0x01  # S, A, D, F from the originator
    assert back[6] == 0x12 | 0x10 | 0x01  # h (SYN+ACK), a, d, f
    assert out[0] == 0 and back[0] == 0  # both in the first message
    assert exp.stats().records == 2 and exp.stats().messages == 1


def test_ip_bytes_when_the_row_has_them(collector: Collector) -> None:
    exp = IpfixExporter("127.0.0.1", collector.port)
    exp.finished(conn(1, by=(114, 0), pk=(1, 0), extra={"ip_bytes_out": 100, "ip_bytes_in": 0}))
    exp.close()
    [rec] = collector.drain()  # the direction without packets is left out
    assert (rec[1], rec[352]) == (100, 114)


def test_active_timeout_deltas_sum_to_the_total(collector: Collector) -> None:
    exp = IpfixExporter("127.0.0.1", collector.port, active_timeout=60)
    v = conn(3, remote="2001:db8::5", local="2001:db8::1", pk=(10, 5), by=(1000, 500),
             first=1000.0, last=1030.0)  # fmt: skip
    exp.snapshot(snap(1, [v], ts=1030.0))  # younger than the timeout: nothing
    assert [r for r in collector.drain()] == []
    v = grow(v, 5, 500, last=1061.0)
    exp.snapshot(snap(2, [v], ts=1061.0))
    first = collector.drain()
    assert [(r[-1], r[2], r[1], r[136]) for r in first] == [
        (TEMPLATE_V6, 15, 1500, END_ACTIVE), (TEMPLATE_V6, 5, 500, END_ACTIVE),
    ]  # fmt: skip
    v = grow(v, 1, 100, last=1100.0)
    exp.snapshot(snap(3, [v], ts=1100.0))  # 39 s since the last report: nothing
    assert collector.drain() == []
    v = grow(v, 2, 40, last=1121.5)
    exp.snapshot(snap(4, [v], ts=1121.5))
    second = collector.drain()
    assert [(r[2], r[1]) for r in second] == [(3, 140)]  # only the direction that moved
    v = replace(grow(v, 1, 60, last=1130.0), closed=True)
    exp.finished(v)
    exp.close()
    last = collector.drain()
    assert [(r[2], r[1], r[136]) for r in last] == [(1, 60, END_IDLE)]
    records = first + second + last
    assert sum(int(r[2]) for r in records if r[27] == "2001:db8::1") == v.packets_out
    assert sum(int(r[1]) for r in records if r[27] == "2001:db8::1") == v.bytes_out
    assert sum(int(r[2]) for r in records if r[27] == "2001:db8::5") == v.packets_in
    seqs = [decode_message(m).sequence for m in collector.messages]
    assert seqs == [0, 0, 2, 3]  # records sent before each (the first: templates only)


def test_end_of_capture_flush_and_final_snapshot(collector: Collector) -> None:
    exp = IpfixExporter("127.0.0.1", collector.port, active_timeout=1)
    v = conn(4, first=1000.0, last=1500.0)
    exp.finished(v)  # the engine flushes every open row (not closed) ...
    exp.snapshot(snap(9, [v], ts=1500.0, finished=True))  # ... and its last snapshot lists it
    exp.close()
    recs = collector.drain()
    assert len(recs) == 2 and {r[136] for r in recs} == {END_FORCED}


def test_templates_refreshed_on_their_interval(collector: Collector) -> None:
    clock = Clock()
    exp = IpfixExporter("127.0.0.1", collector.port, template_interval=30, clock=clock)
    exp.finished(conn(1))
    exp.snapshot(snap(1, []))
    clock.t += 29
    exp.finished(conn(2))
    exp.snapshot(snap(2, []))
    clock.t += 2
    exp.snapshot(snap(3, []))  # nothing to send but the templates are due
    clock.t += 5
    exp.finished(conn(3))
    exp.close()
    collector.drain()
    kinds = [(bool(d.templates), len(d.records)) for d in map(decode_message, collector.messages)]
    assert kinds == [(True, 2), (False, 2), (True, 0), (False, 2)]
    assert decode_message(collector.messages[1]).export_time == 1_000_029
    assert {TEMPLATE_V4, TEMPLATE_V6} == set(decode_message(collector.messages[2]).templates)


def test_arp_rows_are_skipped(collector: Collector) -> None:
    exp = IpfixExporter("127.0.0.1", collector.port)
    exp.finished(replace(conn(1), proto="arp", ip_version=0))
    exp.close()
    assert exp.stats().skipped == 1 and collector.drain() == []


def test_no_collector_counts_errors_and_goes_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exp = IpfixExporter("127.0.0.1", port)  # nobody listens there now
    for i in range(5):
        exp.finished(conn(i))
        exp.snapshot(snap(i, []))
    exp.close()
    st = exp.stats()
    assert st.send_errors >= 1 and st.messages + st.send_errors == 5


def test_tcp_flags_follow_the_initiator() -> None:
    v = conn(1, extra={"history": "ShR", "initiator": "remote"})
    local_flags, remote_flags = tcp_flags(v)
    assert remote_flags == 0x02 | 0x04  # the remote opened (S) and reset (R)
    assert local_flags == 0x12
    assert tcp_flags(replace(v, proto="udp")) == (0, 0)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1:2055", ("127.0.0.1", 2055)),
        ("collector.example", ("collector.example", 4739)),
        ("[::1]:4740", ("::1", 4740)),
        ("[::1]", ("::1", 4739)),
        ("::1", ("::1", 4739)),
    ],
)
def test_parse_collector(text: str, want: tuple[str, int]) -> None:
    assert parse_collector(text) == want


@pytest.mark.parametrize("text", ["host:0", "host:x", "[::1", "[::1]x", ":4739"])
def test_parse_collector_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_collector(text)
