"""The metrics of a real capture run through the engine, served over HTTP on loopback."""

from __future__ import annotations

import contextlib
import socket
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netwatch.capture.open import open_file
from netwatch.engine import Engine
from netwatch.errors import UsageError
from netwatch.export.ipfix import decode_message
from netwatch.metrics import MetricsServer, NetwatchCollector, Outputs, StoreFiles, parse_listen
from netwatch.model.snapshot import ConnectionView, Snapshot
from tests.util.corpus import corpus_file

Values = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fetch(url: str) -> Values:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    out: Values = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


@pytest.mark.parametrize("name", ["ndpi_whatsapp_login_chat.pcap", "ndpi_http_ipv6.pcap"])
def test_replayed_capture_totals_match_the_records(name: str) -> None:
    views: list[ConnectionView] = []
    snaps: list[Snapshot] = []
    outputs = Outputs.open(metrics="127.0.0.1:0")
    assert outputs.server is not None
    try:
        hook = outputs.on_snapshot
        assert hook is not None

        def on_snapshot(s: Snapshot) -> None:
            snaps.append(s)
            hook(s)

        engine = Engine(
            open_file(str(corpus_file(name))),
            on_finish=outputs.on_finish(views.append),
            on_snapshot=on_snapshot,
        )
        engine.run()
        v = fetch(outputs.server.url)
    finally:
        outputs.close()
    assert snaps and snaps[-1].finished
    tr = engine.tracker
    assert v[("netwatch_packets_total", frozenset())] == tr.packets
    assert v[("netwatch_bytes_total", frozenset())] == tr.bytes
    per_proto: Counter[str] = Counter()
    per_app: Counter[tuple[str, str]] = Counter()
    for r in views:
        per_proto[r.proto] += r.bytes_out + r.bytes_in
        per_app[(r.proto, r.app_protocol or "unknown")] += r.packets_out + r.packets_in
    got_proto = {
        dict(k[1])["proto"]: x for k, x in v.items() if k[0] == "netwatch_protocol_bytes_total"
    }
    got_app = {
        (dict(k[1])["proto"], dict(k[1])["app"]): x
        for k, x in v.items()
        if k[0] == "netwatch_application_packets_total"
    }
    assert got_proto == dict(per_proto)
    assert got_app == dict(per_app)
    assert sum(x for k, x in v.items() if k[0] == "netwatch_protocol_connections_total") == len(
        views
    )


def test_server_binds_only_where_asked_and_closes() -> None:
    server = MetricsServer(NetwatchCollector(), "127.0.0.1:0").start()
    port = server.port
    try:
        assert port > 0
        assert fetch(server.url) == {}  # no snapshot yet: an empty, valid exposition
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # Bound to 127.0.0.1 only: another loopback address of the host is refused.
            assert s.connect_ex(("127.0.0.2", port)) != 0
    finally:
        server.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_a_busy_port_is_a_usage_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UsageError, match="cannot listen"):
            MetricsServer(NetwatchCollector(), f"127.0.0.1:{port}").start()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1:9108", ("127.0.0.1", 9108)),
        (":9108", ("127.0.0.1", 9108)),
        ("9108", ("127.0.0.1", 9108)),
        ("[::1]:9108", ("::1", 9108)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_parse_listen(text: str, want: tuple[str, int]) -> None:
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["host:port", "::1:9108", "[::1]9108", "1.2.3.4:70000", ""])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(text)


def test_recorder_metrics_from_a_real_store(tmp_path: Path) -> None:
    """The recorder's writer behind StoreFiles: counts from the writer, size from disk."""
    from netwatch.store import StoreWriter

    writer = StoreWriter(tmp_path, source="test")
    writer.start()
    views: list[ConnectionView] = []
    outputs = Outputs.open(metrics="127.0.0.1:0", recorder=StoreFiles(writer, tmp_path))
    assert outputs.server is not None
    try:

        def finished(v: ConnectionView) -> None:
            views.append(v)
            writer.put_connection(v)

        Engine(
            open_file(str(corpus_file("ndpi_whatsapp_login_chat.pcap"))),
            on_finish=outputs.on_finish(finished),
            on_snapshot=outputs.on_snapshot,
        ).run()
        writer.close()
        v = fetch(outputs.server.url)
    finally:
        outputs.close()
    on_disk = sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("netwatch"))
    assert v[("netwatch_store_connections_total", frozenset())] == len(views) > 0
    assert v[("netwatch_store_size_bytes", frozenset())] == on_disk > 0
    assert v[("netwatch_store_dropped_total", frozenset())] == 0


def test_ipfix_export_counted_in_the_metrics() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5)
        port = rx.getsockname()[1]
        outputs = Outputs.open(metrics="127.0.0.1:0", ipfix=f"127.0.0.1:{port}")
        assert outputs.server is not None and outputs.ipfix is not None
        exporter = outputs.ipfix
        try:
            Engine(
                open_file(str(corpus_file("ndpi_http_ipv6.pcap"))),
                on_finish=outputs.on_finish(),
                on_snapshot=outputs.on_snapshot,
            ).run()
            exporter.close()
            v = fetch(outputs.server.url)
        finally:
            outputs.close()
        received = 0
        with contextlib.suppress(TimeoutError):
            while True:
                received += len(decode_message(rx.recv(65535)).records)
    st = exporter.stats()
    assert st.records == received > 0 and st.send_errors == 0
    assert v[("netwatch_ipfix_records_total", frozenset())] == st.records
    assert v[("netwatch_ipfix_messages_total", frozenset())] == st.messages
    assert v[("netwatch_ipfix_send_errors_total", frozenset())] == 0


def test_monitor_serves_metrics_while_the_ui_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``netwatch -r FILE --metrics``: the engine in its thread, the UI replaced by a stand-in
    that scrapes once the replay has ended; the server is gone after the UI returns."""
    import netwatch.tui
    from netwatch.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen: list[Values] = []

    def fake_ui(engine: Engine, config: object) -> int:
        seq = 0
        for _ in range(100):
            snap = engine.wait_next(seq, 0.5)
            if snap is not None:
                seq = snap.seq
                if snap.finished:
                    break
        seen.append(fetch(f"http://127.0.0.1:{port}/metrics"))
        seen.append({("packets", frozenset()): float(engine.tracker.packets)})
        return 0

    monkeypatch.setattr(netwatch.tui, "run_tui", fake_ui)
    capture = corpus_file("ndpi_http_ipv6.pcap")
    assert main(["-r", str(capture), "--speed", "0", "--metrics", f"127.0.0.1:{port}"]) == 0
    v, truth = seen
    assert v[("netwatch_packets_total", frozenset())] == truth[("packets", frozenset())] > 0
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
