"""CPU time per refresh of each attribution backend with 10,000 sockets in 200 processes.

    sudo python3 benchmarks/attribution.py [--procs 200] [--per-proc 50] [--rounds 20]

200 forked processes each hold 25 TCP connections to a loopback listener and 25 bound
UDP sockets (10,000 sockets; the listener process holds the 5,000 accepted ends too).
For each backend: start() once, then ``rounds`` refreshes in the steady state and
``rounds`` with churn (1% of the processes' sockets replaced, and 100 new flows looked up,
half of them unknown to the host, between refreshes), each timed with CPU time (user +
system, of this process and of the lsof it runs). Target: ebpf and sockdiag < 10 ms.

``sockdiag`` refreshes incrementally (targeted queries for the flows it was asked about,
a full dump every 5 s); ``sockdiag-full`` forces the full dump on every refresh: the cost
of that periodic resync. Also printed: pyroute2's own inet_diag dump of the same table,
for comparison with the struct-based parser sockdiag uses, and the cost of one lookup.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable

from netwatch.attribution.base import BackendUnavailable, ProcessResolver
from netwatch.attribution.choose import FACTORIES


def serve(listener: socket.socket, held: list[socket.socket]) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)


def child(port: int, per_proc: int, ready: int, go: int) -> None:
    # A forked child inherits every socket the parent holds: drop them, so each socket
    # has exactly one owner (as in a real system of unrelated processes).
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in (ready, go):
            try:
                os.close(fd)
            except OSError:
                pass
    socks = []
    for _ in range(per_proc // 2):
        socks.append(socket.create_connection(("127.0.0.1", port)))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        socks.append(u)
    os.write(ready, b"x")
    # churn on request: each byte read = replace one UDP socket
    while True:
        b = os.read(go, 1)
        if not b:
            os._exit(0)
        socks.pop().close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        socks.insert(0, u)


def spawn(procs: int, per_proc: int, port: int) -> tuple[list[int], list[int]]:
    pids, gos = [], []
    for _ in range(procs):
        r_ready, w_ready = os.pipe()
        r_go, w_go = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r_ready)
            os.close(w_go)
            try:
                child(port, per_proc, w_ready, r_go)
            finally:
                os._exit(1)
        os.close(w_ready)
        os.close(r_go)
        os.read(r_ready, 1)
        os.close(r_ready)
        pids.append(pid)
        gos.append(w_go)
    return pids, gos


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (lsof runs as one)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cpu_ms(fn: Callable[[], object]) -> float:
    t = _cpu()
    fn()
    return (_cpu() - t) * 1000


Probe = tuple[str, tuple[str, int], tuple[str, int]]


def make(name: str) -> ProcessResolver:
    if name == "sockdiag-full":  # a full netlink dump on every refresh (the resync cost)
        from netwatch.attribution.sockdiag import SockDiagResolver

        return SockDiagResolver(full_every=0.0)
    return FACTORIES[name]()


def bench(name: str, rounds: int, gos: list[int], probe: Probe, flows: list[Probe]) -> None:
    resolver = make(name)
    try:
        start_ms = cpu_ms(resolver.start)
    except BackendUnavailable as exc:
        print(f"{name:9} unavailable: {exc.reason}")
        return
    try:
        n = rounds if name.startswith(("ebpf", "sockdiag", "procfs")) else max(3, rounds // 5)
        steady = [cpu_ms(resolver.refresh) for _ in range(n)]
        churn = []
        for i in range(n):
            for fd in gos[i % 4 :: 100]:  # 1% of the sockets, spread over the processes
                os.write(fd, b"x")
            time.sleep(0.05)
            # the engine asks about new flows between ticks: 100 of them, half unknown
            for flow in flows[i * 100 : (i + 1) * 100]:
                resolver.lookup(*flow)
            churn.append(cpu_ms(resolver.refresh))
        hit = resolver.lookup(*probe)
        t = time.perf_counter()
        for _ in range(10_000):
            resolver.lookup(*probe)
        lookup_us = (time.perf_counter() - t) * 100
        print(f"{name:9} start {start_ms:8.1f} ms   refresh steady median "
              f"{statistics.median(steady):7.2f} ms max {max(steady):7.2f}   churn median "
              f"{statistics.median(churn):7.2f} ms max {max(churn):7.2f}   lookup "
              f"{lookup_us:5.2f} us  {'hit' if hit else 'MISS'}")  # fmt: skip
    finally:
        resolver.close()


def pyroute2_dump() -> None:
    try:
        from pyroute2 import DiagSocket
    except ImportError:
        return
    with DiagSocket() as ds:
        ds.bind()
        t = time.process_time()
        n = 0
        for family in (socket.AF_INET, socket.AF_INET6):
            for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP):
                n += len(ds.get_sock_stats(family=family, protocol=proto))
        ms = (time.process_time() - t) * 1000
    print(f"pyroute2  one inet_diag dump of {n} sockets: {ms:.1f} ms CPU (parse only, no pids)")


def hook_overhead(sends: int = 100_000, connects: int = 2_000, rounds: int = 5) -> None:
    """CPU time of UDP sends and TCP connect+accept+close on loopback, with and without
    the eBPF programs attached, alternating ``rounds`` times (medians): what attribution
    costs every other process. CPU time, not wall time: the hooks run in the caller's
    context and a shared machine's wall clock is too noisy for sub-microsecond costs."""
    from netwatch.attribution.ebpf import EbpfResolver

    def udp() -> float:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dst = rx.getsockname()
        t = time.process_time()
        for i in range(sends):
            tx.sendto(b"x", dst)
            if i % 64 == 0:
                try:
                    while True:
                        rx.recv(64)
                except BlockingIOError:
                    pass
        dt = time.process_time() - t
        rx.close()
        tx.close()
        return dt / sends * 1e9

    def tcp() -> float:
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(1024)
        t = time.process_time()
        for _ in range(connects):
            c = socket.create_connection(lst.getsockname())
            a, _ = lst.accept()
            c.close()
            a.close()
        dt = time.process_time() - t
        lst.close()
        return dt / connects * 1e6

    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    for _ in range(rounds):
        off.append((udp(), tcp()))
        r = EbpfResolver()
        try:
            r.start()
        except BackendUnavailable as exc:
            print(f"overhead: ebpf unavailable: {exc.reason}")
            return
        try:
            on.append((udp(), tcp()))
        finally:
            r.close()
    u0, u1 = (statistics.median(x[0] for x in runs) for runs in (off, on))
    t0, t1 = (statistics.median(x[1] for x in runs) for runs in (off, on))
    print(f"overhead  UDP sendto {u0:.0f} -> {u1:.0f} ns CPU with eBPF (+{u1 - u0:.0f} ns); "
          f"TCP connect+accept+close {t0:.1f} -> {t1:.1f} us (+{t1 - t0:.1f} us)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=200)
    ap.add_argument("--per-proc", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--overhead", action="store_true", help="only the hooks' cost to others")
    ap.add_argument("--backends", default="ebpf,sockdiag,sockdiag-full,procfs,psutil,lsof")
    args = ap.parse_args()
    if args.overhead:
        hook_overhead()
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.procs * args.per_proc + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    held: list[socket.socket] = []
    threading.Thread(target=serve, args=(listener, held), daemon=True).start()
    port = listener.getsockname()[1]
    t = time.monotonic()
    pids, gos = spawn(args.procs, args.per_proc, port)
    while len(held) < args.procs * (args.per_proc // 2):
        time.sleep(0.05)
    print(f"{len(pids)} processes, {args.procs * args.per_proc} sockets "
          f"(+{len(held)} accepted ends in this process), set up in "
          f"{time.monotonic() - t:.1f} s; CPU time per call (this process + lsof)")  # fmt: skip
    c = held[0]
    probe = ("tcp", c.getpeername(), c.getsockname())  # a child's client end
    flows: list[Probe] = []
    for i, conn in enumerate(held[1 : 1 + 50 * args.rounds]):
        flows.append(("tcp", conn.getpeername(), conn.getsockname()))
        flows.append(("udp", ("127.0.0.1", 20000 + i), ("127.0.0.9", 53)))  # no such socket
    try:
        for name in args.backends.split(","):
            bench(name, args.rounds, gos, probe, flows)
        pyroute2_dump()
    finally:
        for fd in gos:
            os.close(fd)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        listener.close()


if __name__ == "__main__":
    main()
