"""Detector rows: mail, file transfer and remote login (SMTP, IMAP, POP3, FTP, Telnet, RDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
The specific content checks come first; the last two rows accept any ``220`` greeting (a
banner that names neither SMTP nor FTP) and only win where their port hints: SMTP on 25,
FTP on 21, since the greeting alone cannot tell the two apart.
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

SMTP_PORTS = frozenset({25, 465, 587, 2525})
FTP_PORTS = frozenset({21, 2121})

# fmt: off
DETECTORS: tuple[Detector, ...] = (
    #        protocol  transport module                   content check   analyzer
    Detector("SMTP",   "tcp", "netwatch.dpi.smtp",   "detect_tcp", "SMTPAnalyzer", SMTP_PORTS),
    Detector("FTP",    "tcp", "netwatch.dpi.ftp",    "detect_tcp", "FTPAnalyzer", FTP_PORTS,
             ("server_port",)),
    Detector("IMAP",   "tcp", "netwatch.dpi.imap",   "detect_tcp", "IMAPAnalyzer",
             frozenset({143})),
    Detector("POP3",   "tcp", "netwatch.dpi.pop3",   "detect_tcp", "POP3Analyzer",
             frozenset({110})),
    Detector("RDP",    "tcp", "netwatch.dpi.rdp",    "detect_tcp", "RDPAnalyzer",
             frozenset({3389})),
    Detector("Telnet", "tcp", "netwatch.dpi.telnet", "detect_tcp", "TelnetAnalyzer",
             frozenset({23})),
    # A bare "220 ..." greeting: only the port can say which.
    Detector("FTP",    "tcp", "netwatch.dpi.ftp",    "detect_tcp_greeting", "FTPAnalyzer",
             FTP_PORTS, ("server_port",)),
    Detector("SMTP",   "tcp", "netwatch.dpi.smtp",   "detect_tcp_greeting", "SMTPAnalyzer",
             SMTP_PORTS),
)
# fmt: on
