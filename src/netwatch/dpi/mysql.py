"""MySQL / MariaDB analyzer: the client/server protocol (MySQL source documentation,
"Client/Server Protocol": packets, Connection Phase, Protocol::HandshakeV10,
HandshakeResponse41, SSLRequest, OK/ERR packets, Text Protocol COM_QUERY).

Every packet is a 3-byte little-endian payload length and a sequence id. The server
speaks first, with HandshakeV10::

    4a 00 00 00  0a  38 2e 30 2e 33 36 00  08 00 00 00  <8 bytes auth data> 00 ...
    len=74 seq=0 v10 "8.0.36\\0"            connection id

The client answers with a HandshakeResponse41 (capabilities, max packet, charset,
23 zero bytes, user\\0, auth response, database\\0, plugin\\0, attributes), or first with
a 32-byte SSLRequest carrying CLIENT_SSL, after which the stream is TLS (``handoff``).
The server ends authentication with OK (``00``) or ERR (``ff``, code, ``#`` SQLSTATE,
message); ``fe`` switches the auth plugin and ``01`` carries more auth data. In the
command phase each client packet with sequence id 0 is a command (``03`` COM_QUERY).
Packets above :data:`MAX_KEEP` (big rows, blobs) are skipped as they stream by; a
session with CLIENT_COMPRESS is followed only up to its login.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AppEvent, Dir, DiscardsOversized
from netwatch.errors import MalformedError

PROTO = "MySQL"
PORT_HINTS = frozenset({3306, 3307, 33060})
MAX_KEEP = 16 * 1024
MAX_QUERIES = 16
MAX_QUERY_TEXT = 256
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_COMPRESS = 0x20
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_LENENC_AUTH = 0x200000
COMMANDS = {
    0x01: "quit",
    0x02: "init_db",
    0x03: "query",
    0x04: "field_list",
    0x09: "statistics",
    0x0E: "ping",
    0x11: "change_user",
    0x16: "stmt_prepare",
    0x17: "stmt_execute",
    0x19: "stmt_close",
    0x1F: "reset_connection",
}
KEPT_ATTRS = ("_client_name", "_client_version", "_os", "_platform", "program_name")


@dataclass(frozen=True, slots=True)
class MySQLGreeting(AppEvent):
    """The server's HandshakeV10."""

    server_version: str
    connection_id: int


@dataclass(frozen=True, slots=True)
class MySQLLogin(AppEvent):
    """The server's OK or ERR to a login; ``error_code`` is the ERR's code."""

    user: str | None
    database: str | None
    ok: bool
    error_code: int | None


def detect_tcp(data: bytes) -> bool:
    """A HandshakeV10 greeting: sequence 0, protocol 10, a printable NUL-ended version and
    a payload length that fits it."""
    if len(data) < 16 or data[3] != 0 or data[4] != 10:
        return False
    length = int.from_bytes(data[:3], "little")
    if not 40 <= length <= 1024 or len(data) > length + 4:
        return False
    end = data.find(b"\x00", 5, 5 + 64)
    version = data[5:end]
    return end > 5 and version[:1].isdigit() and all(0x20 <= c < 0x7F for c in version)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedError(PROTO, "field runs past the packet")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def int_le(self, n: int) -> int:
        return int.from_bytes(self.take(n), "little")

    def cstring(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise MalformedError(PROTO, "string not NUL-terminated")
        text = self.data[self.pos : end].decode("utf-8", "replace")
        self.pos = end + 1
        return text

    def lenenc(self) -> int:
        first = self.int_le(1)
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.int_le(2)
        if first == 0xFD:
            return self.int_le(3)
        if first == 0xFE:
            return self.int_le(8)
        raise MalformedError(PROTO, "bad length-encoded integer")

    def left(self) -> int:
        return len(self.data) - self.pos


class _Side:
    __slots__ = ("buf", "skip")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0


class MySQLAnalyzer(DiscardsOversized):
    """One MySQL/MariaDB connection: greeting, login, errors and queries."""

    protocol = PROTO

    def __init__(self) -> None:
        self._sides: tuple[_Side, _Side] = (_Side(), _Side())
        self._lost = [False, False]
        self._protocol_version: int | None = None
        self._server_version: str | None = None
        self._connection_id: int | None = None
        self._server_plugin: str | None = None
        self._client_plugin: str | None = None
        self._user: str | None = None
        self._database: str | None = None
        self._attrs: dict[str, str] = {}
        self._ssl = False
        self._compress = False
        self._login: str | None = None  # "ok" | "failed"
        self._error: dict[str, Any] | None = None
        self._errors = 0
        self._queries: list[str] = []
        self._commands: dict[str, int] = {}
        self._greeted = False
        self._responded = False
        self._handoff: str | None = None
        self._events: list[AppEvent] = []
        self._ts = 0.0

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or self._handoff or not data:
            return ()
        side = self._sides[direction]
        data = self._discard(side, data)
        side.buf += data
        self._ts = ts
        for seq, payload in self._packets(side):
            if direction == Dir.SERVER:
                self._server(seq, payload)
            else:
                self._client(seq, payload)
            if self._handoff or (self._compress and self._login):
                break
        events, self._events = self._events, []
        return events

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True

    @property
    def buffered(self) -> int:
        client, server = self._sides
        return len(client.buf) + len(server.buf)

    @property
    def finished(self) -> bool:
        return all(self._lost) or (self._compress and self._login is not None)

    @property
    def handoff(self) -> str | None:
        return self._handoff

    def _packets(self, side: _Side) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        buf = side.buf
        while len(buf) >= 4 and not side.skip:
            length = int.from_bytes(buf[:3], "little")
            seq = buf[3]
            total = 4 + length
            if length > MAX_KEEP:
                if len(buf) < 4 + 64:
                    return out
                out.append((seq, bytes(buf[4 : 4 + MAX_KEEP])[: len(buf) - 4]))
                have = min(len(buf), total)
                side.skip = total - have
                del buf[:have]
                continue
            if len(buf) < total:
                return out
            out.append((seq, bytes(buf[4:total])))
            del buf[:total]
        return out

    # -- server --------------------------------------------------------------------------

    def _server(self, seq: int, payload: bytes) -> None:
        if not payload:
            return
        if not self._greeted:
            self._greeted = True
            if payload[0] == 0xFF:
                self._failed(payload)
                return
            self._greeting(payload)
            version, conn = self._server_version or "", self._connection_id or 0
            self._events.append(MySQLGreeting(self._ts, version, conn))
            return
        head = payload[0]
        if self._login is None:
            if head == 0x00:
                self._login = "ok"
                self._events.append(MySQLLogin(self._ts, self._user, self._database, True, None))
            elif head == 0xFF:
                self._login = "failed"
                self._failed(payload)
                code = int.from_bytes(payload[1:3], "little") if len(payload) >= 3 else None
                self._events.append(MySQLLogin(self._ts, self._user, self._database, False, code))
            elif head == 0xFE and len(payload) > 1:
                r = _Reader(payload, 1)
                self._server_plugin = r.cstring()[:64] or self._server_plugin
            return
        if head == 0xFF and seq == 1:
            self._failed(payload)

    def _greeting(self, payload: bytes) -> None:
        r = _Reader(payload)
        self._protocol_version = r.int_le(1)
        if self._protocol_version != 10:
            raise MalformedError(PROTO, "not a HandshakeV10 greeting")
        version = r.cstring()[:64]
        # MariaDB before 11 prefixes "5.5.5-" so that old clients accept its version
        if version.startswith("5.5.5-") and "MariaDB" in version:
            version = version[6:]
        self._server_version = version
        self._connection_id = r.int_le(4)
        r.take(8)  # auth-plugin-data part 1
        r.take(1)  # filler
        caps = r.int_le(2)
        if r.left() >= 8:
            r.take(1)  # character set
            r.take(2)  # status flags
            caps |= r.int_le(2) << 16
            auth_len = r.int_le(1)
            r.take(10)
            if caps & 0x8000:  # CLIENT_SECURE_CONNECTION
                r.take(max(13, auth_len - 8))
            if caps & CLIENT_PLUGIN_AUTH and r.left():
                end = payload.find(b"\x00", r.pos)
                raw = payload[r.pos : end if end >= 0 else len(payload)]
                self._server_plugin = raw.decode("utf-8", "replace")[:64]

    def _failed(self, payload: bytes) -> None:
        self._errors += 1
        if self._error is not None or len(payload) < 3:
            return
        code = int.from_bytes(payload[1:3], "little")
        rest = payload[3:]
        state = None
        if rest[:1] == b"#" and len(rest) >= 6:
            state, rest = rest[1:6].decode("ascii", "replace"), rest[6:]
        message = rest.decode("utf-8", "replace")[:200]
        self._error = {"code": code, "sql_state": state, "message": message}

    # -- client --------------------------------------------------------------------------

    def _client(self, seq: int, payload: bytes) -> None:
        if not self._greeted:
            raise MalformedError(PROTO, "client spoke before the server's greeting")
        if not self._responded:
            self._response(payload)
            return
        if self._login is None or seq != 0 or not payload:
            return  # auth plugin exchange, or a command's continuation
        name = COMMANDS.get(payload[0], f"cmd_{payload[0]:#04x}")
        self._commands[name] = self._commands.get(name, 0) + 1
        if payload[0] == 0x03 or payload[0] == 0x16:
            if len(self._queries) < MAX_QUERIES:
                text = " ".join(payload[1:].decode("utf-8", "replace").split())
                self._queries.append(text[:MAX_QUERY_TEXT])
        elif payload[0] == 0x02:
            self._database = payload[1:].decode("utf-8", "replace")[:64]

    def _response(self, payload: bytes) -> None:
        r = _Reader(payload)
        caps = r.int_le(4)
        if not caps & CLIENT_PROTOCOL_41:
            raise MalformedError(PROTO, "pre-4.1 handshake response")
        r.take(4 + 1 + 23)  # max packet size, character set, filler
        if len(payload) == 32 and caps & CLIENT_SSL:
            self._ssl = True
            self._handoff = "TLS"
            return
        self._responded = True
        self._compress = bool(caps & CLIENT_COMPRESS)
        self._user = r.cstring()[:64]
        if caps & CLIENT_LENENC_AUTH:
            r.take(r.lenenc())
        else:
            r.take(r.int_le(1))
        if caps & CLIENT_CONNECT_WITH_DB and r.left():
            self._database = r.cstring()[:64] or None
        if caps & CLIENT_PLUGIN_AUTH and r.left():
            self._client_plugin = r.cstring()[:64]
        if caps & CLIENT_CONNECT_ATTRS and r.left():
            end = r.pos + r.lenenc()
            while r.pos < end:
                key = r.take(r.lenenc()).decode("utf-8", "replace")
                value = r.take(r.lenenc()).decode("utf-8", "replace")
                if key in KEPT_ATTRS:
                    self._attrs[key] = value[:64]

    # -- output --------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "protocol_version": self._protocol_version,
            "server_version": self._server_version,
            "connection_id": self._connection_id,
            "auth_plugin": self._client_plugin or self._server_plugin,
            "user": self._user,
            "database": self._database,
            "client_attributes": dict(self._attrs),
            "ssl": self._ssl,
            "compressed": self._compress,
            "login": self._login,
            "error": dict(self._error) if self._error else None,
            "errors": self._errors,
            "commands": dict(self._commands),
            "queries": list(self._queries),
        }

    def summary(self) -> str:
        text = "MySQL"
        if self._server_version:
            text += f" {self._server_version[:24]}"
        if self._user:
            text += f" {self._user}"
        return text
