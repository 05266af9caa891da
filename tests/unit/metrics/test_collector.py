"""The collector on canned snapshots: names, values, labels, and counters that never go down."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netwatch.metrics import NetwatchCollector, StoreFiles, top_remotes
from netwatch.metrics.recorder import Sample
from netwatch.model.snapshot import ConnectionView
from tests.unit.metrics.snapshots import conn, grow, snap


def scrape(c: NetwatchCollector) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    text = generate_latest(reg).decode()
    values = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return text, values


def val(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return values[(name, frozenset(labels.items()))]


def test_nothing_before_the_first_snapshot() -> None:
    _, values = scrape(NetwatchCollector())
    assert values == {}


def test_capture_counters_from_the_snapshot_stats() -> None:
    c = NetwatchCollector()
    c.snapshot(
        snap(
            1,
            [conn(1)],
            packets=120,
            bytes=9000,
            kernel_drops=3,
            internal_drops=2,
            decode_errors={"ipv4-truncated": 4},
            analyzer_errors={"TLS": 5},
            evictions=6,
            expired=7,
            fragments_pending=1,
            buffered={"reassembly": 10, "before_detection": 20, "analyzers": 30},
            active_connections=1,
        )
    )  # fmt: skip
    _, v = scrape(c)
    assert val(v, "netwatch_packets_total") == 120
    assert val(v, "netwatch_bytes_total") == 9000
    assert val(v, "netwatch_dropped_packets_total", by="kernel") == 3
    assert val(v, "netwatch_dropped_packets_total", by="netwatch") == 2
    assert val(v, "netwatch_decode_errors_total", reason="ipv4-truncated") == 4
    assert val(v, "netwatch_analyzer_errors_total", protocol="TLS") == 5
    assert val(v, "netwatch_evicted_connections_total") == 6
    assert val(v, "netwatch_expired_connections_total") == 7
    assert val(v, "netwatch_fragments_pending") == 1
    assert val(v, "netwatch_buffered_bytes", kind="reassembly") == 10
    assert val(v, "netwatch_buffered_bytes", kind="before_detection") == 20
    assert val(v, "netwatch_buffered_bytes", kind="analyzers") == 30
    assert val(v, "netwatch_tracked_connections") == 1
    assert val(v, "netwatch_snapshot_timestamp_seconds") == 2000.0
    info = [k for k in v if k[0] == "netwatch_info"]
    assert len(info) == 1 and ("interface", "lo") in info[0][1]


def test_protocol_totals_add_ended_and_open_applications_only_ended() -> None:
    c = NetwatchCollector()
    a = conn(1, app="TLS", pk=(3, 2), by=(300, 200))
    b = conn(2, proto="udp", app="DNS", pk=(1, 1), by=(70, 90))
    d = conn(3, app="", pk=(1, 0), by=(60, 0))
    c.finished(a)
    c.finished(d)
    c.snapshot(snap(1, [b]))
    _, v = scrape(c)
    assert val(v, "netwatch_protocol_connections_total", proto="tcp") == 2
    assert val(v, "netwatch_protocol_packets_total", proto="tcp") == 6
    assert val(v, "netwatch_protocol_bytes_total", proto="tcp") == 560
    assert val(v, "netwatch_protocol_connections_total", proto="udp") == 1
    assert val(v, "netwatch_protocol_bytes_total", proto="udp") == 160
    assert val(v, "netwatch_application_bytes_total", proto="tcp", app="TLS") == 500
    assert val(v, "netwatch_application_connections_total", proto="tcp", app="unknown") == 1
    assert (
        "netwatch_application_bytes_total",
        frozenset({("proto", "udp"), ("app", "DNS")}),
    ) not in v
    assert val(v, "netwatch_open_connections", proto="udp", app="DNS") == 1


def test_final_snapshot_does_not_count_flushed_rows_twice() -> None:
    """At the end the engine flushes every open row to on_finish and the last snapshot
    still lists them: they must be counted once."""
    c = NetwatchCollector()
    a = conn(1, pk=(5, 5), by=(500, 500))
    c.snapshot(snap(1, [a]))
    _, before = scrape(c)
    c.finished(a)
    c.snapshot(snap(2, [a], finished=True))
    _, after = scrape(c)
    for name in ("netwatch_protocol_packets_total", "netwatch_protocol_bytes_total"):
        assert val(before, name, proto="tcp") == val(after, name, proto="tcp")
    assert val(after, "netwatch_protocol_connections_total", proto="tcp") == 1


def test_a_scrape_between_finish_and_snapshot_reads_the_older_pair() -> None:
    """finished() runs before the next snapshot is published: the scrape still reads the
    old snapshot with the old ended totals, never the row twice."""
    c = NetwatchCollector()
    a = conn(1, pk=(2, 2), by=(200, 200))
    c.snapshot(snap(1, [a]))
    c.finished(grow(a, 1, 50))
    _, v = scrape(c)
    assert val(v, "netwatch_protocol_connections_total", proto="tcp") == 1
    assert val(v, "netwatch_protocol_bytes_total", proto="tcp") == 400
    c.snapshot(snap(2, []))
    _, v = scrape(c)
    assert val(v, "netwatch_protocol_bytes_total", proto="tcp") == 450


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["grow", "end", "new", "snap"])), max_size=60
    )
)
def test_counters_never_go_down(steps: list[tuple[int, str]]) -> None:
    """Any interleaving of growth, ends, new rows and snapshots (all in one thread, as the
    engine does it) keeps every counter monotonic."""
    c = NetwatchCollector()
    rows: dict[int, ConnectionView] = {}
    next_id = 1
    last: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for seq, (pick, action) in enumerate(steps, 1):
        ids = sorted(rows)
        if action == "new" or not ids:
            rows[next_id] = conn(
                next_id, proto="udp" if next_id % 2 else "tcp", app="DNS" if next_id % 3 else ""
            )
            next_id += 1
        elif action == "grow":
            i = ids[pick % len(ids)]
            rows[i] = replace(grow(rows[i], 1, 10), app={"protocol": "TLS"})  # detection moves it
        elif action == "end":
            i = ids[pick % len(ids)]
            c.finished(rows.pop(i))
        if action == "snap" or pick == 0:
            c.snapshot(snap(seq, list(rows.values())))
            _, v = scrape(c)
            for k, x in v.items():
                if k[0].endswith("_total") and k in last:
                    assert x >= last[k], k
            last.update(v)


def test_top_talkers_bounded_with_other_bucket() -> None:
    conns = [conn(i, remote=f"198.51.100.{i}", by=(i * 100, 0)) for i in range(1, 15)]
    conns.append(conn(99, remote="198.51.100.14", by=(50, 50)))
    top = top_remotes(conns, 10)
    assert len(top) == 11
    assert top[0] == ("198.51.100.14", 1500)
    assert [a for a, _ in top[:10]] == [f"198.51.100.{i}" for i in range(14, 4, -1)]
    assert top[-1] == ("other", sum(i * 100 for i in range(1, 5)))
    c = NetwatchCollector(top=3)
    c.snapshot(snap(1, conns))
    _, v = scrape(c)
    talkers = {dict(k[1])["remote"]: x for k, x in v.items() if k[0] == "netwatch_top_remote_bytes"}
    assert len(talkers) == 4 and talkers["198.51.100.14"] == 1500
    assert talkers["other"] == sum(x for _, x in top_remotes(conns, 100)[:-1]) - 1500 - 1300 - 1200


def test_ties_do_not_flap() -> None:
    conns = [conn(i, remote=f"203.0.113.{i}", by=(10, 0)) for i in (5, 3, 9, 1)]
    assert [a for a, _ in top_remotes(conns, 2)] == ["203.0.113.1", "203.0.113.3", "other"]
    assert top_remotes(reversed(conns), 2) == top_remotes(conns, 2)


class _Writer:
    def __init__(self) -> None:
        self.n = 0

    def stats(self) -> Sample:
        self.n += 1
        return Sample(10, 20, 1, 3, 4, store_bytes=0)


def test_recorder_store_size_from_its_files(tmp_path: Path) -> None:
    (tmp_path / "netwatch.sqlite").write_bytes(b"x" * 4096)
    (tmp_path / "netwatch.sqlite-wal").write_bytes(b"y" * 1000)
    (tmp_path / "other.txt").write_bytes(b"z" * 99)
    c = NetwatchCollector(recorder=StoreFiles(_Writer(), tmp_path))
    _, v = scrape(c)
    assert val(v, "netwatch_store_size_bytes") == 5096
    assert val(v, "netwatch_store_connections_total") == 10
    assert val(v, "netwatch_store_events_total") == 20
    assert val(v, "netwatch_store_dropped_total") == 1
    assert val(v, "netwatch_store_queue_items") == 4
    assert val(v, "netwatch_store_transactions_total") == 3


def test_recorder_write_latency_as_a_summary() -> None:
    class Rec:
        def stats(self) -> Sample:
            return Sample(1, 2, 0, 8, 0, store_bytes=123, write_seconds=0.4)

    _, v = scrape(NetwatchCollector(recorder=Rec()))
    assert val(v, "netwatch_store_write_seconds_count") == 8
    assert val(v, "netwatch_store_write_seconds_sum") == pytest.approx(0.4)
    assert val(v, "netwatch_store_size_bytes") == 123


def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    c = NetwatchCollector(recorder=StoreFiles(_Writer(), "/nonexistent"))
    conns = [
        conn(i, remote=f"2001:db8::{i}", app="TLS" if i % 2 else "", by=(i, i))
        for i in range(1, 30)
    ]
    c.finished(conns[0])
    c.snapshot(
        snap(
            1,
            conns[1:],
            packets=5,
            decode_errors={"tcp-bad-offset": 1},
            analyzer_errors={"HTTP": 2},
        )
    )
    text, _ = scrape(c)
    out = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "" and out.stderr.strip() == "", out.stdout + out.stderr
