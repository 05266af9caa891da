"""Reverse DNS against a real dnsmasq on 127.0.0.1 (high port), and a scripted UDP server
for what dnsmasq will not do (silence, forged replies, recording our source ports)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from netwatch.enrich.enricher import Enricher
from netwatch.enrich.options import EnrichOptions, parse_server
from netwatch.enrich.ptr import build_query, reverse_name
from netwatch.enrich.rdns import ReverseResolver, parse_resolv_conf
from netwatch.enrich.setup import EnrichHandle, build_enricher
from netwatch.model.snapshot import ConnectionView

DNSMASQ = shutil.which("dnsmasq", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[int]:
    if DNSMASQ is None:
        pytest.skip("dnsmasq not installed")
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [
                DNSMASQ,
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--pid-file=",
                f"--port={port}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local=/arpa/",  # unknown reverse names: NXDOMAIN, never forwarded
                "--local-ttl=120",
                "--host-record=web.example.test,192.0.2.10,2001:db8::10",
                "--ptr-record=20.100.51.198.in-addr.arpa,ptr.example.test",
                "--log-facility=-",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.3)
        if proc.poll() is None:
            break
    else:
        pytest.fail("dnsmasq did not start")
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def _settle(r: ReverseResolver) -> None:
    assert r.wait_idle(10.0)


def test_names_from_dnsmasq(dnsmasq: int) -> None:
    with ReverseResolver([("127.0.0.1", dnsmasq)], workers=2) as r:
        assert r.lookup("192.0.2.10") is None  # queued, not blocked on
        assert r.lookup("2001:db8::10") is None
        assert r.lookup("198.51.100.20") is None
        _settle(r)
        assert r.lookup("192.0.2.10") == "web.example.test"
        assert r.lookup("2001:db8::10") == "web.example.test"
        assert r.lookup("198.51.100.20") == "ptr.example.test"
        st = r.stats()
        assert st.answers == 3 and st.failures == 0 and st.cached == 3


def test_negative_answers_are_cached(dnsmasq: int) -> None:
    clock = FakeClock()
    with ReverseResolver([("127.0.0.1", dnsmasq)], negative_ttl=300, clock=clock) as r:
        assert r.lookup("192.0.2.99") is None
        _settle(r)
        assert r.lookup("192.0.2.99") is None
        st = r.stats()
        assert st.negative == 1 and st.queries == 1
        clock.now += 299
        r.lookup("192.0.2.99")
        _settle(r)
        assert r.stats().queries == 1  # still cached
        clock.now += 2
        r.lookup("192.0.2.99")
        _settle(r)
        assert r.stats().queries == 2  # expired: asked again


def test_positive_ttl_and_stale_while_refreshing(dnsmasq: int) -> None:
    clock = FakeClock()
    with ReverseResolver([("127.0.0.1", dnsmasq)], min_ttl=10, clock=clock) as r:
        r.lookup("192.0.2.10")
        _settle(r)
        clock.now += 119  # dnsmasq's --local-ttl=120
        assert r.lookup("192.0.2.10") == "web.example.test"
        assert r.stats().queries == 1
        clock.now += 2
        assert r.lookup("192.0.2.10") == "web.example.test"  # stale, refresh queued
        _settle(r)
        assert r.stats().queries == 2


def test_skipped_scopes_and_non_addresses(dnsmasq: int) -> None:
    with ReverseResolver([("127.0.0.1", dnsmasq)]) as r:
        for a in ("224.0.0.251", "ff02::1", "0.0.0.0", "255.255.255.255", "240.0.0.1", "x"):
            assert r.lookup(a) is None
        _settle(r)
        assert r.stats().queries == 0


def test_enricher_puts_the_name_in_geo(dnsmasq: int) -> None:
    handle = build_enricher(
        EnrichOptions(
            rdns=True,
            dns_servers=(f"127.0.0.1:{dnsmasq}",),
            use_geoip=False,
            host_tables=False,
        ),
        warn=pytest.fail,
    )
    try:
        enrich = handle.enricher
        assert enrich("192.0.2.10") == {"scope": "documentation"}
        assert handle.resolver is not None
        _settle(handle.resolver)
        assert enrich("192.0.2.10") == {"scope": "documentation", "rdns": "web.example.test"}
    finally:
        handle.close()


# ---------------------------------------------------------------- scripted server
@dataclass
class Scripted:
    """A UDP server on 127.0.0.1 that answers with ``reply(query)`` (None = silence)."""

    reply: Callable[[bytes], bytes | None]
    peers: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            self.peers.append(peer)
            out = self.reply(data)
            if out is not None:
                self.sock.sendto(out, peer)

    def close(self) -> None:
        self._stop.set()
        self._t.join(2)
        self.sock.close()


def _ptr_reply(name: str) -> Callable[[bytes], bytes]:
    def reply(query: bytes) -> bytes:
        # echo the question, set QR/RA, one PTR answer pointing at the question (0xc00c)
        rdata = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        head = query[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
        answer = b"\xc0\x0c\x00\x0c\x00\x01\x00\x00\x0e\x10" + len(rdata).to_bytes(2, "big")
        return head + query[12:] + answer + rdata

    return reply


def test_own_flows_are_the_ports_we_really_use() -> None:
    server = Scripted(_ptr_reply("scripted.test"))
    try:
        with ReverseResolver([("127.0.0.1", server.port)], workers=3) as r:
            own = r.own_flows()
            assert len(own) == 3 and all(a == "127.0.0.1" for _, a, _ in own)
            for i in range(12):
                r.lookup(f"198.18.0.{i + 1}")
            _settle(r)
            assert r.lookup("198.18.0.1") == "scripted.test"
            used = {(p, "127.0.0.1", server.port) for _, p in server.peers}
            assert used and used <= own
            enrich = Enricher(names=r)
            local_port, addr, port = next(iter(used))
            row = _udp_view("127.0.0.1", local_port, addr, port)
            assert enrich.is_own(row)
            assert enrich.is_own(_udp_view(addr, port, "127.0.0.1", local_port))  # either side
            assert not enrich.is_own(_udp_view("127.0.0.1", local_port, addr, 53))
            handle = EnrichHandle(enrich, None, None)
            assert handle.hidden(row)
            assert not EnrichHandle(enrich, None, None, show_own_traffic=True).hidden(row)
    finally:
        server.close()


def _udp_view(laddr: str, lport: int, raddr: str, rport: int) -> ConnectionView:
    return ConnectionView(
        id=1,
        proto="udp",
        ip_version=4,
        local_addr=laddr,
        local_port=lport,
        remote_addr=raddr,
        remote_port=rport,
        state="UDP_ACTIVE",
        service="",
        first_seen=0.0,
        last_seen=0.0,
        packets_out=1,
        packets_in=1,
        bytes_out=60,
        bytes_in=90,
    )


def test_forged_and_stray_replies_are_ignored() -> None:
    good = _ptr_reply("real.test")

    def reply(query: bytes) -> bytes:
        forged = bytes([query[0] ^ 0xFF, query[1]]) + good(query)[2:]  # wrong id first
        server.sock.sendto(forged, server.peers[-1])
        return good(query)

    server = Scripted(reply)
    try:
        with ReverseResolver([("127.0.0.1", server.port)], workers=1) as r:
            r.lookup("198.18.0.7")
            _settle(r)
            assert r.lookup("198.18.0.7") == "real.test"
    finally:
        server.close()


def test_silence_times_out_and_a_full_queue_drops() -> None:
    server = Scripted(lambda q: None)
    try:
        r = ReverseResolver(
            [("127.0.0.1", server.port)], workers=1, queue_size=2, timeout=0.3, error_ttl=60
        )
        for i in range(10):
            r.lookup(f"198.18.1.{i + 1}")
        dropped = r.stats().dropped
        assert 7 <= dropped <= 8  # two queued, and one in flight if the worker was quick
        assert r.wait_idle(5.0)
        st = r.stats()
        assert st.failures == 10 - dropped and st.answers == 0 and st.dropped == dropped
        t0 = time.monotonic()
        r.close()
        assert time.monotonic() - t0 < 2.0
    finally:
        server.close()


def test_second_server_answers_when_the_first_fails(dnsmasq: int) -> None:
    dead = _free_port()  # nothing listens: ICMP port unreachable
    with ReverseResolver([("127.0.0.1", dead), ("127.0.0.1", dnsmasq)], timeout=0.5) as r:
        r.lookup("192.0.2.10")
        _settle(r)
        assert r.lookup("192.0.2.10") == "web.example.test"


def test_unreachable_server_is_a_failure_not_a_crash() -> None:
    with ReverseResolver([("127.0.0.1", _free_port())], timeout=0.5) as r:
        r.lookup("192.0.2.10")
        _settle(r)
        assert r.lookup("192.0.2.10") is None
        assert r.stats().failures == 1


def test_config_parsing() -> None:
    text = "# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch x\n"
    assert parse_resolv_conf(text) == [("127.0.0.53", 53), ("fe80::1", 53)]
    assert parse_server("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("::1") == ("::1", 53)
    assert parse_server("[::1]:5353") == ("::1", 5353)
    for bad in ("dns.example", "127.0.0.1:0", "[::1]x", "1.2.3.4:99999"):
        with pytest.raises(ValueError):
            parse_server(bad)
    lines: list[str] = []
    handle = build_enricher(
        EnrichOptions(rdns=True, dns_servers=("resolver.example",), use_geoip=False), lines.append
    )
    assert handle.resolver is None and len(lines) == 1 and "reverse DNS disabled" in lines[0]
    handle.close()


def test_ipv6_server_socket(dnsmasq: int) -> None:
    """A v6 server list makes a dual-stack socket; IPv4 servers still work through it."""
    with ReverseResolver([("::1", _free_port()), ("127.0.0.1", dnsmasq)], timeout=0.3) as r:
        assert all(isinstance(p, int) for p, _, _ in r.own_flows())
        r.lookup("2001:db8::10")
        _settle(r)
        assert r.lookup("2001:db8::10") == "web.example.test"
        assert reverse_name("2001:db8::10").endswith("ip6.arpa")


@pytest.mark.live
def test_own_queries_are_hidden_in_a_live_capture(dnsmasq: int) -> None:
    """Capture lo (only dnsmasq's port): the resolver's rows are hidden, a dig's is not."""
    from netwatch.capture.open import open_live
    from netwatch.engine.engine import Engine, EngineConfig
    from netwatch.errors import CaptureError

    try:
        source = open_live("lo", f"udp port {dnsmasq}")
    except CaptureError as exc:
        pytest.skip(f"cannot capture on lo: {exc}")
    handle = build_enricher(
        EnrichOptions(
            rdns=True,
            dns_servers=(f"127.0.0.1:{dnsmasq}",),
            use_geoip=False,
            host_tables=False,
        ),
        warn=pytest.fail,
    )
    engine = Engine(source, EngineConfig(snapshot_interval=0.2), enrich=handle)
    engine.start()
    try:
        time.sleep(0.5)  # the capture socket is armed
        assert handle.resolver is not None
        for a in ("192.0.2.10", "198.51.100.20", "192.0.2.77"):
            handle.resolver.lookup(a)
        _settle(handle.resolver)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:  # not ours
            other.bind(("127.0.0.1", 0))
            other.settimeout(2)
            other.sendto(build_query(4242, reverse_name("192.0.2.10")), ("127.0.0.1", dnsmasq))
            other.recvfrom(2048)
            other_port = other.getsockname()[1]
        deadline = time.monotonic() + 10
        rows: list[ConnectionView] = []
        while time.monotonic() < deadline:
            last = engine.latest()
            snap = engine.wait_next(last.seq if last else 0, 1.0)
            rows = list(snap.connections) if snap else rows
            if len(rows) >= 2 and any(other_port in (v.local_port, v.remote_port) for v in rows):
                break
        own_ports = {p for p, _, _ in handle.enricher.own_flows()}
        mine = [v for v in rows if own_ports & {v.local_port, v.remote_port}]
        theirs = [v for v in rows if other_port in (v.local_port, v.remote_port)]
        assert own_ports and theirs
        assert not mine, "the engine leaves netwatch's own reverse-DNS queries out"
        assert not any(handle.hidden(v) for v in theirs)
    finally:
        engine.stop()
        handle.close()
