"""HTTP/1.x flow analyzer with keep-alive and pipelining (RFC 9112 §9.3), CONNECT tunnels
(RFC 9110 §9.3.6), ``Upgrade`` and 101 (RFC 9110 §7.8, §15.2.2), and cleartext HTTP/2
by prior knowledge or ``Upgrade: h2c`` (RFC 9113 §3).

Each direction is a small state machine (:class:`Mode`); requests queue in order and each
final response takes the oldest (pipelining). Bodies are counted and skipped as they
stream past: only a message head (≤ 64 KiB), a chunk-size line or a trailer line is ever
buffered. A request that asks to change protocol (CONNECT, Upgrade) *pauses* the client
direction, as h11 does, until the response says whether the switch happened.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from enum import Enum
from typing import Any, Final, Literal

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.http import h1
from netwatch.dpi.http.h1 import Framing, Head
from netwatch.dpi.http.h2 import PREFACE, H2Data, H2Headers, H2Reader
from netwatch.dpi.http.txn import MAX_TXNS, Txn, sniff_tunnel
from netwatch.errors import MalformedError

PROTO = "HTTP"
MAX_PENDING = 256  # requests awaiting a response (pipelining depth)
MAX_STREAMS = 1024  # HTTP/2 streams remembered for pairing
TUNNEL_SNIFF = 64  # tunnel bytes of one side after which unknown content goes to detection
TUNNEL_PEEK = 4096  # first tunnel bytes kept per direction for a hand-off
SKIP_UNTIL_CLOSE = 1 << 40  # a body that ends with the connection: skip it all


class Mode(Enum):
    HEAD = "head"
    LENGTH = "length"
    CHUNK_SIZE = "chunk-size"
    CHUNK_DATA = "chunk-data"
    CHUNK_END = "chunk-end"
    TRAILER = "trailer"
    UNTIL_CLOSE = "until-close"
    PAUSED = "paused"  # after CONNECT/Upgrade, until the response decides
    TUNNEL = "tunnel"
    H2 = "h2"
    LOST = "lost"


# Enum members read as module constants: on Python 3.11 ``Mode.HEAD`` goes through the
# enum metaclass's ``__getattr__`` hook, about four times the cost of a global, and the
# modes are compared several times for every segment fed (and by ``skippable`` and
# ``finished``, which the engine asks after each one).
_M_HEAD: Final = Mode.HEAD
_M_LENGTH: Final = Mode.LENGTH
_M_CHUNK_SIZE: Final = Mode.CHUNK_SIZE
_M_CHUNK_DATA: Final = Mode.CHUNK_DATA
_M_CHUNK_END: Final = Mode.CHUNK_END
_M_TRAILER: Final = Mode.TRAILER
_M_UNTIL_CLOSE: Final = Mode.UNTIL_CLOSE
_M_PAUSED: Final = Mode.PAUSED
_M_TUNNEL: Final = Mode.TUNNEL
_M_H2: Final = Mode.H2
_M_LOST: Final = Mode.LOST
_CLIENT: Final = Dir.CLIENT
_SERVER: Final = Dir.SERVER
_F_TUNNEL: Final = Framing.TUNNEL

_BODY_MODE = {Framing.LENGTH: Mode.LENGTH, Framing.CHUNKED: Mode.CHUNK_SIZE}
_RESPONSE_BODY_MODE = {**_BODY_MODE, Framing.UNTIL_CLOSE: _M_UNTIL_CLOSE}


class _Side:
    __slots__ = ("buf", "h2", "head_seen", "mode", "remaining", "trailer_bytes", "tunnel", "txn")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.mode = _M_HEAD
        #: bytes at the start of ``buf`` already searched for the end of the incomplete
        #: head that begins there (0: none)
        self.head_seen = 0
        self.remaining = 0
        self.trailer_bytes = 0
        self.txn: Txn | None = None
        self.h2: H2Reader | None = None
        self.tunnel = bytearray()


class HTTPAnalyzer(AnalyzerBase):
    """One TCP connection carrying HTTP/1.x (and possibly cleartext HTTP/2).

    ``start="h2"`` starts both directions as HTTP/2 (for a stream handed over after
    ALPN ``h2``); the record's ``version`` is then ``"h2"``.
    """

    protocol = PROTO

    def __init__(self, start: Literal["h1", "h2"] = "h1") -> None:
        self._sides = (_Side(), _Side())
        self._pending: deque[Txn] = deque()
        self._txns: list[Txn] = []
        self._dropped = 0
        self._version: str | None = None
        self._streams: dict[int, Txn] = {}
        self._handoff: str | None = None
        self._tunnel = False
        self._ws = False  # an Upgrade: websocket tunnel (finished, no hand-over)
        self._running: set[Dir] = set()
        if start == "h2":
            self._version = "h2"
            self._start_h2(expect_preface=True)

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        side = self._sides[direction]
        mode = side.mode
        if mode is _M_LOST or not data:
            return ()
        buf = side.buf
        if not buf:
            # Body bytes with nothing buffered before them are only counted: done here,
            # they are neither copied into the buffer nor walked through ``_steps`` (most
            # segments of a download that the engine feeds rather than skips).
            if (mode is _M_LENGTH or mode is _M_CHUNK_DATA) and len(data) <= side.remaining:
                self._body(direction, side, len(data))
                return ()
            if mode is _M_UNTIL_CLOSE:
                self._count(direction, side, len(data))
                return ()
        buf += data
        self._run(direction)
        return ()

    def gap(self, direction: Dir, length: int) -> None:
        """Lost body bytes are counted; a gap anywhere else loses that direction."""
        side = self._sides[direction]
        if side.mode in (_M_LENGTH, _M_CHUNK_DATA) and not side.buf:
            n = min(length, side.remaining)
            side.remaining -= n
            self._count(direction, side, n)
            length -= n
            if side.remaining == 0:
                side.mode = _M_CHUNK_END if side.mode is _M_CHUNK_DATA else _M_HEAD
            if not length:
                return
        if side.mode is _M_UNTIL_CLOSE:
            self._count(direction, side, length)
            return
        if side.mode is not _M_TUNNEL:
            side.mode = _M_LOST
            side.buf.clear()

    def skippable(self, direction: Dir) -> int:
        """A body of known length (or until close) is only counted: the engine may pass it
        by without feeding it (no per-packet cost for downloads on keep-alive connections)."""
        side = self._sides[direction]
        if side.buf:
            return 0
        mode = side.mode
        if mode is _M_LENGTH or mode is _M_CHUNK_DATA:
            return side.remaining
        if mode is _M_UNTIL_CLOSE:
            return SKIP_UNTIL_CLOSE
        return 0

    def skipped(self, direction: Dir, length: int) -> None:
        side = self._sides[direction]
        mode = side.mode
        if mode is _M_UNTIL_CLOSE:
            self._count(direction, side, length)
            return
        if mode is not _M_LENGTH and mode is not _M_CHUNK_DATA:
            return  # (cannot happen: nothing else is skippable)
        self._body(direction, side, min(length, side.remaining))

    @property
    def buffered(self) -> int:
        """Head bytes waiting for the head's end, bytes kept for a tunnel's hand-over, and
        HTTP/2 frames and header blocks waiting for their rest, both sides."""
        n = 0
        for side in self._sides:
            n += len(side.buf) + len(side.tunnel)
            if side.h2 is not None:
                n += side.h2.held
        return n

    @property
    def finished(self) -> bool:
        if self._handoff is not None or self._ws:
            return True
        # (Asked after every segment: the two modes are compared one by one rather than
        # through generators over the sides, a third of the cost.)
        client, server = self._sides
        cmode, smode = client.mode, server.mode
        if cmode is _M_LOST and smode is _M_LOST:
            return True
        # A tunnel is open but its first bytes are not seen yet: stay until they name the
        # protocol inside (or say "detect it afresh"), so the engine can hand them over.
        return (
            not self._tunnel
            and (cmode is _M_TUNNEL or cmode is _M_LOST)
            and (smode is _M_TUNNEL or smode is _M_LOST)
        )

    @property
    def handoff(self) -> str | None:
        """The protocol inside a CONNECT/Upgrade tunnel (TLS, SSH, SMTP, ...), once seen."""
        return self._handoff

    def tunnel_bytes(self, direction: Dir) -> bytes:
        """The first tunnel bytes of ``direction`` (≤ 4 KiB), to replay into the next analyzer."""
        return bytes(self._sides[direction].tunnel)

    @property
    def app_state(self) -> str | None:
        return None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self._version,
            "requests": [t.to_json() for t in self._txns],
        }
        if self._dropped:
            out["requests_dropped"] = self._dropped
        if self._tunnel:
            out["tunnel"] = True
        return out

    def summary(self) -> str:
        if not self._txns:
            return "HTTP/2" if self._version in ("h2", "h2c") else "HTTP"
        return self._txns[-1].summary()

    # -- bookkeeping ---------------------------------------------------------------------

    def _new_txn(self, txn: Txn) -> Txn:
        if len(self._txns) < MAX_TXNS:
            self._txns.append(txn)
        else:
            self._dropped += 1
        return txn

    @staticmethod
    def _count(direction: Dir, side: _Side, n: int) -> None:
        if side.txn is None or n <= 0:
            return
        if direction is _CLIENT:
            side.txn.request_body_bytes += n
        else:
            side.txn.response_body_bytes += n

    # -- HTTP/1.x state machine ----------------------------------------------------------

    def _run(self, direction: Dir) -> None:
        """Parse what ``direction`` has buffered. A switch seen on one side re-runs the
        other; a side already running (further up the stack) is left to its own loop,
        which re-reads the mode on every step."""
        if direction in self._running:
            return
        self._running.add(direction)
        try:
            self._steps(direction)
        finally:
            self._running.discard(direction)

    def _steps(self, direction: Dir) -> None:
        side = self._sides[direction]
        buf = side.buf
        pos = 0
        while pos < len(buf):
            mode = side.mode
            if mode is _M_HEAD:
                if direction is _CLIENT and self._is_preface(buf, pos):
                    if len(buf) - pos < len(PREFACE):
                        break
                    self._version = "h2c"
                    self._start_h2(expect_preface=True)
                    if self._sides[_SERVER].buf:  # server frames that came first
                        self._run(_SERVER)
                    continue
                step = self._head(direction, side, buf, pos)
            elif mode in (_M_LENGTH, _M_CHUNK_DATA):
                step = min(side.remaining, len(buf) - pos)
                self._body(direction, side, step)
            elif mode is _M_CHUNK_SIZE:
                step = self._chunk_size(side, buf, pos)
            elif mode is _M_CHUNK_END:
                step = 2 if buf[pos : pos + 2] == b"\r\n" else 1 if buf[pos] == 0x0A else -1
                if step < 0:
                    if buf[pos] != 0x0D:
                        raise MalformedError(PROTO, "chunk data not followed by CRLF")
                    break  # a lone CR: wait for its LF
                side.mode = _M_CHUNK_SIZE
            elif mode is _M_TRAILER:
                step = self._trailer_line(direction, side, buf, pos)
            elif mode is _M_UNTIL_CLOSE:
                step = len(buf) - pos
                self._count(direction, side, step)
            elif mode is _M_PAUSED:
                if len(buf) - pos > h1.MAX_HEAD:  # the switch must have happened
                    side.mode = _M_TUNNEL
                    continue
                break
            elif mode is _M_TUNNEL:
                step = len(buf) - pos
                self._peek_tunnel(direction, side, buf[pos:])
            elif mode is _M_H2:
                assert side.h2 is not None
                self._h2_events(direction, side.h2.feed(bytes(buf[pos:])))
                step = len(buf) - pos
            else:  # LOST
                step = len(buf) - pos
            if step == 0:
                break
            pos += step
        del buf[:pos]

    @staticmethod
    def _is_preface(buf: bytearray, pos: int) -> bool:
        part = buf[pos : pos + len(PREFACE)]
        return len(part) >= 3 and PREFACE.startswith(part)

    def _head(self, direction: Dir, side: _Side, buf: bytearray, pos: int) -> int:
        if buf[pos] in (0x0D, 0x0A):  # RFC 9112 §2.2: empty lines before a message
            start = pos
            while pos < len(buf) and buf[pos] in (0x0D, 0x0A):
                pos += 1
            return pos - start
        # An incomplete head is left at the start of the buffer (``_steps`` stops there):
        # when more bytes come, the search resumes where the last one ended, less the two
        # bytes an end could straddle, so a head (or junk) arriving over many segments is
        # searched once, not once per segment (quadratic up to 64 KiB).
        seen = side.head_seen if pos == 0 else 0
        found = h1.find_head_end(buf, seen - 2 if seen > 2 else pos)
        if found is None:
            if len(buf) - pos > h1.MAX_HEAD:
                raise MalformedError(PROTO, "message head longer than 64 KiB")
            side.head_seen = len(buf) - pos
            return 0
        side.head_seen = 0
        end, body = found
        if end - pos > h1.MAX_HEAD:
            raise MalformedError(PROTO, "message head longer than 64 KiB")
        block = bytes(buf[pos:end])
        if direction is _CLIENT:
            self._request(side, h1.parse_request_head(block))
        else:
            self._response(side, h1.parse_response_head(block))
        return body - pos

    def _request(self, side: _Side, head: Head) -> None:
        if len(self._pending) >= MAX_PENDING:
            raise MalformedError(PROTO, "too many requests without a response")
        txn = self._new_txn(Txn.from_request(head))
        if self._version is None:
            self._version = head.c
        self._pending.append(txn)
        side.txn = txn
        framing, length = h1.request_framing(head)
        side.remaining = length
        side.mode = _BODY_MODE.get(framing, _M_HEAD)
        if side.mode is _M_HEAD:
            self._message_done(_CLIENT, side)

    def _response(self, side: _Side, head: Head) -> None:
        status = int(head.b)
        interim = 100 <= status < 200 and status != 101
        if self._pending:
            txn = self._pending[0] if interim else self._pending.popleft()
        elif interim:
            return  # an interim response to a request we did not see: nothing to record
        else:  # capture started after the request, or a server speaking first
            txn = self._new_txn(Txn())
            if self._version is None:
                self._version = head.a
        if interim:
            return
        txn.add_response(head)
        side.txn = txn
        framing, length = h1.response_framing(txn.method, head)
        if status == 101:
            self._switch(txn, head)
            return
        if framing is _F_TUNNEL:
            self._open_tunnel()
            return
        side.remaining = length
        side.mode = _RESPONSE_BODY_MODE.get(framing, _M_HEAD)
        client = self._sides[_CLIENT]
        if client.mode is _M_PAUSED and client.txn is txn:  # the switch was refused
            client.mode = _M_HEAD
            self._run(_CLIENT)

    def _body(self, direction: Dir, side: _Side, n: int) -> None:
        """``n`` bytes of the current body (LENGTH or CHUNK_DATA) went by, fed or skipped:
        counted; at the body's end (or the chunk's), the next mode."""
        side.remaining -= n
        self._count(direction, side, n)
        if side.remaining == 0:
            if side.mode is _M_CHUNK_DATA:
                side.mode = _M_CHUNK_END
            else:
                self._message_done(direction, side)

    def _message_done(self, direction: Dir, side: _Side) -> None:
        side.mode = _M_HEAD
        txn = side.txn
        if direction is _CLIENT and txn is not None and txn.asks_switch:
            side.mode = _M_PAUSED

    def _chunk_size(self, side: _Side, buf: bytearray, pos: int) -> int:
        nl = buf.find(b"\n", pos, pos + h1.MAX_CHUNK_LINE)
        if nl < 0:
            if len(buf) - pos >= h1.MAX_CHUNK_LINE:
                raise MalformedError(PROTO, "chunk-size line too long")
            return 0
        size = h1.parse_chunk_size(bytes(buf[pos:nl]).rstrip(b"\r"))
        side.remaining = size
        side.trailer_bytes = 0
        side.mode = _M_CHUNK_DATA if size else _M_TRAILER
        return nl + 1 - pos

    def _trailer_line(self, direction: Dir, side: _Side, buf: bytearray, pos: int) -> int:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if side.trailer_bytes + len(buf) - pos > h1.MAX_HEAD:
                raise MalformedError(PROTO, "trailer section too long")
            return 0
        side.trailer_bytes += nl + 1 - pos
        if side.trailer_bytes > h1.MAX_HEAD:
            raise MalformedError(PROTO, "trailer section too long")
        if buf[pos:nl].rstrip(b"\r") == b"":
            self._message_done(direction, side)
        return nl + 1 - pos

    # -- protocol switches ---------------------------------------------------------------

    def _switch(self, txn: Txn, head: Head) -> None:
        upgrade = (head.get("upgrade") or "").strip().lower()
        if upgrade == "h2c":
            self._version = "h2c"
            self._streams[1] = txn  # RFC 9113 §3.2: the upgrade request is stream 1
            self._start_h2(expect_preface=True)
            if self._sides[_CLIENT].buf:  # the preface waited while paused
                self._run(_CLIENT)
        else:
            self._open_tunnel()
            if upgrade.startswith("websocket"):
                self._handoff = None
                self._ws = True  # the tunnel's protocol is known: nothing to hand over

    def _open_tunnel(self) -> None:
        self._tunnel = True
        for direction in (_CLIENT, _SERVER):
            side = self._sides[direction]
            if side.mode is not _M_LOST:
                side.mode = _M_TUNNEL
        if self._sides[_CLIENT].buf:
            self._run(_CLIENT)

    def _peek_tunnel(self, direction: Dir, side: _Side, data: bytearray) -> None:
        room = TUNNEL_PEEK - len(side.tunnel)
        if room > 0:
            side.tunnel += data[:room]
        if self._handoff is None and not self._ws:
            self._handoff = sniff_tunnel(direction, bytes(side.tunnel))
            if self._handoff is None and len(side.tunnel) >= TUNNEL_SNIFF:
                self._handoff = "DETECT"  # no known signature: let the engine detect it

    def _start_h2(self, *, expect_preface: bool) -> None:
        client, server = self._sides
        client.mode = server.mode = _M_H2
        client.h2 = H2Reader(expect_preface=expect_preface)
        server.h2 = H2Reader(expect_preface=False)

    def _h2_events(self, direction: Dir, events: list[H2Headers | H2Data]) -> None:
        for ev in events:
            if isinstance(ev, H2Data):
                txn = self._streams.get(ev.stream_id)
                if txn is not None:
                    if direction is _CLIENT:
                        txn.request_body_bytes += ev.length
                    else:
                        txn.response_body_bytes += ev.length
                continue
            if len(self._streams) >= MAX_STREAMS:  # forget the oldest stream
                del self._streams[next(iter(self._streams))]
            fields = dict(ev.fields)
            if ev.promised:  # server push: the promised request
                self._streams[ev.promised] = self._new_txn(Txn.from_h2_request(fields))
            elif direction is _CLIENT and ":method" in fields:
                txn = self._streams.get(ev.stream_id)
                if txn is None:
                    self._streams[ev.stream_id] = self._new_txn(Txn.from_h2_request(fields))
                elif txn.method is None:  # the response was decoded first
                    txn.add_h2_request(fields)
            elif direction is _SERVER and ":status" in fields:
                txn = self._streams.get(ev.stream_id)
                if txn is None:
                    txn = self._streams[ev.stream_id] = self._new_txn(Txn(version="HTTP/2"))
                txn.add_h2_response(fields)
