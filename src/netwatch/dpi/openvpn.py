"""OpenVPN analyzer: the OpenVPN wire protocol (OpenVPN source ``ssl_pkt.h``/``ssl.h``
and the draft-ietf "OpenVPN wire protocol" text, §3 packet layout). Over UDP one packet
per datagram; over TCP each packet is preceded by a 16-bit big-endian length.

The first byte is the opcode (high 5 bits) and key id (low 3 bits). A control packet::

    38  a1 b2 c3 d4 e5 f6 07 18  [HMAC, packet-id 4, time 4]  00  00 00 00 00  [payload]
    op=7 (HARD_RESET_CLIENT_V2)  session id  (tls-auth only)   acks  message id
    key 0

With acks (ack count > 0) their ids and the peer's session id follow the count. With
``tls-auth`` an HMAC (16-64 bytes, by digest) and a replay id sit after the session id;
with ``tls-crypt`` everything after the replay id and a 32-byte tag is encrypted. Which
one is used is learnt from the server's first reply: it echoes the client's session id
in clear at offset 22 + HMAC size (plain: 14), or not at all under tls-crypt.

Without tls-crypt, the control channel's payloads are TLS records (the certificate
handshake); they are put in message-id order and given to the TLS analyzer, whose
record is kept as ``tls``. Data packets (opcodes 6 and 9) are only counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.tls.analyzer import TLSAnalyzer
from netwatch.errors import MalformedError

PROTO = "OpenVPN"
PORT_HINTS = frozenset({1194})
OPCODES = {
    1: "control_hard_reset_client_v1",
    2: "control_hard_reset_server_v1",
    3: "control_soft_reset_v1",
    4: "control_v1",
    5: "ack_v1",
    6: "data_v1",
    7: "control_hard_reset_client_v2",
    8: "control_hard_reset_server_v2",
    9: "data_v2",
    10: "control_hard_reset_client_v3",
    11: "control_wkc_v1",
}
DATA_OPS = frozenset({6, 9})
HMAC_SIZES = (16, 20, 32, 48, 64)  # MD5, SHA1, SHA256, SHA384, SHA512
EARLY_NEG_TLV = 6  # OpenVPN 2.6 adds a type/length/flags TLV to the client's hard reset
#: sizes of a first HARD_RESET_CLIENT_V2: plain, or tls-auth with each digest
#: (HMAC + packet id + time); tls-crypt's tag makes it look like tls-auth SHA256
FIRST_SIZES = frozenset({14, 14 + EARLY_NEG_TLV}) | frozenset(
    22 + h + extra for h in HMAC_SIZES for extra in (0, EARLY_NEG_TLV)
)
MAX_PACKET = 65535  # the TCP length prefix is 16 bits; large tun-mtu values are allowed
MAX_PENDING = 16


@dataclass(frozen=True, slots=True)
class OpenVPNSession(AppEvent):
    """The server's hard reset answered the client's: both session ids and the wrapping."""

    client_session_id: str
    server_session_id: str
    control_wrapping: str


def _first_packet(pkt: bytes) -> bool:
    if len(pkt) < 14:
        return False
    op, key = pkt[0] >> 3, pkt[0] & 7
    if key != 0:
        return False
    if op == 7:
        return len(pkt) in FIRST_SIZES
    if op == 10:  # tls-crypt-v2: a wrapped client key follows, its length last
        wkc = int.from_bytes(pkt[-2:], "big")
        return 60 < len(pkt) <= 1500 and 2 < wkc <= len(pkt) - 54
    return False


def detect_udp(data: bytes) -> bool:
    """A client's first control packet: HARD_RESET_CLIENT_V2/V3, key 0, a known size;
    for plain control packets also an empty ack list and message id 0."""
    if not _first_packet(data):
        return False
    if len(data) in (14, 20):
        return data[9:14] == b"\x00" * 5
    return True


def detect_tcp(data: bytes) -> bool:
    if len(data) < 16:
        return False
    length = int.from_bytes(data[:2], "big")
    return length == len(data) - 2 and detect_udp(data[2:])


class OpenVPNAnalyzer(AnalyzerBase):
    """One OpenVPN tunnel: opcodes, sessions, control-channel wrapping, the TLS handshake."""

    protocol = PROTO

    def __init__(self, transport: str = "udp") -> None:
        self._tcp = transport == "tcp"
        self._bufs = (bytearray(), bytearray())
        self._lost = [False, False]
        self._ops: dict[str, int] = {}
        self._sids: list[bytes | None] = [None, None]
        self._wrap: str | None = None
        self._hmac: int | None = None
        self._key_ids: set[int] = set()
        self._data_packets = [0, 0]
        self._data_bytes = [0, 0]
        self._peer_id: int | None = None
        self._tls = TLSAnalyzer()
        self._tls_failed: str | None = None
        self._next_id = [1, 1]  # each side's hard reset is message 0
        self._pending: tuple[dict[int, bytes], dict[int, bytes]] = ({}, {})

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction]:
            return ()
        if not self._tcp:
            return self._packet(direction, data, ts)
        events: list[AppEvent] = []
        buf = self._bufs[direction]
        buf += data
        while len(buf) >= 2:
            n = int.from_bytes(buf[:2], "big")
            if not 1 <= n <= MAX_PACKET:
                raise MalformedError(PROTO, "TCP packet length out of range")
            if len(buf) < 2 + n:
                break
            pkt = bytes(buf[2 : 2 + n])
            del buf[: 2 + n]
            events.extend(self._packet(direction, pkt, ts))
        return events

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True

    @property
    def buffered(self) -> int:
        # TCP packets waiting for their rest, and control payloads waiting for the ones
        # before them
        client, server = self._bufs
        held = len(client) + len(server)
        for pending in self._pending:
            if pending:
                held += sum(map(len, pending.values()))
        return held

    @property
    def finished(self) -> bool:
        return all(self._lost)

    # -- packets -------------------------------------------------------------------------

    def _packet(self, direction: Dir, pkt: bytes, ts: float) -> Sequence[AppEvent]:
        if not pkt:
            raise MalformedError(PROTO, "empty packet")
        op, key = pkt[0] >> 3, pkt[0] & 7
        name = OPCODES.get(op)
        if name is None:
            raise MalformedError(PROTO, f"unknown opcode {op}")
        self._ops[name] = self._ops.get(name, 0) + 1
        self._key_ids.add(key)
        if op in DATA_OPS:
            self._data_packets[direction] += 1
            self._data_bytes[direction] += len(pkt)
            if op == 9 and len(pkt) >= 4 and self._peer_id is None:
                self._peer_id = int.from_bytes(pkt[1:4], "big")
            return ()
        if len(pkt) < 9:
            raise MalformedError(PROTO, "control packet shorter than its session id")
        sid = pkt[1:9]
        if self._sids[direction] is None:
            self._sids[direction] = sid
        event: tuple[AppEvent, ...] = ()
        client_sid = self._sids[Dir.CLIENT]
        if self._wrap is None and op in (2, 8) and client_sid is not None:
            wrap = self._learn_wrapping(direction, pkt)
            if wrap is not None:
                event = (OpenVPNSession(ts, client_sid.hex(), sid.hex(), wrap),)
        if self._wrap in ("none", "tls-auth") and op == 4 and key == 0:
            self._control(direction, pkt, ts)
        return event

    def _learn_wrapping(self, direction: Dir, pkt: bytes) -> str | None:
        """From the server's hard reset: where (if anywhere) it echoes the client's id."""
        client_sid = self._sids[Dir.CLIENT]
        if direction != Dir.SERVER or client_sid is None:
            return None
        at = pkt.find(client_sid, 9)
        if at == 14:
            self._wrap, self._hmac = "none", 0
        elif at - 22 in HMAC_SIZES:
            self._wrap, self._hmac = "tls-auth", at - 22
        else:
            self._wrap = "tls-crypt"
        return self._wrap

    def _control(self, direction: Dir, pkt: bytes, ts: float) -> None:
        if self._tls_failed:
            return
        pos = 9 + ((self._hmac or 0) + 8 if self._wrap == "tls-auth" else 0)
        if pos >= len(pkt):
            raise MalformedError(PROTO, "control packet truncated")
        acks = pkt[pos]
        pos += 1 + 4 * acks + (8 if acks else 0)
        if pos + 4 > len(pkt):
            raise MalformedError(PROTO, "control packet truncated")
        msg_id = int.from_bytes(pkt[pos : pos + 4], "big")
        payload = pkt[pos + 4 :]
        pending = self._pending[direction]
        nxt = self._next_id[direction]
        if msg_id < nxt or msg_id in pending:
            return  # a retransmission
        if len(pending) >= MAX_PENDING:
            self._tls_failed = "too many control packets out of order"
            return
        pending[msg_id] = payload
        while nxt in pending:
            self._feed_tls(direction, pending.pop(nxt), ts)
            nxt += 1
        self._next_id[direction] = nxt

    def _feed_tls(self, direction: Dir, payload: bytes, ts: float) -> None:
        if self._tls.finished or not payload:
            return
        try:
            self._tls.feed(direction, payload, ts)
        except MalformedError as exc:
            self._tls_failed = exc.reason

    # -- output --------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        c, s = self._sids
        tls = self._tls.record() if self._tls.client_hello is not None else None
        return {
            "transport": "tcp" if self._tcp else "udp",
            "opcodes": dict(self._ops),
            "key_ids": sorted(self._key_ids),
            "client_session_id": c.hex() if c else None,
            "server_session_id": s.hex() if s else None,
            "control_wrapping": self._wrap,
            "hmac_size": self._hmac if self._wrap == "tls-auth" else None,
            "peer_id": self._peer_id,
            "data_packets": sum(self._data_packets),
            "data_bytes_originator": self._data_bytes[Dir.CLIENT],
            "data_bytes_responder": self._data_bytes[Dir.SERVER],
            "tls": tls,
            "tls_error": self._tls_failed,
        }

    def summary(self) -> str:
        ch = self._tls.client_hello
        text = "OpenVPN"
        if self._wrap and self._wrap != "none":
            text += f" ({self._wrap})"
        if ch is not None and self._tls.server_hello is not None:
            text += " TLS"
        return text

    @property
    def app_state(self) -> str | None:
        if sum(self._data_packets):
            return "OVPN_CONNECTED"
        return "OVPN_HANDSHAKE" if self._ops else None
