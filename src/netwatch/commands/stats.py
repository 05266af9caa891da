"""``netwatch stats``: what a store holds: protocol distribution and rates over time.

``netwatch stats --store DIR [EXPR] [--since T] [--until T] [--interval AGE]``: totals
(connections, events, runs, drops, bytes on disk), connections/bytes/packets per
application protocol (the transport when no analyzer recognised it), and per time bucket
the connections that started in it with their bytes and packets, as rates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from netwatch.commands.query import add_store_args, human_bytes, print_table, time_range
from netwatch.model.snapshot import rfc3339


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "stats",
        help="protocol distribution and rates over time of a store",
        description="Summarise a store: totals, protocols, and rates over time.",
    )
    add_store_args(p)
    p.add_argument("--interval", metavar="AGE", help="bucket width (1m, 1h; default: auto)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    from netwatch.store import Store, parse_age

    since, until = time_range(args)
    width = parse_age(args.interval) if args.interval else None
    out = sys.stdout
    with Store(args.store) as store:
        summary = store.summary()
        protos = store.protocols(args.expr, since, until)
        width, buckets = store.timeline(args.expr, since, until, width)
    if args.format == "json":
        doc = {
            "summary": summary,
            "protocols": [
                {
                    "protocol": r.key,
                    "connections": r.connections,
                    "bytes": r.bytes,
                    "packets": r.packets,
                }
                for r in protos
            ],
            "interval": width,
            "timeline": [
                {"start": rfc3339(t), "connections": c, "bytes": b, "packets": p}
                for t, c, b, p in buckets
            ],
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return 0
    span = ""
    if summary["first_seen"] is not None:
        span = f", {rfc3339(summary['first_seen'])} .. {rfc3339(summary['last_seen'])}"
    out.write(
        f"{summary['connections']} connections, {summary['events']} events, "
        f"{summary['runs']} runs, {summary['dropped']} dropped, "
        f"{human_bytes(summary['bytes_on_disk'])} on disk{span}\n\n"
    )
    total = sum(r.connections for r in protos) or 1
    print_table(
        out,
        ("protocol", "connections", "share", "bytes", "packets"),
        [
            (
                r.key,
                r.connections,
                f"{100 * r.connections / total:.1f}%",
                human_bytes(r.bytes),
                r.packets,
            )
            for r in protos
        ],
    )
    out.write("\n")
    print_table(
        out,
        (f"start (every {width:g}s)", "connections", "conn/s", "bytes/s", "packets/s"),
        [
            (rfc3339(t), c, f"{c / width:.2f}", human_bytes(b / width) + "/s", f"{p / width:.1f}")
            for t, c, b, p in buckets
        ],
    )
    return 0
