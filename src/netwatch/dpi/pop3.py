"""POP3 analyzer: RFC 1939 §3 (status ``+OK``/``-ERR``; multi-line responses end with a
line holding only ``.``, other lines starting with ``.`` are dot-stuffed), §5-§7
(USER/PASS/APOP, STAT, LIST, RETR, TOP, UIDL, QUIT); RFC 2449 §5 (CAPA); RFC 2595 §4
(STLS); RFC 5034 §4 (AUTH, server challenges ``+ <base64>``).

::

    S: +OK POP server ready            greeting
    C: CAPA                            S: +OK / TOP / USER / SASL PLAIN / .
    C: USER alice                      S: +OK
    C: PASS ******                     S: +OK 2 messages       (never kept)
    C: RETR 2                          S: +OK / <message lines> / .

Which responses are multi-line depends on the command (and, for LIST/UIDL, on whether
it had an argument), so replies are paired with a queue of pending commands; clients
pipeline (RFC 2449 §6.6). After STLS answered ``+OK`` the stream is TLS: ``handoff``.
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

PROTO = "POP3"
PORTS = frozenset({110})
MAX_PENDING = 256
MAX_TEXT = 160
_VERB = re.compile(rb"[A-Za-z][A-Za-z0-9-]{1,11}")


def multiline(verb: str, arg: str) -> bool:
    """True when a ``+OK`` to this command is followed by lines up to ``.``."""
    if verb in ("CAPA", "RETR", "TOP"):
        return True
    if verb in ("LIST", "UIDL"):
        return not arg
    return verb == "AUTH" and not arg  # mechanisms listed (RFC 1734 servers)


class POP3Analyzer(LineSession):
    """One POP3 session, up to QUIT or STLS."""

    protocol = PROTO

    def __init__(self) -> None:
        self._client = Lines(PROTO)
        self._server = Lines(PROTO, overlong="split")
        super().__init__()
        self._pending: deque[tuple[str, str]] = deque()
        self._in_list: tuple[str, str] | None = None  # the command whose lines we read
        self._sasl = False
        self._greeted = False
        self.greeting: str | None = None
        self.capabilities: list[str] = []
        self.commands: list[str] = []
        self.user: str | None = None
        self.auth_mechanism: str | None = None
        self.login_success: bool | None = None
        self.stls = False
        self.errors = 0
        self.mailbox_messages: int | None = None
        self.mailbox_bytes: int | None = None
        self.retrieved = 0
        self.retrieved_bytes = 0

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or self._handoff or not data:
            return ()
        if direction is Dir.CLIENT:
            self._client.push(data)
            while (line := self._client.next_line()) is not None:
                self._client_line(line)
        else:
            self._server.push(data)
            while not self._handoff:
                if self._in_list is not None and self._in_list[0] == "RETR":
                    skipped = self._server.skip_block()  # message lines not starting "."
                    if skipped:
                        self.retrieved_bytes += skipped
                        continue
                line = self._server.next_line()
                if line is None:
                    break
                self._server_line(line)
        return ()

    def _buffer(self, direction: Dir) -> Lines:
        return self._client if direction is Dir.CLIENT else self._server

    def record(self) -> dict[str, Any]:
        return {
            "greeting": self.greeting,
            "server_software": software_of(self.greeting),
            "capabilities": self.capabilities,
            "commands": self.commands,
            "user": self.user,
            "auth_mechanism": self.auth_mechanism,
            "login_success": self.login_success,
            "stls": self.stls,
            "errors": self.errors,
            "mailbox_messages": self.mailbox_messages,
            "mailbox_bytes": self.mailbox_bytes,
            "retrieved": self.retrieved,
            "retrieved_bytes": self.retrieved_bytes,
        }

    def summary(self) -> str:
        parts = [PROTO]
        if self.user:
            parts.append(self.user)
        if self.retrieved:
            parts.append(f"{self.retrieved} retrieved")
        if self.stls:
            parts.append("STLS")
        return " ".join(parts)

    # -- client --------------------------------------------------------------------------

    def _client_line(self, line: bytes) -> None:
        if self._sasl:  # RFC 5034 §4: one base64 line per server challenge
            self._push("<SASL>", "")
            decoded = b64(line)
            if decoded is not None and self.user is None and line.strip() != b"*":
                self.user = sasl_user(self.auth_mechanism or "", decoded)
            return
        if not line.strip():
            return
        raw_verb, _, raw_arg = line.partition(b" ")
        if not _VERB.fullmatch(raw_verb):
            raise MalformedError(PROTO, "not a POP3 command")
        verb = raw_verb.decode("ascii").upper()
        arg = text(raw_arg.strip())
        add_unique(self.commands, verb)
        self._push(verb, arg)
        if verb == "USER":
            self.user = arg[:MAX_TEXT] or None
        elif verb == "APOP":
            self.user = arg.rpartition(" ")[0][:MAX_TEXT] or None
        elif verb == "AUTH" and arg:
            mech, _, initial = arg.partition(" ")
            self.auth_mechanism = mech.upper()
            self._sasl = True
            if initial and initial != "=":
                decoded = b64(initial)
                if decoded is not None:
                    self.user = sasl_user(mech, decoded)

    def _push(self, verb: str, arg: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            raise MalformedError(PROTO, "too many commands without a response")
        self._pending.append((verb, arg))

    # -- server --------------------------------------------------------------------------

    def _server_line(self, line: bytes) -> None:
        if self._in_list is not None:
            self._list_line(line)
            return
        if line.startswith(b"+ ") or line == b"+":  # SASL challenge
            if self._pending and self._pending[0][0] in ("AUTH", "<SASL>"):
                self._pending.popleft()
            return
        ok = line.startswith(b"+OK")
        if not ok and not line.startswith(b"-ERR"):
            raise MalformedError(PROTO, "response without +OK/-ERR")
        rest = text(line[3 if ok else 4 :].strip())[:MAX_TEXT]
        if not self._pending:
            if not self._greeted:
                self._greeted = True
                self.greeting = rest
            return  # an unsolicited -ERR before the server closes
        verb, arg = self._pending.popleft()
        if not ok:
            self.errors += 1
        self._status(verb, arg, ok, rest)
        if ok and multiline(verb, arg):
            self._in_list = (verb, arg)
            if verb == "RETR":
                self.retrieved += 1

    def _status(self, verb: str, arg: str, ok: bool, rest: str) -> None:
        if verb in ("PASS", "APOP", "<SASL>") or (verb == "AUTH" and arg):
            # a challenge ("+ ") is not a status: this is the exchange's outcome
            self.login_success = ok
            self._sasl = False
        elif verb == "STAT" and ok:
            count, _, size = rest.partition(" ")
            if count.isdigit() and size.split(" ")[0].isdigit():
                self.mailbox_messages = int(count)
                self.mailbox_bytes = int(size.split(" ")[0])
        elif verb == "STLS" and ok:
            self.stls = True
            self._handoff = "TLS"
        elif verb == "QUIT":
            self._quit = True

    def _list_line(self, line: bytes) -> None:
        assert self._in_list is not None
        verb, _ = self._in_list
        if line == b".":
            self._in_list = None
            return
        if verb == "RETR":
            self.retrieved_bytes += len(line) + 2
        elif verb == "CAPA":
            add_unique(self.capabilities, text(line.strip())[:MAX_TEXT], MAX_LIST)


def detect_tcp(data: bytes) -> bool:
    """A POP3 greeting (``+OK`` and a line end), or a client's CAPA/STLS/APOP first."""
    if data.startswith(b"+OK") and (b"\n" in data[:1024] or len(data) < 1024):
        return data[3:4] in (b" ", b"\r", b"\n", b"")
    head = data[:5].upper()
    return head in (b"CAPA\r", b"CAPA\n", b"STLS\r", b"STLS\n", b"APOP ")
