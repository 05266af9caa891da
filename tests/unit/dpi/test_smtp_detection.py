"""The mail group's detector rows inside the registry: each first payload reaches the
right analyzer, content first and ports only as a hint (a bare 220 greeting is the one
case the port decides), and hand-over targets are created by name."""

from __future__ import annotations

import pytest

from netwatch.dpi import registry
from netwatch.dpi.table_mail import DETECTORS
from tests.util.corpus import corpus_file
from tests.util.streams import flows_of

X224_CR = bytes.fromhex("030000130ee00000000000010008000b000000")


@pytest.mark.parametrize(
    ("data", "dport", "protocol"),
    [
        (b"220 mx.example ESMTP Postfix\r\n", 25, "SMTP"),
        (b"220 mx.example ESMTP Postfix\r\n", 10025, "SMTP"),  # by content
        (b"EHLO me\r\n", 2525, "SMTP"),
        (b"220 (vsFTPd 3.0.3)\r\n", 21, "FTP"),
        (b"220 (vsFTPd 3.0.3)\r\n", 60021, "FTP"),
        (b'220 "Authorized users only"\r\n', 21, "FTP"),  # a bare greeting: the port says
        (b'220 "Authorized users only"\r\n', 25, "SMTP"),
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", 10143, "IMAP"),
        (b"+OK POP3 ready\r\n", 10110, "POP3"),
        (b"\xff\xfd\x03\xff\xfb\x18", 2323, "Telnet"),
        (X224_CR, 13389, "RDP"),
        (b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 25, "TLS"),  # implicit TLS stays TLS
        (b"SSH-2.0-OpenSSH_9.7\r\n", 21, "SSH"),  # the core rows come first
    ],
)
def test_routing(data: bytes, dport: int, protocol: str) -> None:
    an = registry.detect("tcp", data, 40000, dport)
    assert an is not None and an.protocol == protocol


def test_a_bare_greeting_elsewhere_is_still_claimed_by_one_of_them() -> None:
    an = registry.detect("tcp", b"220 ready\r\n", 40000, 7000)
    assert an is not None and an.protocol in ("FTP", "SMTP")


@pytest.mark.parametrize("protocol", ["SMTP", "FTP", "IMAP", "POP3", "Telnet", "RDP"])
def test_create_by_name(protocol: str) -> None:
    an = registry.create(protocol, "tcp", 21)
    assert an is not None and an.protocol == protocol


def test_rows_are_in_the_registry_after_the_core() -> None:
    rows = registry.DETECTORS
    assert all(d in rows for d in DETECTORS)
    assert rows.index(DETECTORS[0]) > max(
        i for i, d in enumerate(rows) if d.module.startswith("netwatch.dpi.tls")
    )


@pytest.mark.parametrize(
    ("stem", "protocol"),
    [
        ("ndpi_smtp", "SMTP"),
        ("sv_smtp-bug-3616", "SMTP"),
        ("ndpi_imap", "IMAP"),
        ("sv_imap-detection", "IMAP"),
        ("ndpi_pop3", "POP3"),
        ("sv_pop3-auth-01", "POP3"),
        ("ndpi_ftp", "FTP"),
        ("ndpi_ftp-start-tls", "FTP"),
        ("ndpi_telnet", "Telnet"),
        ("ndpi_rdp", "RDP"),
        ("sv_rdp-003", "RDP"),
    ],
)
def test_corpus_first_payloads(stem: str, protocol: str) -> None:
    """Every TCP flow to the protocol's port in the capture is detected from its first
    payload, whichever side sent it (ports passed as the tracker passes them)."""
    flows = [f for f in flows_of(corpus_file(stem + ".pcap")) if f.transport == "tcp"]
    ports = {"SMTP": 25, "IMAP": 143, "POP3": 110, "FTP": 21, "Telnet": 23, "RDP": 3389}
    mine = [f for f in flows if f.server[1] == ports[protocol] and f.chunks]
    assert mine
    for f in mine:
        d, data, _ = f.chunks[0]
        sport, dport = (f.client[1], f.server[1]) if d == 0 else (f.server[1], f.client[1])
        an = registry.detect("tcp", data, sport, dport)
        assert an is not None and an.protocol == protocol, (f.client, data[:40])
