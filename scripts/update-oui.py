#!/usr/bin/env python3
"""Rebuild ``src/netwatch/data/oui.tsv.gz`` from the IEEE registration-authority listings.

Input: the IEEE public CSV listings (``oui.csv`` MA-L, ``mam.csv`` MA-M, ``oui36.csv``
MA-S, ``iab.csv`` IAB), as Debian's ``ieee-data`` package installs them
(``/usr/share/ieee-data``) or as downloaded from the IEEE. Each row is
``Registry,Assignment,Organization Name,Organization Address``; the assignment is 6, 7
or 9 hex digits (a 24-, 28- or 36-bit prefix).

Output: a gzip'd, sorted TSV of ``PREFIX<TAB>VENDOR`` lines after ``#`` comment lines
naming the source. The prefix length is the number of hex digits, so one table holds
every block size. Assignments listed as ``Private`` are left out, so a lookup falls back
to the enclosing MA-L block (``IEEE Registration Authority``). The output is byte-for-
byte reproducible (gzip mtime 0), so a rebuild from the same listings changes nothing.

    python3 scripts/update-oui.py [SOURCE_DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

LISTINGS = ("oui.csv", "mam.csv", "oui36.csv", "iab.csv")
DEFAULT_SOURCE = Path("/usr/share/ieee-data")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "netwatch" / "data" / "oui.tsv.gz"
_HEX = re.compile(r"[0-9A-F]{6}(?:[0-9A-F]|[0-9A-F]{3})?\Z")


def clean_name(name: str) -> str:
    return " ".join(name.replace("\t", " ").split())


def read_listing(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if len(row) < 3 or row[0] == "Registry":
                continue
            prefix = row[1].strip().upper()
            name = clean_name(row[2])
            if not _HEX.match(prefix) or not name or name.lower() == "private":
                continue
            # A prefix listed twice keeps the alphabetically first name: reproducible.
            if prefix not in out or name < out[prefix]:
                out[prefix] = name
    return out


def build(source: Path) -> tuple[dict[str, str], str]:
    table: dict[str, str] = {}
    used: list[str] = []
    for name in LISTINGS:
        path = source / name
        if not path.exists():
            continue
        used.append(name)
        for prefix, vendor in read_listing(path).items():
            if prefix not in table or vendor < table[prefix]:
                table[prefix] = vendor
    stamp_file = source / ".lastupdate"
    stamp = stamp_file.read_text().strip() if stamp_file.exists() else "unknown"
    if stamp.isdigit():  # ieee-data writes the download time as epoch seconds
        stamp = datetime.fromtimestamp(int(stamp), UTC).date().isoformat()
    return table, f"{', '.join(used)} (listing date {stamp})"


def write(table: dict[str, str], described: str, out: Path) -> None:
    lines = [
        "# IEEE Registration Authority public listings (MA-L, MA-M, MA-S, IAB)",
        f"# source: {described}",
        "# format: hex prefix (6, 7 or 9 digits = 24, 28 or 36 bits) TAB organisation",
    ]
    lines.extend(f"{p}\t{v}" for p, v in sorted(table.items()))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    table, described = build(args.source)
    if not table:
        print(f"no IEEE listings found in {args.source}", file=sys.stderr)
        return 1
    write(table, described, args.out)
    print(f"{args.out}: {len(table)} prefixes from {described}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
