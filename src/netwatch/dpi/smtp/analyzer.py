"""SMTP analyzer: RFC 5321 §4.1 (commands), §4.2 (replies, multi-line ``250-``), §4.5.2
(dot-stuffing, ``.`` ends DATA); RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2920
(PIPELINING), RFC 3030 §2 (BDAT chunks); RFC 5322 §2.2 (message header fields).

A session, one line per step (C = client, S = server)::

    S: 220 mx.example ESMTP Postfix            greeting (the banner)
    C: EHLO client.example                     -> helo
    S: 250-mx.example / 250-PIPELINING / 250 STARTTLS   capabilities
    C: MAIL FROM:<a@x> / RCPT TO:<b@y> / DATA  (pipelined: several before any reply)
    S: 250 / 250 / 354
    C: <header lines> <empty line> <body> .    one message: size, Subject, From, ...
    S: 250 queued

Replies answer commands in order, so a queue of pending verbs pairs them even when the
client pipelines. After ``STARTTLS`` answered ``220`` the stream is TLS: ``handoff``.
Passwords (the second AUTH LOGIN line, the PLAIN blob's third field) are never kept.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AppEvent, Dir
from netwatch.dpi.smtp.text import (
    MAX_LIST,
    Lines,
    LineSession,
    add_unique,
    b64,
    sasl_user,
    software_of,
    text,
)
from netwatch.errors import MalformedError

PROTO = "SMTP"
PORTS = frozenset({25, 465, 587, 2525})
MAX_PENDING = 1024  # commands awaiting a reply (pipelining)
MAX_REPLY_LINES = 128
MAX_MESSAGES = 32
MAX_RCPT = 256
MAX_HEADER_BYTES = 32 * 1024
#: Message header fields kept per message, by lower-cased name -> record key.
HEADER_FIELDS = {
    "subject": "subject",
    "from": "from",
    "to": "to",
    "cc": "cc",
    "date": "date",
    "message-id": "message_id",
    "user-agent": "user_agent",
    "x-mailer": "user_agent",
}
_VERB = re.compile(rb"[A-Za-z][A-Za-z0-9_-]{0,19}")
_REPLY = re.compile(rb"([2-5][0-9][0-9])([ -]|$)")
_PATH = re.compile(rb"(?i)(?:FROM|TO):\s*(<[^>]*>|[^\s<>]+)")


class _Message:
    __slots__ = ("header_bytes", "headers", "in_headers", "last_header", "result", "size")

    def __init__(self) -> None:
        self.size = 0
        self.in_headers = True
        self.header_bytes = 0
        self.headers: dict[str, str] = {}
        self.last_header: str | None = None
        self.result: int | None = None


class SMTPAnalyzer(LineSession):
    """One SMTP session, up to QUIT or STARTTLS."""

    protocol = PROTO

    def __init__(self) -> None:
        self._client = Lines(PROTO)
        self._server = Lines(PROTO)
        super().__init__()
        self._mode = "command"  # command | data | bdat | sasl
        self._bdat_left = 0
        self._pending: deque[str] = deque()
        self._reply: list[bytes] = []
        self._greeted = False
        self._msg: _Message | None = None
        self._envelope: dict[str, Any] = {}
        self.banner: str | None = None
        self.helo: str | None = None
        self.commands: list[str] = []
        self.reply_codes: list[int] = []  # each code once, in order of first use
        self.capabilities: list[str] = []
        self.starttls = False
        self.auth_mechanism: str | None = None
        self.auth_user: str | None = None
        self.auth_success: bool | None = None
        self._sasl_lines = 0
        self.mail_from: list[str] = []
        self.rcpt_to: list[str] = []
        self.rcpt_more = 0
        self.messages: list[dict[str, Any]] = []
        self.message_count = 0
        self.message_bytes = 0
        self.pipelining = False
        self.last_reply: str | None = None

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or self._handoff or not data:
            return ()
        if direction is Dir.CLIENT:
            self._client.push(data)
            self._client_input()
        else:
            self._server.push(data)
            while not self._handoff and (line := self._server.next_line()) is not None:
                self._server_line(line)
        return ()

    def _buffer(self, direction: Dir) -> Lines:
        return self._client if direction is Dir.CLIENT else self._server

    @property
    def buffered(self) -> int:
        # the line buffers, and the lines of a multi-line reply waiting for its last
        reply = self._reply
        return super().buffered + (sum(map(len, reply)) if reply else 0)

    def record(self) -> dict[str, Any]:
        return {
            "banner": self.banner,
            "server_software": software_of(self.banner),
            "helo": self.helo,
            "commands": self.commands,
            "reply_codes": self.reply_codes,
            "capabilities": self.capabilities,
            "pipelining": self.pipelining,
            "starttls": self.starttls,
            "auth_mechanism": self.auth_mechanism,
            "auth_user": self.auth_user,
            "auth_success": self.auth_success,
            "mail_from": self.mail_from,
            "rcpt_to": self.rcpt_to,
            "rcpt_to_more": self.rcpt_more,
            "message_count": self.message_count,
            "message_bytes": self.message_bytes,
            "messages": self.messages,
            "last_reply": self.last_reply,
        }

    def summary(self) -> str:
        parts = [PROTO]
        if self.helo:
            parts.append(self.helo)
        if self.mail_from:
            parts.append(f"{self.mail_from[0] or '<>'} → {len(self.rcpt_to) + self.rcpt_more} rcpt")
        if self.starttls:
            parts.append("STARTTLS")
        return " ".join(parts)

    # -- client side ---------------------------------------------------------------------

    def _client_input(self) -> None:
        lines = self._client
        while not self._handoff:
            if self._mode == "bdat":
                chunk = lines.take_bytes(self._bdat_left)
                if not chunk:
                    return
                self._bdat_left -= len(chunk)
                if self._msg is not None:
                    self._msg.size += len(chunk)
                if self._bdat_left == 0:
                    self._mode = "command"
                continue
            if self._mode == "data" and self._msg is not None and not self._msg.in_headers:
                skipped = lines.skip_block()  # body lines not starting with "."
                if skipped:
                    self._msg.size += skipped
                    continue
            lines.overlong = "split" if self._mode == "data" else "raise"
            line = lines.next_line()
            if line is None:
                return
            if self._mode == "data":
                self._body_line(line)
            elif self._mode == "sasl":
                self._sasl_line(line)
            else:
                self._command(line)

    def _expect_reply(self, verb: str) -> None:
        if self._pending:
            self.pipelining = True
        if len(self._pending) >= MAX_PENDING:
            raise MalformedError(PROTO, "too many commands without a reply")
        self._pending.append(verb)

    def _command(self, line: bytes) -> None:
        if not line.strip():
            return
        raw_verb, _, arg = line.partition(b" ")
        if not _VERB.fullmatch(raw_verb):
            raise MalformedError(PROTO, "not an SMTP command")
        verb = raw_verb.decode("ascii").upper()
        arg = arg.strip()
        add_unique(self.commands, verb)
        self._expect_reply(verb)
        if verb in ("EHLO", "HELO", "LHLO"):
            self.helo = text(arg)
        elif verb == "MAIL":
            self._mail_from(arg)
        elif verb == "RCPT":
            self._rcpt_to(arg)
        elif verb == "DATA":
            self._mode = "data"
            self._msg = _Message()
        elif verb == "BDAT":
            self._bdat(arg)
        elif verb == "AUTH":
            self._auth(arg)
        elif verb == "RSET":
            self._envelope = {}

    def _mail_from(self, arg: bytes) -> None:
        m = _PATH.match(arg)
        addr = text(m[1].strip(b"<>")) if m else ""
        add_unique(self.mail_from, addr)  # beyond MAX_LIST senders: only in messages[]
        self._envelope = {"mail_from": addr, "rcpt_to": []}

    def _rcpt_to(self, arg: bytes) -> None:
        m = _PATH.match(arg)
        if not m:
            return
        addr = text(m[1].strip(b"<>"))
        if addr not in self.rcpt_to and not add_unique(self.rcpt_to, addr, MAX_RCPT):
            self.rcpt_more += 1
        rcpts = self._envelope.setdefault("rcpt_to", [])
        if len(rcpts) < MAX_LIST:
            rcpts.append(addr)

    def _bdat(self, arg: bytes) -> None:
        size, _, last = arg.partition(b" ")
        if not size.isdigit() or len(size) > 12:
            raise MalformedError(PROTO, "BDAT without a chunk size")
        if self._msg is None:
            self._msg = _Message()
            self._msg.in_headers = False  # binary chunks: headers are not parsed
        self._bdat_left = int(size)
        self._mode = "bdat" if self._bdat_left else "command"
        if last.strip().upper() == b"LAST":
            self._pending[-1] = "BDAT LAST"

    def _auth(self, arg: bytes) -> None:
        mech, _, initial = arg.partition(b" ")
        self.auth_mechanism = text(mech).upper() or None
        self._sasl_lines = 0
        self._mode = "sasl"
        initial = initial.strip()
        if initial and initial != b"=":
            self._sasl_response(initial)

    def _sasl_line(self, line: bytes) -> None:
        self._expect_reply("AUTH-DATA")
        if line.strip() == b"*":  # RFC 4954 §4: the client cancels
            return
        self._sasl_response(line)

    def _sasl_response(self, raw: bytes) -> None:
        self._sasl_lines += 1
        mech = self.auth_mechanism or ""
        # LOGIN sends the user first, then the password: only the first response is read.
        if self.auth_user is None and (mech != "LOGIN" or self._sasl_lines == 1):
            decoded = b64(raw)
            if decoded is not None:
                self.auth_user = sasl_user(mech, decoded)

    def _body_line(self, line: bytes) -> None:
        msg = self._msg
        assert msg is not None
        if line == b".":
            self._mode = "command"
            self._expect_reply(".")
            return
        if line.startswith(b"."):
            line = line[1:]  # §4.5.2 transparency
        msg.size += len(line) + 2
        if msg.in_headers:
            self._header_line(msg, line)

    def _header_line(self, msg: _Message, line: bytes) -> None:
        if not line:
            msg.in_headers = False
            return
        msg.header_bytes += len(line)
        if msg.header_bytes > MAX_HEADER_BYTES:
            msg.in_headers = False
            return
        if line[:1] in (b" ", b"\t"):  # RFC 5322 §2.2.3 folding
            if msg.last_header is not None:
                msg.headers[msg.last_header] += " " + text(line.strip())
            return
        name, colon, value = line.partition(b":")
        if not colon:
            msg.in_headers = False  # not a header block after all
            return
        key = HEADER_FIELDS.get(text(name.strip()).lower())
        msg.last_header = key if key is not None and key not in msg.headers else None
        if msg.last_header is not None:
            msg.headers[msg.last_header] = text(value.strip())

    # -- server side ---------------------------------------------------------------------

    def _server_line(self, line: bytes) -> None:
        m = _REPLY.match(line)
        if not m:
            raise MalformedError(PROTO, "reply without a code")
        if len(self._reply) >= MAX_REPLY_LINES:
            raise MalformedError(PROTO, "reply of too many lines")
        self._reply.append(line)
        if m[2] == b"-":
            return
        lines, self._reply = self._reply, []
        code = int(m[1])
        if code not in self.reply_codes and len(self.reply_codes) < MAX_LIST:
            self.reply_codes.append(code)
        self.last_reply = text(line)
        verb = self._pending.popleft() if self._pending else None
        if verb is None and not self._greeted:
            self._greeted = True
            self.banner = text(lines[0][4:])
            return
        self._answer(verb, code, lines)

    def _answer(self, verb: str | None, code: int, lines: list[bytes]) -> None:
        if verb == "EHLO" and code == 250:
            self.capabilities = [text(x[4:]) for x in lines[1 : 1 + MAX_LIST]]
        elif verb == "STARTTLS" and code == 220:
            self.starttls = True
            self._handoff = "TLS"
        elif verb in ("AUTH", "AUTH-DATA"):
            if code == 235:
                self.auth_success = True
            elif code >= 500:
                self.auth_success = False
            if code != 334 and self._mode == "sasl":
                self._mode = "command"
        elif verb == "DATA" and code != 354 and self._mode == "data":
            msg = self._msg
            if msg is not None and msg.size == 0 and msg.in_headers and not msg.headers:
                self._mode = "command"  # refused: the client will not send a body
                self._msg = None
        elif verb in (".", "BDAT LAST"):
            self._message_done(code)
        elif verb == "QUIT":
            self._quit = True

    def _message_done(self, code: int) -> None:
        msg, self._msg = self._msg, None
        if msg is None:
            return
        self.message_count += 1
        self.message_bytes += msg.size
        if len(self.messages) < MAX_MESSAGES:
            env = self._envelope
            self.messages.append(
                {
                    "mail_from": env.get("mail_from"),
                    "rcpt_to": list(env.get("rcpt_to", [])),
                    "size": msg.size,
                    "result": code,
                    **{k: msg.headers.get(k) for k in dict.fromkeys(HEADER_FIELDS.values())},
                }
            )


_GREETING = re.compile(rb"220[ -][^\r\n]*")
_CLIENT_FIRST = re.compile(rb"(?i)(EHLO|HELO|LHLO) [!-~]")


def detect_tcp(data: bytes) -> bool:
    """An SMTP greeting naming SMTP (``220 mx ESMTP Postfix``) or a client's EHLO/HELO."""
    if _CLIENT_FIRST.match(data):
        return True
    m = _GREETING.match(data)
    return bool(m and b"SMTP" in m[0].upper() and b"FTP" not in m[0].upper())


def detect_tcp_greeting(data: bytes) -> bool:
    """Any ``220`` greeting line that does not name FTP (listed with the SMTP ports only,
    after the specific checks: a ``220`` banner alone does not tell SMTP from FTP)."""
    m = _GREETING.match(data)
    return bool(m and b"FTP" not in m[0].upper() and (b"\n" in data or len(data) < 512))
