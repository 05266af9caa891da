"""Detector rows: mail, file transfer and remote login (SMTP, IMAP, POP3, FTP, Telnet, RDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
The specific content checks come first; the last two rows accept any ``220`` greeting (a
banner that names neither SMTP nor FTP) and only win where their port hints: SMTP on 25,
FTP on 21, since the greeting alone cannot tell the two apart.
"""

from __future__ import annotations

from netwatch.dpi.registry_types import ALNUM, Detector

SMTP_PORTS = frozenset({25, 465, 587, 2525})
FTP_PORTS = frozenset({21, 2121})

# fmt: off
DETECTORS: tuple[Detector, ...] = (
    #        protocol  transport module                   content check   analyzer
    # (first: EHLO/HELO/LHLO in any case, or a 220 greeting)
    Detector("SMTP",   "tcp", "netwatch.dpi.smtp",   "detect_tcp", "SMTPAnalyzer", SMTP_PORTS,
             first=frozenset(b"EeHhLl2")),
    # (first: a 120 or 220 greeting, or AUTH TLS/SSL in any case)
    Detector("FTP",    "tcp", "netwatch.dpi.ftp",    "detect_tcp", "FTPAnalyzer", FTP_PORTS,
             ("server_port",), first=frozenset(b"12Aa")),
    # (first: "* OK" and the like, or a tag of letters, digits and dots)
    Detector("IMAP",   "tcp", "netwatch.dpi.imap",   "detect_tcp", "IMAPAnalyzer",
             frozenset({143}), first=ALNUM | frozenset(b"*.")),
    # (first: +OK, or CAPA/STLS/APOP in any case)
    Detector("POP3",   "tcp", "netwatch.dpi.pop3",   "detect_tcp", "POP3Analyzer",
             frozenset({110}), first=frozenset(b"+CcSsAa")),
    # (first: TPKT version 3)
    Detector("RDP",    "tcp", "netwatch.dpi.rdp",    "detect_tcp", "RDPAnalyzer",
             frozenset({3389}), first=frozenset({3})),
    # (first: IAC)
    Detector("Telnet", "tcp", "netwatch.dpi.telnet", "detect_tcp", "TelnetAnalyzer",
             frozenset({23}), first=frozenset({0xFF})),
    # A bare "220 ..." greeting: only the port can say which.
    # (first: FTP's greeting may follow a 120 line, SMTP's may not)
    Detector("FTP",    "tcp", "netwatch.dpi.ftp",    "detect_tcp_greeting", "FTPAnalyzer",
             FTP_PORTS, ("server_port",), first=frozenset(b"12")),
    Detector("SMTP",   "tcp", "netwatch.dpi.smtp",   "detect_tcp_greeting", "SMTPAnalyzer",
             SMTP_PORTS, first=frozenset(b"2")),
)
# fmt: on
