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
    # (MySQL, OpenVPN over TCP: a length first, any low or high byte)
    Detector("MySQL",      "tcp", "netwatch.dpi.mysql",      "detect_tcp", "MySQLAnalyzer",
             frozenset({3306, 3307})),
    # (first: the high byte of a 32-bit length of at most 10000)
    Detector("PostgreSQL", "tcp", "netwatch.dpi.postgres",   "detect_tcp", "PostgresAnalyzer",
             frozenset({5432}), first=frozenset({0})),
    # (first: CONNECT's fixed header)
    Detector("MQTT",       "tcp", "netwatch.dpi.mqtt",       "detect_tcp", "MQTTAnalyzer",
             frozenset({1883}), first=frozenset({0x10})),
    # (first: an array, or PING/INFO/HELLO/MONITOR/AUTH in any case)
    Detector("Redis",      "tcp", "netwatch.dpi.redis",      "detect_tcp", "RedisAnalyzer",
             frozenset({6379}), first=frozenset(b"*PpIiHhMmAa")),
    # (first: the handshake's name length, 19)
    Detector("BitTorrent", "tcp", "netwatch.dpi.bittorrent", "detect_tcp", "BitTorrentAnalyzer",
             BT_PORTS, ("transport",), first=frozenset({19})),
    Detector("OpenVPN",    "tcp", "netwatch.dpi.openvpn",    "detect_tcp", "OpenVPNAnalyzer",
             frozenset({1194}), ("transport",)),
    # (BitTorrent over UDP: a tracker request starts with a connection id, any byte)
    Detector("BitTorrent", "udp", "netwatch.dpi.bittorrent", "detect_udp", "BitTorrentAnalyzer",
             BT_PORTS, ("transport",)),
    # (first: opcode 7 or 10, the client's hard resets, in the high 5 bits; key id 0)
    Detector("OpenVPN",    "udp", "netwatch.dpi.openvpn",    "detect_udp", "OpenVPNAnalyzer",
             frozenset({1194}), ("transport",), first=frozenset({7 << 3, 10 << 3})),
    # (first: the message type, 1-3 for the handshake, 4 for data)
    Detector("WireGuard",  "udp", "netwatch.dpi.wireguard",  "detect_udp", "WireGuardAnalyzer",
             frozenset({51820}), first=frozenset({1, 2, 3})),
    Detector("WireGuard",  "udp", "netwatch.dpi.wireguard",  "detect_udp_midstream",
             "WireGuardAnalyzer", frozenset({51820}), first=frozenset({4})),
)
# fmt: on
