"""Detector rows: mail, file transfer and remote login (SMTP, IMAP, POP3, FTP, Telnet, RDP).

Appended to the core table by ``netwatch.dpi.registry``; same columns (see ``Detector``).
"""

from __future__ import annotations

from netwatch.dpi.registry_types import Detector

DETECTORS: tuple[Detector, ...] = ()
