"""SIP analyzer (UDP and TCP) with SDP media linking."""

from netwatch.dpi.sip.analyzer import CALL_TRANSITIONS, SIPAnalyzer, detect_tcp, detect_udp
from netwatch.dpi.sip.message import Message, StreamFramer, parse_datagram
from netwatch.dpi.sip.sdp import Media, parse_sdp

__all__ = [
    "CALL_TRANSITIONS",
    "Media",
    "Message",
    "SIPAnalyzer",
    "StreamFramer",
    "detect_tcp",
    "detect_udp",
    "parse_datagram",
    "parse_sdp",
]
