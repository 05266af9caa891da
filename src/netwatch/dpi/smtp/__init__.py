"""SMTP (RFC 5321) analyzer and the line/SASL helpers the other text protocols share."""

from netwatch.dpi.smtp.analyzer import PORTS, SMTPAnalyzer, detect_tcp, detect_tcp_greeting

__all__ = ["PORTS", "SMTPAnalyzer", "detect_tcp", "detect_tcp_greeting"]
