"""Zeek's log file formats: the ASCII (TSV) writer's layout and its JSON flavour.

TSV (Zeek's ``LogAscii`` writer defaults)::

    #separator \\x09
    #set_separator	,
    #empty_field	(empty)
    #unset_field	-
    #path	conn
    #open	2026-11-22-01-30-00
    #fields	ts	uid	id.orig_h	...
    #types	time	string	addr	...
    1300475167.096535	CHhAvVGS1DHFjwGM9	141.142.220.202	...
    #close	2026-11-22-01-30-01

Values: ``time``/``interval``/``double`` with 6 decimals, ``bool`` as T/F, ``port`` as the bare
number; an unset value is ``-``, an empty string, set or vector ``(empty)``; set and vector
elements are joined with ``,``. Bytes outside printable ASCII, the separators and the
backslash are written ``\\xHH``, and a string that is exactly ``-`` or ``(empty)`` has its
first byte escaped, so no value can be read back as something else.

JSON: one object per line, flattened names as keys, unset fields left out, times as epoch
seconds, containers as arrays (Zeek's ``LogAscii::use_json=T``).
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Mapping
from typing import Any, TextIO

from netwatch.export.zeek_schema import Schema

SEPARATOR = "\t"
SET_SEPARATOR = ","
EMPTY = "(empty)"
UNSET = "-"

_FLOATS = frozenset({"time", "interval", "double"})


def escape(text: str, in_container: bool = False) -> str:
    """A string value as Zeek writes it in TSV."""
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if byte < 0x20 or byte > 0x7E or byte == 0x5C or (in_container and byte == 0x2C):
            out.append(f"\\x{byte:02x}")
        else:
            out.append(chr(byte))
    s = "".join(out)
    if s == UNSET:
        return "\\x2d"
    if s == EMPTY:
        return "\\x28empty)"
    return s


def _scalar(value: Any, ztype: str, in_container: bool = False) -> str:
    if ztype == "bool":
        return "T" if value else "F"
    if ztype in _FLOATS:
        return f"{float(value):.6f}"
    if ztype in ("count", "port", "int"):
        return str(int(value))
    text = str(value)
    if not text:
        return EMPTY
    return escape(text, in_container)


def tsv_value(value: Any, ztype: str) -> str:
    if value is None:
        return UNSET
    if ztype.startswith(("set[", "vector[")):
        inner = ztype[ztype.index("[") + 1 : -1]
        items = list(value)
        if not items:
            return EMPTY
        return SET_SEPARATOR.join(_scalar(v, inner, True) for v in items)
    return _scalar(value, ztype)


def _json_scalar(value: Any, ztype: str) -> Any:
    if ztype == "bool":
        return bool(value)
    if ztype in _FLOATS:
        return round(float(value), 6)
    if ztype in ("count", "port", "int"):
        return int(value)
    return str(value)


def json_value(value: Any, ztype: str) -> Any:
    if ztype.startswith(("set[", "vector[")):
        inner = ztype[ztype.index("[") + 1 : -1]
        return [_json_scalar(v, inner) for v in value]
    return _json_scalar(value, ztype)


def stamp(ts: float) -> str:
    """The ``#open``/``#close`` form: local wall time, as Zeek writes it."""
    return _time.strftime("%Y-%m-%d-%H-%M-%S", _time.localtime(ts))


class ZeekLog:
    """One log file being written (TSV, or JSON lines when ``json`` is set)."""

    def __init__(self, out: TextIO, path: str, schema: Schema, *, json: bool = False,
                 opened: float | None = None) -> None:  # fmt: skip
        self.out = out
        self.schema = schema
        self.json = json
        self.rows = 0
        if not json:
            opened = _time.time() if opened is None else opened
            out.write("#separator \\x09\n")
            out.write(f"#set_separator{SEPARATOR}{SET_SEPARATOR}\n")
            out.write(f"#empty_field{SEPARATOR}{EMPTY}\n")
            out.write(f"#unset_field{SEPARATOR}{UNSET}\n")
            out.write(f"#path{SEPARATOR}{path}\n")
            out.write(f"#open{SEPARATOR}{stamp(opened)}\n")
            out.write("#fields" + "".join(SEPARATOR + name for name, _ in schema) + "\n")
            out.write("#types" + "".join(SEPARATOR + zt for _, zt in schema) + "\n")

    def write(self, row: Mapping[str, Any]) -> None:
        unknown = set(row) - {name for name, _ in self.schema}
        if unknown:
            raise ValueError(f"fields not in the log's schema: {sorted(unknown)}")
        if self.json:
            obj = {n: json_value(row[n], t) for n, t in self.schema if row.get(n) is not None}
            self.out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        else:
            cells = (tsv_value(row.get(n), t) for n, t in self.schema)
            self.out.write(SEPARATOR.join(cells) + "\n")
        self.rows += 1

    def close(self, closed: float | None = None) -> None:
        if not self.json:
            closed = _time.time() if closed is None else closed
            self.out.write(f"#close{SEPARATOR}{stamp(closed)}\n")
        self.out.flush()
