"""DNSAnalyzer on real traffic: dig against dnsmasq on loopback, over UDP and TCP, through
recording relays. dnsmasq serves A/AAAA/CNAME/MX/TXT/SRV/PTR and an HTTPS record."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netwatch.dpi.base import Dir, NameResolved
from netwatch.dpi.dns import DNSAnalyzer, detect_tcp, detect_udp
from tests.unit.dpi.test_http_live import Relay, free_port, wait_port

pytestmark = pytest.mark.live


def https_rdata() -> str:
    """RFC 9460 HTTPS rdata: priority 1, target ".", alpn=h2,h3, ipv4hint=192.0.2.80."""
    alpn = bytes([0, 1, 0, 6, 2]) + b"h2" + bytes([2]) + b"h3"
    hint = bytes([0, 4, 0, 4, 192, 0, 2, 80])
    return (bytes([0, 1, 0]) + alpn + hint).hex()


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[int]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if shutil.which("dig") is None or not Path(binary).exists():
        pytest.skip("needs dnsmasq and dig")
    port = free_port()
    args = [
        binary,
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--except-interface=nonexistent0",
        f"--port={port}",
        "--pid-file=",
        "--user=root",
        "--local=/nw.test/",
        "--host-record=h.nw.test,192.0.2.5,2001:db8::5",
        "--cname=alias.nw.test,h.nw.test",
        "--mx-host=nw.test,mail.nw.test,10",
        "--txt-record=t.nw.test,v=spf1 -all,second string",
        "--srv-host=_sip._tcp.nw.test,sip.nw.test,5060,0,5",
        "--ptr-record=5.2.0.192.in-addr.arpa,h.nw.test",
        f"--dns-rr=svc.nw.test,65,{https_rdata()}",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port)  # dnsmasq listens on TCP too
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


class UdpRelay:
    """Forwards each datagram from dig to dnsmasq and back, recording both."""

    def __init__(self, upstream: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(("127.0.0.1", upstream))
        self.chunks: list[tuple[Dir, bytes]] = []
        self.sock.settimeout(5)
        self.up.settimeout(5)
        self.thread = threading.Thread(target=self._once, daemon=True)
        self.thread.start()

    def _once(self) -> None:
        try:
            query, peer = self.sock.recvfrom(65535)
            self.chunks.append((Dir.CLIENT, query))
            self.up.send(query)
            answer = self.up.recv(65535)
            self.chunks.append((Dir.SERVER, answer))
            self.sock.sendto(answer, peer)
        except OSError:
            pass
        finally:
            self.sock.close()
            self.up.close()


def dig(port: int, name: str, qtype: str, *extra: str) -> None:
    subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=3", *extra, name, qtype],
        stdout=subprocess.DEVNULL,
        check=True,
    )


def udp_exchange(port: int, name: str, qtype: str) -> tuple[DNSAnalyzer, list[NameResolved]]:
    relay = UdpRelay(port)
    dig(relay.port, name, qtype)
    relay.thread.join(timeout=5)
    assert len(relay.chunks) == 2
    a = DNSAnalyzer("udp")
    events: list[NameResolved] = []
    for d, data in relay.chunks:
        assert detect_udp(data)
        events += [e for e in a.feed(d, data, 0.0) if isinstance(e, NameResolved)]
    return a, events


def only(a: DNSAnalyzer) -> dict[str, Any]:
    (q,) = a.record()["queries"]
    return dict(q)


def test_udp_cname_chain_resolves_the_alias(dnsmasq: int) -> None:
    a, events = udp_exchange(dnsmasq, "alias.nw.test", "A")
    q = only(a)
    assert (q["qname"], q["qtype"], q["rcode"]) == ("alias.nw.test", "A", "NOERROR")
    assert [(x["type"], x["data"]) for x in q["answers"]] == [
        ("CNAME", "h.nw.test"),
        ("A", "192.0.2.5"),
    ]
    assert q["rtt_ms"] is not None and q["edns_udp_size"] == 1232
    assert [(e.name, e.addresses) for e in events] == [("alias.nw.test", ("192.0.2.5",))]


@pytest.mark.parametrize(
    ("name", "qtype", "answers"),
    [
        ("h.nw.test", "AAAA", [("AAAA", "2001:db8::5")]),
        ("nw.test", "MX", [("MX", "mail.nw.test")]),
        ("t.nw.test", "TXT", [("TXT", "v=spf1 -allsecond string")]),
        ("_sip._tcp.nw.test", "SRV", [("SRV", "0 5 5060 sip.nw.test")]),
        ("5.2.0.192.in-addr.arpa", "PTR", [("PTR", "h.nw.test")]),
        ("svc.nw.test", "TYPE65", [("HTTPS", "1 . alpn=h2,h3 ipv4hint=192.0.2.80")]),
    ],
)
def test_udp_record_types(
    dnsmasq: int, name: str, qtype: str, answers: list[tuple[str, str]]
) -> None:
    a, _ = udp_exchange(dnsmasq, name, qtype)
    q = only(a)
    assert [(x["type"], x["data"]) for x in q["answers"]] == answers
    if qtype == "TXT":
        assert q["answers"][0]["strings"] == ["v=spf1 -all", "second string"]


def test_udp_nxdomain_and_refused(dnsmasq: int) -> None:
    a, events = udp_exchange(dnsmasq, "missing.nw.test", "AAAA")
    assert a.summary() == "DNS AAAA missing.nw.test NXDOMAIN"
    assert events == [] and only(a)["nodata"] is False
    b, _ = udp_exchange(dnsmasq, "elsewhere.example", "A")  # no upstream configured
    assert b.summary() == "DNS A elsewhere.example REFUSED"
    c, _ = udp_exchange(dnsmasq, "h.nw.test", "MX")  # the name exists, no MX: NODATA
    assert only(c)["rcode"] == "NOERROR" and only(c)["nodata"] is True


def test_tcp_with_dig(dnsmasq: int) -> None:
    relay = Relay(dnsmasq)
    try:
        dig(relay.port, "alias.nw.test", "A", "+tcp")
    finally:
        relay.close()
    (chunks,) = relay.conns
    assert detect_tcp(chunks[0][1])
    a = DNSAnalyzer("tcp")
    events = [e for d, data in chunks for e in a.feed(d, data, 0.0)]
    q = only(a)
    assert q["rcode"] == "NOERROR" and q["answers"][-1]["data"] == "192.0.2.5"
    assert events == [NameResolved(ts=0.0, name="alias.nw.test", addresses=("192.0.2.5",), ttl=0)]
    # the same stream one byte at a time
    b = DNSAnalyzer("tcp")
    for d, data in chunks:
        for i in range(len(data)):
            b.feed(d, data[i : i + 1], 0.0)
    assert b.record() == a.record()
