"""Canned connections for ``--demo`` and ``python -m netwatch.tui.demo``.

Deterministic: the same frames every run, so the end-to-end test can look for them.
Addresses come from the documentation ranges (RFC 5737, RFC 3849) and the benchmarking
range 198.18.0.0/15 (RFC 2544); names are examples.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from netwatch.model.process import Attribution, ProcessInfo
from netwatch.model.snapshot import CaptureStats, ConnectionView, Snapshot

T0 = 1_763_769_600.0  # 2025-11-22 00:00:00 UTC

FIREFOX = ProcessInfo(
    4242, "firefox", "/usr/lib/firefox/firefox", ("/usr/lib/firefox/firefox",), "alice", 1000,
    1800, ((1800, "gnome-shell"), (1, "systemd")),
)  # fmt: skip
SSH = ProcessInfo(5150, "ssh", "/usr/bin/ssh", ("ssh", "build@198.18.0.22"), "alice", 1000, 3100,
                  ((3100, "bash"), (3000, "tmux: server"), (1, "systemd")))  # fmt: skip
RESOLVED = ProcessInfo(612, "systemd-resolve", "/usr/lib/systemd/systemd-resolved", (),
                       "systemd-resolve", 101, 1, ((1, "systemd"),))  # fmt: skip
CURL = ProcessInfo(7001, "curl", "/usr/bin/curl", ("curl", "-I", "http://example.org/"),
                   "bob", 1001, 3100, ((3100, "bash"), (1, "systemd")))  # fmt: skip
CHROME = ProcessInfo(8100, "chrome", "/opt/google/chrome/chrome", ("chrome",), "alice", 1000,
                     1800, ((1800, "gnome-shell"), (1, "systemd")))  # fmt: skip
EXACT = Attribution("sockdiag", "exact")


def _conn(i: int, proc: ProcessInfo | None, **kw: Any) -> ConnectionView:
    base: dict[str, Any] = {
        "id": i, "proto": "tcp", "ip_version": 4, "local_addr": "192.0.2.10",
        "local_port": 40000 + i, "remote_addr": "198.18.0.1", "remote_port": 443,
        "state": "ESTABLISHED", "service": "https", "first_seen": T0, "last_seen": T0,
        "packets_out": 10, "packets_in": 12, "bytes_out": 1500, "bytes_in": 9000,
        "process": proc, "attribution": EXACT if proc else None, "timeout": 7440.0,
    }  # fmt: skip
    base.update(kw)
    return ConnectionView(**base)


def base_connections() -> list[ConnectionView]:
    tls = {"protocol": "TLS", "summary": "HTTPS (github.com)",
           "tls": {"sni": "github.com", "version": "TLS 1.3", "alpn": ["h2", "http/1.1"],
                   "cipher": "TLS_AES_128_GCM_SHA256",
                   "ja4": "t13d1516h2_8daaf6152771_02713d6af862"}}  # fmt: skip
    return [
        _conn(1, FIREFOX, remote_addr="198.18.0.10", remote_name="github.com",
              remote_name_source="tls-sni", app=tls, rtt_ms=23.4),
        _conn(2, FIREFOX, ip_version=6, local_addr="2001:db8::10", remote_addr="2001:db8::443",
              remote_name="www.example.com", remote_name_source="dns", rtt_ms=41.0,
              app={"protocol": "HTTP/2", "summary": "HTTP/2 GET www.example.com/",
                   "http": {"host": "www.example.com", "method": "GET", "status": 200}}),
        _conn(3, SSH, remote_addr="198.18.0.22", remote_port=22, service="ssh", rtt_ms=1.2,
              app={"protocol": "SSH", "summary": "SSH OpenSSH_9.6p1",
                   "ssh": {"client": "SSH-2.0-OpenSSH_9.6p1", "server": "SSH-2.0-OpenSSH_9.2p1",
                           "hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1"}}),
        _conn(4, RESOLVED, proto="udp", local_addr="127.0.0.53", local_port=53001,
              remote_addr="198.18.0.53", remote_port=53, state="ACTIVE", service="domain",
              timeout=30.0,
              app={"protocol": "DNS", "summary": "DNS A github.com",
                   "dns": {"query": "github.com", "qtype": "A", "answers": ["198.18.0.10"],
                           "rcode": "NOERROR"}}),
        _conn(5, CHROME, proto="udp", remote_addr="198.18.1.4", remote_name="www.google.com",
              remote_name_source="quic-sni", state="ACTIVE", timeout=30.0, rtt_ms=18.0,
              app={"protocol": "QUIC", "summary": "QUIC h3 (www.google.com)",
                   "quic": {"version": "1", "sni": "www.google.com", "alpn": ["h3"]}}),
        _conn(6, CURL, remote_addr="198.18.0.80", remote_port=80, service="http",
              remote_name="example.org", remote_name_source="http-host", state="FIN_WAIT",
              app={"protocol": "HTTP", "summary": "GET example.org/ -> 200",
                   "http": {"host": "example.org", "method": "GET", "uri": "/", "status": 200,
                            "user_agent": "curl/8.5.0"}}),
        _conn(7, None, proto="tcp", local_port=5432, remote_addr="198.18.2.7",
              remote_port=51234, state="ESTABLISHED", service="postgresql"),
        _conn(8, FIREFOX, remote_addr="198.18.0.99", state="ESTABLISHED", staleness=0.8,
              app={"protocol": "TLS", "summary": "HTTPS (stale.example.net)",
                   "tls": {"sni": "stale.example.net"}}),
        _conn(9, FIREFOX, remote_addr="198.18.0.98", state="CLOSE_WAIT", staleness=0.95,
              app={"protocol": "TLS", "summary": "HTTPS (dying.example.net)"}),
    ]  # fmt: skip


def closed_connections() -> list[ConnectionView]:
    return [
        _conn(100, CURL, remote_addr="198.18.0.81", remote_port=80, service="http",
              state="CLOSED", closed=True, app={"protocol": "HTTP", "summary": "GET /old"}),
    ]  # fmt: skip


def frames(count: int = 12) -> list[Snapshot]:
    """``count`` snapshots, one second apart, with rates that rise and fall."""
    out = []
    base = base_connections()
    for n in range(count):
        conns = []
        for c in base:
            wave = 1.0 + math.sin(n / 2.0 + c.id)
            scale = 0 if c.staleness >= 0.75 else c.id * 2048
            conns.append(
                replace(
                    c,
                    last_seen=T0 + n,
                    rate_in=round(scale * 10 * wave, 1),
                    rate_out=round(scale * wave, 1),
                    bytes_in=c.bytes_in + int(scale * 10 * n),
                    bytes_out=c.bytes_out + int(scale * n),
                    packets_in=c.packets_in + 9 * n,
                    packets_out=c.packets_out + 4 * n,
                )
            )
        stats = CaptureStats(packets=1000 + 250 * n, bytes=800_000 + 200_000 * n,
                             kernel_drops=0, internal_drops=n // 6,
                             active_connections=len(conns))  # fmt: skip
        out.append(
            Snapshot(
                seq=n + 1,
                ts=T0 + n,
                connections=tuple(conns),
                closed=tuple(closed_connections()),
                stats=stats,
                interface="demo0",
                attribution_backend="sockdiag",
            )
        )
    return out
