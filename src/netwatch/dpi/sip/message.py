"""SIP message framing and header parsing: RFC 3261 §7 (message format: start line,
headers, body), §7.3.3 (compact header names), §18.3 (framing: one message per UDP
datagram, Content-Length delimits messages on a stream), §20 (the headers we keep).

::

    INVITE sip:bob@example.com SIP/2.0\\r\\n          request line
    From: "Alice" <sip:alice@example.com>;tag=9fxced76sl\\r\\n
    i: 3848276298220188511@atlanta.example.com\\r\\n    compact Call-ID
    l: 142\\r\\n\\r\\n<SDP body>                             compact Content-Length
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netwatch.errors import MalformedError

PROTO = "SIP"
MAX_HEAD = 16 * 1024  # start line and headers of one message
MAX_BODY = 64 * 1024
MAX_HEADERS = 128

#: §7.3.3 compact forms -> canonical lower-case names
COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "v": "via",
    "s": "subject",
    "k": "supported",
    "e": "content-encoding",
}
_REQUEST = re.compile(rb"([A-Z][A-Z0-9_.!%*+`'~-]{0,31}) (\S{1,2048}) SIP/2\.0")
_STATUS = re.compile(rb"SIP/2\.0 ([1-6][0-9][0-9])(?: (.*))?")
_DETECT = re.compile(rb"(?:[A-Z]{3,16} (?:sips?|tel):\S+ SIP/2\.0|SIP/2\.0 [1-6][0-9][0-9] )")


def looks_like_sip(data: bytes) -> bool:
    """A SIP request or status line at the start of ``data``."""
    return _DETECT.match(data) is not None


@dataclass(frozen=True, slots=True)
class Message:
    method: str | None  # requests
    uri: str | None
    status: int | None  # responses
    reason: str | None
    headers: dict[str, str]  # lower-case canonical names; the first of repeated headers
    body: bytes

    @property
    def cseq_method(self) -> str | None:
        parts = self.headers.get("cseq", "").split()
        return parts[1].upper() if len(parts) == 2 else None


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """(head, rest) at the blank line, or None if it has not arrived yet."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[:end], data[end + 4 :]
    end = data.find(b"\n\n")  # §7.5 asks for CRLF; some stacks send bare LF
    if end >= 0:
        return data[:end], data[end + 2 :]
    if len(data) > MAX_HEAD:
        raise MalformedError(PROTO, "headers longer than the limit")
    return None


def parse_head(head: bytes, body: bytes) -> Message:
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    start = lines[0]
    method = uri = reason = None
    status = None
    m = _REQUEST.fullmatch(start)
    if m:
        method, uri = m[1].decode("ascii"), m[2].decode("utf-8", "replace")
    else:
        s = _STATUS.fullmatch(start)
        if s is None:
            raise MalformedError(PROTO, "not a SIP request or status line")
        status = int(s[1])
        reason = (s[2] or b"").decode("utf-8", "replace")
    headers: dict[str, str] = {}
    count = 0
    for raw in lines[1:]:
        if raw[:1] in (b" ", b"\t"):  # §7.3.1 folded continuation
            continue
        name, sep, value = raw.partition(b":")
        if not sep:
            raise MalformedError(PROTO, "header line without a colon")
        count += 1
        if count > MAX_HEADERS:
            raise MalformedError(PROTO, "too many headers")
        key = name.strip().decode("ascii", "replace").lower()
        key = COMPACT.get(key, key)
        headers.setdefault(key, value.strip().decode("utf-8", "replace"))
    return Message(method, uri, status, reason, headers, body)


def parse_datagram(data: bytes) -> Message:
    """One message of a UDP datagram (§18.3: Content-Length, if present, may cut the body)."""
    parts = split_head(data)
    if parts is None:
        # A message with neither body nor blank line (seen in the wild): the whole of it.
        parts = (data.rstrip(b"\r\n"), b"")
    head, body = parts
    msg = parse_head(head, body)
    length = content_length(msg)
    if length is not None:
        if length > len(body):
            raise MalformedError(PROTO, "Content-Length larger than the datagram")
        msg = Message(msg.method, msg.uri, msg.status, msg.reason, msg.headers, body[:length])
    return msg


def content_length(msg: Message) -> int | None:
    raw = msg.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise MalformedError(PROTO, f"Content-Length {raw!r}")
    return int(raw)


class StreamFramer:
    """§18.3 framing of a TCP stream: head, then exactly Content-Length body bytes."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def push(self, data: bytes) -> list[Message]:
        self.buf += data
        out: list[Message] = []
        while True:
            # CRLF keep-alives between messages (RFC 5626 §3.5.1).
            while self.buf[:2] == b"\r\n":
                del self.buf[:2]
            parts = split_head(bytes(self.buf[: MAX_HEAD + 4]))
            if parts is None:
                return out
            head, _ = parts
            sep = 4 if self.buf[len(head) : len(head) + 4] == b"\r\n\r\n" else 2
            msg = parse_head(head, b"")
            length = content_length(msg)
            if length is None:
                raise MalformedError(PROTO, "no Content-Length on a stream transport")
            if length > MAX_BODY:
                raise MalformedError(PROTO, "body larger than the limit")
            total = len(head) + sep + length
            if len(self.buf) < total:
                return out
            body = bytes(self.buf[len(head) + sep : total])
            del self.buf[:total]
            out.append(Message(msg.method, msg.uri, msg.status, msg.reason, msg.headers, body))


def addr_of(value: str) -> str | None:
    """The URI of a From/To/Contact value: inside ``<...>``, else up to the parameters."""
    if not value:
        return None
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1 : gt] if gt > lt else value[lt + 1 :]
    if value.strip() == "*":
        return "*"
    return value.split(";", 1)[0].strip() or None
