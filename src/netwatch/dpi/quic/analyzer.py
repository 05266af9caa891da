"""The QUIC analyzer: Initial decryption, ClientHello, connection state (RFC 9000, 9001).

What a passive observer can learn from a QUIC connection comes from its Initial packets,
whose keys derive from the client's first Destination Connection ID (RFC 9001 §5.2):
the ClientHello (SNI, ALPN, JA4, transport parameters), the ServerHello (selected
version and cipher) and CONNECTION_CLOSE frames of failed handshakes. Everything later
is opaque; packet forms still tell the stage:

===============  ==============================================================
state            entered when
===============  ==============================================================
QUIC_INITIAL     the first Initial packet
QUIC_HANDSHAKE   a Handshake packet, either way
QUIC_CONNECTED   short-header (1-RTT) packets seen both ways
QUIC_DRAINING    a CONNECTION_CLOSE from one endpoint
QUIC_CLOSED      CONNECTION_CLOSE from both endpoints
===============  ==============================================================

Followed on the way: Retry (the client's next Initial keys come from the Retry's SCID,
RFC 9001 §5.2), Version Negotiation (the client starts over in another version,
RFC 9000 §6) and compatible version negotiation (RFC 9368: the server answers a v1
Initial in v2; each packet is opened with its own version's salt and labels).

``finished`` turns true at QUIC_CONNECTED: nothing but packet sizes is visible after,
and a close inside 1-RTT packets is invisible, so the engine may detach then. In
QUIC_DRAINING the analyzer stays a few more datagrams to see the peer's close too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.quic import gquic, handshake
from netwatch.dpi.quic.crypto import InitialKeys, retry_integrity_ok
from netwatch.dpi.quic.frames import CloseFrame, CryptoFrame, error_name, parse_initial_frames
from netwatch.dpi.quic.packet import Packet, looks_like_long_header, split_datagram
from netwatch.dpi.quic.stream import CryptoStream
from netwatch.dpi.quic.versions import PacketType, QuicVersion, lookup, version_name
from netwatch.dpi.tls.hello import ClientHello, ServerHello
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"

INITIAL = "QUIC_INITIAL"
HANDSHAKE = "QUIC_HANDSHAKE"
CONNECTED = "QUIC_CONNECTED"
DRAINING = "QUIC_DRAINING"
CLOSED = "QUIC_CLOSED"

#: (state, event) -> next state. Events: ``handshake`` (a Handshake packet), ``one_rtt``
#: (short headers now seen both ways), ``close`` (first CONNECTION_CLOSE), ``close_both``.
TRANSITIONS: dict[tuple[str, str], str] = {
    (INITIAL, "handshake"): HANDSHAKE,
    (INITIAL, "one_rtt"): CONNECTED,
    (HANDSHAKE, "one_rtt"): CONNECTED,
    (INITIAL, "close"): DRAINING,
    (HANDSHAKE, "close"): DRAINING,
    (CONNECTED, "close"): DRAINING,
    (INITIAL, "close_both"): CLOSED,
    (HANDSHAKE, "close_both"): CLOSED,
    (CONNECTED, "close_both"): CLOSED,
    (DRAINING, "close_both"): CLOSED,
}

#: Seconds a closed connection lingers (RFC 9000 §10.2: three PTOs, unknowable here).
DRAINING_TIMEOUT = 3.0
#: Datagrams the analyzer waits in QUIC_DRAINING for the peer's close before detaching.
DRAINING_DATAGRAMS = 8
#: Give up (``finished``) after this many datagrams without reaching QUIC_CONNECTED.
MAX_DATAGRAMS = 200
#: Give up after this many datagrams when no Initial packet was ever seen (mid-flow start).
MAX_BLIND_DATAGRAMS = 16

# Enum members read through their class cost ~0.1 us each (Python 3.11 looks them up
# with a descriptor call); the per-packet paths compare with these aliases instead.
_CLIENT = Dir.CLIENT
_SERVER = Dir.SERVER
_INITIAL = PacketType.INITIAL
_HANDSHAKE = PacketType.HANDSHAKE
_RETRY = PacketType.RETRY
_ONE_RTT = PacketType.ONE_RTT
_VERSION_NEGOTIATION = PacketType.VERSION_NEGOTIATION
#: Packet types whose header says nothing of the server's version and SCID.
_UNVERSIONED = (PacketType.VERSION_NEGOTIATION, PacketType.UNKNOWN)


@dataclass(frozen=True, slots=True)
class QUICClientHelloSeen(AppEvent):
    version: str
    sni: str | None
    alpn: tuple[str, ...]
    ja4: str


@dataclass(frozen=True, slots=True)
class QUICConnectionClosed(AppEvent):
    by: str
    error_code: int
    error_name: str
    reason: str


def alpn_text(value: str | bytes) -> str:
    """ALPN ids as JSON text: printable ones as is, binary ones as ``0x`` + hex."""
    return value if isinstance(value, str) else "0x" + value.hex()


def detect_udp(data: bytes) -> bool:
    """Content check on a UDP payload: an IETF QUIC long header of a known version with
    the fixed bit set, or a Google QUIC client packet."""
    return looks_like_long_header(data) or gquic.detect(data)


class _Side:
    """Per-direction Initial packet state."""

    __slots__ = ("closed", "crypto", "hs_pos", "largest_pn", "released", "short_seen")

    def __init__(self) -> None:
        self.crypto = CryptoStream()
        self.hs_pos = 0  # next handshake message in ``crypto``
        self.largest_pn = -1
        self.short_seen = False
        self.closed = False
        self.released = False  # handshake over: CRYPTO data is no longer kept


class QUICAnalyzer(AnalyzerBase):
    """One instance per UDP flow; ``feed`` takes one datagram payload per call."""

    protocol = PROTOCOL

    def __init__(self) -> None:
        self._sides = (_Side(), _Side())
        self._state: str | None = None
        self._client_version: int | None = None
        self._server_version: int | None = None
        self._odcid: bytes | None = None
        self._key_dcid: bytes | None = None
        self._client_scid: bytes | None = None
        self._server_scid: bytes | None = None
        self._keys: dict[tuple[int, bytes], InitialKeys] = {}
        self._ch: ClientHello | None = None
        self._sh: ServerHello | None = None
        self._ja4: str | None = None
        self._ja3: str | None = None
        self._idle_ms = 0
        self._tp_error: str | None = None
        self._close: dict[str, Any] | None = None
        self._retry = False
        self._hrr = False
        self._vn_versions: tuple[int, ...] = ()
        self._gquic: gquic.GQuicInfo | None = None
        self._datagrams = 0
        self._draining_datagrams = 0
        self.ignored_bytes = 0

    # -- the Analyzer protocol ---------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        self._datagrams += 1
        if self._state == DRAINING:
            self._draining_datagrams += 1
        if self._gquic is not None or (self._state is None and gquic.detect(data)):
            return self._feed_gquic(direction, data)
        # Once the connection is known, a 0 fixed bit is no error: either endpoint may
        # grease it (RFC 9287) when its peer allows, and the server's consent is encrypted.
        packets, rest = split_datagram(data, grease_ok=self._state is not None)
        self.ignored_bytes += len(rest)
        events: list[AppEvent] = []
        for pkt in packets:
            self._on_packet(direction, pkt, ts, events)
        return events

    @property
    def buffered(self) -> int:
        """CRYPTO bytes held, both directions (up to the stream's limit each)."""
        return self._sides[0].crypto.held + self._sides[1].crypto.held

    @property
    def finished(self) -> bool:
        if self._gquic is not None:
            return self._gquic.sni is not None or self._datagrams >= MAX_BLIND_DATAGRAMS
        if self._state is None:
            return self._datagrams >= MAX_BLIND_DATAGRAMS
        if self._state == DRAINING:
            return self._draining_datagrams >= DRAINING_DATAGRAMS
        return self._state in (CONNECTED, CLOSED) or self._datagrams >= MAX_DATAGRAMS

    @property
    def app_state(self) -> str | None:
        return self._state

    @property
    def idle_timeout(self) -> float | None:
        if self._state in (DRAINING, CLOSED):
            return DRAINING_TIMEOUT
        return self._idle_ms / 1000.0 if self._idle_ms else None

    def record(self) -> dict[str, Any]:
        if self._gquic is not None:
            return self._gquic.record()
        ch = self._ch
        version = self._server_version or self._client_version
        client_version = self._client_version
        # Every key of record.blank_record(), in its order (the schema test checks both),
        # in one literal: filling a blank record through update() cost half as much again.
        return {
            "version": version_name(version) if version is not None else None,
            "client_version": (
                version_name(client_version)
                if client_version is not None and version != client_version
                else None
            ),
            "gquic": False,
            "sni": ch.sni if ch else None,
            "alpn_offered": [alpn_text(a) for a in ch.alpn] if ch else [],
            "user_agent": None,
            "ja4": self._ja4,
            "ja3": self._ja3,
            "dcid": self._odcid.hex() if self._odcid is not None else None,
            "scid": self._client_scid.hex() if self._client_scid is not None else None,
            "server_scid": self._server_scid.hex() if self._server_scid is not None else None,
            "state": self._state,
            "close_error": self._close,
            "retry": self._retry,
            "hello_retry": self._hrr,
            "version_negotiation": [version_name(v) for v in self._vn_versions],
            "tls_cipher": f"0x{self._sh.cipher_suite:04x}" if self._sh else None,
            "idle_timeout_ms": self._idle_ms or None,
            "transport_parameters_error": self._tp_error,
        }

    def summary(self) -> str:
        if self._gquic is not None:
            return self._gquic.summary()
        ch = self._ch
        name = "QUIC"
        if ch is not None and any(alpn_text(a).startswith("h3") for a in ch.alpn):
            name = "HTTP/3"
        return f"{name} ({ch.sni})" if ch is not None and ch.sni else name

    # -- packets -----------------------------------------------------------------------

    def _advance(self, event: str) -> None:
        if self._state is not None:
            self._state = TRANSITIONS.get((self._state, event), self._state)
            if self._state in (CONNECTED, CLOSED):
                # The engine may keep a finished analyzer for its record: drop the keys
                # and CRYPTO buffers (a few KB per flow); later Initials re-derive keys.
                self._keys.clear()
                for side in self._sides:
                    side.crypto = CryptoStream()
                    side.hs_pos = 0
                    side.released = True

    def _on_packet(self, direction: Dir, pkt: Packet, ts: float, events: list[AppEvent]) -> None:
        ptype = pkt.packet_type
        if ptype == _ONE_RTT:
            self._on_short(direction, pkt)
            return
        if direction == _SERVER and ptype not in _UNVERSIONED:
            self._server_version = pkt.version
            self._server_scid = pkt.scid  # changes only with a Retry
        if ptype == _INITIAL:
            self._on_initial(direction, pkt, ts, events)
        elif ptype == _HANDSHAKE:
            self._advance("handshake")
        elif ptype == _RETRY and direction == _SERVER:
            self._on_retry(pkt)
        elif ptype == _VERSION_NEGOTIATION and direction == _SERVER:
            self._vn_versions = pkt.supported_versions

    def _on_retry(self, pkt: Packet) -> None:
        version = lookup(pkt.version)
        odcid = self._key_dcid
        if version is None or odcid is None or self._retry:
            self.ignored_bytes += len(pkt.data)  # unsolicited, or a second Retry (§17.2.5.2)
            return
        if retry_integrity_ok(version, odcid, pkt.data) is False:
            self.ignored_bytes += len(pkt.data)  # forged or corrupt: a client drops it too
            return
        self._retry = True
        self._key_dcid = pkt.scid  # RFC 9001 §5.2: Initial keys follow the Retry's SCID

    def _on_short(self, direction: Dir, pkt: Packet) -> None:
        if self._state is None:
            return  # no handshake seen: cannot tell the connection's IDs
        cid = self._server_scid if direction == _CLIENT else self._client_scid
        if cid and pkt.data[1 : 1 + len(cid)] != cid:
            self.ignored_bytes += len(pkt.data)
            return
        self._sides[direction].short_seen = True
        if self._sides[0].short_seen and self._sides[1].short_seen:  # client, server
            self._advance("one_rtt")

    def _protection(self, version: QuicVersion, dcid: bytes) -> InitialKeys:
        key = (version.number, dcid)
        keys = self._keys.get(key)
        if keys is None:
            if len(self._keys) >= 4:  # a version switch and a Retry at most; stay bounded
                self._keys.clear()
            keys = self._keys[key] = InitialKeys(version, dcid)
        return keys

    def _start_client(self, pkt: Packet) -> None:
        """A client's first Initial, or its first one after Version Negotiation."""
        self._odcid = self._key_dcid = pkt.dcid
        self._client_scid = pkt.scid
        self._client_version = pkt.version
        if self._state is not None:  # a restart: the sides built in __init__ are unused
            self._sides = (_Side(), _Side())
        self._server_version = None
        self._server_scid = None
        self._ch = self._sh = None  # a new attempt sends a new ClientHello
        self._ja4 = self._ja3 = None
        self._idle_ms = 0
        if self._state is None:
            self._state = INITIAL

    def _open(self, direction: Dir, pkt: Packet, version: QuicVersion) -> bytes:
        side = self._sides[direction]
        key_dcid = self._key_dcid
        if key_dcid is None:
            raise MalformedError(PROTOCOL, "server Initial before any client Initial")
        try:
            _, pn, payload = (
                self._protection(version, key_dcid)
                .side(direction)
                .unprotect(pkt.data, pkt.pn_offset, side.largest_pn)
            )
        except MalformedError:
            # A client Initial under keys from its own DCID: a Retry that the capture
            # lost (or that arrived damaged) moved them. Anything else is garbage.
            if direction != _CLIENT or pkt.dcid == key_dcid:
                raise
            _, pn, payload = (
                self._protection(version, pkt.dcid)
                .side(_CLIENT)
                .unprotect(pkt.data, pkt.pn_offset, side.largest_pn)
            )
            self._key_dcid = pkt.dcid
            self._retry = True
        side.largest_pn = max(side.largest_pn, pn)
        return payload

    def _on_initial(self, direction: Dir, pkt: Packet, ts: float, events: list[AppEvent]) -> None:
        version = lookup(pkt.version)
        if version is None:  # split_datagram only types packets of known versions
            raise MalformedError(PROTOCOL, "Initial packet of an unknown version")
        if direction == _CLIENT and (
            self._odcid is None
            or (self._vn_versions and pkt.version != self._client_version and self._sh is None)
        ):
            self._start_client(pkt)
        if self._odcid is None:
            self.ignored_bytes += len(pkt.data)  # a server Initial, client's never seen
            return
        payload = self._open(direction, pkt, version)
        side = self._sides[direction]
        for frame in parse_initial_frames(payload):
            if isinstance(frame, CryptoFrame):
                if not side.released:
                    side.crypto.add(frame.offset, frame.data)
            elif isinstance(frame, CloseFrame):
                self._on_close(direction, frame, ts, events)
        if not side.released:
            self._handshake_messages(direction, ts, events)

    def _on_close(
        self, direction: Dir, frame: CloseFrame, ts: float, events: list[AppEvent]
    ) -> None:
        by = "client" if direction == _CLIENT else "server"
        self._sides[direction].closed = True
        other = self._sides[1 - direction]
        self._advance("close_both" if other.closed else "close")
        if self._close is None:
            name = error_name(frame.error_code, frame.application)
            self._close = {
                "by": by,
                "code": frame.error_code,
                "name": name,
                "reason": frame.reason,
                "frame_type": frame.frame_type,
            }
            events.append(QUICConnectionClosed(ts, by, frame.error_code, name, frame.reason))

    # -- TLS handshake messages --------------------------------------------------------

    def _handshake_messages(self, direction: Dir, ts: float, events: list[AppEvent]) -> None:
        side = self._sides[direction]
        messages, side.hs_pos = handshake.pop_messages(side.crypto, side.hs_pos)
        for mtype, body in messages:
            if direction == _CLIENT:
                if mtype != handshake.CLIENT_HELLO:
                    raise MalformedError(PROTOCOL, f"client Initial carries TLS message {mtype}")
                if self._ch is None:  # a second one answers a HelloRetryRequest
                    self._on_client_hello(body, ts, events)
            else:
                if mtype != handshake.SERVER_HELLO:
                    raise MalformedError(PROTOCOL, f"server Initial carries TLS message {mtype}")
                sh = handshake.server_hello(body)
                if sh.is_hello_retry_request:
                    self._hrr = True
                else:
                    self._sh = sh

    def _on_client_hello(self, body: bytes, ts: float, events: list[AppEvent]) -> None:
        version = lookup(self._client_version or 0)
        facts = handshake.client_hello(body, version.draft if version is not None else None)
        ch = self._ch = facts.hello
        self._ja4, self._ja3 = facts.ja4, facts.ja3
        self._tp_error = facts.params_error
        if facts.params is not None:
            self._idle_ms = facts.params.max_idle_timeout_ms
        alpn = tuple(alpn_text(a) for a in ch.alpn)
        name = version_name(self._client_version or 0)
        events.append(QUICClientHelloSeen(ts, name, ch.sni, alpn, facts.ja4))

    # -- Google QUIC ---------------------------------------------------------------------

    def _feed_gquic(self, direction: Dir, data: bytes) -> Sequence[AppEvent]:
        if self._gquic is None:
            self._gquic = gquic.GQuicInfo()
        if direction == _CLIENT and self._gquic.sni is None:
            self._gquic.feed_client(data)
        return ()
