"""Detector rows: VoIP and network services (SIP, DHCP, NTP, SNMP, STUN, NetBIOS, SSDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
Unhinted rows are tried in table order, so the strict content checks (a whole parsed
message, a magic cookie, a start line) come first and NTP's header-shape check, the
weakest, comes last.
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

SIP_PORTS = frozenset({5060, 5080})
STUN_PORTS = frozenset({3478, 19302, 3479})

# fmt: off
DETECTORS: tuple[Detector, ...] = (
    #        protocol       transport module                   check         analyzer
    Detector("SIP",        "udp", "netwatch.dpi.sip",     "detect_udp", "SIPAnalyzer",
             SIP_PORTS, ("transport",)),
    Detector("SIP",        "tcp", "netwatch.dpi.sip",     "detect_tcp", "SIPAnalyzer",
             SIP_PORTS, ("transport",)),
    Detector("STUN",       "udp", "netwatch.dpi.stun",    "detect_udp", "STUNAnalyzer",
             STUN_PORTS, ("transport",)),
    Detector("STUN",       "tcp", "netwatch.dpi.stun",    "detect_tcp", "STUNAnalyzer",
             STUN_PORTS, ("transport",)),
    Detector("DHCP",       "udp", "netwatch.dpi.dhcp",    "detect_udp", "DHCPAnalyzer",
             frozenset({67, 68, 546, 547})),
    Detector("SNMP",       "udp", "netwatch.dpi.snmp",    "detect_udp", "SNMPAnalyzer",
             frozenset({161, 162})),
    Detector("SSDP",       "udp", "netwatch.dpi.ssdp",    "detect_udp", "SSDPAnalyzer",
             frozenset({1900})),
    Detector("NetBIOS",    "udp", "netwatch.dpi.netbios", "detect_udp", "NetBIOSAnalyzer",
             frozenset({137})),
    Detector("NTP",        "udp", "netwatch.dpi.ntp",     "detect_udp", "NTPAnalyzer",
             frozenset({123})),
)
# fmt: on
