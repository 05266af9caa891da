"""Streaming writers for connection records (schema: docs/schema/connection.schema.json).

Records are written as connections end, so memory stays flat for captures with millions
of flows; rows still open when the capture ends follow in first-seen order.

CSV cannot nest: its columns are the record's scalar fields, then ``app_protocol``,
``app_summary``, ``process_pid``, ``process_name``, and the whole ``app`` object as a JSON
string in ``app_json``; columns added later go at the end, so existing ones keep their
place (the IP-layer and payload byte counts).
"""

from __future__ import annotations

import csv
import json
from typing import Any, Protocol, TextIO

FORMATS = ("jsonl", "json", "csv")

CSV_FIELDS = (
    "proto",
    "ip_version",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "service",
    "first_seen",
    "last_seen",
    "duration",
    "packets_out",
    "packets_in",
    "bytes_out",
    "bytes_in",
    "rtt_ms",
    "vlan",
    "retransmits",
    "out_of_order",
    "dup_acks",
    "remote_name",
    "app_protocol",
    "app_summary",
    "process_pid",
    "process_name",
    "app_json",
    "ip_bytes_out",
    "ip_bytes_in",
    "payload_bytes_out",
    "payload_bytes_in",
)


class RecordWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def _dumps(obj: Any) -> str:
    return _encode(obj)


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


#: One encoder for every record (``json.dumps`` with options builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default).encode


class JsonlWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(_dumps(record) + "\n")

    def close(self) -> None:
        self.out.flush()


class JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.n = 0
        out.write("[")

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(("\n" if not self.n else ",\n") + _dumps(record))
        self.n += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.n else "]\n")
        self.out.flush()


class CsvWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.w = csv.writer(out, lineterminator="\n")
        self.w.writerow(CSV_FIELDS)

    def write(self, record: dict[str, Any]) -> None:
        app = record.get("app") or {}
        proc = record.get("process") or {}
        flat = dict(record)
        flat["app_protocol"] = app.get("protocol", "")
        flat["app_summary"] = app.get("summary", "")
        flat["process_pid"] = proc.get("pid", "")
        flat["process_name"] = proc.get("name", "")
        flat["app_json"] = _dumps(app) if app else ""
        self.w.writerow(["" if flat.get(f) is None else flat.get(f) for f in CSV_FIELDS])

    def close(self) -> None:
        self.out.flush()


def open_writer(fmt: str, out: TextIO) -> RecordWriter:
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "json":
        return JsonWriter(out)
    if fmt == "csv":
        return CsvWriter(out)
    raise ValueError(fmt)
