"""What ``netwatch record`` stores is what ``netwatch analyze`` prints, and the events are the
analyzers' events: same captures, compared record for record and event for event."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from netwatch.capture.pcapfile import open_capture_file
from netwatch.cli import build_parser, main
from netwatch.commands.common import make_enrichment
from netwatch.dpi.base import AppEvent
from netwatch.engine import Engine
from netwatch.model.snapshot import ConnectionView
from netwatch.store import MemorySink, RecordSink, Store, StoreWriter
from netwatch.store.rows import dumps
from tests.unit.store.conftest import CAPTURES, Recorded, canonical
from tests.util.corpus import corpus_file


def test_every_run_is_recorded(recorded: Recorded) -> None:
    with Store(recorded.store) as st:
        s = st.summary()
    assert s["runs"] == len(CAPTURES)
    assert s["dropped"] == 0
    assert s["connections"] == sum(len(v) for v in recorded.analyzed.values())
    assert s["events"] > 0


def test_connections_equal_analyze(recorded: Recorded) -> None:
    with Store(recorded.store) as st:
        by_run: dict[int, list[dict[str, Any]]] = {}
        for c in st.connections():
            by_run.setdefault(c.run, []).append(c.record)
    assert len(by_run) == len(CAPTURES)
    for run, name in enumerate(CAPTURES, start=1):
        assert canonical(by_run[run]) == canonical(recorded.analyzed[name]), name


def test_dpi_data_survives(recorded: Recorded) -> None:
    """The round trip is not vacuous: the captures carry every analyzer's data."""
    protos = set()
    with Store(recorded.store) as st:
        for c in st.connections():
            protos.add(c.record["app"].get("protocol"))
    assert {"TLS", "QUIC", "DNS", "HTTP", "SSH"} <= protos


def _engine_events(path: Path) -> list[tuple[int, float, str, Any]]:
    got: list[tuple[int, float, str, Any]] = []

    def on_event(v: ConnectionView | None, ev: AppEvent) -> None:
        data = {f.name: getattr(ev, f.name) for f in fields(ev) if f.name != "ts"}
        got.append((-1 if v is None else v.id, ev.ts, type(ev).__name__, json.loads(dumps(data))))

    Engine(open_capture_file(path), on_finish=lambda v: None, on_event=on_event).run()
    return got


def test_events_equal_the_analyzers(recorded: Recorded) -> None:
    with Store(recorded.store) as st:
        stored = list(st.events())
    for run, name in enumerate(CAPTURES, start=1):
        want = _engine_events(corpus_file(name))
        got = [
            (-1 if e.conn is None else e.conn, e.ts, e.type, e.data) for e in stored if e.run == run
        ]
        assert sorted(map(repr, got)) == sorted(map(repr, want)), name
    types = {e.type for e in stored}
    assert {
        "ClientHelloSeen",
        "ServerHelloSeen",
        "CertificatesSeen",
        "QUICClientHelloSeen",
    } <= types


def test_events_of_a_connection(recorded: Recorded) -> None:
    with Store(recorded.store) as st:
        conns = list(st.connections('tls.sni = "www.google.com"'))
        assert conns
        evs = st.events_of(conns[0])
    kinds = [e.type for e in evs]
    assert kinds[0] == "ClientHelloSeen"
    assert "ServerHelloSeen" in kinds
    hello = evs[0].data["hello"]
    assert isinstance(hello["cipher_suites"], list) and hello["cipher_suites"]


def test_query_jsonl_equals_analyze(recorded: Recorded, capsys: Any) -> None:
    """The command line end to end: ``query --format jsonl`` prints analyze's records."""
    name = "ndpi_dns.pcap"
    run = CAPTURES.index(name) + 1
    capsys.readouterr()
    assert main(["query", "--store", str(recorded.store), "--format", "jsonl", "app:dns"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    want = [r for r in recorded.analyzed[name] if r["app"].get("protocol") == "DNS"]
    assert want
    got_dns = [r for r in lines if r in want]
    assert canonical(got_dns) == canonical(want)
    with Store(recorded.store) as st:
        n = sum(1 for c in st.connections("app:dns") if c.run == run)
    assert n == len(want)


def test_memory_sink_is_the_store_without_a_disk(recorded: Recorded, tmp_path: Path) -> None:
    """The fake sink, wired as ``record`` wires the writer, holds what the store holds."""
    name = "sv_ssh-hassh.pcap"
    run = CAPTURES.index(name) + 1
    sink = MemorySink(run=run)
    path = corpus_file(name)
    args = build_parser().parse_args(["record", "-r", str(path), "--store", str(tmp_path)])
    engine = Engine(
        open_capture_file(path),
        on_finish=sink.put_connection,
        enrich=make_enrichment(args, live=False),  # as record does: the geo scope
    )
    engine.tracker.on_event = lambda c, ev: sink.put_event_of(c.id, ev)
    engine.run()
    with Store(recorded.store) as st:
        stored = [c.record for c in st.connections() if c.run == run]
        events = [(e.run, e.conn, e.ts, e.type, e.data) for e in st.events() if e.run == run]
    assert canonical(sink.records) == canonical(stored)
    assert sorted(map(repr, sink.events)) == sorted(map(repr, events))
    assert isinstance(sink, RecordSink)
    writer = StoreWriter(tmp_path, source="test")
    assert isinstance(writer, RecordSink)
    writer.close()
