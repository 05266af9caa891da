"""IMAP analyzer: RFC 3501 §2.2 (commands are tagged, responses untagged ``*``, tagged
``a1 OK``, or continuation ``+``), §4.3 (literals ``{n}\\r\\n`` + n bytes, inside a line),
§6.2.2-§6.2.3 (AUTHENTICATE, LOGIN), §6.2.1 (STARTTLS), §7.2.1 (CAPABILITY);
RFC 7888 (non-synchronising literals ``{n+}``); RFC 4959 (SASL-IR).

::

    S: * OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.
    C: a1 LOGIN alice {6}           (a literal: the next 6 bytes are the password)
    S: + go ahead
    C: secret
    S: a1 OK Logged in
    C: a2 UID FETCH 1:* (BODY[])    S: * 1 FETCH (BODY[] {2048} <2048 bytes> )  a2 OK

Literals are read as part of their line; a large one (a message body) is skipped without
copying. The password (LOGIN's second argument, the PLAIN blob's third field) is never
kept. After ``STARTTLS`` answered OK the stream is TLS: ``handoff``.
"""

from __future__ import annotations

import re
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

PROTO = "IMAP"
PORTS = frozenset({143})
MAX_TAGS = 256  # commands awaiting their tagged response
MAX_LITERAL_KEPT = 256  # a literal up to this size is kept in its line (LOGIN's user)
MAX_LOGICAL_LINE = 64 * 1024
MAX_TEXT = 160
_LITERAL = re.compile(rb"\{(\d{1,12})\+?\}$")
_TAG = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|~]{1,64}")
_CAPS = re.compile(rb"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)


class _Reader:
    """One direction's logical lines: a line and the literals it carries, joined."""

    __slots__ = ("lines", "literal_left", "parts", "size")

    def __init__(self) -> None:
        self.lines = Lines(PROTO)
        self.parts: list[bytes] = []
        self.literal_left = 0
        self.size = 0

    def next(self) -> bytes | None:
        lines = self.lines
        while True:
            if self.literal_left:
                keep = self.literal_left <= MAX_LITERAL_KEPT
                if keep and lines.pending < self.literal_left:
                    lines.compact()
                    return None
                if keep:
                    raw = lines.take_bytes(self.literal_left)
                    # kept as a quoted string, so the line parses as if it were one
                    quoted = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
                    self.parts.append(b'"' + quoted + b'"')
                    self.size += len(quoted) + 2
                    self.literal_left = 0
                else:
                    self.literal_left -= lines.skip(self.literal_left)
                    if self.literal_left:
                        return None
                    self.parts.append(b'""')
            line = lines.next_line()
            if line is None:
                return None
            m = _LITERAL.search(line)
            self.size += len(line)
            if self.size > MAX_LOGICAL_LINE:
                raise MalformedError(PROTO, "line too long")
            if m:
                self.parts.append(line[: m.start()])
                self.literal_left = int(m[1])
                continue
            self.parts.append(line)
            out = b"".join(self.parts)
            self.parts.clear()
            self.size = 0
            return out


def astrings(raw: bytes, n: int) -> list[str]:
    """The first ``n`` astrings of an argument list (atoms or quoted strings, §9)."""
    out: list[str] = []
    pos = 0
    while len(out) < n:
        while pos < len(raw) and raw[pos] == 0x20:
            pos += 1
        if pos >= len(raw):
            break
        if raw[pos] == 0x22:  # quoted: backslash escapes \ and "
            buf = bytearray()
            pos += 1
            while pos < len(raw) and raw[pos] != 0x22:
                if raw[pos] == 0x5C and pos + 1 < len(raw):
                    pos += 1
                buf.append(raw[pos])
                pos += 1
            pos += 1
            out.append(text(bytes(buf)))
        else:
            end = raw.find(b" ", pos)
            end = len(raw) if end < 0 else end
            out.append(text(raw[pos:end]))
            pos = end
    return out


class IMAPAnalyzer(LineSession):
    """One IMAP session, up to LOGOUT or STARTTLS."""

    protocol = PROTO

    def __init__(self) -> None:
        self._client = _Reader()
        self._server = _Reader()
        self._server.lines.overlong = "split"
        super().__init__()
        self._tags: dict[bytes, str] = {}  # tag -> command
        self._sasl_tag: bytes | None = None
        self._idle = False
        self._greeted = False
        self.greeting: str | None = None
        self.server_software: str | None = None
        self.capabilities: list[str] = []
        self.commands: list[str] = []
        self.user: str | None = None
        self.auth_mechanism: str | None = None
        self.login_success: bool | None = None
        self.starttls = False
        self.mailboxes: list[str] = []
        self.responses = {"OK": 0, "NO": 0, "BAD": 0}

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or self._handoff or not data:
            return ()
        reader = self._client if direction is Dir.CLIENT else self._server
        reader.lines.push(data)
        while not self._handoff and (line := reader.next()) is not None:
            if direction is Dir.CLIENT:
                self._client_line(line)
            else:
                self._server_line(line)
        return ()

    def _buffer(self, direction: Dir) -> Lines:
        return (self._client if direction is Dir.CLIENT else self._server).lines

    @property
    def buffered(self) -> int:
        # the line buffers, and the parts of a logical line waiting for its last line
        client, server = self._client, self._server
        return client.lines.held + server.lines.held + client.size + server.size

    def record(self) -> dict[str, Any]:
        return {
            "greeting": self.greeting,
            "server_software": self.server_software,
            "capabilities": self.capabilities,
            "commands": self.commands,
            "user": self.user,
            "auth_mechanism": self.auth_mechanism,
            "login_success": self.login_success,
            "starttls": self.starttls,
            "mailboxes": self.mailboxes,
            "responses": dict(self.responses),
        }

    def summary(self) -> str:
        parts = [PROTO]
        if self.user:
            parts.append(self.user)
        if self.mailboxes:
            parts.append(self.mailboxes[-1])
        if self.starttls:
            parts.append("STARTTLS")
        return " ".join(parts)

    # -- client --------------------------------------------------------------------------

    def _client_line(self, line: bytes) -> None:
        if self._sasl_tag is not None:  # §6.2.2: one base64 line per continuation
            decoded = b64(line)
            if decoded is not None and self.user is None:
                self.user = sasl_user(self.auth_mechanism or "", decoded)
            return
        if self._idle and line.strip().upper() == b"DONE":  # RFC 2177
            self._idle = False
            return
        if not line.strip():
            return
        tag, _, rest = line.partition(b" ")
        verb_raw, _, args = rest.partition(b" ")
        if not _TAG.fullmatch(tag) or not verb_raw.isalpha() or len(verb_raw) > 32:
            raise MalformedError(PROTO, "not an IMAP command")
        verb = verb_raw.decode("ascii").upper()
        if verb == "UID":  # UID FETCH/STORE/COPY/SEARCH: the sub-command is the command
            sub, _, args = args.partition(b" ")
            verb = text(sub).upper() or verb
        add_unique(self.commands, verb[:32])
        if len(self._tags) >= MAX_TAGS:
            raise MalformedError(PROTO, "too many commands without a tagged response")
        self._tags[tag] = verb
        if verb == "LOGIN":
            names = astrings(args, 1)
            self.user = names[0][:MAX_TEXT] if names else None
        elif verb == "AUTHENTICATE":
            mech, _, initial = args.partition(b" ")
            self.auth_mechanism = text(mech).upper()
            self._sasl_tag = tag
            initial = initial.strip()
            if initial and initial != b"=":
                decoded = b64(initial)
                if decoded is not None:
                    self.user = sasl_user(self.auth_mechanism, decoded)
        elif verb in ("SELECT", "EXAMINE"):
            names = astrings(args, 1)
            if names:
                add_unique(self.mailboxes, names[0][:MAX_TEXT])
        elif verb == "IDLE":
            self._idle = True

    # -- server --------------------------------------------------------------------------

    def _server_line(self, line: bytes) -> None:
        if line.startswith(b"+"):
            return  # continuation request
        tag, _, rest = line.partition(b" ")
        status, _, info = rest.partition(b" ")
        status = status.upper()
        caps = _CAPS.search(rest)
        if caps:
            self._caps(caps[1])
        if tag == b"*":
            if not self._greeted and status in (b"OK", b"PREAUTH", b"BYE"):
                self._greeted = True
                self.greeting = text(info)[:MAX_TEXT]
                self.server_software = software_of(self.greeting)
            elif status == b"CAPABILITY":
                self._caps(info)
            return
        if not _TAG.fullmatch(tag) or status not in (b"OK", b"NO", b"BAD"):
            raise MalformedError(PROTO, "response without a tag and status")
        word = status.decode("ascii")
        self.responses[word] += 1
        verb = self._tags.pop(tag, "")
        if tag == self._sasl_tag:
            self._sasl_tag = None
        if verb in ("LOGIN", "AUTHENTICATE"):
            self.login_success = word == "OK"
        elif verb == "STARTTLS" and word == "OK":
            self.starttls = True
            self._handoff = "TLS"
        elif verb == "LOGOUT":
            self._quit = True
        elif verb == "IDLE":
            self._idle = False

    def _caps(self, raw: bytes) -> None:
        for cap in raw.split()[: MAX_LIST * 2]:
            add_unique(self.capabilities, text(cap)[:MAX_TEXT])


_GREETING = re.compile(rb"\* (?:OK|PREAUTH|BYE)[ \[]", re.IGNORECASE)
_CLIENT_FIRST = re.compile(
    rb"[A-Za-z0-9.]{1,20} (?:CAPABILITY|LOGIN|STARTTLS|AUTHENTICATE|NOOP|ID)[ \r\n]",
    re.IGNORECASE,
)


def detect_tcp(data: bytes) -> bool:
    """An IMAP greeting (``* OK ...``) or a tagged first command (``a1 CAPABILITY``)."""
    return bool(_GREETING.match(data) or _CLIENT_FIRST.match(data))
