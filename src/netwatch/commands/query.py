"""``netwatch query``: stored connections (or their events) by filter and time range.

``netwatch query --store DIR 'EXPR' [--since T] [--until T] [--format table|jsonl|csv]``:
the filter language of the TUI (``docs/filter-language.md``), its dotted DPI fields
(``tls.ja3 = ...``, ``dns.qname ~ /\\.example$/``, ``http.status >= 500``), over the
records ``netwatch analyze`` prints. ``--events`` prints the analyzer events of the
matching connections instead; ``--explain`` the SQL the indexes answer.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from netwatch.model.snapshot import rfc3339


def add_store_args(p: argparse.ArgumentParser, *, expr: bool = True) -> None:
    p.add_argument("--store", metavar="DIR", required=True, help="the store's directory")
    if expr:
        p.add_argument("expr", nargs="?", default="", metavar="EXPR", help="filter expression")
    p.add_argument("--since", metavar="T", help="from T: 2h, 7d, RFC 3339, a date, epoch")
    p.add_argument("--until", metavar="T", help="up to T (same forms as --since)")


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "query",
        help="search a store with the filter language",
        description="Print the stored connections a filter expression matches.",
    )
    add_store_args(p)
    p.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
    p.add_argument("-n", "--limit", type=int, metavar="N", help="at most N connections")
    p.add_argument("--events", action="store_true", help="print their analyzer events")
    p.add_argument("--explain", action="store_true", help="print the SQL condition and exit")
    p.set_defaults(run=run_query)


def time_range(args: argparse.Namespace) -> tuple[float | None, float | None]:
    from netwatch.store import parse_time

    now = time.time()
    since = parse_time(args.since, now) if args.since else None
    until = parse_time(args.until, now) if args.until else None
    return since, until


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def print_table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain aligned columns (numbers right-aligned), fit for a terminal or a pager."""
    text = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in text:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_numberish(r[i]) for r in text) and bool(text) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(headers) + "\n")
    for r in text:
        out.write(line(r) + "\n")


def _numberish(s: str) -> bool:
    return (
        bool(s)
        and (s[0].isdigit() or s[0] == "-")
        and s.split(" ", maxsplit=1)[0].replace(".", "").lstrip("-").isdigit()
    )


def _endpoint(addr: object, port: object) -> str:
    a = str(addr)
    return f"[{a}]:{port}" if ":" in a else f"{a}:{port}"


def _row(rec: dict[str, Any]) -> list[Any]:
    app = rec.get("app") or {}
    return [
        rec.get("first_seen", ""),
        rec.get("proto", ""),
        _endpoint(rec.get("local_addr"), rec.get("local_port")),
        _endpoint(rec.get("remote_addr"), rec.get("remote_port")),
        rec.get("state", ""),
        human_bytes(int(rec.get("bytes_out") or 0)),
        human_bytes(int(rec.get("bytes_in") or 0)),
        str(app.get("summary") or app.get("protocol") or ""),
    ]


def run_query(args: argparse.Namespace) -> int:
    from netwatch.errors import UsageError
    from netwatch.store import Store

    since, until = time_range(args)
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    out = sys.stdout
    with Store(args.store) as store:
        if args.explain:
            plan = store.plan(args.expr, since, until)
            out.write(f"WHERE {plan.where}\nPARAMS {list(map(_param, plan.params))}\n")
            out.write(f"RESIDUAL {plan.residual.expr if plan.residual else '-'}\n")
            return 0
        conns = store.connections(args.expr, since=since, until=until, limit=args.limit)
        if args.events:
            return _print_events(out, args.format, store, conns)
        if args.format == "jsonl":
            for c in conns:
                out.write(json.dumps(c.record, separators=(",", ":"), ensure_ascii=False) + "\n")
        elif args.format == "csv":
            from netwatch.output import open_writer

            writer = open_writer("csv", out)
            for c in conns:
                writer.write(c.record)
            writer.close()
        else:
            headers = ("first seen", "proto", "local", "remote", "state", "out", "in", "app")
            print_table(out, headers, [_row(c.record) for c in conns])
    return 0


def _param(p: Any) -> Any:
    return p.hex() if isinstance(p, bytes) else p


def _print_events(out: TextIO, fmt: str, store: Any, conns: Any) -> int:
    rows = []
    for c in conns:
        rec = c.record
        for ev in store.events_of(c):
            rows.append(
                {
                    "ts": rfc3339(ev.ts),
                    "type": ev.type,
                    "proto": rec.get("proto"),
                    "local": _endpoint(rec.get("local_addr"), rec.get("local_port")),
                    "remote": _endpoint(rec.get("remote_addr"), rec.get("remote_port")),
                    "data": ev.data,
                }
            )
    if fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(("ts", "type", "proto", "local", "remote", "data"))
        for r in rows:
            w.writerow([*list(r.values())[:5], json.dumps(r["data"], ensure_ascii=False)])
    else:
        print_table(
            out,
            ("ts", "event", "proto", "local", "remote"),
            [(r["ts"], r["type"], r["proto"], r["local"], r["remote"]) for r in rows],
        )
    return 0
