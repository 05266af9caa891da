"""FTP control connection: RFC 959 §4.1 (commands), §4.2 (replies: ``123-`` opens a
multi-line reply that the first line starting ``123 `` ends), §5.3.2 (PORT and the 227
reply of PASV); RFC 2428 §2-§3 (EPRT, EPSV 229); RFC 4217 §4 (AUTH TLS, 234).

The data connections are announced, not guessed::

    C: PASV
    S: 227 Entering Passive Mode (172,23,0,2,82,16).   -> 172.23.0.2 port 82*256+16 = 21008
    C: RETR index.html                                  -> that connection carries index.html
    C: EPSV            S: 229 Entering Extended Passive Mode (|||6446|)   (any address)
    C: PORT 192,168,1,2,7,138   -> the server connects to 192.168.1.2:1930 (active), often
    C: EPRT |2|fd00::1|5282|       before its 200 reply: announced with the command

Each announcement returns an :class:`ExpectConnection` (protocol ``FTP-DATA``) whose
``info`` dict the tracker puts on the data row; the next transfer command fills in its
``command`` and ``file`` (the dict is shared, so the row shows them even if the data
connection opened first). ``AUTH TLS`` answered 234 hands the stream to TLS. The PASS
argument is never kept.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AppEvent, Dir, ExpectConnection
from netwatch.dpi.smtp.text import MAX_LIST, Lines, LineSession, add_unique, software_of, text
from netwatch.errors import MalformedError

PROTO = "FTP"
PORTS = frozenset({21, 2121})
DATA_TIMEOUT = 60.0
MAX_PENDING = 256
MAX_REPLY_LINES = 512
MAX_REQUESTS = 128
MAX_TRANSFERS = 64
MAX_TEXT = 160
#: Commands that move data over the announced connection (RFC 959 §4.1.3, RFC 3659 §7).
TRANSFER_COMMANDS = frozenset({"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"})
#: Commands whose argument names a file that is transferred (``files``).
FILE_COMMANDS = frozenset({"RETR", "STOR", "STOU", "APPE"})
SECRET_COMMANDS = frozenset({"PASS", "ACCT"})
#: Announced addresses that mean "the control connection's server" (any responder).
UNSPECIFIED = frozenset({"0.0.0.0", "::"})  # noqa: S104 - parsed, never bound
_VERB = re.compile(rb"[A-Za-z][A-Za-z0-9]{1,7}")
_REPLY = re.compile(rb"([1-5][0-9][0-9])([ -]|$)")
_HOSTPORT = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"\((.)\1\1(\d{1,5})\1\)")
_SIZE = re.compile(rb"\((\d{1,20}) bytes\)")


def host_port(raw: bytes) -> tuple[str, int] | None:
    """``h1,h2,h3,h4,p1,p2`` (RFC 959 §4.1.2) -> ("h1.h2.h3.h4", p1*256+p2)."""
    m = _HOSTPORT.search(raw)
    if not m:
        return None
    nums = [int(x) for x in m.groups()]
    if any(n > 255 for n in nums):
        raise MalformedError(PROTO, "host-port number above 255")
    return ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5]


def eprt(raw: bytes) -> tuple[str, int] | None:
    """``|af|address|port|`` (RFC 2428 §2) with any delimiter byte."""
    if len(raw) < 7:
        return None
    parts = raw.split(raw[:1])
    if len(parts) != 5 or not parts[3].isdigit() or len(parts[3]) > 5:
        return None
    port = int(parts[3])
    return (text(parts[2]), port) if 0 < port < 65536 else None


class FTPAnalyzer(LineSession):
    """One FTP control connection."""

    protocol = PROTO

    def __init__(self, server_port: int = 21) -> None:
        self.server_port = server_port
        self._client = Lines(PROTO)
        self._server = Lines(PROTO)
        super().__init__()
        self._pending: deque[tuple[str, str | None]] = deque()
        self._reply: list[bytes] = []
        self._greeted = False
        self._data: dict[str, Any] | None = None  # the last announced data connection
        self._events: list[AppEvent] = []
        self.banner: str | None = None
        self.user: str | None = None
        self.login_success: bool | None = None
        self.commands: list[str] = []
        self.reply_codes: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.requests_more = 0
        self._answered = 0  # requests that got their final reply
        self.files: list[str] = []
        self.transfers: list[dict[str, Any]] = []
        self.auth_tls = False

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or self._handoff or not data:
            return ()
        if direction is Dir.CLIENT:
            self._client.push(data)
            while (line := self._client.next_line()) is not None:
                self._command(line, ts)
        else:
            self._server.push(data)
            while not self._handoff and (line := self._server.next_line()) is not None:
                self._server_line(line, ts)
        events, self._events = self._events, []
        return events

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
            "user": self.user,
            "login_success": self.login_success,
            "commands": self.commands,
            "reply_codes": self.reply_codes,
            "requests": self.requests,
            "requests_more": self.requests_more,
            "files": self.files,
            "transfers": self.transfers,
            "auth_tls": self.auth_tls,
        }

    def summary(self) -> str:
        parts = [PROTO]
        if self.user:
            parts.append(self.user)
        if self.files:
            parts.append(self.files[-1] if len(self.files) == 1 else f"{len(self.files)} files")
        if self.auth_tls:
            parts.append("AUTH TLS")
        return " ".join(parts)

    # -- client --------------------------------------------------------------------------

    def _command(self, line: bytes, ts: float) -> None:
        if not line.strip():
            return
        raw_verb, _, raw_arg = line.partition(b" ")
        if not _VERB.fullmatch(raw_verb):
            raise MalformedError(PROTO, "not an FTP command")
        verb = raw_verb.decode("ascii").upper()
        arg = text(raw_arg.strip())[:MAX_TEXT] or None
        add_unique(self.commands, verb)
        if len(self._pending) >= MAX_PENDING:
            raise MalformedError(PROTO, "too many commands without a reply")
        self._pending.append((verb, arg))
        if verb == "USER":
            self.user = arg
        elif verb in TRANSFER_COMMANDS:
            self._transfer(verb, arg)
        elif verb == "PORT":
            # Announced with the command: servers may connect before they answer 200
            # (pyftpdlib does). A refused PORT leaves an expectation that times out.
            self._announce(host_port(raw_arg), "active", ts)
        elif verb == "EPRT":
            self._announce(eprt(raw_arg.strip()), "active", ts)
        request = {"command": verb, "arg": None if verb in SECRET_COMMANDS else arg}
        if len(self.requests) < MAX_REQUESTS:
            self.requests.append({**request, "reply_code": None, "reply": None})
        else:
            self.requests_more += 1

    def _transfer(self, verb: str, arg: str | None) -> None:
        if verb in FILE_COMMANDS and arg:
            add_unique(self.files, arg)
        info = self._data
        if info is not None and info["command"] is None:
            info["command"] = verb
            info["file"] = arg
        if len(self.transfers) < MAX_TRANSFERS:
            self.transfers.append(
                {
                    "command": verb,
                    "file": arg,
                    "mode": info["mode"] if info is not None else None,
                    "address": info["address"] if info is not None else None,
                    "port": info["port"] if info is not None else None,
                    "size": None,
                    "reply_code": None,
                }
            )
        self._data = None  # one announcement, one transfer

    # -- server --------------------------------------------------------------------------

    def _server_line(self, line: bytes, ts: float) -> None:
        if self._reply:
            # RFC 959 §4.2: inside a multi-line reply any line goes until "<code> "
            self._reply.append(line)
            if len(self._reply) > MAX_REPLY_LINES:
                raise MalformedError(PROTO, "reply of too many lines")
            if not line.startswith(self._reply[0][:3] + b" ") and line != self._reply[0][:3]:
                return
            first, self._reply = self._reply[0], []
            self._reply_done(int(first[:3]), first[4:], line, ts)
            return
        m = _REPLY.match(line)
        if not m:
            raise MalformedError(PROTO, "reply without a code")
        if m[2] == b"-":
            self._reply.append(line)
            return
        self._reply_done(int(m[1]), line[4:], line, ts)

    def _reply_done(self, code: int, first: bytes, last: bytes, ts: float) -> None:
        if code not in self.reply_codes and len(self.reply_codes) < MAX_LIST:
            self.reply_codes.append(code)
        if not self._greeted and not self._pending:
            if code < 200:
                return  # 120: service ready in nnn minutes, a 220 follows
            self._greeted = True
            self.banner = text(first.strip())[:MAX_TEXT]
            return
        if not self._pending:
            return  # unsolicited (421 closing)
        verb, arg = self._pending[0]
        if code < 200:  # preliminary: the command stays pending
            if verb in TRANSFER_COMMANDS:
                self._transfer_reply(code, first + b" " + last)
            return
        self._pending.popleft()
        self._note_reply(code, first)
        if verb in ("USER", "PASS") and code in (230, 202):
            self.login_success = True
        elif verb in ("USER", "PASS") and code >= 500:
            self.login_success = False
        elif verb == "PASV" and code == 227:
            self._announce(host_port(first), "passive", ts)
        elif verb == "EPSV" and code == 229:
            m = _EPSV.search(first)
            if m:
                self._announce(("", int(m[2])), "passive", ts)
        elif verb in TRANSFER_COMMANDS:
            self._transfer_reply(code, first)
        elif verb == "AUTH" and code == 234 and (arg or "").upper() in ("TLS", "SSL", "TLS-C"):
            self.auth_tls = True
            self._handoff = "TLS"
        elif verb == "QUIT":
            self._quit = True

    def _note_reply(self, code: int, first: bytes) -> None:
        """Replies come in command order: the oldest unanswered request gets this one."""
        if self._answered < len(self.requests):
            req = self.requests[self._answered]
            req["reply_code"] = code
            req["reply"] = text(first.strip())[:MAX_TEXT]
        self._answered += 1

    def _transfer_reply(self, code: int, raw: bytes) -> None:
        if not self.transfers:
            return
        t = self.transfers[-1]
        m = _SIZE.search(raw)
        if m and t["size"] is None:
            t["size"] = int(m[1])
        if code >= 200:
            t["reply_code"] = code

    def _announce(self, where: tuple[str, int] | None, mode: str, ts: float) -> None:
        if where is None:
            return
        address, port = where
        if not 0 < port < 65536:
            raise MalformedError(PROTO, "data port out of range")
        if address in UNSPECIFIED:  # "connect to where the control connection goes"
            address = ""
        info: dict[str, Any] = {
            "control": self.summary(),
            "command": None,
            "file": None,
            "mode": mode,
            "address": address or None,
            "port": port,
        }
        self._data = info
        self._events.append(
            ExpectConnection(ts, "tcp", address, port, "FTP-DATA", info, DATA_TIMEOUT)
        )


_GREETING = re.compile(rb"(?:120[ -][^\r\n]*\r?\n)?220[ -]([^\r\n]*)")


def detect_tcp(data: bytes) -> bool:
    """An FTP greeting naming FTP (``220 (vsFTPd 3.0.3)``, ``220 ProFTPD``) or a client's
    ``AUTH TLS`` before any greeting was seen."""
    m = _GREETING.match(data)
    if m:
        return b"FTP" in m[1].upper()
    return data[:9].upper() in (b"AUTH TLS\r", b"AUTH SSL\r")


def detect_tcp_greeting(data: bytes) -> bool:
    """Any ``220`` greeting without SMTP in it (listed with the FTP ports only, after the
    specific checks)."""
    m = _GREETING.match(data)
    return bool(m and b"SMTP" not in m[1].upper() and (b"\n" in data or len(data) < 512))
