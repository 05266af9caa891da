"""Redis analyzer: RESP2 and RESP3, the Redis serialization protocol (redis.io
"Redis serialization protocol specification"; RESP3 spec in redis/redis-specifications).

A client sends each command as an array of bulk strings (or, from a terminal, an inline
line of words); the server answers with one value per command::

    *3\\r\\n $3\\r\\n SET\\r\\n $1\\r\\n k\\r\\n $1\\r\\n v\\r\\n       SET k v
    +OK\\r\\n                                                 simple string reply

Types by first byte: ``+`` simple string, ``-`` error, ``:`` integer, ``$`` bulk string,
``*`` array; RESP3 adds ``_`` null, ``,`` double, ``#`` boolean, ``!`` bulk error, ``=``
verbatim string, ``(`` big number, ``%`` map, ``~`` set, ``|`` attribute, ``>`` push.

The parser streams: bulk strings above :data:`MAX_KEEP` are skipped as they arrive, and
only the first :data:`MAX_LEAVES` leaves of a value are kept. Replies are paired with
commands in order (pipelining is FIFO) until the connection enters pub/sub or MONITOR
mode, where the server sends unsolicited messages.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "Redis"
MAX_LINE = 64 * 1024
MAX_KEEP = 4096  # bulk strings up to this size are kept (for INFO / HELLO)
MAX_LEAVES = 64
MAX_DEPTH = 16
MAX_PENDING = 1024
MAX_NAMES = 64
MAX_CHANNELS = 16

AGGREGATES = frozenset(b"*%~>|")
BULKS = frozenset(b"$=!")
SIMPLES = frozenset(b"+-:_,#(")
#: commands after which the server sends messages nobody asked for
UNPAIRED_MODES = frozenset({"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "SYNC", "PSYNC"})
_ARRAY_START = re.compile(rb"\*[1-9][0-9]{0,5}\r\n\$[1-9][0-9]{0,5}\r\n[A-Za-z]")
#: inline commands a terminal user types first, each with the arguments Redis takes, so
#: that a greeting like "hello there" is not taken for HELLO, nor the AUTH of SMTP, FTP,
#: POP3 or IMAP (a SASL mechanism or TLS as its argument) for Redis's AUTH [user] password
_INLINE = re.compile(
    rb"(?i:PING(?: [^\r\n]{1,100})?|INFO(?: [a-z]{1,20})?|HELLO [23](?: [^\r\n]{1,200})?"
    rb"|MONITOR"
    rb"|AUTH (?!(?:TLS|SSL|LOGIN|PLAIN|CRAM-MD5|DIGEST-MD5|XOAUTH2|OAUTHBEARER|GSSAPI|NTLM"
    rb"|EXTERNAL|SCRAM-[A-Z0-9-]+)\b)[^\r\n ]{1,128}(?: [^\r\n ]{1,128})?)\r?\n"
)
_VERSION = re.compile(rb"redis_version:([0-9A-Za-z.\-]{1,32})")


@dataclass(frozen=True, slots=True)
class RedisAuth(AppEvent):
    """The reply to AUTH (or HELLO with AUTH)."""

    username: str | None
    ok: bool


def detect_tcp(data: bytes) -> bool:
    """A command array (``*N`` then a bulk command name) or a known inline command line
    (the first line of the payload; a client may pipeline more)."""
    if _ARRAY_START.match(data):
        return True
    return _INLINE.match(data) is not None


class _Message:
    __slots__ = ("count", "kind", "leaves", "size")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.leaves: list[bytes | None] = []
        self.count = 0
        self.size = 0  # bytes of the leaves kept

    def add(self, leaf: bytes | None) -> None:
        self.count += 1
        if len(self.leaves) < MAX_LEAVES:
            self.leaves.append(leaf)
            if leaf:
                self.size += len(leaf)


class _Parser:
    """One direction's RESP stream, cut into top-level values."""

    __slots__ = ("buf", "inline", "msg", "pending_bulk", "skip", "stack")

    def __init__(self, inline: bool) -> None:
        self.buf = bytearray()
        self.inline = inline
        self.stack: list[int] = []
        self.msg: _Message | None = None
        self.skip = 0  # bytes of a big bulk string still to discard (with its CRLF)
        self.pending_bulk = -1  # length of a kept bulk string whose bytes are awaited

    @property
    def held(self) -> int:
        """Bytes kept for the value not yet complete: its unparsed rest and its leaves."""
        msg = self.msg
        return len(self.buf) + (msg.size if msg is not None else 0)

    def feed(self, data: bytes) -> list[_Message]:
        out: list[_Message] = []
        if self.skip:
            n = min(self.skip, len(data))
            self.skip -= n
            data = data[n:]
            if not self.skip:
                self._leaf(None, out)
        self.buf += data
        while self.buf and not self.skip:
            if self.pending_bulk >= 0:
                n = self.pending_bulk
                if len(self.buf) < n + 2:
                    return out
                if self.buf[n : n + 2] != b"\r\n":
                    raise MalformedError(PROTO, "bulk string not ended by CRLF")
                leaf = bytes(self.buf[:n])
                del self.buf[: n + 2]
                self.pending_bulk = -1
                self._leaf(leaf, out)
                continue
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > MAX_LINE:
                    raise MalformedError(PROTO, "line longer than 64 KiB")
                return out
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[: end + 1]
            self._line(line, out)
        return out

    def _line(self, line: bytes, out: list[_Message]) -> None:
        kind = line[0] if line else 0
        if self.msg is None:
            if kind in AGGREGATES or kind in BULKS or kind in SIMPLES:
                self.msg = _Message(kind)
            elif self.inline:
                msg = _Message(ord("i"))
                for word in line.split()[:MAX_LEAVES]:
                    msg.add(word)
                if msg.leaves:
                    out.append(msg)
                return
            else:
                raise MalformedError(PROTO, f"unknown RESP type byte {kind:#04x}")
        if kind in AGGREGATES:
            n = self._int(line)
            if kind in b"%|":
                n *= 2
            if n <= 0:
                self._leaf(None, out)
            else:
                if len(self.stack) >= MAX_DEPTH:
                    raise MalformedError(PROTO, "RESP nesting deeper than 16")
                self.stack.append(n)
        elif kind in BULKS:
            n = self._int(line)
            if n < 0:
                self._leaf(None, out)
            elif n <= MAX_KEEP:
                self.pending_bulk = n
            else:
                have = min(len(self.buf), n + 2)
                del self.buf[:have]
                self.skip = n + 2 - have
                if not self.skip:
                    self._leaf(None, out)
        elif kind in SIMPLES:
            self._leaf(line[1:], out)
        else:
            raise MalformedError(PROTO, f"unknown RESP type byte {kind:#04x}")

    @staticmethod
    def _int(line: bytes) -> int:
        body = line[1:]
        if not body or len(body) > 20 or not body.lstrip(b"-").isdigit():
            raise MalformedError(PROTO, "bad RESP length")
        return int(body)

    def _leaf(self, leaf: bytes | None, out: list[_Message]) -> None:
        msg = self.msg
        if msg is None:
            raise MalformedError(PROTO, "value outside a message")
        msg.add(leaf)
        while self.stack:
            self.stack[-1] -= 1
            if self.stack[-1] > 0:
                return
            self.stack.pop()
        out.append(msg)
        self.msg = None


def _text(raw: bytes | None, limit: int = 128) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")[:limit]


class RedisAnalyzer(AnalyzerBase):
    """One Redis connection: the commands sent and what the replies said."""

    protocol = PROTO

    def __init__(self) -> None:
        self._client = _Parser(inline=True)
        self._server = _Parser(inline=False)
        self._lost = [False, False]
        self._pending: deque[str] = deque()
        self._paired = True
        self._names: list[str] = []
        self._counts: dict[str, int] = {}
        self._requests = 0
        self._replies = 0
        self._errors = 0
        self._first_error: str | None = None
        self._username: str | None = None
        self._auth: str | None = None
        self._client_name: str | None = None
        self._db: int | None = None
        self._resp: int | None = None
        self._version: str | None = None
        self._channels: list[str] = []

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction]:
            return ()
        if direction == Dir.CLIENT:
            for msg in self._client.feed(data):
                self._command(msg)
            return ()
        events: list[AppEvent] = []
        for msg in self._server.feed(data):
            if self._reply(msg):
                events.append(RedisAuth(ts, self._username, self._auth == "ok"))
        return events

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True
        self._paired = False

    @property
    def buffered(self) -> int:
        return self._client.held + self._server.held

    @property
    def finished(self) -> bool:
        return all(self._lost)

    # -- commands and replies ------------------------------------------------------------

    def _command(self, msg: _Message) -> None:
        args = msg.leaves
        if not args or args[0] is None:
            return
        name = _text(args[0], 32).upper()
        self._requests += 1
        if name in self._counts or len(self._counts) < MAX_NAMES:
            self._counts[name] = self._counts.get(name, 0) + 1
        if name not in self._names and len(self._names) < MAX_NAMES:
            self._names.append(name)
        sub = _text(args[1], 16).upper() if len(args) > 1 else ""
        if name == "AUTH":
            self._username = _text(args[1]) if len(args) >= 3 else "default"
        elif name == "HELLO":
            self._hello(args)
        elif name == "CLIENT" and sub == "SETNAME" and len(args) > 2:
            self._client_name = _text(args[2])
        elif name == "SELECT" and len(args) > 1 and _text(args[1]).isdigit():
            self._db = int(_text(args[1]))
        elif name in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"):
            for ch in args[1:]:
                if len(self._channels) < MAX_CHANNELS and _text(ch) not in self._channels:
                    self._channels.append(_text(ch))
        if self._paired:
            if len(self._pending) >= MAX_PENDING:
                self._paired = False
            else:
                self._pending.append(name)
        if name in UNPAIRED_MODES:
            self._paired = False

    def _hello(self, args: list[bytes | None]) -> None:
        if len(args) > 1 and _text(args[1]).isdigit():
            self._resp = int(_text(args[1]))
        words = [_text(a).upper() for a in args]
        for i, word in enumerate(words):
            if word == "AUTH" and i + 1 < len(args):
                self._username = _text(args[i + 1])
            elif word == "SETNAME" and i + 1 < len(args):
                self._client_name = _text(args[i + 1])

    def _reply(self, msg: _Message) -> bool:
        """Account for one reply; True if it answered an authentication."""
        if msg.kind == ord(">"):
            return False  # RESP3 push: not a reply
        self._replies += 1
        error = msg.kind in (ord("-"), ord("!"))
        if error:
            self._errors += 1
            if self._first_error is None:
                self._first_error = _text(msg.leaves[0] if msg.leaves else None, 200)
        self._scan_version(msg.leaves)
        if not self._paired or not self._pending:
            return False
        name = self._pending.popleft()
        if name == "AUTH" or (name == "HELLO" and self._username is not None):
            self._auth = "failed" if error else "ok"
            return True
        return False

    def _scan_version(self, leaves: list[bytes | None]) -> None:
        if self._version is not None:
            return
        for i, leaf in enumerate(leaves):
            if leaf is None:
                continue
            if leaf == b"version" and i + 1 < len(leaves):
                self._version = _text(leaves[i + 1], 32)
                return
            m = _VERSION.search(leaf)
            if m:
                self._version = m[1].decode("ascii")
                return

    # -- output --------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "commands": list(self._names),
            "command_counts": dict(self._counts),
            "requests": self._requests,
            "replies": self._replies,
            "errors": self._errors,
            "first_error": self._first_error,
            "username": self._username,
            "auth": self._auth,
            "client_name": self._client_name,
            "db": self._db,
            "resp_version": self._resp,
            "server_version": self._version,
            "channels": list(self._channels),
        }

    def summary(self) -> str:
        text = "Redis"
        if self._names:
            text += " " + " ".join(self._names[:3])
        return text
