"""Telnet analyzer: RFC 854 (IAC commands: ``FF FB..FE <opt>`` is WILL/WONT/DO/DONT,
``FF FA <opt> ... FF F0`` a subnegotiation, ``FF FF`` a literal 0xFF byte), RFC 855
(option negotiation); options: RFC 1091 (TERMINAL-TYPE 24), RFC 1073 (NAWS 31), RFC 1079
(TERMINAL-SPEED 32), RFC 1096 (X-DISPLAY-LOCATION 35), RFC 1572 (NEW-ENVIRON 39).

::

    C: ff fd 03  ff fb 18  ff fb 1f          DO SGA, WILL TTYPE, WILL NAWS
    S: ff fa 18 01 ff f0                      SB TTYPE SEND SE
    C: ff fa 18 00 "xterm-color" ff f0        SB TTYPE IS xterm-color SE
    C: ff fa 1f 00 50 00 20 ff f0             SB NAWS 80 x 32 SE
    S: "login: "          C: "fake\\r\\n"      -> user "fake"
    S: "Password:"        C: (never kept, not even in the data sample)

The login user is the first line the client types after a prompt ending ``login:`` or
``username:``; a line typed after a ``password:`` prompt is dropped from everything.
``IAC`` followed by a byte that is no command (below 240) raises :class:`MalformedError`:
the flow is not Telnet after all.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.smtp.text import add_unique, text
from netwatch.errors import MalformedError

PROTO = "Telnet"
PORTS = frozenset({23})
IAC, SB, SE = 0xFF, 0xFA, 0xF0
VERBS = {0xFB: "WILL", 0xFC: "WONT", 0xFD: "DO", 0xFE: "DONT"}
#: Option codes (IANA telnet-options registry) -> names.
OPTIONS = {
    0: "BINARY", 1: "ECHO", 3: "SGA", 5: "STATUS", 6: "TIMING-MARK", 24: "TTYPE",
    31: "NAWS", 32: "TSPEED", 33: "LFLOW", 34: "LINEMODE", 35: "XDISPLOC",
    36: "ENVIRON", 37: "AUTHENTICATION", 38: "ENCRYPT", 39: "NEW-ENVIRON",
    44: "COM-PORT", 46: "START-TLS",
}  # fmt: skip
MAX_OPTION = 50  # the highest option code assigned so far is 49 (IANA telnet-options)
USER_PROMPTS = ("login:", "username:", "user name:", "user:")
PASSWORD_PROMPTS = ("password:", "passcode:", "passwort:")
SAMPLE = 256
MAX_SB = 512
MAX_INPUT = 256
MAX_NEGOTIATIONS = 64
#: Bytes of server output after which a session without a login prompt stops being read.
GIVE_UP_BYTES = 16 * 1024


def option_name(code: int) -> str:
    return OPTIONS.get(code, f"OPT-{code}")


class _Side:
    __slots__ = ("data", "negotiations", "pending", "sample", "sb", "state")

    def __init__(self) -> None:
        self.state = 0  # 0 data, 1 after IAC, 2 after WILL.., 3 in SB, 4 IAC in SB
        self.pending = 0  # the verb waiting for its option byte
        self.sb = bytearray()
        self.negotiations: list[str] = []
        self.sample = bytearray()
        self.data = 0


class TelnetAnalyzer(AnalyzerBase):
    """One Telnet session: negotiation, login prompt and user, data samples."""

    protocol = PROTO

    def __init__(self) -> None:
        self._sides = (_Side(), _Side())
        self._lost = [False, False]
        self._tail = bytearray()  # server text since its last line end (prompt search)
        self._input = bytearray()  # the client line being typed, as edited
        self._line_sample = bytearray()  # the same as sent, for the sample
        self._answering: str | None = None  # the prompt the line answers ("" = none)
        self._prompt_text: str | None = None
        self._prev_cr = False
        self._after_secret = False
        self.login_prompt: str | None = None
        self.user: str | None = None
        self.password_sent = False
        self.terminal_type: str | None = None
        self.window_size: str | None = None
        self.terminal_speed: str | None = None
        self.x_display: str | None = None

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._lost[direction] or not data:
            return ()
        side = self._sides[direction]
        plain = self._scan(side, data)
        if plain:
            side.data += len(plain)
            if direction is Dir.SERVER:
                self._server_text(side, plain)
            else:
                self._client_text(side, plain)
        return ()

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True

    @property
    def buffered(self) -> int:
        # subnegotiations waiting for IAC SE, and the lines waiting for their end
        client, server = self._sides
        return (
            len(client.sb)
            + len(server.sb)
            + len(self._tail)
            + len(self._input)
            + len(self._line_sample)
        )

    @property
    def finished(self) -> bool:
        client, server = self._sides
        if all(self._lost):
            return True
        full = len(client.sample) >= SAMPLE and len(server.sample) >= SAMPLE
        settled = self.user is not None and self._answering is None
        return full and (settled or server.data > GIVE_UP_BYTES)

    def record(self) -> dict[str, Any]:
        client, server = self._sides
        typing = b"" if self._answering == "password" else bytes(self._line_sample)
        return {
            "client_negotiation": client.negotiations,
            "server_negotiation": server.negotiations,
            "terminal_type": self.terminal_type,
            "window_size": self.window_size,
            "terminal_speed": self.terminal_speed,
            "x_display": self.x_display,
            "login_prompt": self.login_prompt,
            "user": self.user,
            "password_sent": self.password_sent,
            "client_data_sample": text(bytes(client.sample + typing)[:SAMPLE]),
            "server_data_sample": text(bytes(server.sample)),
            "client_data_bytes": client.data,
            "server_data_bytes": server.data,
        }

    def summary(self) -> str:
        return f"{PROTO} {self.user}" if self.user else PROTO

    # -- IAC state machine ---------------------------------------------------------------

    def _scan(self, side: _Side, data: bytes) -> bytes:
        """Run the IAC state machine over ``data``; return the plain data bytes."""
        out = bytearray()
        pos, n = 0, len(data)
        while pos < n:
            state = side.state
            if state == 0:
                nxt = data.find(b"\xff", pos)
                if nxt < 0:
                    out += data[pos:]
                    break
                out += data[pos:nxt]
                side.state, pos = 1, nxt + 1
                continue
            byte = data[pos]
            pos += 1
            if state == 1:
                if byte == IAC:
                    out.append(IAC)  # escaped 0xFF
                    side.state = 0
                elif byte in VERBS:
                    side.pending, side.state = byte, 2
                elif byte == SB:
                    side.sb.clear()
                    side.state = 3
                elif byte < SE:  # RFC 854 commands are 240..255: this is not Telnet
                    raise MalformedError(PROTO, f"IAC followed by 0x{byte:02x}")
                else:
                    side.state = 0  # NOP, GA, IP, AYT, ...: two bytes, nothing to learn
            elif state == 2:
                if len(side.negotiations) < MAX_NEGOTIATIONS:
                    add_unique(side.negotiations, f"{VERBS[side.pending]} {option_name(byte)}")
                side.state = 0
            elif state == 3:
                if byte == IAC:
                    side.state = 4
                elif len(side.sb) < MAX_SB:
                    side.sb.append(byte)
            elif byte == SE:  # IAC inside SB: SE ends it, IAC IAC is a data byte
                self._subnegotiation(bytes(side.sb))
                side.sb.clear()
                side.state = 0
            else:
                if byte == IAC and len(side.sb) < MAX_SB:
                    side.sb.append(IAC)
                side.state = 3
        return bytes(out)

    def _subnegotiation(self, sb: bytes) -> None:
        if len(sb) < 2:
            return
        opt, body = sb[0], sb[1:]
        if opt == 31 and len(body) == 4:
            width, height = struct.unpack("!HH", body)
            self.window_size = f"{width}x{height}"
        elif body[0] != 0:  # only "IS" (0) carries a value (SEND is 1)
            return
        elif opt == 24:
            self.terminal_type = text(body[1:65])
        elif opt == 32:
            self.terminal_speed = text(body[1:65])
        elif opt == 35:
            self.x_display = text(body[1:129])

    # -- login ---------------------------------------------------------------------------

    def _server_text(self, side: _Side, plain: bytes) -> None:
        room = SAMPLE - len(side.sample)
        if room > 0:
            side.sample += plain[:room]
        nl = max(plain.rfind(b"\n"), plain.rfind(b"\r"))
        if nl >= 0:
            self._tail.clear()
            plain = plain[nl + 1 :]
        self._tail += plain.replace(b"\x00", b"")  # NUL is the NVT's no-op (CR NUL)
        del self._tail[:-64]

    def _prompt(self) -> str | None:
        """What the server's unfinished line asks for: "user", "password" or None."""
        prompt = text(bytes(self._tail)).strip().lower()
        if prompt.endswith(USER_PROMPTS):
            return "user"
        if prompt.endswith(PASSWORD_PROMPTS):
            return "password"
        return None

    def _client_text(self, side: _Side, plain: bytes) -> None:
        """Line editing as a terminal would. A line answers the prompt that stood on the
        server's last line when its first key was typed; a line typed at a password
        prompt is dropped from the sample together with its line end."""
        for byte in plain:
            if byte in (0x0A, 0x00) and self._prev_cr:  # CR LF / CR NUL end one line
                self._prev_cr = False
                if not self._after_secret:
                    self._line_sample.append(byte)
                    self._commit_sample(side)
                continue
            self._prev_cr = byte == 0x0D
            self._after_secret = False
            if byte in (0x0D, 0x0A):
                self._line_end(side, byte)
                continue
            if self._answering is None:
                self._answering = self._prompt() or ""
                if self._answering:
                    self._prompt_text = text(bytes(self._tail)).strip()
            if byte in (0x08, 0x7F):
                if self._input:
                    self._input.pop()
            elif byte and len(self._input) < MAX_INPUT:
                self._input.append(byte)
            if len(self._line_sample) < SAMPLE:
                self._line_sample.append(byte)

    def _line_end(self, side: _Side, byte: int) -> None:
        answering, self._answering = self._answering, None
        line = bytes(self._input)
        self._input.clear()
        if answering == "password":
            self.password_sent = self.password_sent or bool(line)
            self._line_sample.clear()
            self._after_secret = True
            return
        if answering == "user" and line and self.user is None:
            self.user = text(line)
            self.login_prompt = self._prompt_text
        self._line_sample.append(byte)
        self._commit_sample(side)

    def _commit_sample(self, side: _Side) -> None:
        room = SAMPLE - len(side.sample)
        if room > 0:
            side.sample += self._line_sample[:room]
        self._line_sample.clear()


def detect_tcp(data: bytes) -> bool:
    """Telnet option negotiation first: ``IAC WILL/WONT/DO/DONT <opt>`` or ``IAC SB <opt>``
    with an option code in the registry's range (0-50, or 255 EXOPL); a lone ``IAC`` or
    ``IAC <verb>`` split off by the sender is accepted too."""
    if not data or data[0] != IAC:
        return False
    if len(data) == 1:
        return True
    if data[1] != SB and data[1] not in VERBS:
        return False
    return len(data) == 2 or data[2] <= MAX_OPTION or data[2] == 255
