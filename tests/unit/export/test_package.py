"""The export package's surface, and its writers as ``netwatch analyze`` uses writers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import netwatch.export as export
from netwatch.export import EveWriter, ZeekWriter, write_eve
from netwatch.output.records import RecordWriter
from tests.unit.export.records import records_of
from tests.unit.export.zeekread import read
from tests.util.corpus import corpus_file


def test_exported_members() -> None:
    assert sorted(export.__all__) == sorted(
        name for name in dir(export) if not name.startswith("_") and name not in {"annotations"}
        and not isinstance(getattr(export, name), type(export))
    )  # fmt: skip


def test_streaming_writers_match_batch(tmp_path: Path) -> None:
    recs = records_of(corpus_file("zeek/wikipedia/trace.pcap"))
    batch = io.StringIO()
    write_eve(recs, batch)
    buf = io.StringIO()
    writers: list[RecordWriter] = [EveWriter(buf), ZeekWriter(tmp_path, opened=0.0)]
    for rec in recs:
        for w in writers:
            w.write(rec)
    for w in writers:
        w.close()
    assert buf.getvalue() == batch.getvalue()
    eve, zeek = writers
    assert isinstance(eve, EveWriter) and isinstance(zeek, ZeekWriter)
    assert eve.result.written["flow"] == 34 and eve.result.malformed == 0
    assert zeek.result.written == {"conn": 34, "dns": 34, "http": 15}
    conn = read(tmp_path / "conn.log")
    assert re.fullmatch(r"\d{4}(-\d\d){5}", conn.headers["open"]) and conn.closed
    # One uid per connection, shared by its rows in the other logs.
    uids = {r["uid"] for r in conn.rows}
    assert len(uids) == 34
    assert {r["uid"] for r in read(tmp_path / "dns.log").rows} <= uids
    assert {r["uid"] for r in read(tmp_path / "http.log").rows} <= uids
