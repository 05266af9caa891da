"""``buffered``: the bytes an analyzer holds for a message waiting for its rest.

The engine bounds the sum over all flows (``tests/unit/flows/test_analyzer_buffers.py``);
here each analyzer with buffers of its own is fed the first part of a message it must
keep, then the rest, and says what it holds after each step.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from netwatch.dpi import mqtt, postgres, registry
from netwatch.dpi.base import Analyzer, Dir
from netwatch.dpi.bittorrent import BitTorrentAnalyzer
from netwatch.dpi.ftp import FTPAnalyzer
from netwatch.dpi.imap import IMAPAnalyzer
from netwatch.dpi.mqtt import MQTTAnalyzer
from netwatch.dpi.mysql import MySQLAnalyzer
from netwatch.dpi.openvpn import OpenVPNAnalyzer
from netwatch.dpi.pop3 import POP3Analyzer
from netwatch.dpi.postgres import PostgresAnalyzer
from netwatch.dpi.rdp import RDPAnalyzer
from netwatch.dpi.redis import RedisAnalyzer
from netwatch.dpi.sip import SIPAnalyzer
from netwatch.dpi.smtp import SMTPAnalyzer
from netwatch.dpi.stun import STUNAnalyzer
from netwatch.dpi.telnet import TelnetAnalyzer

C, S = Dir.CLIENT, Dir.SERVER


@dataclass(frozen=True)
class Step:
    """Feed ``data`` to ``direction``; then ``low <= buffered <= high``."""

    direction: Dir
    data: bytes
    low: int
    high: int


def held(direction: Dir, data: bytes, n: int) -> Step:
    return Step(direction, data, n, n)


def between(direction: Dir, data: bytes, low: int, high: int) -> Step:
    return Step(direction, data, low, high)


def split(direction: Dir, message: bytes, at: int, after: int = 0) -> list[Step]:
    """The first ``at`` bytes (all held), then the rest (``after`` held)."""
    return [held(direction, message[:at], at), held(direction, message[at:], after)]


def u32(n: int) -> bytes:
    return struct.pack("!I", n)


# -- messages --------------------------------------------------------------------------

PG_PARAMS = b"user\x00alice\x00database\x00shop\x00\x00"
PG_STARTUP = u32(8 + len(PG_PARAMS)) + u32(postgres.CODE_V3) + PG_PARAMS
PG_AUTH_OK = b"R" + u32(8) + u32(0)
PG_BIG_QUERY_LEN = 100_000  # above MAX_KEEP: its start is kept, the rest skipped
PG_BIG_QUERY = b"Q" + u32(PG_BIG_QUERY_LEN) + b"SELECT " + b"x" * (PG_BIG_QUERY_LEN - 12) + b"\0"


def mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


MYSQL_REFUSED = mysql_packet(0, b"\xff" + (1130).to_bytes(2, "little") + b"Host not allowed")


def mqtt_packet(first: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        length.append(digit | (0x80 if n else 0))
        if not n:
            return bytes([first]) + bytes(length) + body


def mqtt_string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


MQTT_CONNECT = mqtt_packet(0x10, mqtt_string(b"MQTT") + b"\x04\x02\x00\x3c" + mqtt_string(b"c1"))
MQTT_CONNACK = mqtt_packet(0x20, b"\x00\x00")
MQTT_BIG_PUBLISH = mqtt_packet(0x30, mqtt_string(b"big/topic") + b"p" * 100_000)
MQTT_BIG_HEAD = len(MQTT_BIG_PUBLISH) - 100_000 - len(mqtt_string(b"big/topic"))

SIP_HEAD = (
    b"OPTIONS sip:bob@198.18.0.2 SIP/2.0\r\nCall-ID: b1\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\n"
)

STUN_BINDING = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + b"t" * 12

RDP_REQUEST = (
    b"\x03\x00\x00\x13"  # TPKT, 19 bytes
    b"\x0e\xe0\x00\x00\x00\x00\x00"  # X.224 Connection Request
    b"\x01\x00\x08\x00\x03\x00\x00\x00"  # RDP_NEG_REQ: TLS | CredSSP
)

BT_HANDSHAKE = (
    b"\x13BitTorrent protocol" + b"\x00" * 5 + b"\x10\x00\x00" + b"h" * 20 + b"-qB4500-" + b"p" * 12
)
BT_EXTENDED = b"\x14\x00" + b"d1:md11:ut_metadatai3ee1:pi6881e1:v6:cliente"
BT_EXTENDED_MSG = u32(len(BT_EXTENDED)) + BT_EXTENDED


def ovpn_tcp(pkt: bytes) -> bytes:
    return struct.pack("!H", len(pkt)) + pkt


OVPN_CLIENT_SID, OVPN_SERVER_SID = b"c" * 8, b"s" * 8
OVPN_CLIENT_RESET = ovpn_tcp(b"\x38" + OVPN_CLIENT_SID + b"\x00" + u32(0))
# acks one message and echoes the client's session id at offset 14: no wrapping
OVPN_SERVER_RESET = ovpn_tcp(
    b"\x40" + OVPN_SERVER_SID + b"\x01" + u32(0) + OVPN_CLIENT_SID + u32(0)
)


def ovpn_control(msg_id: int, payload: bytes) -> bytes:
    return ovpn_tcp(b"\x20" + OVPN_CLIENT_SID + b"\x00" + u32(msg_id) + payload)


OVPN_PAYLOAD_1 = b"\x16\x03\x01\x00\x30" + b"\x01" * 20
OVPN_PAYLOAD_2 = b"\x01" * 28


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable[[], Analyzer]
    steps: list[Step]


CASES = [
    Case(
        "postgres",
        PostgresAnalyzer,
        [
            held(C, PG_STARTUP[:10], 10),
            held(S, PG_AUTH_OK[:6], 16),
            held(C, PG_STARTUP[10:], 6),
            held(S, PG_AUTH_OK[6:], 0),
            # a long query waits until its start can be shown, then the rest is skipped
            held(C, PG_BIG_QUERY[:1005], 1005),
            held(C, PG_BIG_QUERY[1005:30_000], 0),
            held(C, PG_BIG_QUERY[30_000:], 0),
        ],
    ),
    Case("mysql", MySQLAnalyzer, split(S, MYSQL_REFUSED, 9)),
    Case(
        "mqtt",
        MQTTAnalyzer,
        [
            *split(C, MQTT_CONNECT, 7),
            *split(S, MQTT_CONNACK, 3),
            # a big PUBLISH: held up to its first MAX_HEADER bytes, then skipped
            held(C, MQTT_BIG_PUBLISH[:1000], 1000),
            between(C, MQTT_BIG_PUBLISH[1000:60_000], 59_000, MQTT_BIG_HEAD + mqtt.MAX_HEADER),
            held(C, MQTT_BIG_PUBLISH[60_000:80_000], 0),
            held(C, MQTT_BIG_PUBLISH[80_000:], 0),
        ],
    ),
    Case(
        "redis",
        RedisAnalyzer,
        [
            # "GET" is kept while "ke" waits for the rest of its bulk string
            held(C, b"*2\r\n$3\r\nGET\r\n$3\r\nke", 5),
            held(C, b"y\r\n", 0),
            held(C, b"PING", 4),  # an inline command without its line end
            held(C, b"\r\n", 0),
            held(S, b"$5\r\nhel", 3),
            held(S, b"lo\r\n+PONG\r\n", 0),
        ],
    ),
    Case(
        "smtp",
        SMTPAnalyzer,
        [
            *split(S, b"220 mail.example.com ESMTP\r\n", 26),
            held(C, b"EHLO client.example.com\r\nMAIL FROM:<a@exa", 16),
            held(C, b"mple.com>\r\n", 0),
            # a multi-line reply: its lines are kept until the last one
            held(S, b"250-mail.example.com\r\n250-PIPELINING\r\n250-SI", 40),
            held(S, b"ZE 1000\r\n250 OK\r\n", 0),
        ],
    ),
    Case(
        "imap",
        IMAPAnalyzer,
        [
            *split(S, b"* OK IMAP4rev1 ready\r\n", 20),
            # a literal: the line's start waits for the literal and the line's end
            between(C, b"a1 LOGIN {5}\r\n", len(b"a1 LOGIN "), len(b"a1 LOGIN {5}")),
            between(C, b"ali", len(b"a1 LOGIN ") + 3, len(b"a1 LOGIN {5}") + 3),
            between(C, b"ce", len(b'a1 LOGIN "alice"'), len(b'a1 LOGIN {5}"alice"')),
            held(C, b" secret\r\n", 0),
        ],
    ),
    Case(
        "pop3",
        POP3Analyzer,
        [*split(S, b"+OK POP3 ready\r\n", 14), *split(C, b"USER alice\r\n", 5)],
    ),
    Case(
        "ftp",
        FTPAnalyzer,
        [
            held(S, b"220-Welcome\r\n220-line two\r\n220 re", len(b"220-Welcome220-line two") + 6),
            held(S, b"ady\r\n", 0),
            *split(C, b"USER anonymous\r\n", 9),
        ],
    ),
    Case(
        "sip", lambda: SIPAnalyzer(transport="tcp"), split(C, SIP_HEAD + b"ping", len(SIP_HEAD) + 2)
    ),
    Case("stun", lambda: STUNAnalyzer(transport="tcp"), split(C, STUN_BINDING, 10)),
    Case(
        "telnet",
        TelnetAnalyzer,
        [
            # IAC SB TTYPE IS "xterm": held until IAC SE
            held(C, b"\xff\xfa\x18\x00xterm", 7),
            held(C, b"\xff\xf0", 0),
            held(S, b"Welcome\r\nlogin: ", len(b"login: ")),
            held(S, b"\r\n", 0),
        ],
    ),
    Case(
        "bittorrent",
        BitTorrentAnalyzer,
        [
            *split(C, BT_HANDSHAKE, 30),
            *split(C, BT_EXTENDED_MSG, 20),
            # the handshake is read at once; the message after it waits
            held(S, (BT_HANDSHAKE + BT_EXTENDED_MSG)[:80], 80 - len(BT_HANDSHAKE)),
            held(S, (BT_HANDSHAKE + BT_EXTENDED_MSG)[80:], 0),
        ],
    ),
    Case(
        "openvpn",
        lambda: OpenVPNAnalyzer(transport="tcp"),
        [
            *split(C, OVPN_CLIENT_RESET, 6),
            *split(S, OVPN_SERVER_RESET, 20),
            # a control message ahead of its predecessor waits for it
            held(C, ovpn_control(2, OVPN_PAYLOAD_2), len(OVPN_PAYLOAD_2)),
            held(C, ovpn_control(1, OVPN_PAYLOAD_1), 0),
        ],
    ),
    Case("rdp", RDPAnalyzer, split(C, RDP_REQUEST, 11)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_buffered_counts_what_waits_for_its_rest(case: Case) -> None:
    a = case.factory()
    assert a.buffered == 0
    for i, step in enumerate(case.steps):
        a.feed(step.direction, step.data, float(i))
        assert step.low <= a.buffered <= step.high, (i, a.buffered)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_buffered_byte_at_a_time_stays_within_what_was_fed(case: Case) -> None:
    """Fed one byte at a time, an analyzer never holds more than it was given, and ends
    holding what it held when fed in steps."""
    a = case.factory()
    fed = 0
    for step in case.steps:
        for k in range(len(step.data)):
            a.feed(step.direction, step.data[k : k + 1], 0.0)
            fed += 1
            assert 0 <= a.buffered <= fed
    assert case.steps[-1].low <= a.buffered <= case.steps[-1].high


def test_gap_drops_a_line_buffer() -> None:
    a = SMTPAnalyzer()
    a.feed(S, b"220 mail.example.com", 0.0)
    assert a.buffered == 20
    a.gap(S, 100)
    assert a.buffered == 0


def test_every_registered_analyzer_has_buffered() -> None:
    for det in registry.DETECTORS:
        port = min(det.ports) if det.ports else 0
        a = registry.create(det.protocol, det.transport, port)
        assert a is not None, det
        held_now = a.buffered
        assert isinstance(held_now, int) and held_now >= 0, det


# -- TLS and QUIC ----------------------------------------------------------------------


def test_tls_holds_a_partial_record_then_nothing() -> None:
    from netwatch.dpi.tls.analyzer import TLSAnalyzer
    from tests.unit.dpi.test_tls_malformed import CLIENT13

    record_len = 5 + int.from_bytes(CLIENT13[3:5], "big")
    assert record_len > 300
    a = TLSAnalyzer(443)
    a.feed(C, CLIENT13[:300], 0.0)
    assert a.buffered == 300  # a record waiting for its rest
    a.feed(C, CLIENT13[300:record_len], 0.0)
    assert a.buffered == 0 and a.client_hello is not None


def test_tls_holds_a_handshake_message_spread_over_records() -> None:
    """A ClientHello cut over two records: the first record's fragment waits in the
    handshake assembler once the record is complete."""
    from netwatch.dpi.tls.analyzer import TLSAnalyzer
    from tests.unit.dpi.test_tls_malformed import CLIENT13, _messages

    (msg_type, body), *_ = _messages(CLIENT13)
    message = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    first, second = message[:200], message[200:]
    rec = b"".join(b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p for p in (first, second))
    a = TLSAnalyzer(443)
    a.feed(C, rec[: 5 + len(first)], 0.0)
    assert a.buffered == 200
    a.feed(C, rec[5 + len(first) :], 0.0)
    assert a.buffered == 0 and a.client_hello is not None


def test_quic_holds_crypto_data_until_the_handshake_is_over() -> None:
    from netwatch.dpi.quic.analyzer import QUICAnalyzer
    from tests.util.quic import handshake, self_signed

    datagrams = handshake("held.example", self_signed("held.example"))
    a = QUICAnalyzer()
    seen_held = 0
    for i, (d, payload) in enumerate(datagrams):
        a.feed(Dir(d), payload, float(i))
        assert 0 <= a.buffered <= 2 * 64 * 1024
        seen_held = max(seen_held, a.buffered)
    assert seen_held > 200  # at least the ClientHello was held on the way
    assert a.record()["sni"] == "held.example" and a.buffered == 0


# -- HTTP, SSH, DNS over TCP ------------------------------------------------------------

HTTP_REQUEST = b"GET /index.html HTTP/1.1\r\nHost: held.example\r\nUser-Agent: t\r\n\r\n"
HTTP_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
SSH_CLIENT = b"SSH-2.0-OpenSSH_9.6\r\n"
SSH_SERVER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"
DNS_QUERY = (
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x04held\x07example\x00\x00\x01\x00\x01"
)


def _h2_frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + u32(stream) + payload


def test_http_holds_an_unfinished_head_then_nothing() -> None:
    from netwatch.dpi.http.analyzer import HTTPAnalyzer

    a = HTTPAnalyzer()
    a.feed(C, HTTP_REQUEST[:30], 0.0)
    assert a.buffered == 30
    a.feed(C, HTTP_REQUEST[30:], 0.0)
    assert a.buffered == 0
    a.feed(S, HTTP_RESPONSE[:20], 0.0)
    assert a.buffered == 20
    a.feed(S, HTTP_RESPONSE[20:], 0.0)
    assert a.buffered == 0 and a.record()["requests"][0]["status"] == 200


def test_http2_holds_an_unfinished_frame_header_and_header_block() -> None:
    """HTTP/2: a frame header waiting for its ninth byte, and a HEADERS frame waiting for
    its payload, are held; other frames' payloads stream past unheld."""
    from netwatch.dpi.http.analyzer import HTTPAnalyzer
    from netwatch.dpi.http.h2 import PREFACE

    settings = _h2_frame(4, 0, 0, b"")
    ping = _h2_frame(6, 0, 0, bytes(8))
    headers = _h2_frame(1, 0x5, 1, bytes([0x82, 0x84, 0x86]))  # GET / http, END_HEADERS
    a = HTTPAnalyzer(start="h2")
    a.feed(C, PREFACE + settings + ping[:5], 0.0)
    assert a.buffered == 5
    a.feed(C, ping[5:12], 0.0)
    assert a.buffered == 0  # (a PING's payload is skipped as it comes)
    a.feed(C, ping[12:] + headers[:10], 0.0)
    assert a.buffered == 10
    a.feed(C, headers[10:], 0.0)
    assert a.buffered == 0 and a.record()["requests"][0]["method"] == "GET"


def test_ssh_holds_a_banner_line_then_a_packet_waiting_for_its_rest() -> None:
    from netwatch.dpi.ssh import SSHAnalyzer

    a = SSHAnalyzer()
    a.feed(C, SSH_CLIENT[:10], 0.0)
    assert a.buffered == 10
    a.feed(C, SSH_CLIENT[10:], 0.0)
    a.feed(S, SSH_SERVER, 0.0)
    assert a.buffered == 0
    packet = u32(300) + bytes([4]) + bytes(299)  # a binary packet: 300 bytes after its length
    a.feed(C, packet[:100], 0.0)
    assert a.buffered == 100
    a.feed(C, packet[100:], 0.0)
    assert a.buffered == 0


def test_dns_over_tcp_holds_a_message_waiting_for_its_rest() -> None:
    from netwatch.dpi.dns.analyzer import DNSAnalyzer

    framed = len(DNS_QUERY).to_bytes(2, "big") + DNS_QUERY
    a = DNSAnalyzer(transport="tcp")
    a.feed(C, framed[:10], 0.0)
    assert a.buffered == 10
    a.feed(C, framed[10:], 0.0)
    assert a.buffered == 0 and a.record()["queries"][0]["qname"] == "held.example"
