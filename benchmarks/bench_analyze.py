"""netwatch analyze beside tshark, ndpiReader and tcpdump on the same capture, in one run.

    python benchmarks/bench_analyze.py [--packets 1000000] [--pcap FILE]

Generates the realistic mixed capture (gen_mixed.py) if needed, then runs each tool on it
and prints CPU seconds (user+sys of the child alone, via wait4: the machine may be busy,
CPU time is the fair measure; the median of interleaved rounds, since even CPU time swings
by 10-15% between runs on a shared machine), packets/s of CPU and peak RSS, and netwatch's
ratios to the others. netwatch's bytecode is compiled first, as an installation has it.
Peers missing on the machine are reported as such, not faked.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> tuple[float, float, int]:
    """(cpu seconds, wall seconds, max RSS KiB) of one child process."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed ({os.waitstatus_to_exitcode(status)}): {argv}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss


def compile_netwatch() -> None:
    """Bytecode for the netwatch that ``python -m netwatch`` imports, as pip writes it at
    install time. Without it (PYTHONDONTWRITEBYTECODE set, as on some machines, or a
    read-only tree) every run compiles the whole package again: ~0.2 s here, a cost an
    installed netwatch never pays."""
    spec = importlib.util.find_spec("netwatch")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def count_packets(pcap: Path) -> int:
    sys.path.insert(0, str(HERE.parent / "src"))
    from netwatch.capture.pcapfile import open_capture_file

    src = open_capture_file(pcap)
    n = sum(len(b) for b in src.batches())
    src.close()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--pcap", type=Path)
    ap.add_argument(
        "--repeat", type=int, default=3, help="interleaved rounds; each tool's median is kept"
    )
    ap.add_argument(
        "--pcapng",
        action="store_true",
        help="also netwatch on the same capture saved as pcapng (made with editcap)",
    )
    a = ap.parse_args()
    pcap = a.pcap or HERE / "out" / f"mixed-{a.packets}.pcap"
    if not pcap.exists():
        pcap.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(HERE / "gen_mixed.py"), str(pcap), "--packets", str(a.packets)],
            check=True,
        )
    packets = count_packets(pcap)
    compile_netwatch()
    nw = [sys.executable, "-m", "netwatch"]
    tools: dict[str, list[str] | None] = {
        "netwatch analyze (DPI on)": [*nw, "analyze", "-r", str(pcap), "-o", os.devnull],
        "netwatch analyze --no-dpi": [
            *nw,
            "analyze",
            "--no-dpi",
            "-r",
            str(pcap),
            "-o",
            os.devnull,
        ],
        "tshark -q -z conv,tcp": ["tshark", "-r", str(pcap), "-q", "-z", "conv,tcp"],
        "ndpiReader -i": ["ndpiReader", "-i", str(pcap), "-q"],
        "tcpdump -w /dev/null": ["tcpdump", "-r", str(pcap), "-w", os.devnull],
    }
    if a.pcapng and shutil.which("editcap"):
        ng = pcap.with_suffix(".pcapng")
        if not ng.exists() or ng.stat().st_mtime < pcap.stat().st_mtime:
            subprocess.run(["editcap", "-F", "pcapng", str(pcap), str(ng)], check=True)
        for label, extra in (("", []), (" --no-dpi", ["--no-dpi"])):
            argv = [*nw, "analyze", *extra, "-r", str(ng), "-o", os.devnull]
            tools[f"netwatch pcapng{label or ' (DPI on)'}"] = argv
    elif a.pcapng:
        print("--pcapng: editcap (wireshark-common) not installed")
    present = {}
    for name, argv in tools.items():
        if argv is None or (shutil.which(argv[0]) is None and argv[0] != sys.executable):
            print(f"{name:28s} not installed")
            continue
        present[name] = argv
    # Rounds, each running every tool once: a slow spell of the (shared) machine then
    # touches all tools alike. The median of each tool's CPU time is what is compared; the
    # best is printed beside it.
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in present}
    for _ in range(a.repeat):
        for name, argv in present.items():
            runs[name].append(run(argv))
    results: dict[str, tuple[float, float, int]] = {}
    for name, got in runs.items():
        got.sort()
        results[name] = got[len(got) // 2]
    print(f"\ncapture: {pcap.name}, {packets} packets, {pcap.stat().st_size >> 20} MiB")
    print(f"CPU seconds: median of {a.repeat} interleaved rounds (best in brackets)\n")
    print(
        f"{'tool':28s} {'cpu s':>7s} {'(best)':>7s} {'wall s':>7s} {'kpps(cpu)':>10s}"
        f" {'peak MiB':>9s}"
    )
    for name, (cpu, wall, rss) in results.items():
        best = runs[name][0][0]
        print(
            f"{name:28s} {cpu:7.2f} {best:7.2f} {wall:7.2f} {packets / cpu / 1000:10.0f}"
            f" {rss / 1024:9.0f}"
        )
    base = results.get("netwatch analyze (DPI on)")
    nodpi = results.get("netwatch analyze --no-dpi")
    print()
    if base:
        for name, (cpu, _w, _r) in results.items():
            if not name.startswith("netwatch"):
                print(f"netwatch (DPI on) speed / {name}: {cpu / base[0]:.2f}x")
    if base and nodpi:
        print(f"DPI cost over DPI off: {100 * (base[0] / nodpi[0] - 1):.0f}%")
    out = HERE / "out" / "bench_analyze.json"
    out.write_text(json.dumps({"packets": packets, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
