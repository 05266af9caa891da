"""``netwatch query``, ``top`` and ``stats`` on a recorded store, through the command line."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from netwatch.cli import main
from netwatch.filters import compile_record
from netwatch.store import Store
from tests.unit.store.conftest import Recorded


def _run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_query_table_and_csv(recorded: Recorded, capsys: Any) -> None:
    store = str(recorded.store)
    code, out, _ = _run(capsys, "query", "--store", store, "sni:google", "-n", "3")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["first", "seen", "proto"]
    assert len(lines) == 4 and all("google" in ln.lower() for ln in lines[1:])
    code, out, _ = _run(capsys, "query", "--store", store, "proto:ssh", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows and {r["app_protocol"] for r in rows} == {"SSH"}
    with Store(recorded.store) as st:
        assert len(rows) == len(list(st.connections("proto:ssh")))


def test_query_events_jsonl(recorded: Recorded, capsys: Any) -> None:
    code, out, _ = _run(
        capsys, "query", "--store", str(recorded.store), "quic.sni:*", "--events",
        "--format", "jsonl",
    )  # fmt: skip
    events = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and events
    assert {e["type"] for e in events} >= {"QUICClientHelloSeen"}
    hello = next(e for e in events if e["type"] == "QUICClientHelloSeen")
    assert hello["data"]["sni"] and hello["data"]["ja4"].startswith("q")
    assert hello["remote"].endswith(":443")


def test_query_explain_and_time_range(recorded: Recorded, capsys: Any) -> None:
    store = str(recorded.store)
    code, out, _ = _run(capsys, "query", "--store", store, "dport:53 google", "--explain")
    assert code == 0
    assert "remote_port = ?" in out and "RESIDUAL dport:53 google" in out
    code, out, _ = _run(
        capsys, "query", "--store", store, "--format", "jsonl", "--since", "2023-02-06T18:12:40Z",
        "--until", "2023-02-06T18:12:41Z",
    )  # fmt: skip
    recs = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and recs
    assert all(r["last_seen"] >= "2023-02-06T18:12:40" for r in recs)
    assert all(r["first_seen"] <= "2023-02-06T18:12:41" for r in recs)


def test_query_errors_are_one_line(recorded: Recorded, capsys: Any, tmp_path: Any) -> None:
    for argv, msg in (
        (["query", "--store", str(recorded.store), "port:70000"], "is not a port"),
        (["query", "--store", str(recorded.store), "--since", "someday"], "is not a time"),
        (["query", "--store", str(tmp_path / "none")], "no netwatch store"),
        (["top", "--store", str(recorded.store), "-n", "0"], "at least 1"),
    ):
        code, _out, err = _run(capsys, *argv)
        assert code == 2 and msg in err and len(err.splitlines()) == 1, err


def _records(recorded: Recorded, expr: str = "") -> list[dict[str, Any]]:
    f = compile_record(expr)
    return [r for rs in recorded.analyzed.values() for r in rs if f(r)]


def test_top_matches_the_records(recorded: Recorded, capsys: Any) -> None:
    code, out, _ = _run(
        capsys, "top", "--store", str(recorded.store), "--format", "jsonl", "-n", "3",
        "--by", "connections", "proto:tls",
    )  # fmt: skip
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and {r["key"] for r in rows} == {"addr", "process", "port"}
    recs = _records(recorded, "proto:tls")
    by_port: dict[str, int] = {}
    for r in recs:
        k = f"{r['proto']}/{r['remote_port']}"
        by_port[k] = by_port.get(k, 0) + 1
    want = sorted(by_port.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    got = [(r["value"], r["connections"]) for r in rows if r["key"] == "port"]
    assert got == want
    addr_bytes: dict[str, int] = {}
    for r in _records(recorded):
        for a in (r["local_addr"], r["remote_addr"]):
            addr_bytes[a] = addr_bytes.get(a, 0) + r["bytes_in"] + r["bytes_out"]
    code, out, _ = _run(capsys, "top", "--store", str(recorded.store), "--key", "addr")
    lines = out.splitlines()
    best = max(addr_bytes.items(), key=lambda kv: kv[1])[0]
    assert code == 0 and lines[1].split()[0] == best


def test_top_by_payload_and_payload_filters(recorded: Recorded, capsys: Any) -> None:
    store = str(recorded.store)
    code, out, _ = _run(
        capsys, "top", "--store", store, "--format", "jsonl", "--by", "payload", "--key", "port",
        "-n", "5",
    )  # fmt: skip
    rows = [json.loads(x) for x in out.splitlines()]
    by_port: dict[str, int] = {}
    for r in _records(recorded):
        k = f"{r['proto']}/{r['remote_port']}"
        by_port[k] = (
            by_port.get(k, 0) + r.get("payload_bytes_in", 0) + r.get("payload_bytes_out", 0)
        )
    want = sorted(by_port.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert code == 0 and [(r["value"], r["payload"]) for r in rows] == want
    # The payload keywords narrow in SQL and still select exactly what the filter does.
    for expr in ("payload_out>1k", "payload>=100k", "payload_in:0"):
        with Store(recorded.store) as st:
            got = sorted(c.record["id"] for c in st.connections(expr))
        assert got == sorted(r["id"] for r in _records(recorded, expr)), expr
    code, out, _ = _run(capsys, "query", "--store", store, "payload_out>1k", "--explain")
    assert code == 0 and "payload_out > ?" in out


def test_stats(recorded: Recorded, capsys: Any) -> None:
    code, out, _ = _run(capsys, "stats", "--store", str(recorded.store), "--format", "json")
    doc = json.loads(out)
    recs = _records(recorded)
    assert code == 0 and doc["summary"]["connections"] == len(recs)
    assert sum(p["connections"] for p in doc["protocols"]) == len(recs)
    assert sum(b["bytes"] for b in doc["timeline"]) == sum(
        r["bytes_in"] + r["bytes_out"] for r in recs
    )
    tls = next(p for p in doc["protocols"] if p["protocol"] == "tls")
    assert tls["connections"] == sum(1 for r in recs if r["app"].get("protocol") == "TLS")
    code, out, _ = _run(capsys, "stats", "--store", str(recorded.store), "--interval", "1h")
    assert code == 0 and "start (every 3600s)" in out and "protocol" in out


@pytest.mark.parametrize("cmd", ["query", "top", "stats"])
def test_help(cmd: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and "--store" in capsys.readouterr().out


def test_record_command_ends_with_everything_written(tmp_path: Any) -> None:
    """The ``netwatch record`` process ends without the interpreter's teardown: by then the
    store holds every connection and event, the run's end is recorded, the WAL is folded
    in, and the packet files are closed."""
    import sqlite3
    import subprocess
    import sys

    from tests.util.corpus import corpus_file

    cap = corpus_file("ndpi_quic-v2.pcapng")
    store = tmp_path / "store"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "netwatch",
            "record",
            "--packets",
            "-r",
            str(cap),
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    analyzed = subprocess.run(
        [sys.executable, "-m", "netwatch", "analyze", "-r", str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    with Store(store) as st:
        assert len(list(st.connections(""))) == len(analyzed.stdout.splitlines()) > 0
    db = store / "netwatch.sqlite"
    wal = store / "netwatch.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    con = sqlite3.connect(db)
    (stopped,) = con.execute("SELECT stopped FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    con.close()
    assert stopped is not None
    pcaps = list(store.rglob("*.pcapng"))
    assert pcaps and all(p.stat().st_size > 0 for p in pcaps)
