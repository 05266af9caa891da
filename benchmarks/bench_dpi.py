"""CPU time per flow of the TLS, QUIC, DNS, HTTP, SSH and NTP analyzers and of detection,
apart from capture and flow tracking.

    python3 benchmarks/bench_dpi.py [CAPTURE ...] [--generate N] [--corpus [DIR]] [--runs 7]

With no argument: ``--generate 200000 --corpus``. The flows of each capture are cut into
per-direction application bytes once (TCP in order, UDP one datagram per chunk) by the
test helper ``tests/util/streams.py``; then, per run, every flow whose first client bytes
the analyzer's own detector accepts gets a fresh analyzer, is fed chunk by chunk until
``finished`` (as the engine does), and ends with ``record()`` and ``summary()`` (what the
engine keeps). A ``MalformedError`` ends a flow as in the engine. Printed: the median
over the runs of CPU microseconds per flow. Cross-flow caches are emptied before each
run, so a run costs what one pass over the capture costs.

Two more lines: ``detect``, the cost of ``registry.detect`` per flow (every flow with a
payload, TCP and UDP: its payloads in capture order, up to ``MAX_DETECT_PACKETS``, until a
detector takes it; the analyzer it returns is built but not fed), and ``engine``, what
the engine's DPI does per flow: detect, then feed the analyzer found the same bytes and
the rest until ``finished``, then ``record()`` and ``summary()``. The engine line holds
the costs that only show when detection and analysis run back to back.

``--generate N`` adds a capture of N packets made by ``gen_mixed.py``; ``--corpus`` adds
every capture of the shared corpus (or of DIR). ``--dump FILE`` writes each flow's
record, summary and events (reprs) as JSON lines, to check that an optimisation leaves
the output unchanged (``cmp`` two dumps). To compare with another checkout, run this
file with ``PYTHONPATH=<that checkout>/src``.
"""

from __future__ import annotations

import argparse
import importlib
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

from netwatch.dpi import registry  # noqa: E402
from netwatch.dpi.base import Dir  # noqa: E402
from netwatch.dpi.dns import PORT_VARIANTS, DNSAnalyzer  # noqa: E402
from netwatch.dpi.dns import detect_udp as detect_dns  # noqa: E402
from netwatch.dpi.http import HTTPAnalyzer  # noqa: E402
from netwatch.dpi.http import detect_tcp as detect_http  # noqa: E402
from netwatch.dpi.ntp import NTPAnalyzer  # noqa: E402
from netwatch.dpi.ntp import detect_udp as detect_ntp  # noqa: E402
from netwatch.dpi.quic.analyzer import QUICAnalyzer, detect_udp  # noqa: E402
from netwatch.dpi.ssh import SSHAnalyzer  # noqa: E402
from netwatch.dpi.ssh import detect_tcp as detect_ssh  # noqa: E402
from netwatch.dpi.tls.analyzer import TLSAnalyzer, detect_tcp  # noqa: E402
from netwatch.errors import MalformedError  # noqa: E402

Chunks = list[tuple[Dir, bytes, float]]


class Flows:
    """The flows of a group of captures, sorted by the analyzer that takes them."""

    def __init__(self) -> None:
        #: (name, server port, chunks)
        self.tls: list[tuple[str, int, Chunks]] = []
        #: (name, chunks)
        self.quic: list[tuple[str, Chunks]] = []
        #: UDP DNS flows: (name, server port, chunks)
        self.dns: list[tuple[str, int, Chunks]] = []
        #: HTTP, SSH and NTP flows: (name, chunks)
        self.http: list[tuple[str, Chunks]] = []
        self.ssh: list[tuple[str, Chunks]] = []
        self.ntp: list[tuple[str, Chunks]] = []
        #: every flow with a payload: (name, transport, client port, server port, chunks)
        self.all: list[tuple[str, str, int, int, Chunks]] = []


def load(paths: list[Path]) -> Flows:
    out = Flows()
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
            out.all.append((name, flow.transport, flow.client[1], flow.server[1], chunks))
            if flow.transport == "tcp" and detect_tcp(first):
                out.tls.append((name, flow.server[1], chunks))
            elif flow.transport == "udp" and detect_udp(first):
                out.quic.append((name, chunks))
            elif flow.transport == "udp" and detect_dns(first):
                out.dns.append((name, flow.server[1], chunks))
            elif flow.transport == "tcp" and detect_http(first):
                out.http.append((name, chunks))
            elif flow.transport == "tcp" and detect_ssh(first):
                out.ssh.append((name, chunks))
            elif flow.transport == "udp" and detect_ntp(first):
                out.ntp.append((name, chunks))
    return out


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


def detect_flow(transport: str, cport: int, sport: int, chunks: Chunks) -> Any:
    """The analyzer ``registry.detect`` finds for a flow (None), and the index of the
    chunk it was found on, trying payloads as the engine does."""
    for i, (_, data, _) in enumerate(chunks[: registry.MAX_DETECT_PACKETS]):
        an = registry.detect(transport, data, cport, sport)
        if an is not None:
            return an, i
    return None, len(chunks)


def engine_flow(transport: str, cport: int, sport: int, chunks: Chunks) -> Any:
    """Detect, then feed from the chunk detection took (the engine's DPI of one flow)."""
    an, i = detect_flow(transport, cport, sport, chunks)
    if an is None:
        return None
    return run_flow(an, chunks[i:])


def import_analyzers() -> None:
    """Import every module the detector tables name, as a long run has done long since."""
    for det in registry.DETECTORS:
        try:
            importlib.import_module(det.module)
        except ImportError:
            pass  # not shipped: detection skips it too


def clear_caches() -> None:
    """Empty the analyzers' cross-flow caches (certificate summaries, fingerprints)."""
    from netwatch.dpi.tls import certs, fingerprints

    # Each is absent in checkouts from before its cache existed.
    for clear in (
        getattr(certs, "clear_summary_cache", None),
        getattr(fingerprints, "clear_memos", None),
    ):
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


def time_calls(call: Callable[..., Any], flows: list[tuple[Any, ...]], runs: int) -> float:
    """Median over ``runs`` of the CPU microseconds of ``call(*flow)`` per flow."""
    samples = []
    for _ in range(runs):
        clear_caches()
        start = time.process_time()
        for flow in flows:
            call(*flow)
        samples.append((time.process_time() - start) / len(flows) * 1e6)
    return statistics.median(samples)


def dump_repr(out: tuple[dict[str, Any], str, list[Any]] | None) -> Any:
    if out is None:
        return None
    rec, summ, events = out
    return [rec, summ, [repr(e) for e in events]]


def write_dump(dump: Any, name: str, out: tuple[dict[str, Any], str, list[Any]]) -> None:
    dump.write(json.dumps([name, *dump_repr(out)]) + "\n")


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
        f = load(paths)
        print(
            f"{label}: {len(f.tls)} TLS flows, {len(f.quic)} QUIC flows, {len(f.dns)} DNS "
            f"flows, {len(f.http)} HTTP flows, {len(f.ssh)} SSH flows, {len(f.ntp)} NTP "
            f"flows, {len(f.all)} flows in all, {args.runs} runs"
        )
        if f.tls:
            us = time_flows(
                lambda port: TLSAnalyzer(server_port=port),
                [(p, c) for _, p, c in f.tls],
                args.runs,
            )
            print(f"  TLS    {us:8.1f} us/flow")
        if f.quic:
            us = time_flows(lambda _: QUICAnalyzer(), [(None, c) for _, c in f.quic], args.runs)
            print(f"  QUIC   {us:8.1f} us/flow")
        if f.dns:
            us = time_flows(
                lambda port: DNSAnalyzer("udp", PORT_VARIANTS.get(port, "dns")),
                [(p, c) for _, p, c in f.dns],
                args.runs,
            )
            print(f"  DNS    {us:8.1f} us/flow")
        for proto, factory, some in (
            ("HTTP", HTTPAnalyzer, f.http),
            ("SSH", SSHAnalyzer, f.ssh),
            ("NTP", NTPAnalyzer, f.ntp),
        ):
            if some:
                us = time_flows(
                    lambda _, make=factory: make(), [(None, c) for _, c in some], args.runs
                )
                print(f"  {proto:<6} {us:8.1f} us/flow")
        if f.all:
            import_analyzers()  # detection imports on first use: not a per-flow cost
            flows = [(t, cp, sp, c) for _, t, cp, sp, c in f.all]
            us = time_calls(detect_flow, flows, args.runs)
            print(f"  detect {us:8.1f} us/flow (all flows)")
            us = time_calls(engine_flow, flows, args.runs)
            print(f"  engine {us:8.1f} us/flow (all flows: detect, then analyze)")
        if dump is not None:
            for name, port, chunks in f.tls:
                write_dump(dump, name, run_flow(TLSAnalyzer(server_port=port), chunks))
            for name, chunks in f.quic:
                write_dump(dump, name, run_flow(QUICAnalyzer(), chunks))
            for name, port, chunks in f.dns:
                an = DNSAnalyzer("udp", PORT_VARIANTS.get(port, "dns"))
                write_dump(dump, name, run_flow(an, chunks))
            for factory, some in (
                (HTTPAnalyzer, f.http),
                (SSHAnalyzer, f.ssh),
                (NTPAnalyzer, f.ntp),
            ):
                for name, chunks in some:
                    write_dump(dump, name, run_flow(factory(), chunks))
            for name, t, cport, sport, chunks in f.all:
                an, i = detect_flow(t, cport, sport, chunks)
                proto = an.protocol if an is not None else None
                res = run_flow(an, chunks[i:]) if an is not None else None
                dump.write(json.dumps([name, "engine", proto, i, dump_repr(res)]) + "\n")
    if dump is not None:
        dump.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
