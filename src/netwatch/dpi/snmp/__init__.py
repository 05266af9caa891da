"""SNMP v1/v2c/v3 analyzer over a small bounded BER reader."""

from netwatch.dpi.snmp.analyzer import SNMPAnalyzer, detect_udp
from netwatch.dpi.snmp.ber import Reader, decode_oid

__all__ = ["Reader", "SNMPAnalyzer", "decode_oid", "detect_udp"]
