"""STUN/TURN analyzer: RFC 8489 §5 (message structure), §14 (attributes: XOR-MAPPED-
ADDRESS §14.2, USERNAME §14.3, ERROR-CODE §14.8, REALM §14.9, SOFTWARE §14.14), RFC 8656
§5 and §18 (TURN methods, XOR-RELAYED-ADDRESS, LIFETIME, ChannelData §12.4), RFC 6544
§3.2 / RFC 4571 (ICE-TCP: a 2-byte length before each message), RFC 5780 §7.3-7.4 (RESPONSE-
ORIGIN, OTHER-ADDRESS).

A 20-byte header, then type-length-value attributes padded to 4 bytes::

    00 01 00 00  21 12 a4 42  <transaction id, 12 bytes>       Binding request
    01 01 00 0c  21 12 a4 42  <same id>  00 20 00 08 00 01 a1 47 e1 12 a6 43
                                         XOR-MAPPED-ADDRESS: IPv4, port ^ 0x2112 ...

The type's bits ``M11..M0`` and ``C1 C0`` interleave (§5): class = bit 8 and bit 4.
WebRTC flows mix STUN with DTLS, RTP and TURN ChannelData on one 5-tuple (RFC 7983
§7 demultiplexes by the first byte), so datagrams that are not STUN are counted, not
errors.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "STUN"
MAGIC = 0x2112A442
MAGIC_BYTES = b"\x21\x12\xa4\x42"
MAX_BUFFER = 64 * 1024  # TCP bytes waiting for a whole message
MAX_LIST = 16  # addresses, errors and method names kept per flow
MAX_ATTRIBUTES = 64  # walked per message

METHODS = {
    0x001: "Binding",
    0x003: "Allocate",
    0x004: "Refresh",
    0x006: "Send",
    0x007: "Data",
    0x008: "CreatePermission",
    0x009: "ChannelBind",
    0x00A: "Connect",
    0x00B: "ConnectionBind",
    0x00C: "ConnectionAttempt",
}
CLASSES = ("request", "indication", "success", "error")
ATTR_MAPPED, ATTR_XOR_MAPPED, ATTR_XOR_RELAYED, ATTR_XOR_PEER = 0x0001, 0x0020, 0x0016, 0x0012
ATTR_USERNAME, ATTR_REALM, ATTR_SOFTWARE, ATTR_ERROR = 0x0006, 0x0014, 0x8022, 0x0009
ATTR_LIFETIME, ATTR_REQ_TRANSPORT = 0x000D, 0x0019
ATTR_RESPONSE_ORIGIN, ATTR_OTHER_ADDRESS = 0x802B, 0x802C  # RFC 5780 §7.3, §7.4


def split_type(msg_type: int) -> tuple[int, int]:
    """§5: (method, class) from the 14-bit type."""
    method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    cls = ((msg_type & 0x0100) >> 7) | ((msg_type & 0x0010) >> 4)
    return method, cls


def type_name(msg_type: int) -> str:
    method, cls = split_type(msg_type)
    return f"{METHODS.get(method, f'0x{method:03x}')} {CLASSES[cls]}"


def _is_header(data: bytes, pos: int = 0) -> bool:
    if len(data) - pos < 20 or data[pos] & 0xC0:
        return False
    length = (data[pos + 2] << 8) | data[pos + 3]
    return length % 4 == 0 and data[pos + 4 : pos + 8] == MAGIC_BYTES


def detect_udp(data: bytes) -> bool:
    """A whole RFC 5389+ message: top two bits zero, the magic cookie, a length that
    fills the datagram exactly."""
    return _is_header(data) and 20 + ((data[2] << 8) | data[3]) == len(data)


def detect_tcp(data: bytes) -> bool:
    """A STUN header at the start of the stream, bare or behind an RFC 4571 length."""
    if _is_header(data):
        return True
    if len(data) >= 22 and _is_header(data, 2):
        framed = (data[0] << 8) | data[1]
        return framed == 20 + ((data[4] << 8) | data[5])
    return False


def _address(body: bytes, xor: bytes | None) -> str:
    """A (XOR-)MAPPED-ADDRESS-style value as ``ip:port`` / ``[ip]:port``."""
    if len(body) < 8 or body[1] not in (1, 2):
        raise MalformedError(PROTO, "address attribute too short or bad family")
    port = struct.unpack_from("!H", body, 2)[0]
    raw = body[4:8] if body[1] == 1 else body[4:20]
    if body[1] == 2 and len(raw) != 16:
        raise MalformedError(PROTO, "IPv6 address attribute too short")
    if xor is not None:
        port ^= MAGIC >> 16
        raw = bytes(a ^ b for a, b in zip(raw, xor, strict=False))
    if body[1] == 1:
        return f"{ipaddress.IPv4Address(raw)}:{port}"
    return f"[{ipaddress.IPv6Address(raw)}]:{port}"


class STUNAnalyzer(AnalyzerBase):
    """The STUN/TURN messages of one flow (UDP datagrams or a TCP stream)."""

    protocol = PROTO

    def __init__(self, transport: str = "udp") -> None:
        self._tcp = transport == "tcp"
        self._bufs = (bytearray(), bytearray())
        self._framed: bool | None = None  # RFC 4571 length prefix on TCP
        self._lost = [False, False]
        self._types: list[str] = []
        self._counts = {"requests": 0, "responses": 0, "indications": 0, "other_packets": 0}
        self._usernames: list[str] = []
        self._software: dict[int, str] = {}
        self._realm: str | None = None
        self._mapped: list[str] = []
        self._relayed: list[str] = []
        self._peers: list[str] = []
        self._origins: list[str] = []
        self._others: list[str] = []
        self._errors: list[int] = []
        self._lifetime: int | None = None
        self._allocated = False

    # -- feeding -------------------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        if not self._tcp:
            if _is_header(data):
                self._message(direction, data)
            else:
                self._counts["other_packets"] += 1  # DTLS, RTP, ChannelData (RFC 7983)
            return ()
        if self._lost[direction]:
            return ()
        buf = self._bufs[direction]
        buf += data
        self._drain(direction, buf)
        if len(buf) > MAX_BUFFER:  # what is left is one incomplete message
            raise MalformedError(PROTO, "TCP message larger than the buffer")
        return ()

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True
        self._bufs[direction].clear()

    @property
    def buffered(self) -> int:
        client, server = self._bufs
        return len(client) + len(server)

    def _drain(self, direction: Dir, buf: bytearray) -> None:
        while len(buf) >= 4:
            if self._framed is None:
                if _is_header(bytes(buf[:20])):
                    self._framed = False
                elif len(buf) < 22:
                    return
                elif _is_header(bytes(buf[:22]), 2):
                    self._framed = True
                else:
                    raise MalformedError(PROTO, "stream does not start with STUN")
            if self._framed:
                size = 2 + ((buf[0] << 8) | buf[1])
            elif 0x40 <= buf[0] <= 0x7F:  # TURN ChannelData over TCP, padded (§12.5)
                size = 4 + (((buf[2] << 8) | buf[3]) + 3) // 4 * 4
            else:
                size = 20 + ((buf[2] << 8) | buf[3])
            if len(buf) < size:
                return
            chunk = bytes(buf[:size])
            del buf[:size]
            body = chunk[2:] if self._framed else chunk
            if _is_header(body):
                self._message(direction, body)
            elif 0x40 <= chunk[0] <= 0x7F or self._framed:
                self._counts["other_packets"] += 1
            else:
                raise MalformedError(PROTO, "bytes between messages are not STUN")

    def _message(self, direction: Dir, msg: bytes) -> None:
        msg_type, length = struct.unpack_from("!HH", msg)
        end = 20 + length
        if end > len(msg):
            raise MalformedError(PROTO, "attributes run past the message")
        _, cls = split_type(msg_type)
        key = ("requests", "indications", "responses", "responses")[cls]
        self._counts[key] += 1
        name = type_name(msg_type)
        if name not in self._types and len(self._types) < MAX_LIST:
            self._types.append(name)
        xor_key = msg[4:20]
        pos, seen = 20, 0
        while pos + 4 <= end:
            seen += 1
            if seen > MAX_ATTRIBUTES:
                raise MalformedError(PROTO, "too many attributes")
            atype, alen = struct.unpack_from("!HH", msg, pos)
            body = msg[pos + 4 : pos + 4 + alen]
            if len(body) != alen or pos + 4 + alen > end:
                raise MalformedError(PROTO, f"attribute 0x{atype:04x} runs past the message")
            self._attribute(direction, msg_type, atype, body, xor_key)
            pos += 4 + (alen + 3) // 4 * 4
        if pos < end:
            raise MalformedError(PROTO, "trailing bytes after the attributes")

    def _attribute(
        self, direction: Dir, msg_type: int, atype: int, body: bytes, key: bytes
    ) -> None:
        if atype == ATTR_XOR_MAPPED or atype == ATTR_MAPPED:
            _add(self._mapped, _address(body, key if atype == ATTR_XOR_MAPPED else None))
        elif atype == ATTR_XOR_RELAYED:
            _add(self._relayed, _address(body, key))
            method, cls = split_type(msg_type)
            self._allocated = self._allocated or (method == 0x003 and cls == 2)
        elif atype == ATTR_XOR_PEER:
            _add(self._peers, _address(body, key))
        elif atype == ATTR_RESPONSE_ORIGIN:
            _add(self._origins, _address(body, None))
        elif atype == ATTR_OTHER_ADDRESS:
            _add(self._others, _address(body, None))
        elif atype == ATTR_USERNAME:
            _add(self._usernames, body.decode("utf-8", "replace"))
        elif atype == ATTR_REALM:
            self._realm = body.decode("utf-8", "replace")
        elif atype == ATTR_SOFTWARE:
            self._software[direction] = body.decode("utf-8", "replace")
        elif atype == ATTR_LIFETIME and len(body) == 4:
            self._lifetime = int.from_bytes(body, "big")
        elif atype == ATTR_ERROR:
            if len(body) < 4:
                raise MalformedError(PROTO, "ERROR-CODE shorter than 4 bytes")
            code = (body[2] & 7) * 100 + body[3]
            if code not in self._errors and len(self._errors) < MAX_LIST:
                self._errors.append(code)

    # -- output --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return False

    @property
    def app_state(self) -> str | None:
        if self._allocated:
            return "TURN_ALLOCATED"
        return "STUN_BOUND" if self._mapped else None

    def record(self) -> dict[str, Any]:
        return {
            "transport": "tcp" if self._tcp else "udp",
            "message_types": list(self._types),
            **self._counts,
            "usernames": list(self._usernames),
            "client_software": self._software.get(Dir.CLIENT),
            "server_software": self._software.get(Dir.SERVER),
            "realm": self._realm,
            "mapped_addresses": list(self._mapped),
            "relayed_addresses": list(self._relayed),
            "peer_addresses": list(self._peers),
            "response_origins": list(self._origins),
            "other_addresses": list(self._others),
            "lifetime": self._lifetime,
            "error_codes": list(self._errors),
            "turn_allocated": self._allocated,
        }

    def summary(self) -> str:
        parts = [
            "TURN" if any(t.startswith(("Allocate", "Refresh")) for t in self._types) else "STUN"
        ]
        if self._relayed:
            parts.append(f"relay {self._relayed[0]}")
        elif self._mapped:
            parts.append(f"mapped {self._mapped[0]}")
        elif self._types:
            parts.append(self._types[0])
        return " ".join(parts)


def _add(items: list[str], value: str) -> None:
    if value not in items and len(items) < MAX_LIST:
        items.append(value)
