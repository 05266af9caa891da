"""Detector rows: VoIP and network services (SIP, DHCP, NTP, SNMP, STUN, NetBIOS, SSDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
Unhinted rows are tried in table order, so the strict content checks (a whole parsed
message, a magic cookie, a start line) come first and NTP's header-shape check, the
weakest, comes last.
"""

from __future__ import annotations

from netwatch.dpi.registry_types import UPPER, Detector

SIP_PORTS = frozenset({5060, 5080})
STUN_PORTS = frozenset({3478, 19302, 3479})

# fmt: off
DETECTORS: tuple[Detector, ...] = (
    #        protocol       transport module                   check         analyzer
    # (first: an upper-case method, or SIP/2.0 of a status line)
    Detector("SIP",        "udp", "netwatch.dpi.sip",     "detect_udp", "SIPAnalyzer",
             SIP_PORTS, ("transport",), first=UPPER),
    Detector("SIP",        "tcp", "netwatch.dpi.sip",     "detect_tcp", "SIPAnalyzer",
             SIP_PORTS, ("transport",), first=UPPER),
    # (first: a message type with the top two bits zero; over TCP maybe a length, any byte)
    Detector("STUN",       "udp", "netwatch.dpi.stun",    "detect_udp", "STUNAnalyzer",
             STUN_PORTS, ("transport",), first=frozenset(range(0x40))),
    Detector("STUN",       "tcp", "netwatch.dpi.stun",    "detect_tcp", "STUNAnalyzer",
             STUN_PORTS, ("transport",)),
    # (first: BOOTP op 1-2, or a DHCPv6 message type 1-11)
    Detector("DHCP",       "udp", "netwatch.dpi.dhcp",    "detect_udp", "DHCPAnalyzer",
             frozenset({67, 68, 546, 547}), first=frozenset(range(1, 12))),
    # (first: an ASN.1 SEQUENCE)
    Detector("SNMP",       "udp", "netwatch.dpi.snmp",    "detect_udp", "SNMPAnalyzer",
             frozenset({161, 162}), first=frozenset({0x30})),
    # (first: M-SEARCH, NOTIFY or HTTP/1.x)
    Detector("SSDP",       "udp", "netwatch.dpi.ssdp",    "detect_udp", "SSDPAnalyzer",
             frozenset({1900}), first=frozenset(b"MNH")),
    # (NetBIOS: a transaction id first, any byte)
    Detector("NetBIOS",    "udp", "netwatch.dpi.netbios", "detect_udp", "NetBIOSAnalyzer",
             frozenset({137})),
    # (first: any leap bits, version 1-4, mode 1-5)
    Detector("NTP",        "udp", "netwatch.dpi.ntp",     "detect_udp", "NTPAnalyzer",
             frozenset({123}),
             first=frozenset(b for b in range(256) if 1 <= b >> 3 & 7 <= 4 and 1 <= b & 7 <= 5)),
)
# fmt: on
