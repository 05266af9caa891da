"""Detector rows: VoIP and network services (SIP, DHCP, NTP, SNMP, STUN, NetBIOS, SSDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

DETECTORS: tuple[Detector, ...] = ()
