"""A reader of Zeek TSV logs driven by their own ``#`` headers (test-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ZeekFile:
    headers: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    closed: bool = False


def _unescape_sep(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def parse(text: str) -> ZeekFile:
    z = ZeekFile()
    sep = "\t"
    for line in text.splitlines():
        if line.startswith("### "):  # btest's banner, not Zeek's
            continue
        if line.startswith("#"):
            if line.startswith("#separator "):
                sep = _unescape_sep(line.split(" ", 1)[1])
                z.headers["separator"] = sep
                continue
            key, _, value = line[1:].partition(sep)
            if " " in key and not value:  # btest writes "#open XXXX" with a space
                key, _, value = key.partition(" ")
            if key == "fields":
                z.fields = value.split(sep)
            elif key == "types":
                z.types = value.split(sep)
            elif key == "close":
                z.closed = True
            else:
                z.headers[key] = value
            continue
        cells = line.split(sep)
        if len(cells) != len(z.fields):
            raise ValueError(f"row has {len(cells)} cells for {len(z.fields)} fields: {line!r}")
        z.rows.append(dict(zip(z.fields, cells, strict=True)))
    return z


def read(path: Path) -> ZeekFile:
    return parse(path.read_text(encoding="utf-8"))
