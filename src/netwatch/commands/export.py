"""``netwatch export``: what a store holds, in other tools' formats.

``netwatch export --store DIR [EXPR] [--since T] [--until T] --format F -o OUT``:

* ``pcap`` / ``pcapng``: the packets of the matching connections (recorded with
  ``record --packets``), found through the packet index: one session (``--conn ID``, the
  records' ``id``, with ``--run`` when the store holds several runs) or everything that
  matches; without EXPR nor a time range, every stored
  packet, also those of connections that never reached the store;
* ``jsonl`` / ``json`` / ``csv``: the connections' records, as ``netwatch analyze``
  prints them; ``eve``: Suricata EVE JSON; ``zeek`` / ``zeek-json``: Zeek logs in the
  directory OUT.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from netwatch.errors import UsageError

FORMATS = ("pcapng", "pcap", "jsonl", "json", "csv", "eve", "zeek", "zeek-json")


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    from netwatch.commands.query import add_store_args

    p = sub.add_parser(
        "export",
        help="write stored packets (pcap, pcapng) or connections (jsonl, eve, zeek...)",
        description="Export the connections a filter expression matches from a store: "
        "their packets as a capture file, or their records in a log format.",
    )
    add_store_args(p)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="the file to write (a directory for zeek formats; stdout for text formats)",
    )
    p.add_argument(
        "--conn",
        type=int,
        metavar="ID",
        help="only the connection with this id (the records' 'id'; with --run if the store "
        "holds several runs)",
    )
    p.add_argument(
        "--run", dest="run_id", type=int, metavar="RUN", help="only connections of this run"
    )
    p.add_argument(
        "--payload",
        metavar="REGEX",
        help="only connections with a stored packet whose payload matches REGEX (Python "
        "syntax, over bytes; each packet on its own)",
    )
    p.add_argument(
        "--payload-budget",
        default="256M",
        metavar="SIZE",
        help="read at most SIZE of stored packets for --payload (default 256M)",
    )
    p.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from netwatch.commands.query import time_range
    from netwatch.store import Store

    since, until = time_range(args)
    with Store(args.store) as store:
        conns = store.connections(args.expr, since=since, until=until)
        if args.conn is not None or args.run_id is not None:
            conns = (
                c
                for c in conns
                if (args.conn is None or c.conn == args.conn)
                and (args.run_id is None or c.run == args.run_id)
            )
        if args.payload is not None:
            conns = iter(_with_payload(args, list(conns)))
        if args.format in ("pcap", "pcapng"):
            everything = not args.expr and since is None and until is None
            everything = everything and args.conn is None and args.run_id is None
            everything = everything and args.payload is None
            pairs = None if everything else [(c.run, c.conn) for c in conns]
            return _packets(args, pairs)
        return _records(args, (c.record for c in conns))


def _with_payload(args: argparse.Namespace, conns: list[Any]) -> list[Any]:
    """The connections whose stored packets match ``--payload`` (bounded by the budget)."""
    import re

    from netwatch.store import parse_size
    from netwatch.store.packets_export import search_payloads

    try:
        pattern = re.compile(args.payload.encode("utf-8", "surrogateescape"))
    except re.error as exc:
        raise UsageError(f"--payload {args.payload!r}: {exc}") from None
    budget = parse_size(args.payload_budget)
    found = search_payloads(args.store, [(c.run, c.conn) for c in conns], pattern, budget)
    if found.truncated:
        print(
            f"netwatch: warning: --payload stopped after {found.scanned_bytes} bytes "
            "(--payload-budget): later connections were not searched",
            file=sys.stderr,
        )
    return [c for c in conns if (c.run, c.conn) in found.matched]


def _packets(args: argparse.Namespace, pairs: list[tuple[int, int]] | None) -> int:
    from netwatch.store.packets_export import export_packets

    if not args.output:
        if sys.stdout.isatty():
            raise UsageError(f"--format {args.format} is binary: give -o FILE (or a pipe)")
        counts = export_packets(args.store, pairs, sys.stdout.buffer, args.format)
    else:
        try:
            with open(args.output, "wb") as out:
                counts = export_packets(args.store, pairs, out, args.format)
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write ({exc.strerror})") from None
    if counts.missing:
        print(
            f"netwatch: warning: {counts.missing} indexed packets are gone "
            "(their file was removed or damaged)",
            file=sys.stderr,
        )
    if pairs is not None and pairs and not counts.packets:
        print(
            f"netwatch: warning: {len(pairs)} connections matched but none has stored packets "
            "(recorded without --packets, or removed by retention)",
            file=sys.stderr,
        )
    return 0


def _records(args: argparse.Namespace, records: Any) -> int:
    from netwatch.export import EveWriter, ZeekWriter
    from netwatch.output import open_writer

    if args.format in ("zeek", "zeek-json"):
        if not args.output:
            raise UsageError(f"--format {args.format} needs -o DIR (the directory for the logs)")
        try:
            zw = ZeekWriter(args.output, json=args.format == "zeek-json")
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write logs there ({exc.strerror})") from None
        for rec in records:
            zw.write(rec)
        zw.close()
        return 0
    out: TextIO = sys.stdout
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write ({exc.strerror})") from None
    try:
        writer: Any = EveWriter(out) if args.format == "eve" else open_writer(args.format, out)
        for rec in records:
            writer.write(rec)
        writer.close()
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
