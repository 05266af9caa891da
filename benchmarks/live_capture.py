"""Live capture: AfPacketSource (or LibpcapSource) beside tcpdump on the same veth.

tcpreplay sends a capture into one end of a veth pair (network namespace A) at fixed
packet rates and at top speed; netwatch's source (a child process that only drains the
ring and counts) and ``tcpdump -w /dev/null`` capture the other end (namespace B) at
the same time, with the same filter. For each rate it prints what each captured, its
loss, and CPU seconds per million packets; then the highest rate each held with <0.1%
loss and the CPU ratio. Needs root, iproute2, tcpreplay and tcpdump. Namespaces and
links are removed at the end, also on failure or Ctrl-C.

    sudo python benchmarks/live_capture.py [--packets 200000] [--rates 25000,50000,...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
FILTER = "ip or ip6"  # every replayed packet; ARP and other noise excluded


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def small_packets_pcap(path: Path, count: int) -> None:
    """Many small UDP/TCP frames between 198.18.x addresses (pcap, Ethernet)."""
    rnd = random.Random(11)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    macs = bytes.fromhex("020000000002020000000001")
    for i in range(count):
        src = bytes([198, 18, (i >> 8) & 255, i & 255])
        dst = bytes([198, 19, 0, 1 + i % 200])
        size = rnd.choice((0, 16, 64, 200))
        if i % 2:
            l4 = struct.pack(">HHHH", 40000 + i % 1000, 53, 8 + size, 0) + bytes(size)
            proto = 17
        else:
            l4 = struct.pack(">HHIIBBHHH", 40000 + i % 1000, 443, i, 0, 0x50, 0x18, 512, 0, 0)
            l4 += bytes(size)
            proto = 6
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), i & 0xFFFF, 0, 64, proto, 0,
                         src, dst) + l4  # fmt: skip
        frame = macs + b"\x08\x00" + ip
        out += struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(frame),
                           len(frame)) + frame  # fmt: skip
    path.write_bytes(bytes(out))


def make_pcap(workdir: Path, packets: int, kind: str) -> Path:
    path = workdir / "replay.pcap"
    gen = HERE / "gen_mixed.py"
    if kind == "mixed" and gen.exists():
        sh(sys.executable, str(gen), str(path), "--packets", str(packets))
    else:
        small_packets_pcap(path, packets)
    return path


def child(interface: str, source_kind: str) -> int:
    """Runs inside namespace B: drain the source until SIGTERM, print counters as JSON."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from netwatch.capture.base import PacketSource

    source: PacketSource
    if source_kind == "libpcap":
        from netwatch.capture.libpcap import LibpcapSource

        source = LibpcapSource(interface, FILTER)
    else:
        from netwatch.capture.afpacket import AfPacketSource

        source = AfPacketSource(interface, FILTER)
    # The reader runs in a thread and close() comes from this one, as in the engine: a
    # signal handler could not run while the reader is blocked inside libpcap.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    counts = {"packets": 0, "cpu": 0.0}

    def drain() -> None:
        cpu0 = time.thread_time()  # the capture loop only: not imports and ring setup
        for batch in source.batches():
            counts["packets"] += len(batch)
        counts["cpu"] = time.thread_time() - cpu0

    reader = threading.Thread(target=drain)
    reader.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    source.close()
    reader.join()
    st = source.stats()
    count, cpu = counts["packets"], counts["cpu"]
    print(json.dumps({"received": count, "drops": st.kernel_drops, "cpu": cpu}), flush=True)
    return 0


def ring_walk(packets: int) -> int:
    """Time walk_block alone on a synthetic 1 MiB block of small Ethernet frames (no root)."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from netwatch.capture.afpacket import TP_STATUS_USER, walk_block

    size, mac = 1 << 20, 80
    block = bytearray(size)
    off, count = 48, 0
    while True:
        frame = bytes(60 + count % 40)
        step = (mac + len(frame) + 15) & ~15
        if off + step + step > size:
            break
        struct.pack_into("<IIIIIIHH", block, off, step, 1_700_000_000, count, len(frame),
                         len(frame), TP_STATUS_USER, mac, mac)  # fmt: skip
        struct.pack_into("<HHiHBB", block, off + 48, 17, 0x0008, 2, 1, 0, 6)
        block[off + mac : off + mac + len(frame)] = frame
        off += step
        count += 1
    struct.pack_into("<IIIIII", block, 0, 3, 0, TP_STATUS_USER, count, 48, off)
    view, best = memoryview(block), float("inf")
    for _ in range(max(1, packets // count)):
        start = time.perf_counter()
        got = len(walk_block(view, 0, size, False))
        best = min(best, (time.perf_counter() - start) / got)
    print(f"walk_block: {best * 1e9:.0f} ns/packet (best of {packets // count} blocks of {count})")
    return 0


def cpu_of(pid: int) -> float:
    """CPU seconds of a single-threaded process: schedstat is in ns (cpu_times in ticks)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)


def one_run(
    ns_a: str, ns_b: str, if_a: str, if_b: str, pcap: Path, rate: str, kind: str, loops: int
) -> dict[str, float]:
    dump = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, "tcpdump", "-i", if_b, "-n", "-B", "65536", "-w",
         "/dev/null", FILTER], stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert dump.stderr is not None
    while "listening on" not in (line := dump.stderr.readline()):
        if not line:
            raise RuntimeError("tcpdump failed to start")
    ours = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, sys.executable, __file__, "--child", if_b,
         "--source", kind], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert ours.stdout is not None
    assert ours.stdout.readline().strip() == "ready"
    dump_cpu0 = cpu_of(dump.pid)
    speed = ["--topspeed"] if rate == "top" else [f"--pps={rate}"]
    replay = subprocess.run(
        ["ip", "netns", "exec", ns_a, "tcpreplay", "--preload-pcap", f"--loop={loops}", "-i", if_a,
         *speed, str(pcap)],
        capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
    sent = int(re.search(r"Actual: (\d+) packets", replay.stdout).group(1))  # type: ignore[union-attr]
    secs = float(re.search(r"sent in ([\d.]+) seconds", replay.stdout).group(1))  # type: ignore[union-attr]
    time.sleep(1.0)
    dump_cpu = cpu_of(dump.pid) - dump_cpu0
    dump.send_signal(signal.SIGINT)
    _, err = dump.communicate(timeout=60)
    got_dump = int(re.search(r"(\d+) packets? captured", err).group(1))  # type: ignore[union-attr]
    ours.send_signal(signal.SIGTERM)
    result = json.loads(ours.communicate(timeout=60)[0].strip().splitlines()[-1])
    return {
        "sent": sent,
        "pps": sent / secs if secs else 0.0,
        "ours": result["received"],
        "ours_drops": result["drops"],
        "ours_cpu": result["cpu"],
        "tcpdump": got_dump,
        "tcpdump_cpu": dump_cpu,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--child", metavar="IFACE", help=argparse.SUPPRESS)
    ap.add_argument("--source", choices=("afpacket", "libpcap"), default="afpacket")
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--ring", action="store_true", help="time the ring walk alone (no root)")
    ap.add_argument("--rates", default="25000,50000,100000,200000,top")
    ap.add_argument(
        "--loop", type=int, default=3, help="replay the capture this many times per rate"
    )
    ap.add_argument(
        "--traffic",
        choices=("small", "mixed"),
        default="small",
        help="small: many small UDP/TCP packets; mixed: benchmarks/gen_mixed.py",
    )
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.source)
    if args.ring:
        return ring_walk(args.packets)
    if os.geteuid() != 0:
        print("needs root (network namespaces, tcpreplay)", file=sys.stderr)
        return 2
    tag = secrets.token_hex(3)
    ns_a, ns_b, if_a, if_b = f"nwbench-{tag}-a", f"nwbench-{tag}-b", f"nwb{tag}a", f"nwb{tag}b"
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            pcap = make_pcap(Path(tmp), args.packets, args.traffic)
            sh("ip", "netns", "add", ns_a)
            sh("ip", "netns", "add", ns_b)
            sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
               "netns", ns_b)  # fmt: skip
            for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
                sh("ip", "-n", ns, "link", "set", ifname, "up")
            for rate in args.rates.split(","):
                r = one_run(ns_a, ns_b, if_a, if_b, pcap, rate, args.source, args.loop)
                rows.append((rate, r))
                report_row(rate, r)
        finally:
            for ns in (ns_a, ns_b):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60)
    summary(rows, args.source)
    return 0


def loss(r: dict[str, float], key: str) -> float:
    return max(0.0, 1 - r[key] / r["sent"]) if r["sent"] else 0.0


def report_row(rate: str, r: dict[str, float]) -> None:
    mp = r["sent"] / 1e6
    print(
        f"rate {rate:>7}: sent {r['sent']:.0f} at {r['pps']:,.0f} pps | netwatch {r['ours']:.0f} "
        f"(loss {loss(r, 'ours'):.3%}, kernel drops {r['ours_drops']:.0f}, "
        f"{r['ours_cpu'] / mp:.2f} CPU s/Mpkt) | tcpdump {r['tcpdump']:.0f} "
        f"(loss {loss(r, 'tcpdump'):.3%}, {r['tcpdump_cpu'] / mp:.2f} CPU s/Mpkt)",
        flush=True,
    )


def summary(rows: list[tuple[str, dict[str, float]]], source: str) -> None:
    for key, name in (("ours", f"netwatch ({source})"), ("tcpdump", "tcpdump")):
        held = [r["pps"] for _rate, r in rows if loss(r, key) < 0.001]
        print(f"{name}: highest rate with <0.1% loss: {max(held):,.0f} pps" if held else
              f"{name}: lost >=0.1% at every rate")  # fmt: skip
    ours = sum(r["ours_cpu"] for _, r in rows) / max(1, sum(r["ours"] for _, r in rows)) * 1e6
    theirs = (
        sum(r["tcpdump_cpu"] for _, r in rows) / max(1, sum(r["tcpdump"] for _, r in rows)) * 1e6
    )
    print(f"CPU s per million packets: netwatch {ours:.2f}, tcpdump {theirs:.2f}, "
          f"ratio netwatch/tcpdump {ours / theirs if theirs else float('inf'):.2f}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
