"""Detector rows: P2P, IoT, VPN, databases (BitTorrent, MQTT, WireGuard, OpenVPN, PG, MySQL, Redis).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
Every check reads content (a handshake string, a greeting, a startup code, message sizes);
ports only order the tries. WireGuard's data-message check is the weakest (a 4-byte
header and a size rule), so it comes last, for tunnels the capture joined late.
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

BT_PORTS = frozenset(range(6881, 6890)) | {51413}

# fmt: off
DETECTORS: tuple[Detector, ...] = (
    #        protocol      transport module                      check        analyzer
    Detector("MySQL",      "tcp", "netwatch.dpi.mysql",      "detect_tcp", "MySQLAnalyzer",
             frozenset({3306, 3307})),
    Detector("PostgreSQL", "tcp", "netwatch.dpi.postgres",   "detect_tcp", "PostgresAnalyzer",
             frozenset({5432})),
    Detector("MQTT",       "tcp", "netwatch.dpi.mqtt",       "detect_tcp", "MQTTAnalyzer",
             frozenset({1883})),
    Detector("Redis",      "tcp", "netwatch.dpi.redis",      "detect_tcp", "RedisAnalyzer",
             frozenset({6379})),
    Detector("BitTorrent", "tcp", "netwatch.dpi.bittorrent", "detect_tcp", "BitTorrentAnalyzer",
             BT_PORTS, ("transport",)),
    Detector("OpenVPN",    "tcp", "netwatch.dpi.openvpn",    "detect_tcp", "OpenVPNAnalyzer",
             frozenset({1194}), ("transport",)),
    Detector("BitTorrent", "udp", "netwatch.dpi.bittorrent", "detect_udp", "BitTorrentAnalyzer",
             BT_PORTS, ("transport",)),
    Detector("OpenVPN",    "udp", "netwatch.dpi.openvpn",    "detect_udp", "OpenVPNAnalyzer",
             frozenset({1194}), ("transport",)),
    Detector("WireGuard",  "udp", "netwatch.dpi.wireguard",  "detect_udp", "WireGuardAnalyzer",
             frozenset({51820})),
    Detector("WireGuard",  "udp", "netwatch.dpi.wireguard",  "detect_udp_midstream",
             "WireGuardAnalyzer", frozenset({51820})),
)
# fmt: on
