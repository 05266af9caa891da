"""Live capture end to end: real servers and clients across a veth, netwatch beside tcpdump.

netwatch (``analyze -i VETH --duration``) and tcpdump capture the same interface at the
same time while curl, dig and ssh talk to nginx, dnsmasq and sshd in a namespace. Every
TCP/UDP connection tcpdump saw must be one netwatch row with the same packet and byte
counts each way, the TCP state must be the closed one the clients left, and what the
analyzers report must equal what the clients asked for.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dpkt
import pytest

from tests.live.harness import clients, servers
from tests.live.harness.armed import wait_armed
from tests.live.harness.netns import Pair

pytestmark = pytest.mark.live
DURATION = 14.0


def _tcpdump_counts(pcap: Path) -> dict[tuple[Any, ...], Counter[str]]:
    """Per 5-tuple (as sent): packets and wire bytes, counted by dpkt independently."""
    out: dict[tuple[Any, ...], Counter[str]] = {}
    with pcap.open("rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            l4 = ip.data
            if not isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
                continue
            fam = socket.AF_INET6 if isinstance(ip, dpkt.ip6.IP6) else socket.AF_INET
            key = (
                "tcp" if isinstance(l4, dpkt.tcp.TCP) else "udp",
                socket.inet_ntop(fam, ip.src),
                l4.sport,
                socket.inet_ntop(fam, ip.dst),
                l4.dport,
            )
            c = out.setdefault(key, Counter())
            c["packets"] += 1
            c["bytes"] += len(buf)
    return out


def test_live_analyze_matches_tcpdump(
    server_pair: Pair,
    nginx_server: servers.NginxServer,
    ssh_server: servers.SshServer,
    dns_server: servers.DnsServer,
    tmp_path: Path,
) -> None:
    iface = server_pair.client.ifname
    srv4, srv6 = server_pair.server.ip4, server_pair.server.ip6
    pcap = tmp_path / "tcpdump.pcap"
    td = subprocess.Popen(
        ["tcpdump", "-i", iface, "-w", str(pcap), "-U", "-s", "0", "-n", "ip or ip6"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nw = subprocess.Popen(
        [sys.executable, "-m", "netwatch", "analyze", "-i", iface, "--duration", str(DURATION)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_armed(td, iface)
        wait_armed(nw, iface)
        t0 = time.monotonic()
        www, api = servers.WWW, servers.API
        runs = [
            clients.curl(None, f"http://{srv4}/", http="1.1"),
            clients.curl(None, f"http://{www}:8082/", http="1.1", resolve={f"{www}:8082": srv4}),
            clients.curl(
                None, f"https://{www}/", http="2", insecure=True, resolve={f"{www}:443": srv4}
            ),
            clients.curl(
                None,
                f"https://{api}:8443/",
                http="1.1",
                insecure=True,
                tls_max="1.2",
                resolve={f"{api}:8443": f"[{srv6}]"},
            ),
            clients.dig(None, srv4, www, "A"),
            clients.dig(None, srv4, f"alias.{servers.ZONE}", "A", tcp=True),
            clients.dig(None, srv6, www, "AAAA"),
            clients.ssh(None, srv4, ssh_server.key),
            clients.ssh(None, srv4, ssh_server.key, port=2222),
        ]
        for r in runs:
            assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < DURATION - 4, "clients too slow for the capture window"
        out, err = nw.communicate(timeout=DURATION + 30)
    finally:
        if nw.poll() is None:
            nw.kill()
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
    assert nw.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.decode().splitlines()]
    truth = _tcpdump_counts(pcap)
    ours = {
        (r["proto"], r["local_addr"], r["local_port"], r["remote_addr"], r["remote_port"]): r
        for r in records
        if r["proto"] in ("tcp", "udp")
    }
    checked = 0
    for key, cnt in truth.items():
        proto, a, ap, b, bp = key
        if (proto, b, bp, a, ap) in truth and (proto, b, bp, a, ap) < key:
            continue  # count each connection once, from its lower side
        rev = (proto, b, bp, a, ap)
        back = truth.get(rev, Counter())
        rec = ours.get(key) or ours.get(rev)
        assert rec is not None, f"netwatch missed {key}: {sorted(ours)} / {err.decode()[-500:]}"
        fwd_is_out = ours.get(key) is rec
        sent, recv = (cnt, back) if fwd_is_out else (back, cnt)
        assert (rec["packets_out"], rec["packets_in"]) == (sent["packets"], recv["packets"]), key
        assert (rec["bytes_out"], rec["bytes_in"]) == (sent["bytes"], recv["bytes"]), key
        checked += 1
    assert checked >= len(runs)
    by_port: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        by_port.setdefault(r["remote_port"], []).append(r)
    # TCP: every client connection was opened here and closed by the clients.
    for r in records:
        if r["proto"] == "tcp" and r["remote_addr"] in (srv4, srv6):
            assert r["local_addr"] in (server_pair.client.ip4, server_pair.client.ip6)
            assert r["state"] in ("TIME_WAIT", "CLOSED"), r
            assert r["rtt_ms"] is not None and r["picked_up"] is False
    # What the analyzers saw equals what the clients asked for.
    tls = {r["app"]["tls"]["sni"]: r for r in records if r["app"].get("protocol") == "TLS"}
    assert {www, api} <= set(tls)
    assert tls[www]["app"]["tls"]["alpn"] in (None, "h2")  # TLS 1.3 hides the selected ALPN
    assert (
        tls[api]["app"]["tls"]["version"] == "TLSv1.2"
        and tls[api]["app"]["tls"]["alpn"] == "http/1.1"
    )
    hosts = [
        q["host"]
        for r in records
        if r["app"].get("protocol") == "HTTP"
        for q in r["app"]["http"]["requests"]
    ]
    assert srv4 in hosts and f"{www}:8082" in hosts
    qnames = {
        q["qname"]
        for r in records
        if r["app"].get("protocol") == "DNS"
        for q in r["app"]["dns"]["queries"]
    }
    assert {www, f"alias.{servers.ZONE}"} <= qnames
    ssh = [r["app"]["ssh"] for r in records if r["app"].get("protocol") == "SSH"]
    assert len(ssh) == 2
    for s in ssh:
        assert s["client_version"].startswith("SSH-2.0-OpenSSH")
        assert s["server_version"].startswith("SSH-2.0-OpenSSH")
    # Passive DNS: the resolved name labels the later connections to that address.
    assert any(r["remote_name"] == www and r["remote_port"] == 443 for r in records) or any(
        r["remote_name"] in (www, api) for r in records
    )
