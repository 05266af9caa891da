"""How long the filter takes over a TUI-sized table (20,000 rows), per keystroke.

Builds synthetic connection views with TLS/QUIC/DNS/HTTP/SSH app data, processes and geo,
then times: the first filter over a fresh snapshot (search texts built), each later
keystroke on the same snapshot (cached), typing a word one character at a time, keyword
terms, and the record filter over the same rows as dicts. Target: < 50 ms per keystroke.
Times are CPU time of this process (the benchmark machine is shared; wall time is noisier).

    python3 benchmarks/filter_speed.py [rows]
"""

from __future__ import annotations

import copy
import random
import sys
import time
from dataclasses import replace

from netwatch.filters import SearchCache, compile, compile_record
from netwatch.model import ConnectionView, ProcessInfo

NAMES = ["github.com", "example.org", "cdn.jsdelivr.net", "mail.google.com", "updates.local"]
PROCS = ["firefox", "curl", "sshd", "systemd-resolved", "python3", "chrome"]


def _app(i: int, rnd: random.Random) -> dict[str, object]:
    name = rnd.choice(NAMES)
    kind = i % 5
    if kind == 0:
        return {
            "protocol": "TLS",
            "summary": f"HTTPS ({name})",
            "tls": {
                "sni": name,
                "alpn_offered": ["h2", "http/1.1"],
                "alpn": "h2",
                "version": "TLSv1.3",
                "cipher": "TLS_AES_128_GCM_SHA256",
                "ja3": f"{rnd.getrandbits(128):032x}",
                "ja3s": f"{rnd.getrandbits(128):032x}",
                "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1",
                "ech": False,
                "resumed": False,
            },
        }
    if kind == 1:
        return {
            "protocol": "QUIC",
            "summary": f"HTTP/3 ({name})",
            "quic": {
                "version": "v1",
                "sni": name,
                "alpn_offered": ["h3"],
                "dcid": "8394c8f03e515708",
            },
        }
    if kind == 2:
        return {
            "protocol": "DNS",
            "summary": f"DNS A {name}",
            "dns": {
                "queries": [
                    {
                        "id": i & 0xFFFF,
                        "qname": name,
                        "qtype": "A",
                        "rcode": "NOERROR",
                        "answers": [
                            {"name": name, "type": "A", "ttl": 60, "data": "93.184.216.34"}
                        ],
                    }
                ]
            },
        }
    if kind == 3:
        return {
            "protocol": "HTTP",
            "summary": f"HTTP GET {name}/index.html",
            "http": {
                "version": "1.1",
                "requests": [{"method": "GET", "host": name, "path": "/index.html", "status": 200}],
            },
        }
    return {
        "protocol": "SSH",
        "summary": "SSH OpenSSH_9.6",
        "ssh": {"client_version": "SSH-2.0-OpenSSH_9.6", "server_version": "SSH-2.0-OpenSSH_8.9"},
    }


def make_views(n: int, seed: int = 1) -> list[ConnectionView]:
    rnd = random.Random(seed)
    views = []
    for i in range(n):
        v6 = i % 4 == 0
        views.append(
            ConnectionView(
                id=i,
                proto="udp" if i % 5 in (1, 2) else "tcp",
                ip_version=6 if v6 else 4,
                local_addr=f"fd00::{i:x}" if v6 else f"192.168.{i >> 8 & 255}.{i & 255}",
                local_port=30000 + i % 30000,
                remote_addr=f"fd00:1::{i:x}"
                if v6
                else f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                remote_port=rnd.choice([443, 80, 53, 22, 8443]),
                state=rnd.choice(["ESTABLISHED", "TIME_WAIT", "SYN_SENT"]),
                service="https",
                first_seen=1000.0,
                last_seen=1000.0 + i % 600,
                packets_out=i % 100,
                packets_in=i % 70,
                bytes_out=i * 37,
                bytes_in=i * 1013,
                rate_in=float(i % 5000),
                rtt_ms=float(i % 300),
                app=_app(i, rnd),
                process=ProcessInfo(
                    pid=1000 + i % 400,
                    name=rnd.choice(PROCS),
                    cmdline=("/usr/bin/prog", "--flag", str(i)),
                    user="alice",
                ),
                remote_name=rnd.choice(NAMES),
                geo={"country": "DE", "city": "Berlin", "asn": 3320, "as_org": "Deutsche Telekom"},
            )
        )
    return views


def timed(fn: object, *args: object) -> float:
    t0 = time.process_time()
    fn(*args)  # type: ignore[operator]
    return (time.process_time() - t0) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    views = make_views(n)
    cache = SearchCache()

    def run(expr: str) -> int:
        f = compile(expr, cache=cache)
        return sum(1 for v in views if f(v))

    def best(expr: str) -> str:
        first = timed(run, expr)
        again = min(timed(run, expr) for _ in range(5))
        return f"{first:7.1f} ms first, {again:6.1f} ms warm (best of 5)"

    print(f"{n} rows")
    print(f"first keystroke, cold cache ('g'):        {timed(run, 'g'):7.1f} ms")
    for expr in ["github", "github curl", "/git(hub|lab)/", "fd00 or 10.0.", "-github"]:
        print(f"word: {expr!r:34} {best(expr)}")
    for expr in [
        "port:443",
        "dst:10.0.0.0/8",
        "sni:github",
        "bytes>1M",
        "proto:quic or app:dns",
        "process:curl and rtt>100",
        "tls.ja3 ~ /^ab/",
        "dns.qname = github.com",
        "(github or example) -state:time port:443",
    ]:
        print(f"term: {expr!r:34} {best(expr)}")
    word = "github"
    per_key = [timed(run, word[: k + 1]) for k in range(len(word))]
    print(f"typing 'github' (per keystroke, max):     {max(per_key):7.1f} ms")
    # A new snapshot where 10% of the rows changed (new app objects) and the rest were
    # rebuilt as new but equal view objects: the realistic per-second refresh.
    fresh = [
        replace(v, last_seen=v.last_seen + 1, app=dict(v.app)) if v.id % 10 == 0 else replace(v)
        for v in views
    ]
    views[:] = fresh
    print(f"new snapshot, first keystroke ('github'): {timed(run, 'github'):7.1f} ms")
    print(f"new snapshot, next keystroke:             {timed(run, 'github'):7.1f} ms")
    # Worst case: every row rebuilt with deep-copied (equal, not identical) app objects,
    # as when every analyzer is still attached and returns a fresh record each snapshot.
    views[:] = [replace(v, app=copy.deepcopy(v.app)) for v in views]
    print(f"all rows' app objects new but equal:      {timed(run, 'github'):7.1f} ms")
    print(f"  ... next keystroke:                     {timed(run, 'github'):7.1f} ms")
    records = [v.to_record() for v in views]
    rf = compile_record("sni:github or dns.qname ~ /example/")
    t = timed(lambda: sum(1 for r in records if rf(r)))
    print(f"records: sni/dns query over {n} dicts:     {t:7.1f} ms")
    rw = compile_record("github")
    t = timed(lambda: sum(1 for r in records if rw(r)))
    print(f"records: plain word over {n} dicts:       {t:7.1f} ms")


if __name__ == "__main__":
    main()
