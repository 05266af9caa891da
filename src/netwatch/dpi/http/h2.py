"""Cleartext HTTP/2 framing for the analyzer: RFC 9113 §3.4 (prior-knowledge preface),
§3.2 via RFC 9110 §7.8 (``Upgrade: h2c``), §4.1 (frame layout), §6.1-6.2, §6.6, §6.10
(DATA, HEADERS, PUSH_PROMISE, CONTINUATION) and RFC 7541 (HPACK).

Every frame starts with a 9-byte header::

    00 00 5d  01  04  00 00 00 03   length=93 type=HEADERS flags=END_HEADERS stream=3

Frame headers are parsed with ``hyperframe`` and header blocks decoded with ``hpack``,
one decoder per direction (each side's encoder has its own dynamic table). Only header
blocks are buffered (bounded by :data:`MAX_BLOCK`); DATA and every other frame payload
is skipped as it streams past, DATA only counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import hpack
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PushPromiseFrame,
)

from netwatch.errors import MalformedError

PROTO = "HTTP"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_BLOCK = 256 * 1024  # a header block (HEADERS + CONTINUATIONs) larger than this fails
HPACK_TABLE_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class H2Headers:
    """A complete header block. For PUSH_PROMISE, ``promised`` is the pushed stream and
    the fields are the promised request."""

    stream_id: int
    fields: tuple[tuple[str, str], ...]
    end_stream: bool
    promised: int = 0


@dataclass(frozen=True, slots=True)
class H2Data:
    stream_id: int
    length: int  # payload bytes without padding


H2Event = H2Headers | H2Data


class H2Reader:
    """One direction of an HTTP/2 connection; ``feed`` returns header blocks and DATA sizes."""

    def __init__(self, *, expect_preface: bool) -> None:
        self._buf = bytearray()
        self._preface_left = len(PREFACE) if expect_preface else 0
        self._skip = 0
        self._decoder = hpack.Decoder()
        self._decoder.max_allowed_table_size = HPACK_TABLE_LIMIT
        self._block = bytearray()
        self._block_frame: HeadersFrame | PushPromiseFrame | None = None
        self.frames = 0

    @property
    def held(self) -> int:
        """Bytes of a frame or header block waiting for their rest."""
        return len(self._buf) + len(self._block)

    def feed(self, data: bytes) -> list[H2Event]:
        buf = self._buf
        buf += data
        out: list[H2Event] = []
        pos = 0
        while True:
            if self._skip:
                n = min(self._skip, len(buf) - pos)
                pos += n
                self._skip -= n
                if self._skip:
                    break
            if self._preface_left:
                done = len(PREFACE) - self._preface_left
                part = bytes(buf[pos : pos + self._preface_left])
                if part != PREFACE[done : done + len(part)]:
                    raise MalformedError(PROTO, "bad HTTP/2 connection preface")
                pos += len(part)
                self._preface_left -= len(part)
                if self._preface_left:
                    break
            step = self._frame(buf, pos, out)
            if step == 0:
                break
            pos += step
        del buf[:pos]
        return out

    def _frame(self, buf: bytearray, pos: int, out: list[H2Event]) -> int:
        """Handle the frame at ``pos``; return the bytes consumed (0: need more)."""
        if len(buf) - pos < 9:
            return 0
        try:
            frame, length = Frame.parse_frame_header(memoryview(bytes(buf[pos : pos + 9])))
        except HyperframeError as exc:
            raise MalformedError(PROTO, f"bad HTTP/2 frame header: {exc}") from None
        if self._block_frame is not None and not isinstance(frame, ContinuationFrame):
            raise MalformedError(PROTO, "header block interrupted by another frame")
        if isinstance(frame, HeadersFrame | PushPromiseFrame | ContinuationFrame):
            if len(self._block) + length > MAX_BLOCK:
                raise MalformedError(PROTO, "HTTP/2 header block too large")
            if len(buf) - pos < 9 + length:
                return 0
            self._header_frame(frame, bytes(buf[pos + 9 : pos + 9 + length]), out)
            self.frames += 1
            return 9 + length
        if isinstance(frame, DataFrame):
            padded = "PADDED" in frame.flags
            if padded and length and len(buf) - pos < 10:
                return 0
            pad = buf[pos + 9] + 1 if padded and length else 0
            if pad > length:
                raise MalformedError(PROTO, "DATA padding longer than the frame")
            out.append(H2Data(frame.stream_id, length - pad))
        self.frames += 1
        self._skip = length  # payload not needed: skipped as it streams past
        return 9

    def _header_frame(
        self,
        frame: HeadersFrame | PushPromiseFrame | ContinuationFrame,
        payload: bytes,
        out: list[H2Event],
    ) -> None:
        try:
            frame.parse_body(memoryview(payload))
        except (HyperframeError, ValueError) as exc:
            raise MalformedError(PROTO, f"bad HTTP/2 {type(frame).__name__}: {exc}") from None
        if isinstance(frame, ContinuationFrame):
            if self._block_frame is None or frame.stream_id != self._block_frame.stream_id:
                raise MalformedError(PROTO, "CONTINUATION without a header block")
        elif isinstance(frame, HeadersFrame | PushPromiseFrame):
            if frame.stream_id == 0:
                raise MalformedError(PROTO, "header block on stream 0")
            self._block_frame = frame
        self._block += frame.data
        if "END_HEADERS" not in frame.flags:
            return
        first = self._block_frame
        assert first is not None  # set above for HEADERS/PUSH_PROMISE, checked for CONTINUATION
        block = bytes(self._block)
        self._block.clear()
        self._block_frame = None
        try:
            fields = tuple(
                (bytes(k).decode("latin-1").lower(), bytes(v).decode("utf-8", "replace"))
                for k, v in self._decoder.decode(block, raw=True)
            )
        except (hpack.HPACKError, ValueError, IndexError) as exc:
            # hpack is third-party code fed hostile bytes: anything it raises is malformed input
            raise MalformedError(PROTO, f"HPACK: {exc}") from None
        if isinstance(first, PushPromiseFrame):
            out.append(H2Headers(first.stream_id, fields, False, first.promised_stream_id))
        else:
            out.append(H2Headers(first.stream_id, fields, "END_STREAM" in first.flags))
