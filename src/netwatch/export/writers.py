"""Streaming writers of the exports: records in, files out.

Both writers follow ``netwatch.output.records.RecordWriter`` (``write(record)`` as each
connection ends, ``close()`` at the end, then ``result`` for the counts), so
``netwatch analyze`` can hand them its records as it does to the jsonl writer, and the
recorder can feed them records read back from its store. A record of the wrong shape is
skipped and counted, never fatal.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from netwatch.errors import MalformedError
from netwatch.export.eve import events
from netwatch.export.flow import ExportResult
from netwatch.export.zeek_format import ZeekLog
from netwatch.export.zeek_logs import rows
from netwatch.export.zeek_schema import LOGS


class EveWriter:
    """Suricata EVE JSON lines to ``out``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.written: Counter[str] = Counter()
        self.malformed = 0

    def write(self, record: Mapping[str, Any]) -> None:
        try:
            evs = events(record)
        except MalformedError:
            self.malformed += 1
            return
        for ev in evs:
            self.out.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n")
            self.written[ev["event_type"]] += 1

    @property
    def result(self) -> ExportResult:
        return ExportResult(dict(self.written), self.malformed)

    def close(self) -> None:
        self.out.flush()


class ZeekWriter:
    """Zeek logs in ``out_dir`` (created if missing): ``conn.log``, ``dns.log``, ... each
    opened when its first row comes, TSV or (``json=True``) Zeek's JSON lines.
    ``opened`` fixes the ``#open``/``#close`` stamps (default: the wall clock)."""

    def __init__(
        self, out_dir: str | Path, json: bool = False, opened: float | None = None
    ) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.json = json
        self.opened = opened
        self.logs: dict[str, ZeekLog] = {}
        self.files: list[TextIO] = []
        self.seen_certs: set[str] = set()
        self.malformed = 0

    def write(self, record: Mapping[str, Any]) -> None:
        try:
            record_rows = rows(record, self.seen_certs)
        except MalformedError:
            self.malformed += 1
            return
        for path, row in record_rows:
            log = self.logs.get(path)
            if log is None:
                fh = open(self.dir / f"{path}.log", "w", encoding="utf-8", newline="\n")  # noqa: SIM115
                self.files.append(fh)
                log = ZeekLog(fh, path, LOGS[path], json=self.json, opened=self.opened)
                self.logs[path] = log
            log.write(row)

    @property
    def result(self) -> ExportResult:
        return ExportResult({p: log.rows for p, log in self.logs.items()}, self.malformed)

    def close(self) -> None:
        try:
            for log in self.logs.values():
                log.close(self.opened)
        finally:
            for fh in self.files:
                fh.close()


def write_eve(records: Iterable[Mapping[str, Any]], out: TextIO) -> ExportResult:
    """Write the EVE events of every record to ``out``, one JSON object per line."""
    writer = EveWriter(out)
    for record in records:
        writer.write(record)
    writer.close()
    return writer.result


def write_zeek(
    records: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    json: bool = False,
    opened: float | None = None,
) -> ExportResult:
    """Write Zeek logs for ``records`` into ``out_dir``: one file per log that has rows."""
    writer = ZeekWriter(out_dir, json=json, opened=opened)
    try:
        for record in records:
            writer.write(record)
    finally:
        writer.close()
    return writer.result
