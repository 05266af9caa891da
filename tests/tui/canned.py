"""Canned snapshots built from ConnectionView directly, and a FakeMonitor that records calls.

Rows: TLS over TCP (github.com), HTTP/2 over IPv6, SSH, DNS over UDP, QUIC, plain HTTP,
an unattributed listener, a stale (yellow) and a nearly expired (red) row, and one closed.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from netwatch.model.process import Attribution, ContainerInfo, ProcessInfo
from netwatch.model.snapshot import CaptureStats, ConnectionView, Snapshot

T0 = 1_700_000_000.0

FIREFOX = ProcessInfo(
    4242, "firefox", "/usr/lib/firefox/firefox", ("firefox", "--private"), "alice", 1000, 1800,
    ((1800, "gnome-shell"), (1, "systemd")),
)  # fmt: skip
SSHD = ProcessInfo(
    777, "sshd", "/usr/sbin/sshd", ("sshd: bob",), "root", 0, 1, ((1, "systemd"),),
    ContainerInfo("docker", "0123456789ab"),
)  # fmt: skip
RESOLVED = ProcessInfo(612, "systemd-resolve", user="systemd-resolve", uid=101)
CHROME = ProcessInfo(8100, "chrome", user="alice", uid=1000)
CURL = ProcessInfo(7001, "curl", user="bob", uid=1001)

TLS_APP = {
    "protocol": "TLS",
    "summary": "HTTPS (github.com)",
    "tls": {
        "sni": "github.com",
        "version": "TLS 1.3",
        "alpn": ["h2", "http/1.1"],
        "ja4": "t13d1516h2_8daaf6152771_02713d6af862",
        "cert": {"subject": "CN=github.com", "san": ["github.com", "www.github.com"]},
    },
}


def conn(i: int, **kw: Any) -> ConnectionView:
    base: dict[str, Any] = {
        "id": i, "proto": "tcp", "ip_version": 4, "local_addr": "192.0.2.10",
        "local_port": 50000 + i, "remote_addr": f"198.18.0.{i}", "remote_port": 443,
        "state": "ESTABLISHED", "service": "https", "first_seen": T0, "last_seen": T0 + 5,
        "packets_out": 10 * i, "packets_in": 20 * i, "bytes_out": 1000 * i,
        "bytes_in": 5000 * i, "rate_out": 100.0 * i, "rate_in": 1000.0 * i, "timeout": 7440.0,
    }  # fmt: skip
    base.update(kw)
    return ConnectionView(**base)


def connections() -> list[ConnectionView]:
    return [
        conn(1, process=FIREFOX, attribution=Attribution("sockdiag", "exact"), app=TLS_APP,
             remote_name="github.com", remote_name_source="tls-sni", rtt_ms=23.5,
             geo={"country": "US", "city": "San Francisco", "asn": 36459, "as_org": "GitHub"}),
        conn(2, process=FIREFOX, ip_version=6, local_addr="2001:db8::10",
             remote_addr="2001:db8::2", remote_name="www.example.com", remote_name_source="dns",
             app={"protocol": "HTTP/2", "summary": "HTTP/2 GET www.example.com/"}),
        conn(3, process=SSHD, local_port=22, remote_port=51515, service="ssh", rtt_ms=0.8,
             app={"protocol": "SSH", "summary": "SSH OpenSSH_9.6",
                  "ssh": {"client": "SSH-2.0-OpenSSH_9.6",
                          "hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1"}}),
        conn(4, process=RESOLVED, proto="udp", remote_port=53, service="domain", state="ACTIVE",
             timeout=30.0, app={"protocol": "DNS", "summary": "DNS A github.com",
                                "dns": {"query": "github.com", "answers": ["198.18.0.1"]}}),
        conn(5, process=CHROME, proto="udp", state="ACTIVE", remote_name="www.google.com",
             timeout=30.0, app={"protocol": "QUIC", "summary": "QUIC h3 (www.google.com)",
                                "quic": {"sni": "www.google.com", "version": "1"}}),
        conn(6, process=CURL, remote_port=80, service="http",
             app={"protocol": "HTTP", "summary": "GET example.org/ -> 200"}),
        conn(7, local_port=5432, remote_port=40001, service="postgresql"),
        conn(8, process=FIREFOX, staleness=0.8, rate_in=0.0, rate_out=0.0,
             app={"protocol": "TLS", "summary": "HTTPS (stale.example.net)"}),
        conn(9, process=FIREFOX, staleness=0.95, state="CLOSE_WAIT", rate_in=0.0, rate_out=0.0,
             app={"protocol": "TLS", "summary": "HTTPS (dying.example.net)"}),
    ]  # fmt: skip


def closed() -> list[ConnectionView]:
    return [conn(100, process=CURL, state="CLOSED", closed=True, remote_port=80,
                 app={"protocol": "HTTP", "summary": "GET /old"})]  # fmt: skip


def snapshot(seq: int = 1, conns: list[ConnectionView] | None = None, **kw: Any) -> Snapshot:
    rows = connections() if conns is None else conns
    args: dict[str, Any] = {
        "seq": seq,
        "ts": T0 + seq,
        "connections": tuple(rows),
        "closed": tuple(closed()),
        "stats": CaptureStats(packets=123456, kernel_drops=7, internal_drops=3),
        "interface": "eth0",
        "attribution_backend": "sockdiag",
    }
    args.update(kw)
    return Snapshot(**args)


def scaled(snap: Snapshot, seq: int, factor: float) -> Snapshot:
    """The same rows with rates multiplied (a later frame)."""
    conns = tuple(
        replace(c, rate_in=c.rate_in * factor, rate_out=c.rate_out * factor)
        for c in snap.connections
    )
    return replace(snap, seq=seq, connections=conns)


class FakeMonitor:
    """A MonitorHandle fed by the test: ``publish`` makes a snapshot the newest."""

    def __init__(self, first: Snapshot | None = None) -> None:
        self._cond = threading.Condition()
        self._latest = first
        self.paused_calls: list[bool] = []
        self.speed_calls: list[float] = []
        self.clear_calls = 0
        self.stopped = False
        self.fail_with: Exception | None = None

    def publish(self, snap: Snapshot) -> None:
        with self._cond:
            self._latest = snap
            self._cond.notify_all()

    def latest(self) -> Snapshot | None:
        with self._cond:
            return self._latest

    def wait_next(self, after_seq: int, timeout: float) -> Snapshot | None:
        with self._cond:
            if self.fail_with is not None:
                raise self.fail_with
            self._cond.wait_for(
                lambda: (
                    (self._latest is not None and self._latest.seq > after_seq)
                    or self.fail_with is not None
                ),
                timeout,
            )
            if self.fail_with is not None:
                raise self.fail_with
            if self._latest is not None and self._latest.seq > after_seq:
                return self._latest
            return None

    def set_paused(self, paused: bool) -> None:
        self.paused_calls.append(paused)

    def set_speed(self, speed: float) -> None:
        self.speed_calls.append(speed)

    def clear_closed(self) -> None:
        with self._cond:
            self.clear_calls += 1
            if self._latest is not None:
                self._latest = replace(self._latest, seq=self._latest.seq + 1, closed=())
            self._cond.notify_all()

    def stop(self) -> None:
        self.stopped = True

    def fail(self, exc: Exception) -> None:
        with self._cond:
            self.fail_with = exc
            self._cond.notify_all()
