"""The connection table on built packet sequences: states, orientation, timeouts, bounds."""

from __future__ import annotations

import tracemalloc

import pytest

from netwatch.flows import tcpstate
from netwatch.flows.conn import Conn, wire_key
from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from netwatch.model.snapshot import ConnectionView
from tests.util import build

C, S = "198.18.0.1", "198.18.0.2"


def run(packets: list[tuple[float, bytes]], **kw: object) -> tuple[Tracker, list[Conn]]:
    done: list[Conn] = []
    tr = Tracker(on_finish=done.append, **kw)  # type: ignore[arg-type]
    for ts, frame in packets:
        tr.packet(ts, 1, frame, len(frame))
    return tr, done


def views(tr: Tracker) -> list[ConnectionView]:
    return [view(tr, c, tr.now) for c in tr.table.values()]


def handshake(t: float = 1.0, cport: int = 40000) -> list[tuple[float, bytes]]:
    return [
        (t, build.tcp(C, cport, S, 443, "S", seq=100)),
        (t + 0.010, build.tcp(S, 443, C, cport, "SA", seq=500, ack=101)),
        (t + 0.011, build.tcp(C, cport, S, 443, "A", seq=101, ack=501)),
    ]


def test_handshake_established_with_rtt() -> None:
    tr, _ = run(handshake())
    (v,) = views(tr)
    assert v.state == "ESTABLISHED"
    assert v.rtt_ms == pytest.approx(11.0)
    assert (v.local_addr, v.local_port, v.remote_port) == (C, 40000, 443)
    assert v.extra["picked_up"] is False


def test_active_close_walks_fin_states() -> None:
    pk = handshake()
    tr, _ = run(pk)
    c = next(iter(tr.table.values()))
    steps = [
        (build.tcp(C, 40000, S, 443, "FA", seq=101, ack=501), "FIN_WAIT1"),
        (build.tcp(S, 443, C, 40000, "A", seq=501, ack=102), "FIN_WAIT2"),
        (build.tcp(S, 443, C, 40000, "FA", seq=501, ack=102), "TIME_WAIT"),
    ]
    for i, (frame, state) in enumerate(steps):
        tr.packet(2.0 + i, 1, frame, len(frame))
        assert c.state == state


def test_passive_close_and_reset() -> None:
    tr, _ = run(handshake())
    c = next(iter(tr.table.values()))
    for frame, state in [
        (build.tcp(S, 443, C, 40000, "FA", seq=501, ack=101), "CLOSE_WAIT"),
        (build.tcp(C, 40000, S, 443, "FA", seq=101, ack=502), "LAST_ACK"),
        (build.tcp(S, 443, C, 40000, "A", seq=502, ack=102), "CLOSED"),
    ]:
        tr.packet(3.0, 1, frame, len(frame))
        assert c.state == state
    tr2, _ = run([*handshake(), (2.0, build.tcp(S, 443, C, 40000, "R", seq=501))])
    assert views(tr2)[0].state == "CLOSED"


def test_pickup_mid_stream_orients_by_well_known_port() -> None:
    tr, _ = run([(1.0, build.tcp(S, 443, C, 40000, "PA", seq=9, ack=9, payload=b"x"))])
    (v,) = views(tr)
    assert v.state == "ESTABLISHED" and v.extra["picked_up"] is True
    assert (v.local_port, v.remote_port) == (40000, 443)
    assert (v.packets_in, v.packets_out) == (1, 0)


def test_new_syn_on_closed_tuple_starts_new_row_and_late_fin_does_not_resurrect() -> None:
    pk = [*handshake(1.0), (2.0, build.tcp(C, 40000, S, 443, "R", seq=101))]
    pk += [(3.0, build.tcp(C, 40000, S, 443, "S", seq=9000))]
    tr, done = run(pk)
    assert len(done) == 1 and done[0].state == "CLOSED"
    (v,) = views(tr)
    assert v.state == "SYN_SENT" and v.packets_out == 1
    # After a RST, the same ISN again is a retransmitted SYN, not a new connection.
    rst = build.tcp(S, 443, C, 40000, "RA", seq=0, ack=9001)
    tr.packet(3.5, 1, rst, len(rst))
    syn = build.tcp(C, 40000, S, 443, "S", seq=9000)
    tr.packet(3.6, 1, syn, len(syn))
    assert len(tr.table) == 1 and len(done) == 1
    assert next(iter(tr.table.values())).pk0 == 2
    # Expire the closed row, then a late FIN must not create a row.
    tr.expire(100.0)
    assert not tr.table
    fin = build.tcp(S, 443, C, 40000, "FA", seq=1, ack=1)
    tr.packet(101.0, 1, fin, len(fin))
    assert not tr.table and tr.late_packets == 1


def test_data_after_a_closed_row_ended_starts_a_new_row() -> None:
    """Bytes that still flow on a tuple after its row was reset and expired are a new row,
    picked up mid-stream (Zeek does the same); a late FIN or ACK alone is not."""
    pk = [*handshake(1.0), (2.0, build.tcp(C, 40000, S, 443, "R", seq=101))]
    pk += [(20.0, build.tcp(S, 443, C, 40000, "A", seq=501, ack=101))]  # late ACK: dropped
    pk += [(25.0, build.tcp(S, 443, C, 40000, "PA", seq=501, ack=101, payload=b"x" * 50))]
    pk += [(25.1, build.tcp(C, 40000, S, 443, "A", seq=101, ack=551))]
    tr, done = run(pk)
    assert len(done) == 1 and done[0].state == "CLOSED"
    assert tr.late_packets == 1
    (v,) = views(tr)
    assert (v.packets_in, v.packets_out, v.bytes_in > 50) == (1, 1, True)
    assert v.extra["picked_up"] is True and v.first_seen == 25.0
    assert (v.local_port, v.remote_port) == (40000, 443)  # the well-known port is the server


def test_bytes_kept_before_detection_are_bounded_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each undetected TCP flow keeps its first bytes for the analyzer found later; many such
    flows at once (an unknown protocol, a flood with payloads) keep no more than the total,
    and the bytes are released when detection gives up or the row ends."""
    import netwatch.flows.tracker as tracker_mod

    monkeypatch.setattr(tracker_mod, "PRE_DETECT_TOTAL", 50_000)
    tr = Tracker()
    junk = bytes(range(256)) * 4  # no detector takes it
    for i in range(200):
        cp = 30000 + i
        pk = [
            (1.0 + i * 1e-3, build.tcp(C, cp, S, 5555, "S", seq=100)),
            (1.0001 + i * 1e-3, build.tcp(S, 5555, C, cp, "SA", seq=500, ack=101)),
            (1.0002 + i * 1e-3, build.tcp(C, cp, S, 5555, "A", seq=101, ack=501)),
            (1.0003 + i * 1e-3, build.tcp(C, cp, S, 5555, "PA", seq=101, ack=501, payload=junk)),
        ]
        for ts, f in pk:
            tr.packet(ts, 1, f, len(f))
    kept = [c for c in tr.table.values() if c.extra and c.extra.get("_pre")]
    assert len(kept) == 48 and tr._pre_bytes == 48 * len(junk) <= 50_000
    # Detection gives up after enough payloads: that flow's bytes are released.
    c0 = kept[0]
    seq = 101 + len(junk)
    for k in range(6):
        f = build.tcp(C, c0.c_port, S, 5555, "PA", seq=seq, ack=501, payload=junk)
        tr.packet(2.0 + k * 1e-3, 1, f, len(f))
        seq += len(junk)
    assert not (c0.extra or {}).get("_pre") and tr._pre_bytes == 47 * len(junk)
    tr.expire(10_000.0)  # every row ends: nothing stays kept
    assert not tr.table and tr._pre_bytes == 0


def test_every_transition_row_is_reachable_data() -> None:
    states = {s for (s, _d, _e) in tcpstate.TRANSITIONS} | set(tcpstate.TRANSITIONS.values())
    assert {
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSED",
    } <= states
    # Every state the table names is reachable from NEW, and from every one of them the
    # table (plus RST) leads to a closed state: a mistyped row would break one or the other.
    edges: dict[str, set[str]] = {}
    for (state, _d, _e), new in tcpstate.TRANSITIONS.items():
        edges.setdefault(state, set()).add(new)
    seen, todo = {tcpstate.NEW}, [tcpstate.NEW]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert states <= seen, states - seen
    for state in states - tcpstate.CLOSED_STATES:
        assert tcpstate.next_state(state, tcpstate.IN, "R") == tcpstate.RESET_STATE
        reach, todo = {state}, [state]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in reach:
                    reach.add(nxt)
                    todo.append(nxt)
        assert reach & tcpstate.CLOSED_STATES, f"{state} never closes without a RST"


def test_retransmission_and_dup_ack_counted() -> None:
    pk = handshake()
    data = build.tcp(C, 40000, S, 443, "PA", seq=101, ack=501, payload=b"a" * 100)
    pk += [(2.0, data), (3.0, data)]  # same segment a second later: retransmission
    ack = build.tcp(S, 443, C, 40000, "A", seq=501, ack=201)
    pk += [(2.1, ack), (2.2, ack), (2.3, ack)]
    tr, _ = run(pk)
    (v,) = views(tr)
    assert v.retransmits == 1
    assert v.dup_acks == 2


def test_udp_states_and_timeouts() -> None:
    tr, done = run([(1.0, build.udp(C, 50000, S, 9999, b"x"))])
    c = next(iter(tr.table.values()))
    assert view(tr, c, 2.0).state == "UDP_ACTIVE"
    assert view(tr, c, 60.0).state == "UDP_IDLE"
    v = view(tr, c, 160.0)
    assert v.state == "UDP_STALE" and v.staleness > 0.75
    tr.expire(200.0)
    assert not tr.table and len(done) == 1 and tr.expired == 1


def test_udp_reply_first_is_oriented_to_the_client() -> None:
    tr, _ = run([(1.0, build.udp(S, 53, C, 50000, b"\x00" * 12))])
    (v,) = views(tr)
    assert (v.local_addr, v.local_port, v.remote_port) == (C, 50000, 53)


def test_icmp_echo_pairing_rtt() -> None:
    tr, _ = run(
        [(1.0, build.icmp_echo(C, S, 5, 1)), (1.025, build.icmp_echo(S, C, 5, 1, reply=True))]
    )
    (v,) = views(tr)
    assert v.proto == "icmp" and v.state == "ECHO_REPLY"
    assert v.rtt_ms == pytest.approx(25.0)
    assert v.extra["icmp"]["requests"] == 1 and v.extra["icmp"]["replies"] == 1


def test_live_orientation_from_host_addresses() -> None:
    tr = Tracker(live=True)
    tr.set_local_addresses([bytes([198, 18, 0, 2])])
    for ts, frame in handshake():
        tr.packet(ts, 1, frame, len(frame))
    (v,) = views(tr)
    # The host is the server here: local is 198.18.0.2:443, state from its side.
    assert (v.local_addr, v.local_port, v.remote_port) == (S, 443, 40000)
    assert v.state == "ESTABLISHED"
    assert (v.packets_in, v.packets_out) == (2, 1)


def test_rates_sliding_window() -> None:
    tr, _ = run([(1.0, build.udp(C, 1, S, 2, b"x" * 958))])  # 1000 bytes on the wire
    tr.tick(1.0)
    f = build.udp(C, 1, S, 2, b"x" * 958)
    tr.packet(1.5, 1, f, 1000)
    tr.tick(2.0)
    c = next(iter(tr.table.values()))
    assert c.rate0 > 0 and view(tr, c, 2.0).rate_out == pytest.approx(c.rate0)


def test_flood_is_bounded_with_evictions_and_memory_per_row() -> None:
    cap = 5000
    tr = Tracker(max_connections=cap, history=100)
    frames = [
        build.udp(C, 1024 + (i % 60000), f"198.19.{i // 250 % 250}.{i % 250}", 53, b"")
        for i in range(20000)
    ]
    for i, f in enumerate(frames):
        tr.packet(1.0 + i * 1e-4, 1, f, len(f))
    assert len(tr.table) <= cap
    assert tr.evictions >= 20000 - cap
    # Memory of live rows: well under 1 KiB each.
    tr2 = Tracker(max_connections=100_000, dpi=False)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i, f in enumerate(frames):
        tr2.packet(1.0 + i * 1e-4, 1, f, len(f))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    per_row = grown / len(tr2.table)
    assert per_row < 1024, f"{per_row:.0f} bytes per UDP connection"


def test_tcp_row_memory_under_one_kib() -> None:
    tr = Tracker(max_connections=100_000)
    pk = []
    for i in range(3000):
        pk += [(ts, f) for ts, f in handshake(1.0 + i * 1e-3, cport=20000 + i)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for ts, f in pk:
        tr.packet(ts, 1, f, len(f))
    tr.tick(10.0)  # rates allocate their window state at the first ticks
    tr.tick(11.0)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown / len(tr.table) < 1024, f"{grown / len(tr.table):.0f} bytes per TCP row"


def test_announced_connection_is_labelled_and_linked() -> None:
    from netwatch.dpi.base import ExpectConnection

    tr = Tracker()
    ctl = build.tcp(C, 40000, S, 21, "S", seq=1)
    tr.packet(1.0, 1, ctl, len(ctl))
    parent = next(iter(tr.table.values()))
    info: dict[str, object] = {"mode": "passive"}
    tr._events(parent, [ExpectConnection(1.0, "tcp", S, 50001, "FTP-DATA", info, 30.0)])
    data = build.tcp(C, 40001, S, 50001, "S", seq=7)
    tr.packet(2.0, 1, data, len(data))
    info["file"] = "big.iso"  # the analyzer learns the file name after the connection opened
    key, _low = wire_key(6, bytes([198, 18, 0, 1]), 40001, bytes([198, 18, 0, 2]), 50001, None)
    row = tr.table[key]
    v = view(tr, row, 2.0)
    assert v.app["protocol"] == "FTP-DATA"
    assert v.app["ftp-data"] == {"mode": "passive", "file": "big.iso", "parent": parent.id}
    assert not tr.expected
    # An expectation not claimed in time is dropped.
    tr._events(parent, [ExpectConnection(2.0, "tcp", S, 50002, "FTP-DATA", {}, 5.0)])
    tr.expire(10.0)
    assert not tr.expected


def test_detection_on_the_servers_first_bytes_gets_the_servers_port() -> None:
    """A server-first protocol (SSH banner here) is built with the responder's port."""
    pk = [
        *handshake(),
        (
            1.1,
            build.tcp(S, 443, C, 40000, "PA", seq=501, ack=101, payload=b"SSH-2.0-OpenSSH_9.6\r\n"),
        ),
    ]
    tr, _ = run(pk)
    (c,) = tr.table.values()
    assert c.analyzer is not None and c.analyzer.protocol == "SSH"
    assert (c.c_port, c.s_port) == (40000, 443)


def test_detect_passes_the_responder_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from netwatch.dpi import registry

    seen: list[tuple[int, int]] = []
    real = registry.detect

    def spy(transport: str, data: bytes, sport: int, dport: int):  # type: ignore[no-untyped-def]
        seen.append((sport, dport))
        return real(transport, data, sport, dport)

    monkeypatch.setattr(registry, "detect", spy)
    pk = [
        *handshake(),
        (
            1.1,
            build.tcp(
                S, 443, C, 40000, "PA", seq=501, ack=101, payload=b"220 mail.example ESMTP\r\n"
            ),
        ),
    ]
    run(pk)
    assert seen and seen[0] == (40000, 443)


def test_packet_sink_sees_every_packet_with_its_row() -> None:
    seen: list[tuple[float, int | None]] = []
    tr = Tracker()
    tr.packet_sink = lambda ts, lt, data, wl, c: seen.append((ts, c.id if c else None))
    pk = [*handshake(), (2.0, build.tcp(C, 40000, S, 443, "PA", seq=101, ack=501, payload=b"x"))]
    pk.append((2.5, b"\x00" * 10))  # undecodable: still handed over, with no row
    tr.packets_batch([(ts, 1, f, len(f)) for ts, f in pk])
    assert [t for t, _ in seen] == [1.0, 1.01, 1.011, 2.0, 2.5]
    ids = {cid for _, cid in seen[:4]}
    assert len(ids) == 1 and None not in ids and seen[-1][1] is None


def test_advance_expires_rows_without_packets() -> None:
    tr, done = run([(1.0, build.udp(C, 50000, S, 9999, b"x"))])
    tr.advance(50.0)
    assert tr.table  # not yet
    tr.advance(1000.0)
    assert not tr.table and len(done) == 1


def test_rows_derive_protocol_and_endpoints_from_their_key() -> None:
    import dpkt

    gre = bytes(dpkt.ip.IP(src=bytes([198, 18, 0, 1]), dst=bytes([198, 18, 0, 2]), p=47,
                           data=b"\x00" * 8, len=28))  # fmt: skip
    frame = b"\x02" * 12 + b"\x08\x00" + gre
    tr, _ = run([(1.0, frame), (1.0, build.icmp_echo(S, C, 9, 1))])
    rows = {v.proto: v for v in views(tr)}
    assert set(rows) == {"gre", "icmp"}
    assert (rows["gre"].local_addr, rows["gre"].remote_addr) == (C, S)
    assert (rows["icmp"].local_addr, rows["icmp"].remote_addr) == (S, C)  # the requester
    assert rows["icmp"].ip_version == 4 and rows["icmp"].local_port == 0
