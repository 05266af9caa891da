"""Connection views for the filter tests: one per kind of traffic the filter must reach.

The app objects follow the analyzers' documented ``record()`` shapes (``app.tls``,
``app.quic``, ``app.dns``, ``app.http``, ``app.ssh``) under ``app.protocol``/``app.summary``.
"""

from __future__ import annotations

from typing import Any

from netwatch.model import Attribution, ConnectionView, ContainerInfo, ProcessInfo

FIREFOX = ProcessInfo(
    pid=4242,
    name="firefox",
    exe="/usr/lib/firefox/firefox",
    cmdline=("/usr/lib/firefox/firefox", "-P", "work"),
    user="alice",
    uid=1000,
    ppid=1,
)
CURL = ProcessInfo(pid=777, name="curl", exe="/usr/bin/curl", cmdline=("curl", "-sI"), user="bob")
SSHD = ProcessInfo(
    pid=22,
    name="sshd",
    exe="/usr/sbin/sshd",
    cmdline=("sshd: alice [priv]",),
    user="root",
    uid=0,
    container=ContainerInfo(runtime="docker", id="3f2a9c0d1e2b"),
)
RESOLVED = ProcessInfo(pid=611, name="systemd-resolved", user="systemd-resolve")


def view(id: int, **kw: Any) -> ConnectionView:
    base: dict[str, Any] = {
        "id": id,
        "proto": "tcp",
        "ip_version": 4,
        "local_addr": "192.168.1.10",
        "local_port": 50000 + id,
        "remote_addr": "198.51.100.7",
        "remote_port": 443,
        "state": "ESTABLISHED",
        "service": "https",
        "first_seen": 1_700_000_000.0,
        "last_seen": 1_700_000_010.0,
        "packets_out": 10,
        "packets_in": 12,
        "bytes_out": 1_500,
        "bytes_in": 20_000,
    }
    base.update(kw)
    return ConnectionView(**base)


TLS = view(
    1,
    remote_addr="140.82.112.3",
    app={
        "protocol": "TLS",
        "summary": "HTTPS (github.com)",
        "tls": {
            "sni": "github.com",
            "alpn_offered": ["h2", "http/1.1"],
            "alpn": "h2",
            "version": "TLSv1.3",
            "cipher": "TLS_AES_128_GCM_SHA256",
            "ja3": "cd08e31494f9531f560d64c695473da9",
            "ja3s": "eb1d94daa7e0344597e756a1fb6e7054",
            "ja4": "t13d1516h2_8daaf6152771_02713d6af862",
            "ech": False,
            "resumed": True,
            "certs": [{"subject": "CN=github.com", "issuer": "CN=Sectigo ECC"}],
            "client_version": "TLSv1.2",
        },
    },
    process=FIREFOX,
    attribution=Attribution("ebpf", "exact"),
    remote_name="lb-140-82-112-3-iad.github.com",
    remote_name_source="dns",
    geo={"country": "US", "city": "Ashburn", "asn": 36459, "as_org": "GitHub, Inc."},
    rtt_ms=92.5,
    rate_in=250_000.0,
    rate_out=3_000.0,
    bytes_in=5_000_000,
    extra={
        "ip_bytes_out": 1_300,
        "ip_bytes_in": 4_950_000,
        "payload_bytes_out": 900,
        "payload_bytes_in": 4_800_000,
    },
)
QUIC6 = view(
    2,
    proto="udp",
    ip_version=6,
    local_addr="2001:db8::10",
    remote_addr="2a00:1450:4001:82b::200e",
    state="QUIC_CONNECTED",
    service="https",
    app={
        "protocol": "QUIC",
        "summary": "HTTP/3 (www.youtube.com)",
        "quic": {
            "version": "v1",
            "sni": "www.youtube.com",
            "alpn_offered": ["h3"],
            "ja4": "q13d0312h3_55b375c5d22e_06cda9e17597",
            "dcid": "8394c8f03e515708",
            "scid": "",
            "state": "QUIC_CONNECTED",
            "close_error": None,
        },
    },
    process=FIREFOX,
    geo={"country": "DE", "city": "Frankfurt", "asn": "AS15169", "as_org": "Google LLC"},
    rtt_ms=14.0,
    extra={"payload_bytes_out": 1_200, "payload_bytes_in": 30_000},
)
DNS = view(
    3,
    proto="udp",
    local_port=53124,
    remote_addr="10.0.0.53",
    remote_port=53,
    state="DNS_RESPONSE",
    service="domain",
    packets_out=1,
    packets_in=1,
    bytes_out=70,
    bytes_in=130,
    app={
        "protocol": "DNS",
        "summary": "DNS AAAA ipv6.example.org",
        "dns": {
            "queries": [
                {
                    "id": 4660,
                    "qname": "ipv6.example.org",
                    "qtype": "AAAA",
                    "rcode": "NOERROR",
                    "answers": [
                        {
                            "name": "ipv6.example.org",
                            "type": "CNAME",
                            "ttl": 60,
                            "data": "edge.cdn.net",
                        },
                        {"name": "edge.cdn.net", "type": "AAAA", "ttl": 30, "data": "2001:db8::99"},
                    ],
                    "rtt_ms": 3.1,
                    "nodata": False,
                },
                {
                    "id": 4661,
                    "qname": "nothing.invalid",
                    "qtype": "A",
                    "rcode": "NXDOMAIN",
                    "answers": [],
                    "rtt_ms": 2.0,
                    "nodata": False,
                },
            ]
        },
    },
    process=RESOLVED,
)
HTTP = view(
    4,
    remote_addr="93.184.216.34",
    remote_port=8080,
    service="http-alt",
    state="TIME_WAIT",
    closed=True,
    app={
        "protocol": "HTTP",
        "summary": "HTTP GET example.com/index.html",
        "http": {
            "version": "1.1",
            "requests": [
                {
                    "method": "GET",
                    "host": "example.com",
                    "path": "/index.html",
                    "version": "HTTP/1.1",
                    "user_agent": "curl/8.5.0",
                    "content_type": None,
                    "status": 200,
                    "request_body_bytes": 0,
                    "response_body_bytes": 1256,
                },
                {"method": "POST", "host": "example.com", "path": "/api", "status": 503},
            ],
        },
    },
    process=CURL,
    retransmits=3,
    vlan=100,
    extra={"vlan_stack": [100, 7]},
)
SSH = view(
    5,
    local_addr="10.1.2.3",
    local_port=22,
    remote_addr="203.0.113.50",
    remote_port=58395,
    service="ssh",
    app={
        "protocol": "SSH",
        "summary": "SSH OpenSSH_9.6p1",
        "ssh": {
            "client_version": "SSH-2.0-PuTTY_Release_0.80",
            "server_version": "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13",
            "client_software": "PuTTY_Release_0.80",
            "server_software": "OpenSSH_9.6p1",
            "hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1",
            "hassh_server": "b12d2871a1189eff20364cf5333619ee",
            "state": "ESTABLISHED",
        },
    },
    process=SSHD,
    first_seen=1_700_000_000.0,
    last_seen=1_700_000_600.0,
)
ICMP6 = view(
    6,
    proto="icmpv6",
    ip_version=6,
    local_addr="fe80::1",
    local_port=0,
    remote_addr="fe80::2%eth0",
    remote_port=0,
    service="",
    packets_out=1,
    packets_in=0,
    bytes_out=64,
    bytes_in=0,
    state="ECHO_REQUEST",
    extra={"icmp": {"type": 128, "code": 0, "type_name": "echo-request", "echo_id": 7}},
)
UDP_BARE = view(
    7,
    proto="udp",
    local_addr="::ffff:192.0.2.1",
    remote_addr="192.0.2.200",
    local_port=8001,
    remote_port=8099,
    state="",
    service="",
    bytes_in=0,
    bytes_out=0,
)

ALL = (TLS, QUIC6, DNS, HTTP, SSH, ICMP6, UDP_BARE)
NAMES = {
    v.id: n
    for n, v in zip(("TLS", "QUIC6", "DNS", "HTTP", "SSH", "ICMP6", "UDP"), ALL, strict=True)
}
