"""The TLS analyzer: the cleartext part of a handshake (RFC 8446 §2, RFC 5246 §7.3).

Fed each direction's reassembled TCP stream, it follows records and handshake messages
until the rest is ciphertext, then reports ``finished`` so the engine detaches::

    client                               server
    ClientHello          ------->                      every version
                         <-------  ServerHello         TLS 1.3: finished here
                                   (HelloRetryRequest: wait for the second ServerHello)
                                   Certificate*        TLS <= 1.2 only
                                   ... ServerHelloDone
    ClientKeyExchange, [CCS], Finished  ------->       client side now encrypted
                         <-------  [CCS] Finished      TLS <= 1.2: finished here
    ApplicationData      <------>  ApplicationData     finished at the latest here

A lost segment before the handshake is over, or a record that breaks the framing, raises
:class:`MalformedError`; whatever was learnt stays in :meth:`TLSAnalyzer.record`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.tls.certs import CertInfo, parse_certificate_message
from netwatch.dpi.tls.ciphers import cipher_name
from netwatch.dpi.tls.fingerprints import client_fingerprints, server_fingerprint
from netwatch.dpi.tls.hello import (
    ClientHello,
    ServerHello,
    parse_client_hello,
    parse_server_hello,
)
from netwatch.dpi.tls.record import (
    ALERT_DESCRIPTIONS,
    ALERT_FATAL,
    CONTENT_TYPES,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    HT_CERTIFICATE,
    HT_CERTIFICATE_REQUEST,
    HT_CLIENT_HELLO,
    HT_SERVER_HELLO,
    HT_SERVER_HELLO_DONE,
    HT_SERVER_KEY_EXCHANGE,
    MAX_RECORD,
    HandshakeAssembler,
    RecordSplitter,
    is_tls13,
    version_name,
)
from netwatch.dpi.tls.sslv2 import (
    is_sslv2_client_hello,
    parse_sslv2_client_hello,
    sslv2_record_length,
)
from netwatch.errors import MalformedError

EXT_EARLY_DATA = 0x002A
#: Server messages that only a full (not resumed) TLS <= 1.2 handshake sends.
_FULL_HANDSHAKE_ONLY = frozenset(
    (HT_CERTIFICATE, HT_SERVER_KEY_EXCHANGE, HT_CERTIFICATE_REQUEST, HT_SERVER_HELLO_DONE)
)

#: What a TLS service is called in the UI, by selected (or first offered) ALPN id.
ALPN_SERVICES: dict[str, str] = {
    "http/0.9": "HTTPS",
    "http/1.0": "HTTPS",
    "http/1.1": "HTTPS",
    "h2": "HTTPS",
    "h2c": "HTTPS",
    "spdy/1": "HTTPS",
    "spdy/2": "HTTPS",
    "spdy/3": "HTTPS",
    "spdy/3.1": "HTTPS",
    "dot": "DoT",
    "imap": "IMAPS",
    "pop3": "POP3S",
    "ftp": "FTPS",
    "xmpp-client": "XMPPS",
    "xmpp-server": "XMPPS",
    "mqtt": "MQTTS",
    "ldap": "LDAPS",
}

#: The same by the server's port, when ALPN says nothing (STARTTLS ports included:
#: after the hand-over the session is that protocol over TLS).
PORT_SERVICES: dict[int, str] = {
    443: "HTTPS",
    8443: "HTTPS",
    21: "FTPS",
    25: "SMTPS",
    110: "POP3S",
    143: "IMAPS",
    389: "LDAPS",
    587: "SMTPS",
    5222: "XMPPS",
    465: "SMTPS",
    563: "NNTPS",
    636: "LDAPS",
    853: "DoT",
    989: "FTPS",
    990: "FTPS",
    993: "IMAPS",
    995: "POP3S",
    5061: "SIPS",
    5223: "XMPPS",
    8883: "MQTTS",
}


@dataclass(frozen=True, slots=True)
class ClientHelloSeen(AppEvent):
    hello: ClientHello


@dataclass(frozen=True, slots=True)
class ServerHelloSeen(AppEvent):
    hello: ServerHello


@dataclass(frozen=True, slots=True)
class HelloRetryRequestSeen(AppEvent):
    hello: ServerHello


@dataclass(frozen=True, slots=True)
class AlertSeen(AppEvent):
    """A cleartext alert; ``name`` from the IANA table (``handshake_failure``)."""

    from_server: bool
    level: int
    description: int
    name: str


@dataclass(frozen=True, slots=True)
class CertificatesSeen(AppEvent):
    certs: tuple[CertInfo, ...]
    #: certificates whose DER did not parse
    skipped: int = 0


# Reading an enum member through its class costs ~0.1 us in Python 3.11 (a descriptor
# call): the per-flow paths use this alias.
_SERVER = Dir.SERVER


def detect_tcp(data: bytes) -> bool:
    """True when a flow's first client bytes look like a TLS ClientHello record.

    Handshake record (0x16), version 3.0-3.4, a plausible length, message type 1; or an
    SSL 2.0-compatible CLIENT-HELLO offering SSL 3.0 or TLS.
    """
    if data[:1] and data[0] & 0x80:
        return is_sslv2_client_hello(data) and data[3] == 3
    return (
        len(data) >= 6
        and data[0] == CT_HANDSHAKE
        and data[1] == 3
        and data[2] <= 4
        and 4 <= ((data[3] << 8) | data[4]) <= 2**14
        and data[5] == HT_CLIENT_HELLO
    )


def detect_tcp_midstream(data: bytes) -> bool:
    """True when bytes look like TLS records picked up mid-connection (no ClientHello).

    Each complete record header in ``data`` must be valid (content type 20-24, version
    3.0-3.4, length at most 2^14 + 2048) and at least one header must be seen. For flows
    whose start the capture missed: the analyzer then finishes at once (ciphertext), but
    the row is known to be TLS. Weaker than :func:`detect_tcp`; try it last.
    """
    pos = 0
    while len(data) - pos >= 5:
        if not (
            data[pos] in CONTENT_TYPES
            and data[pos + 1] == 3
            and data[pos + 2] <= 4
            and ((data[pos + 3] << 8) | data[pos + 4]) <= MAX_RECORD
        ):
            return False
        pos += 5 + ((data[pos + 3] << 8) | data[pos + 4])
    return pos > 0


def _alpn_text(value: str | bytes) -> str:
    """ALPN ids for JSON: printable ones as text, binary ones as ``0x`` + hex."""
    return value if isinstance(value, str) else "0x" + value.hex()


class _Side:
    """Per-direction parsing state."""

    __slots__ = ("encrypted", "fresh", "handshake", "records", "sslv2")

    def __init__(self) -> None:
        self.records = RecordSplitter()
        self.handshake = HandshakeAssembler()
        self.encrypted = False  # past this side's ChangeCipherSpec / the cleartext part
        self.fresh = True  # no byte seen yet
        self.sslv2: bytearray | None = None  # collecting an SSL 2.0-format first record


class TLSAnalyzer(AnalyzerBase):
    """One TLS connection over TCP; see the module docstring for the state machine."""

    protocol = "TLS"

    def __init__(self, server_port: int | None = None) -> None:
        self.server_port = server_port
        self._sides = (_Side(), _Side())
        self._finished = False
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.hello_retry: ServerHello | None = None
        self.certs: tuple[CertInfo, ...] = ()
        self.certs_skipped = 0
        self._server_dir = _SERVER
        self._full_handshake = False  # the server sent a Certificate or key exchange
        self._abbreviated = False
        self._ja3: str | None = None
        self._ja4: str | None = None
        self._ja3s: str | None = None

    # -- the Analyzer protocol ---------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes of records and handshake messages waiting for their rest, both sides."""
        n = 0
        for side in self._sides:
            n += side.records.buffered + side.handshake.buffered
            if side.sslv2 is not None:
                n += len(side.sslv2)
        return n

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._finished or not data:
            return ()
        side = self._sides[direction]
        if side.encrypted:
            return ()
        events: list[AppEvent] = []
        if side.fresh:
            side.fresh = False
            if data[0] & 0x80:  # no TLS content type has the top bit: an SSL 2.0 header
                side.sslv2 = bytearray()
        if side.sslv2 is not None:
            data = self._sslv2(direction, side, data, ts, events)
            if not data:
                return events
        side.records.push(data)
        while not self._finished and not side.encrypted:
            record = side.records.pull()
            if record is None:
                break
            ctype, fragment = record
            if ctype == CT_HANDSHAKE:
                self._handshake(direction, side, fragment, ts, events)
            elif ctype == CT_CHANGE_CIPHER_SPEC:
                self._change_cipher_spec(direction, side)
            elif ctype == CT_APPLICATION_DATA:
                self._application_data(direction, side)
            elif ctype == CT_ALERT:
                self._alert(direction, fragment, ts, events)
            # Heartbeats carry nothing we keep.
        return events

    def gap(self, direction: Dir, length: int) -> None:
        if self._finished or self._sides[direction].encrypted:
            return  # lost ciphertext: nothing to learn from it anyway
        raise MalformedError("TLS", f"gap of {length} bytes in the cleartext handshake")

    def record(self) -> dict[str, Any]:
        ch, sh = self.client_hello, self.server_hello
        return {
            "sni": ch.sni if ch else None,
            "alpn_offered": [_alpn_text(a) for a in ch.alpn] if ch else [],
            "alpn": _alpn_text(sh.alpn) if sh and sh.alpn is not None else None,
            "version": version_name(sh.version) if sh else None,
            "cipher": cipher_name(sh.cipher_suite) if sh else None,
            "ja3": self._ja3,
            "ja3s": self._ja3s,
            "ja4": self._ja4,
            "ech": ch.ech_offered if ch else False,
            "certs": [c.as_dict() for c in self.certs] if self.certs else [],
            "client_version": version_name(ch.legacy_version) if ch else None,
            "resumed": self.resumed,
        }

    def summary(self) -> str:
        service = self.service
        sni = self.client_hello.sni if self.client_hello else None
        return f"{service} ({sni})" if sni else service

    # -- derived facts -----------------------------------------------------------------

    @property
    def resumed(self) -> bool:
        """TLS 1.3: the server accepted a PSK. TLS <= 1.2: an abbreviated handshake."""
        sh, ch = self.server_hello, self.client_hello
        if sh is None:
            return False
        if is_tls13(sh.version):
            return sh.psk_selected
        echoed = bool(sh.session_id) and ch is not None and sh.session_id == ch.session_id
        return echoed or self._abbreviated

    @property
    def service(self) -> str:
        """``HTTPS``, ``IMAPS``, ... from ALPN, then the server port; else ``TLS``."""
        sh, ch = self.server_hello, self.client_hello
        if sh is not None and isinstance(sh.alpn, str) and sh.alpn in ALPN_SERVICES:
            return ALPN_SERVICES[sh.alpn]
        if self.server_port in PORT_SERVICES:
            return PORT_SERVICES[self.server_port]
        if ch is not None and ch.alpn and isinstance(ch.alpn[0], str):
            return ALPN_SERVICES.get(ch.alpn[0], "TLS")
        return "TLS"

    # -- record handlers ---------------------------------------------------------------

    def _sslv2(
        self, direction: Dir, side: _Side, data: bytes, ts: float, events: list[AppEvent]
    ) -> bytes:
        """Collect the SSL 2.0-format first record; return the bytes after it."""
        buf = side.sslv2
        if buf is None:
            return data
        buf += data
        size = sslv2_record_length(buf)
        if size is None or len(buf) < size:
            return b""
        record, rest = bytes(buf[:size]), bytes(buf[size:])
        side.sslv2 = None
        if direction != Dir.CLIENT or not is_sslv2_client_hello(record):
            self._finished = True  # an SSL 2.0 server (or garbage): nothing for us
            return b""
        hello = parse_sslv2_client_hello(record)
        self.client_hello = hello
        self._ja3, self._ja4 = client_fingerprints(hello, "t")
        events.append(ClientHelloSeen(ts, hello))
        return rest

    def _handshake(
        self, direction: Dir, side: _Side, fragment: bytes, ts: float, events: list[AppEvent]
    ) -> None:
        side.handshake.push(fragment)
        while not self._finished and not side.encrypted:
            msg = side.handshake.pull()
            if msg is None:
                return
            msg_type, body = msg
            if msg_type == HT_CLIENT_HELLO:
                self._on_client_hello(body, ts, events)
            elif msg_type == HT_SERVER_HELLO:
                self._on_server_hello(direction, body, ts, events)
            elif direction == self._server_dir:
                if msg_type in _FULL_HANDSHAKE_ONLY:
                    self._full_handshake = True
                if msg_type == HT_CERTIFICATE:
                    self._on_certificate(body, ts, events)

    def _on_client_hello(self, body: bytes, ts: float, events: list[AppEvent]) -> None:
        hello = parse_client_hello(body)
        if self.client_hello is None:  # after a HelloRetryRequest, keep the first one
            self.client_hello = hello
            self._ja3, self._ja4 = client_fingerprints(hello, "t")
        events.append(ClientHelloSeen(ts, hello))

    def _on_server_hello(
        self, direction: Dir, body: bytes, ts: float, events: list[AppEvent]
    ) -> None:
        hello = parse_server_hello(body)
        self._server_dir = direction
        if hello.is_hello_retry_request:
            self.hello_retry = hello
            events.append(HelloRetryRequestSeen(ts, hello))
            return
        self.server_hello = hello
        self._ja3s = server_fingerprint(hello)
        events.append(ServerHelloSeen(ts, hello))
        if is_tls13(hello.version):
            self._finished = True  # everything after the ServerHello is encrypted

    def _on_certificate(self, body: bytes, ts: float, events: list[AppEvent]) -> None:
        chain = parse_certificate_message(body)
        self.certs = chain.certs
        self.certs_skipped += chain.skipped
        events.append(CertificatesSeen(ts, chain.certs, chain.skipped))

    def _change_cipher_spec(self, direction: Dir, side: _Side) -> None:
        if self.server_hello is None:
            # Only TLS 1.3 sends one this early: the middlebox-compatibility CCS around a
            # HelloRetryRequest or 0-RTT (RFC 8446 §D.4). It changes nothing.
            return
        side.encrypted = True
        if direction == self._server_dir and self.server_hello is not None:
            self._abbreviated = not self._full_handshake
            self._finished = True

    def _alert(self, direction: Dir, fragment: bytes, ts: float, events: list[AppEvent]) -> None:
        if not fragment or len(fragment) % 2:
            raise MalformedError("TLS", f"alert: {len(fragment)} bytes is not level+description")
        for i in range(0, len(fragment), 2):
            level, desc = fragment[i], fragment[i + 1]
            name = ALERT_DESCRIPTIONS.get(desc, f"alert_{desc}")
            events.append(AlertSeen(ts, direction == self._server_dir, level, desc, name))
            if level == ALERT_FATAL or desc == 0:  # fatal, or close_notify: the end
                self._finished = True
                return

    def _application_data(self, direction: Dir, side: _Side) -> None:
        ch = self.client_hello
        early = (
            direction != self._server_dir
            and self.server_hello is None
            and ch is not None
            and any(t == EXT_EARLY_DATA for t in ch.extension_types)
        )
        if early:
            side.encrypted = True  # TLS 1.3 0-RTT data: wait for the ServerHello
        else:
            self._finished = True


__all__ = [
    "ALPN_SERVICES",
    "PORT_SERVICES",
    "AlertSeen",
    "CertificatesSeen",
    "ClientHelloSeen",
    "HelloRetryRequestSeen",
    "ServerHelloSeen",
    "TLSAnalyzer",
    "detect_tcp",
    "detect_tcp_midstream",
]
