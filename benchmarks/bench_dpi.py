"""CPU time per flow of the TLS and QUIC analyzers, apart from capture and flow tracking.

    python3 benchmarks/bench_dpi.py [CAPTURE ...] [--generate N] [--corpus [DIR]] [--runs 7]

With no argument: ``--generate 200000 --corpus``. The flows of each capture are cut into
per-direction application bytes once (TCP in order, UDP one datagram per chunk) by the
test helper ``tests/util/streams.py``; then, per run, every flow whose first client bytes
the analyzer's own detector accepts gets a fresh analyzer, is fed chunk by chunk until
``finished`` (as the engine does), and ends with ``record()`` and ``summary()`` (what the
engine keeps). A ``MalformedError`` ends a flow as in the engine. Printed: the median
over the runs of CPU microseconds per flow. Cross-flow caches are emptied before each
run, so a run costs what one pass over the capture costs.

``--generate N`` adds a capture of N packets made by ``gen_mixed.py``; ``--corpus`` adds
every capture of the shared corpus (or of DIR). ``--dump FILE`` writes each flow's
record, summary and events (reprs) as JSON lines, to check that an optimisation leaves
the output unchanged (``cmp`` two dumps). To compare with another checkout, run this
file with ``PYTHONPATH=<that checkout>/src``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.util.corpus import CORPUS  # noqa: E402
from tests.util.streams import flows_of  # noqa: E402

from netwatch.dpi.base import Dir  # noqa: E402
from netwatch.dpi.quic.analyzer import QUICAnalyzer, detect_udp  # noqa: E402
from netwatch.dpi.tls.analyzer import TLSAnalyzer, detect_tcp  # noqa: E402
from netwatch.errors import MalformedError  # noqa: E402

Chunks = list[tuple[Dir, bytes, float]]


def load(paths: list[Path]) -> tuple[list[tuple[str, int, Chunks]], list[tuple[str, Chunks]]]:
    """(TLS flows as (name, server port, chunks), QUIC flows as (name, chunks))."""
    tls: list[tuple[str, int, Chunks]] = []
    quic: list[tuple[str, Chunks]] = []
    for path in paths:
        try:
            flows = flows_of(path)
        except Exception as exc:  # noqa: BLE001 - a capture dpkt cannot read is skipped
            print(f"skip {path.name}: {type(exc).__name__}", file=sys.stderr)
            continue
        for i, flow in enumerate(flows):
            chunks = [(Dir(d), data, ts) for d, data, ts in flow.chunks]
            first = next((data for d, data, _ in chunks if d == Dir.CLIENT), None)
            if first is None:
                continue
            name = f"{path.name}#{i}"
            if flow.transport == "tcp" and detect_tcp(first):
                tls.append((name, flow.server[1], chunks))
            elif flow.transport == "udp" and detect_udp(first):
                quic.append((name, chunks))
    return tls, quic


def run_flow(analyzer: Any, chunks: Chunks) -> tuple[dict[str, Any], str, list[Any]]:
    events: list[Any] = []
    try:
        for direction, data, ts in chunks:
            events.extend(analyzer.feed(direction, data, ts))
            if analyzer.finished:
                break
    except MalformedError as exc:
        events.append(("malformed", exc.protocol, exc.reason))
    return analyzer.record(), analyzer.summary(), events


def clear_caches() -> None:
    """Empty the analyzers' cross-flow caches (certificate summaries)."""
    from netwatch.dpi.tls import certs

    clear = getattr(certs, "clear_summary_cache", None)  # absent before the cache existed
    if clear is not None:
        clear()


def time_flows(make: Callable[[Any], Any], flows: list[tuple[Any, Chunks]], runs: int) -> float:
    """Median over ``runs`` of the CPU microseconds per flow."""
    samples = []
    for _ in range(runs):
        clear_caches()  # each run starts cold; repeats inside a capture still hit
        start = time.process_time()
        for arg, chunks in flows:
            run_flow(make(arg), chunks)
        samples.append((time.process_time() - start) / len(flows) * 1e6)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("captures", nargs="*", type=Path)
    ap.add_argument("--generate", type=int, default=0, metavar="N")
    ap.add_argument("--corpus", type=Path, nargs="?", const=CORPUS, metavar="DIR")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args()

    if not (args.captures or args.generate or args.corpus):
        args.generate, args.corpus = 200_000, CORPUS
    groups: dict[str, list[Path]] = {}
    tmp = tempfile.TemporaryDirectory()
    if args.generate:
        out = Path(tmp.name) / "mixed.pcap"
        gen = [sys.executable, str(REPO / "benchmarks" / "gen_mixed.py"), str(out)]
        subprocess.run([*gen, "--packets", str(args.generate)], check=True, capture_output=True)
        groups[f"generated ({args.generate} packets)"] = [out]
    if args.captures:
        groups["given captures"] = list(args.captures)
    if args.corpus:
        groups["corpus"] = sorted(
            p for p in args.corpus.iterdir() if p.suffix in (".pcap", ".pcapng")
        )

    dump = args.dump.open("w") if args.dump else None
    for label, paths in groups.items():
        tls, quic = load(paths)
        print(f"{label}: {len(tls)} TLS flows, {len(quic)} QUIC flows, {args.runs} runs")
        if tls:
            us = time_flows(
                lambda port: TLSAnalyzer(server_port=port), [(p, c) for _, p, c in tls], args.runs
            )
            print(f"  TLS   {us:8.1f} us/flow")
        if quic:
            us = time_flows(lambda _: QUICAnalyzer(), [(None, c) for _, c in quic], args.runs)
            print(f"  QUIC  {us:8.1f} us/flow")
        if dump is not None:
            for name, port, chunks in tls:
                rec, summ, events = run_flow(TLSAnalyzer(server_port=port), chunks)
                dump.write(json.dumps([name, rec, summ, [repr(e) for e in events]]) + "\n")
            for name, chunks in quic:
                rec, summ, events = run_flow(QUICAnalyzer(), chunks)
                dump.write(json.dumps([name, rec, summ, [repr(e) for e in events]]) + "\n")
    if dump is not None:
        dump.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
