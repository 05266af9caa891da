"""A store recorded from real captures with ``netwatch record``, beside ``analyze``'s output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwatch.cli import main
from tests.util.corpus import corpus_file

#: Captures with every analyzer's data: TLS (certs, JA3/JA4), QUIC, DNS, HTTP/1 and 2, SSH,
#: IPv6, VLANs, ICMP, FTP (expected data connections).
CAPTURES = (
    "foxio_tls-handshake.pcapng",
    "foxio_chrome-cloudflare-quic-with-secrets.pcapng",
    "sv_dns-udp-a-aaaa-mx.pcap",
    "ndpi_dns.pcap",
    "foxio_http1-with-cookies.pcapng",
    "ndpi_http_ipv6.pcap",
    "ndpi_http2.pcapng",
    "ndpi_ssh.pcap",
    "sv_ssh-hassh.pcap",
    "sv_eve-flow-vlan-qinq.pcap",
    "sv_ftp-download-passive.pcap",
    "ndpi_ja3_lots_of_cipher_suites.pcap",
)


@dataclass
class Recorded:
    store: Path
    #: analyze's records per capture, in output order (JSON round-tripped).
    analyzed: dict[str, list[dict[str, Any]]]


def analyze_cli(capture: Path, out: Path) -> list[dict[str, Any]]:
    assert main(["analyze", "-r", str(capture), "-o", str(out), "--no-progress"]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    base = tmp_path_factory.mktemp("recorded")
    store = base / "store"
    analyzed = {}
    for name in CAPTURES:
        path = corpus_file(name)
        assert main(["record", "-r", str(path), "--store", str(store)]) == 0
        analyzed[name] = analyze_cli(path, base / f"{name}.jsonl")
    return Recorded(store, analyzed)


def canonical(records: list[dict[str, Any]]) -> list[str]:
    """Records as sorted JSON texts: equal lists of records, whatever their order."""
    return sorted(json.dumps(r, sort_keys=True) for r in records)
