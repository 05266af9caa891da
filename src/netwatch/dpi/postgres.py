"""PostgreSQL analyzer: the frontend/backend protocol 3.0 (PostgreSQL docs, chapter 55
"Frontend/Backend Protocol", §55.2 message flow, §55.7 message formats).

The client opens with an untyped message, a 32-bit length (itself included) and a code::

    00 00 00 08  04 d2 16 2f                  SSLRequest (80877103)
    00 00 00 29  00 03 00 00  75 73 65 72 00 ...  StartupMessage v3.0: "user\\0alice\\0..."

An SSLRequest (or GSSENCRequest, 80877104) is answered by one byte, ``S`` (the stream
becomes TLS: ``handoff``) or ``N`` (the startup follows in clear); CancelRequest
(80877102) carries a process id and key. After the startup every message is a type
byte and a 32-bit length: ``R`` authentication (0 ok, 3 cleartext, 5 MD5, 10 SASL with
its mechanisms), ``S`` ParameterStatus (``server_version``), ``E`` ErrorResponse (fields
``S`` severity, ``C`` SQLSTATE, ``M`` message), ``Q`` a simple query, ``P`` Parse (an
extended-protocol query), ``X`` Terminate. Message bodies above :data:`MAX_KEEP` (big
rows, COPY data) are skipped as they stream by.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AppEvent, Dir, DiscardsOversized
from netwatch.errors import MalformedError

PROTO = "PostgreSQL"
PORT_HINTS = frozenset({5432})
CODE_V3 = 196608  # 3 << 16
CODE_SSL, CODE_GSSENC, CODE_CANCEL = 80877103, 80877104, 80877102
MAX_STARTUP = 10000  # the server's own limit for the startup packet
MAX_KEEP = 16 * 1024
MAX_MESSAGE = 1 << 30
MAX_QUERIES = 16
MAX_QUERY_TEXT = 256
NAMED_PARAMS = frozenset({"user", "database", "application_name"})  # fields of their own

AUTH_METHODS = {
    0: "ok",
    2: "kerberos_v5",
    3: "cleartext",
    5: "md5",
    7: "gss",
    9: "sspi",
    10: "sasl",
}
_U32 = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class PostgresStartup(AppEvent):
    """A StartupMessage: who connects to which database."""

    user: str | None
    database: str | None
    application_name: str | None


@dataclass(frozen=True, slots=True)
class PostgresLogin(AppEvent):
    """The end of authentication: AuthenticationOk, or an error (SQLSTATE) before it."""

    ok: bool
    method: str | None
    error_code: str | None


def detect_tcp(data: bytes) -> bool:
    """A StartupMessage v3.0 with parameters, an SSL/GSSENC request or a cancel request."""
    if len(data) < 8:
        return False
    length: int = int.from_bytes(data[:4], "big")
    code: int = int.from_bytes(data[4:8], "big")
    if code in (CODE_SSL, CODE_GSSENC):
        return length == 8 == len(data)
    if code == CODE_CANCEL:
        return length == 16 == len(data)
    if code != CODE_V3 or not 9 <= length <= MAX_STARTUP:
        return False
    body = data[8:length]
    # parameters: name\0value\0 ... \0; the first name is a lower-case identifier
    name = body.split(b"\x00", 1)[0]
    return bool(name) and name.replace(b"_", b"").isalpha() and name.islower()


def _cstrings(body: bytes) -> list[str]:
    return [s.decode("utf-8", "replace") for s in body.split(b"\x00")]


class _Side:
    __slots__ = ("buf", "skip", "skip_type", "typed")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0
        self.typed = False  # past the untyped startup phase
        self.skip_type = 0


class PostgresAnalyzer(DiscardsOversized):
    """One PostgreSQL connection: startup, authentication, server version, queries."""

    protocol = PROTO

    def __init__(self) -> None:
        self._sides: tuple[_Side, _Side] = (_Side(), _Side())
        self._lost = [False, False]
        self._params: dict[str, str] = {}
        self._version: str | None = None
        self._ssl_request = False
        self._gss_request = False
        self._ssl_response: str | None = None
        self._cancel = False
        self._auth_method: str | None = None
        self._sasl: list[str] = []
        self._auth_ok = False
        self._server_version: str | None = None
        self._error: dict[str, str] | None = None
        self._queries: list[str] = []
        self._query_count = 0
        self._handoff: str | None = None
        self._awaiting_answer = False  # an SSL/GSSENC request waits for its one-byte reply
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
        if direction == Dir.CLIENT:
            self._client(side)
        else:
            self._server(side)
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
        return self._cancel or all(self._lost)

    @property
    def handoff(self) -> str | None:
        return self._handoff

    # -- client --------------------------------------------------------------------------

    def _client(self, side: _Side) -> None:
        while not side.typed and not self._awaiting_answer and len(side.buf) >= 8:
            length, code = struct.unpack_from("!II", side.buf)
            if not 8 <= length <= MAX_STARTUP:
                raise MalformedError(PROTO, "startup packet length out of range")
            if len(side.buf) < length:
                return
            body = bytes(side.buf[8:length])
            del side.buf[:length]
            if code in (CODE_SSL, CODE_GSSENC):
                self._ssl_request |= code == CODE_SSL
                self._gss_request |= code == CODE_GSSENC
                self._awaiting_answer = True
            elif code == CODE_CANCEL:
                self._cancel = True
                return
            elif code >> 16 == 3:
                self._startup(body)
                p = self._params
                self._events.append(
                    PostgresStartup(
                        self._ts, p.get("user"), p.get("database"), p.get("application_name")
                    )
                )
                side.typed = True
            else:
                raise MalformedError(PROTO, f"unknown startup code {code}")
        if side.typed:
            for mtype, body in self._typed(side):
                if mtype in (0x51, 0x50):  # Q, P
                    self._query(mtype, body)

    def _startup(self, body: bytes) -> None:
        items = _cstrings(body)
        for i in range(0, len(items) - 1, 2):
            if not items[i]:
                break
            if len(self._params) < 32:
                self._params[items[i][:64]] = items[i + 1][:256]

    def _query(self, mtype: int, body: bytes) -> None:
        self._query_count += 1
        if mtype == 0x50:  # Parse: statement name, then the query
            parts = body.split(b"\x00", 2)
            text = parts[1] if len(parts) > 1 else b""
        else:
            text = body.split(b"\x00", 1)[0]
        if len(self._queries) < MAX_QUERIES:
            q = " ".join(text.decode("utf-8", "replace").split())
            self._queries.append(q[:MAX_QUERY_TEXT])

    # -- server --------------------------------------------------------------------------

    def _server(self, side: _Side) -> None:
        if self._awaiting_answer:
            answer = bytes(side.buf[:1])
            del side.buf[:1]
            if answer not in (b"S", b"N", b"G"):
                if answer == b"E":  # a pre-3.0 server answering with an error
                    side.buf[:0] = answer
                    self._awaiting_answer = False
                else:
                    raise MalformedError(PROTO, "bad answer to SSLRequest")
            else:
                self._awaiting_answer = False
                self._ssl_response = answer.decode()
                if answer in (b"S", b"G"):
                    self._handoff = "TLS" if answer == b"S" else None
                    if answer == b"G":
                        self._lost = [True, True]  # GSSAPI-encrypted from here
                    return
                self._client(self._sides[Dir.CLIENT])
        for mtype, body in self._typed(side):
            if mtype == 0x52 and len(body) >= 4:  # R
                (code,) = _U32.unpack_from(body)
                if code == 0:
                    self._auth_ok = True
                    if self._auth_method is None:
                        self._auth_method = "trust"  # no password was asked for
                    self._events.append(PostgresLogin(self._ts, True, self._auth_method, None))
                elif self._auth_method is None or code in AUTH_METHODS:
                    if code in (11, 12):
                        continue  # SASL continue/final
                    self._auth_method = AUTH_METHODS.get(code, f"code_{code}")
                    if code == 10:
                        self._sasl = [m for m in _cstrings(body[4:]) if m][:8]
            elif mtype == 0x53:  # S: ParameterStatus
                items = _cstrings(body)
                if len(items) >= 2 and items[0] == "server_version":
                    self._server_version = items[1][:64]
            elif mtype == 0x45 and self._error is None:  # E
                self._error = self._error_fields(body)
                if not self._auth_ok:
                    code = self._error.get("code")
                    self._events.append(PostgresLogin(self._ts, False, self._auth_method, code))

    @staticmethod
    def _error_fields(body: bytes) -> dict[str, str]:
        fields: dict[str, str] = {}
        names = {"S": "severity", "C": "code", "M": "message"}
        for item in body.split(b"\x00"):
            if item and chr(item[0]) in names:
                fields[names[chr(item[0])]] = item[1:].decode("utf-8", "replace")[:200]
        return fields

    def _typed(self, side: _Side) -> list[tuple[int, bytes]]:
        """Complete typed messages; big bodies are skipped (their type is returned with an
        empty body only if they are kept)."""
        out: list[tuple[int, bytes]] = []
        buf = side.buf
        while len(buf) >= 5 and not side.skip:
            mtype = buf[0]
            (length,) = _U32.unpack_from(buf, 1)
            if length < 4 or length > MAX_MESSAGE:
                raise MalformedError(PROTO, "message length out of range")
            total = 1 + length
            if length > MAX_KEEP:
                if mtype in (0x51, 0x50) and len(buf) >= 1 + MAX_KEEP:
                    out.append((mtype, bytes(buf[5 : 1 + MAX_KEEP])))
                elif mtype in (0x51, 0x50):
                    return out  # wait for enough of a long query to show its start
                have = min(len(buf), total)
                side.skip = total - have
                del buf[:have]
                continue
            if len(buf) < total:
                return out
            out.append((mtype, bytes(buf[5:total])))
            del buf[:total]
        return out

    # -- output --------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        params = self._params
        return {
            "protocol_version": "3.0" if params or self._sides[0].typed else None,
            "user": params.get("user"),
            "database": params.get("database") or params.get("user"),
            "application_name": params.get("application_name"),
            "parameters": {k: v for k, v in params.items() if k not in NAMED_PARAMS},
            "ssl_request": self._ssl_request,
            "gssenc_request": self._gss_request,
            "ssl_response": self._ssl_response,
            "cancel_request": self._cancel,
            "auth_method": self._auth_method,
            "sasl_mechanisms": list(self._sasl),
            "auth_ok": self._auth_ok,
            "server_version": self._server_version,
            "error": dict(self._error) if self._error else None,
            "queries": list(self._queries),
            "query_count": self._query_count,
        }

    def summary(self) -> str:
        user, db = self._params.get("user"), self._params.get("database")
        if user:
            return f"PostgreSQL {user}@{db or user}"
        if self._ssl_response == "S":
            return "PostgreSQL (TLS)"
        return "PostgreSQL"
