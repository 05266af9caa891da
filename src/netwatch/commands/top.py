"""``netwatch top``: the top talkers of a store, by address, process and port.

``netwatch top --store DIR [--by bytes|payload|packets|connections] [-n N] [--key addr|process|port]
[EXPR] [--since T] [--until T]``. An address counts every connection it is an endpoint of;
a port is the remote (for a capture file: the responder's) port with its transport.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from netwatch.commands.query import add_store_args, human_bytes, print_table, time_range

TITLES = {"addr": "address", "process": "process", "port": "port"}


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "top",
        help="top talkers of a store by address, process and port",
        description="Rank the stored connections' addresses, processes and ports.",
    )
    add_store_args(p)
    p.add_argument(
        "--by",
        choices=("bytes", "payload", "packets", "connections"),
        default="bytes",
        help="bytes on the wire (default), application payload bytes, packets or connections",
    )
    p.add_argument("-n", type=int, default=10, metavar="N", help="rows per table (default 10)")
    p.add_argument("--key", choices=("addr", "process", "port", "all"), default="all")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(run=run_top)


def run_top(args: argparse.Namespace) -> int:
    from netwatch.errors import UsageError
    from netwatch.store import Store

    if args.n < 1:
        raise UsageError("-n must be at least 1")
    since, until = time_range(args)
    keys = ("addr", "process", "port") if args.key == "all" else (args.key,)
    out = sys.stdout
    with Store(args.store) as store:
        for i, key in enumerate(keys):
            rows = store.top(key, args.by, args.n, args.expr, since, until)
            if args.format == "jsonl":
                for r in rows:
                    d = {
                        "key": key,
                        "value": r.key,
                        "connections": r.connections,
                        "bytes": r.bytes,
                        "payload": r.payload,
                        "packets": r.packets,
                    }
                    out.write(json.dumps(d) + "\n")
                continue
            if i:
                out.write("\n")
            print_table(
                out,
                (TITLES[key], "connections", "bytes", "payload", "packets"),
                [
                    (r.key, r.connections, human_bytes(r.bytes), human_bytes(r.payload), r.packets)
                    for r in rows
                ],
            )
    return 0
