"""MQTT analyzer: MQTT 3.1 (``MQIsdp``, level 3), 3.1.1 (OASIS, level 4, §2-§3) and 5.0
(OASIS, level 5, §2.1-§3.14 with properties, §2.2.2).

Every control packet is a fixed header, a variable header and a payload (3.1.1 §2.2)::

    10 1f  00 04 4d 51 54 54  04  c2  00 3c  00 05 ...    CONNECT, remaining length 31,
    type   protocol name "MQTT" level flags keepalive      client id "..." ...

The first byte holds the packet type (high nibble) and flags (low nibble: for PUBLISH
DUP, QoS and RETAIN); the remaining length is a base-128 varint of at most four bytes.
Strings are a 16-bit big-endian length and UTF-8. Level 5 adds a property block (a
varint length, then properties) after the variable header of CONNECT, CONNACK, PUBLISH,
SUBSCRIBE and UNSUBSCRIBE, and after the will flag in the CONNECT payload.

Only the headers are kept: PUBLISH payloads are skipped without buffering, so a large
retained message costs no memory. The password is never stored, only that one was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AppEvent, Dir, DiscardsOversized
from netwatch.errors import MalformedError

PROTO = "MQTT"
PORT_HINTS = frozenset({1883, 8883})
MAX_HEADER = 64 * 1024  # bytes of a packet we parse; the rest of a bigger one is skipped
MAX_TOPICS = 32
MAX_STR = 512

PACKET_TYPES = {
    1: "CONNECT",
    2: "CONNACK",
    3: "PUBLISH",
    4: "PUBACK",
    5: "PUBREC",
    6: "PUBREL",
    7: "PUBCOMP",
    8: "SUBSCRIBE",
    9: "SUBACK",
    10: "UNSUBSCRIBE",
    11: "UNSUBACK",
    12: "PINGREQ",
    13: "PINGRESP",
    14: "DISCONNECT",
    15: "AUTH",
}
#: protocol name -> allowed levels (3.1 used "MQIsdp"; 3.1.1 and 5.0 use "MQTT")
PROTOCOL_NAMES = {b"MQIsdp": (3,), b"MQTT": (4, 5)}
VERSIONS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
#: CONNACK return codes of 3.1/3.1.1 (§3.2.2.3); level 5 uses reason codes (0x80+ = failure)
CONNACK_CODES = {
    0: "accepted",
    1: "unacceptable_protocol_version",
    2: "identifier_rejected",
    3: "server_unavailable",
    4: "bad_username_or_password",
    5: "not_authorized",
}


@dataclass(frozen=True, slots=True)
class MQTTConnect(AppEvent):
    """A client's CONNECT (the password is never carried)."""

    client_id: str
    username: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class MQTTConnAck(AppEvent):
    """The broker's answer to CONNECT: ``code`` 0 accepts."""

    code: int
    accepted: bool


@dataclass(frozen=True, slots=True)
class MQTTSubscribe(AppEvent):
    """The topic filters of one SUBSCRIBE."""

    topics: tuple[str, ...]


class _Reader:
    """Bounds-checked reads over one packet's bytes."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def left(self) -> int:
        return len(self.data) - self.pos

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise MalformedError(PROTO, "packet truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        return (self.u8() << 8) | self.u8()

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedError(PROTO, "string runs past the packet")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def string(self) -> str:
        return self.raw(self.u16()).decode("utf-8", "replace")[:MAX_STR]

    def varint(self) -> int:
        value = 0
        for shift in (0, 7, 14, 21):
            b = self.u8()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
        raise MalformedError(PROTO, "variable byte integer longer than 4 bytes")

    def skip_properties(self) -> None:
        n = self.varint()
        self.raw(n)


def parse_fixed_header(buf: bytes | bytearray) -> tuple[int, int, int] | None:
    """(first byte, remaining length, header size), or None if more bytes are needed."""
    if not buf:
        return None
    value = 0
    for i in range(1, 5):
        if i >= len(buf):
            return None
        b = buf[i]
        value |= (b & 0x7F) << (7 * (i - 1))
        if not b & 0x80:
            return buf[0], value, i + 1
    raise MalformedError(PROTO, "remaining length longer than 4 bytes")


def detect_tcp(data: bytes) -> bool:
    """A CONNECT packet whose variable header names the protocol and a level it allows."""
    try:
        head = parse_fixed_header(data[:5])
    except MalformedError:
        return False
    if head is None or head[0] != 0x10 or head[1] < 10:
        return False
    r = _Reader(data, head[2])
    try:
        name = r.raw(r.u16())
        level = r.u8() & 0x7F  # bit 7: bridge flag of some brokers
    except MalformedError:
        return False
    return level in PROTOCOL_NAMES.get(name, ())


class _Side:
    __slots__ = ("buf", "skip")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0  # body bytes of an oversized packet still to discard


class MQTTAnalyzer(DiscardsOversized):
    """One MQTT session: CONNECT fields, the answer, and the topics used."""

    protocol = PROTO

    def __init__(self) -> None:
        self._sides: tuple[_Side, _Side] = (_Side(), _Side())
        self._level: int | None = None
        self._protocol_name: str | None = None
        self._client_id: str | None = None
        self._username: str | None = None
        self._password = False
        self._keep_alive: int | None = None
        self._clean: bool | None = None
        self._will_topic: str | None = None
        self._connack: int | None = None
        self._session_present: bool | None = None
        self._types: list[str] = []
        self._topics: list[str] = []
        self._published: list[str] = []
        self._subscribed: list[dict[str, Any]] = []
        self._qos: set[int] = set()
        self._counts = [0, 0]
        self._publishes = 0
        self._dropped_topics = 0

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        side = self._sides[direction]
        data = self._discard(side, data)
        side.buf += data
        events: list[AppEvent] = []
        while side.buf and not side.skip:
            head = parse_fixed_header(side.buf)
            if head is None:
                if len(side.buf) > 5:
                    raise MalformedError(PROTO, "bad fixed header")
                break
            first, length, hsize = head
            total = hsize + length
            if len(side.buf) >= total:
                body = bytes(side.buf[hsize:total])
                del side.buf[:total]
            elif length > MAX_HEADER and len(side.buf) >= hsize + MAX_HEADER:
                # a big PUBLISH: parse the headers we have, drop its payload as it streams by
                body = bytes(side.buf[hsize : hsize + MAX_HEADER])
                side.skip = total - len(side.buf)
                side.buf.clear()
            else:
                break
            event = self._packet(direction, first, body, len(body) < length, ts)
            if event is not None:
                events.append(event)
        return events

    @property
    def finished(self) -> bool:
        return False

    def gap(self, direction: Dir, length: int) -> None:
        # framing is lost for this direction; stop parsing it
        side = self._sides[direction]
        side.buf.clear()
        side.skip = 1 << 62

    @property
    def buffered(self) -> int:
        client, server = self._sides
        return len(client.buf) + len(server.buf)

    # -- packets -------------------------------------------------------------------------

    def _packet(
        self, direction: Dir, first: int, body: bytes, partial: bool, ts: float
    ) -> AppEvent | None:
        ptype = first >> 4
        name = PACKET_TYPES.get(ptype)
        if name is None:
            raise MalformedError(PROTO, "reserved packet type 0")
        self._counts[direction] += 1
        if name not in self._types:
            self._types.append(name)
        r = _Reader(body)
        if ptype == 1:
            if direction != Dir.CLIENT:
                raise MalformedError(PROTO, "CONNECT from the server")
            self._connect(r)
            version = VERSIONS.get(self._level or 0)
            return MQTTConnect(ts, self._client_id or "", self._username, version)
        if ptype == 2:
            self._session_present = bool(r.u8() & 1)
            self._connack = r.u8()
            return MQTTConnAck(ts, self._connack, self._connack == 0)
        if ptype == 3:
            qos = (first >> 1) & 3
            if qos == 3:
                raise MalformedError(PROTO, "PUBLISH with QoS 3")
            self._qos.add(qos)
            self._publishes += 1
            topic = r.string()
            if direction == Dir.CLIENT and topic not in self._published:
                if len(self._published) < MAX_TOPICS:
                    self._published.append(topic)
            self._topic(topic)
        elif ptype in (8, 10):
            if first & 0x0F != 2:
                raise MalformedError(PROTO, f"{name} flags must be 0010")
            r.u16()  # packet identifier
            if self._level == 5:
                r.skip_properties()
            topics: list[str] = []
            while r.left() and not (partial and r.left() < 3):
                topic = r.string()
                if ptype == 8:
                    qos = r.u8() & 3
                    self._qos.add(qos)
                    if len(self._subscribed) < MAX_TOPICS:
                        self._subscribed.append({"topic": topic, "qos": qos})
                    if len(topics) < MAX_TOPICS:
                        topics.append(topic)
                self._topic(topic)
            if ptype == 8:
                return MQTTSubscribe(ts, tuple(topics))
        return None

    def _connect(self, r: _Reader) -> None:
        name = r.raw(r.u16())
        level = r.u8() & 0x7F
        if level not in PROTOCOL_NAMES.get(name, ()):
            raise MalformedError(PROTO, "unknown protocol name or level")
        self._protocol_name = name.decode("ascii")
        self._level = level
        flags = r.u8()
        if flags & 1:
            raise MalformedError(PROTO, "CONNECT reserved flag set")
        self._keep_alive = r.u16()
        self._clean = bool(flags & 2)
        if level == 5:
            r.skip_properties()
        self._client_id = r.string()
        if flags & 4:  # will
            if level == 5:
                r.skip_properties()
            self._will_topic = r.string()
            r.raw(r.u16())  # will message
        if flags & 0x80:
            self._username = r.string()
        if flags & 0x40:
            r.raw(r.u16())
            self._password = True

    def _topic(self, topic: str) -> None:
        if topic in self._topics:
            return
        if len(self._topics) < MAX_TOPICS:
            self._topics.append(topic)
        else:
            self._dropped_topics += 1

    # -- output --------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        code = self._connack
        if code is None:
            result = None
        elif self._level == 5:
            result = "accepted" if code == 0 else f"reason_{code:#04x}"
        else:
            result = CONNACK_CODES.get(code, f"reason_{code}")
        return {
            "protocol_name": self._protocol_name,
            "protocol_level": self._level,
            "version": VERSIONS.get(self._level or 0),
            "client_id": self._client_id,
            "username": self._username,
            "password_sent": self._password,
            "keep_alive": self._keep_alive,
            "clean_session": self._clean,
            "will_topic": self._will_topic,
            "connack_code": code,
            "connack": result,
            "session_present": self._session_present,
            "msg_types": list(self._types),
            "topics": list(self._topics),
            "topics_dropped": self._dropped_topics,
            "published": list(self._published),
            "subscribed": [dict(s) for s in self._subscribed],
            "qos": sorted(self._qos),
            "publishes": self._publishes,
            "client_packets": self._counts[0],
            "server_packets": self._counts[1],
        }

    def summary(self) -> str:
        parts = [f"MQTT {VERSIONS.get(self._level or 0, '')}".rstrip()]
        if self._client_id:
            parts.append(self._client_id[:32])
        if self._topics:
            parts.append(self._topics[0][:40])
        return " ".join(parts)

    @property
    def app_state(self) -> str | None:
        if self._connack is None:
            return "MQTT_CONNECT" if self._level else None
        return "MQTT_CONNECTED" if self._connack == 0 else "MQTT_REFUSED"
