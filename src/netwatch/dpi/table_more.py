"""Detector rows: the other protocol groups of issue 6 (VoIP, network services, P2P, IoT, VPN, DBs).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

DETECTORS: tuple[Detector, ...] = ()
