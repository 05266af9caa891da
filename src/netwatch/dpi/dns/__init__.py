"""DNS, mDNS and LLMNR: message parsing (:mod:`.wire`), record data (:mod:`.rdata`) and
the per-flow analyzer (:mod:`.analyzer`)."""

from netwatch.dpi.dns.analyzer import PORT_VARIANTS, DNSAnalyzer, detect_tcp, detect_udp
from netwatch.dpi.dns.wire import Message, parse_message

__all__ = [
    "PORT_VARIANTS",
    "DNSAnalyzer",
    "Message",
    "detect_tcp",
    "detect_udp",
    "parse_message",
]
