"""Detection of the app group (BitTorrent, MQTT, WireGuard, OpenVPN, PostgreSQL, MySQL,
Redis) through the registry: by content on any port, never by port alone, and no false
claims on any other flow of the corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netwatch.dpi import registry
from netwatch.dpi.registry import MAX_DETECT_PACKETS
from netwatch.dpi.table_apps import DETECTORS
from tests.util.corpus import captures
from tests.util.streams import flows_of

DATA = Path(__file__).resolve().parents[2] / "data"
MINE = {d.protocol for d in DETECTORS}
#: fixture capture -> the protocol its flows must be detected as
FIXTURES = {
    "bittorrent/libtorrent-tcp.pcap": "BitTorrent",
    "bittorrent/libtorrent-utp.pcap": "BitTorrent",
    "bittorrent/libtorrent-dht.pcap": "BitTorrent",
    "bittorrent/opentracker-udp.pcap": "BitTorrent",
    "mqtt/mosquitto.pcap": "MQTT",
    "mysql/mariadb.pcap": "MySQL",
    "openvpn/openvpn_udp.pcap": "OpenVPN",
    "openvpn/openvpn_tcp.pcap": "OpenVPN",
    "openvpn/openvpn_tls_auth.pcap": "OpenVPN",
    "openvpn/openvpn_tls_crypt.pcap": "OpenVPN",
    "postgres/postgresql15.pcap": "PostgreSQL",
    "redis/redis7.pcap": "Redis",
    "wireguard/wireguard-go.pcap": "WireGuard",
}


def test_rows_follow_the_core_rows() -> None:
    rows = registry.DETECTORS
    assert all(d in rows for d in DETECTORS)
    core_last = max(i for i, d in enumerate(rows) if d.module.startswith("netwatch.dpi.tls"))
    assert rows.index(DETECTORS[0]) > core_last


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("ports", [(40001, 40002), (51413, 1194)])
def test_detected_by_content_on_any_port(name: str, ports: tuple[int, int]) -> None:
    for flow in flows_of(DATA / name):
        if not flow.chunks:
            continue
        _, first, _ = flow.chunks[0]
        an = registry.detect(flow.transport, first, *ports)
        assert an is not None and an.protocol == FIXTURES[name], flow.client


@pytest.mark.parametrize(
    ("transport", "port"),
    [("tcp", 5432), ("tcp", 3306), ("tcp", 6379), ("tcp", 1883), ("tcp", 1194),
     ("tcp", 6881), ("udp", 1194), ("udp", 51820), ("udp", 6881)],
)  # fmt: skip
def test_port_alone_claims_nothing(transport: str, port: int) -> None:
    for data in (os.urandom(64), os.urandom(148), b"hello there\r\n", b"\x00" * 32):
        an = registry.detect(transport, data, 40000, port)
        assert an is None or an.protocol not in MINE


#: corpus captures of this group's protocols: the only ones where it may claim flows
OWN_CAPTURES = {
    "ndpi_bittorrent": "BitTorrent",
    "sv_bittorrent-dht": "BitTorrent",
    "ndpi_mqtt": "MQTT",
    "sv_mqtt311-pub-userpass": "MQTT",
}


@pytest.mark.parametrize("path", captures(), ids=lambda p: p.name)
def test_no_false_claims_on_the_corpus(path: Path) -> None:
    """Every flow of every corpus capture, first payloads of either direction as the tracker
    tries them: this group claims only the flows of its own captures, as their protocol."""
    allowed = {OWN_CAPTURES[path.stem]} if path.stem in OWN_CAPTURES else set()
    for flow in flows_of(path):
        sport, dport = flow.client[1], flow.server[1]
        for _, data, _ in flow.chunks[:MAX_DETECT_PACKETS]:
            an = registry.detect(flow.transport, data, sport, dport)
            if an is not None:
                claim = an.protocol if an.protocol in MINE else None
                assert claim is None or claim in allowed, (flow.client, flow.server, claim)
                break
