"""Command line: parse arguments, build the engine, attach a front end.

``netwatch`` (the live TUI), ``netwatch -r FILE`` (replay a capture into the TUI),
``netwatch --demo``, ``netwatch analyze`` (records on stdout), ``netwatch --diagnose``.
Errors the user can fix print one line and exit 2; nothing prints a traceback unless
``NETWATCH_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netwatch import __version__
from netwatch.enrich.options import add_arguments as add_enrich_arguments
from netwatch.errors import NetwatchError, UsageError
from netwatch.metrics.options import add_arguments as add_output_arguments

EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse's own contract)
        self.exit(EXIT_USAGE, f"netwatch: error: {message} (see 'netwatch --help')\n")


def _common_capture(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("-r", "--read", metavar="FILE", help="read a pcap/pcapng capture file")
    src.add_argument(
        "-i",
        "--interface",
        metavar="IFACE",
        help="capture live on IFACE ('any' for all; default: the default route's)",
    )
    p.add_argument(
        "-f",
        "--capture-filter",
        metavar="BPF",
        help="tcpdump-syntax capture filter, compiled by libpcap, run in the kernel",
    )
    p.add_argument("--no-dpi", action="store_true", help="count flows only, no protocol analysis")
    p.add_argument(
        "--attribution",
        choices=("auto", "ebpf", "sockdiag", "procfs", "psutil", "lsof", "none"),
        default="auto",
        help="live: how connections are tied to processes (default: the best that works here)",
    )
    add_enrich_arguments(p)
    p.add_argument(
        "--max-connections",
        type=int,
        default=200_000,
        metavar="N",
        help="hard cap on tracked connections; the longest idle are evicted first",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="netwatch",
        description="Every connection on this host: its process, what it speaks, how much "
        "it moves. Live (needs capture rights) or from a capture file.",
    )
    parser.add_argument("--version", action="version", version=f"netwatch {__version__}")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="say which capture and attribution backends work here, and why not",
    )
    parser.add_argument(
        "--demo", action="store_true", help="replay the bundled sample capture (no root needed)"
    )
    parser.add_argument("--filter", metavar="EXPR", help="initial display filter")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay speed factor for -r (0 = as fast as possible)",
    )
    _common_capture(parser)
    add_output_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    an = sub.add_parser(
        "analyze",
        help="print one record per connection (jsonl, json, csv)",
        description="Analyze a capture file or a live interface and print one "
        "record per connection when it ends.",
    )
    _common_capture(an)
    add_output_arguments(an)
    an.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="live: stop after SECONDS (default: until Ctrl+C)",
    )
    an.add_argument(
        "--format",
        choices=("jsonl", "json", "csv", "eve", "zeek", "zeek-json"),
        default="jsonl",
        help="connection records (jsonl, json, csv), Suricata EVE JSON (eve), or Zeek logs "
        "(zeek: TSV, zeek-json: Zeek's JSON; both need -o DIR)",
    )
    an.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here instead of stdout (a directory for the zeek formats)",
    )
    an.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    from netwatch.commands import export, query, record, stats, top

    for command in (record, query, top, stats, export):
        command.add_parser(sub, _common_capture)
    return parser


def _tune_gc() -> None:
    """Fewer, larger garbage-collector passes, with start-up objects frozen out of them.

    Every command allocates many short-lived objects (per packet, per frame) and almost no
    cycles; the default threshold ran a collection every few hundred packets (measured:
    ``analyze`` 5-7% less CPU on the benchmark capture; the TUI 98 -> 83 ms CPU per frame
    at 20,000 rows in benchmarks/tui_refresh.py).
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def run() -> None:
    """The ``netwatch`` command (and ``python -m netwatch``): :func:`main`, then the exit.

    After ``analyze`` and ``record`` the whole engine (the table's rows, their analyzers,
    the caches) is garbage held in reference cycles, and the interpreter's teardown ran a
    full collection over it: ~0.3 s of CPU after a one-million-packet capture, 8-13% of
    the run (measured with benchmarks/bench_analyze.py's capture). When the command has
    written and closed everything, the process ends at once instead: the standard
    streams are flushed first, and a failed flush is reported as an error.
    """
    status, done = _main(None)
    if not done:
        raise SystemExit(status)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # `netwatch analyze | head`: the reader left; say nothing (as main() does)
    except OSError as exc:  # a full disk under `> file`: the output is incomplete
        print(f"netwatch: error: could not write the output: {exc}", file=sys.stderr)
        status = status or EXIT_USAGE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv)[0]


def _main(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit status, and whether the command has written and closed all it produced
    and owns no thread or file that needs an orderly shutdown (:func:`run` may then end
    the process without the interpreter's teardown)."""
    args = build_parser().parse_args(argv)
    _tune_gc()
    try:
        if args.diagnose:
            return _diagnose(), False
        if args.command == "analyze":
            from netwatch.commands.analyze import run_analyze

            return run_analyze(args), True
        if args.command == "record":
            # (its store, packet files and outputs are closed, its threads joined, when
            # it returns: the same quick exit as analyze)
            return int(args.run(args)), True
        if args.command in ("query", "top", "stats", "export"):
            return int(args.run(args)), False
        return _monitor(args), False
    except UsageError as exc:
        print(f"netwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE, False
    except KeyboardInterrupt:
        return 130, False
    except BrokenPipeError:
        # `netwatch analyze | head`: the reader left; say nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0, False
    except NetwatchError as exc:
        print(f"netwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE, False
    except Exception as exc:
        if os.environ.get("NETWATCH_DEBUG"):
            raise
        print(
            f"netwatch: internal error: {type(exc).__name__}: {exc} "
            "(set NETWATCH_DEBUG=1 for details, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL, False


def demo_capture() -> Path:
    from netwatch import datafiles

    return datafiles.path("demo.pcap")


def _monitor(args: argparse.Namespace) -> int:
    from netwatch.capture.open import open_file, open_live
    from netwatch.commands.common import local_addresses, make_enrichment, make_resolver
    from netwatch.engine import Engine, EngineConfig

    if args.demo:
        source = open_file(str(demo_capture()))
    elif args.read:
        source = open_file(args.read)
    else:
        source = open_live(args.interface, args.capture_filter)
    speed = args.speed if (args.read or args.demo) else 0.0
    from netwatch.metrics import Outputs

    outputs = Outputs.open(args.metrics, args.ipfix)
    engine = Engine(
        source,
        resolver=make_resolver(args.attribution) if source.live else None,
        config=EngineConfig(
            dpi=not args.no_dpi, max_connections=args.max_connections, replay_speed=speed
        ),
        local_addresses=local_addresses if source.live else None,
        enrich=make_enrichment(args, source.live),
        on_finish=outputs.on_finish(),
        on_snapshot=outputs.on_snapshot,
    )
    from netwatch.tui import load_config, run_tui

    config = load_config(cli={"filter": args.filter, "no_color": _no_color() or None})
    gc.freeze()  # (again: the UI's modules were imported since main() tuned the collector)
    engine.start()
    try:
        return run_tui(engine, config)
    finally:
        engine.stop()
        outputs.close()


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def _diagnose() -> int:
    from netwatch.commands.diagnose import run_diagnose

    return run_diagnose()
