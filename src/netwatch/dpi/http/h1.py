"""HTTP/1.x message syntax: RFC 9112 §2 (message format), §3 (request line), §4 (status
line), §5 (field lines), §6 (message body length), §7.1 (chunked coding).

A message head is the start line and field lines up to an empty line::

    GET /index.html HTTP/1.1\\r\\n        request-line = method SP target SP version
    Host: example.com\\r\\n               field-line   = name ":" OWS value OWS
    \\r\\n                                (empty line ends the head)

Bare LF line ends are accepted (§2.2 allows it), as are empty lines before a request
line (§2.2). Obsolete line folding (§5.2) is replaced by a space. A line that is not a
field line is skipped rather than failing the whole connection; the start line must be
well formed. The body length rules
of §6.3 are in :func:`request_framing` and :func:`response_framing`, in the RFC's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from netwatch.errors import MalformedError
from netwatch.model.frozen import frozen_builder

PROTO = "HTTP"
MAX_HEAD = 64 * 1024  # bytes of start line + fields buffered before giving up
MAX_FIELDS = 256
MAX_CHUNK_LINE = 1024  # chunk-size line with extensions

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_STATUS = re.compile(rb"(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: (.*))?")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class Framing(Enum):
    """How the body after a head is delimited (RFC 9112 §6.3)."""

    NONE = "none"
    LENGTH = "length"  # Content-Length bytes
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until-close"  # a response without length: read to close
    TUNNEL = "tunnel"  # CONNECT 2xx / 101: the rest is another protocol


# The framings as module constants (on Python 3.11 reading ``Framing.NONE`` goes through
# the enum metaclass's ``__getattr__`` hook, about four times the cost of a global), and
# the answers without a length built once.
_LENGTH: Final = Framing.LENGTH
_NO_BODY: Final = (Framing.NONE, 0)
_CHUNKED: Final = (Framing.CHUNKED, 0)
_UNTIL_CLOSE: Final = (Framing.UNTIL_CLOSE, 0)
_TUNNEL: Final = (Framing.TUNNEL, 0)


@dataclass(frozen=True, slots=True)
class Head:
    """A parsed head. For a request ``a, b, c`` = method, target, version; for a
    response version, status, reason."""

    a: str
    b: str
    c: str
    fields: tuple[tuple[str, str], ...]  # (lower-case name, value), in order

    def get(self, name: str) -> str | None:
        """The first value of a field (``name`` lower-case)."""
        for k, v in self.fields:
            if k == name:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]


# Two heads per exchange: built without the frozen dataclass's __init__ (see
# ``frozen_builder``).
_head = frozen_builder(Head, "a", "b", "c", "fields")


def find_head_end(buf: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """(end of the head's last line, offset of the body) or None while incomplete."""
    crlf = buf.find(b"\n\r\n", start)
    # A bare-LF end wins only if it comes first: looked for before the CRLF end only, not
    # through the body bytes buffered behind the head.
    lf = buf.find(b"\n\n", start, crlf + 1 if crlf >= 0 else len(buf))
    if crlf < 0 and lf < 0:
        return None
    if lf < 0 or 0 <= crlf < lf:
        return crlf, crlf + 3
    return lf, lf + 2


def _lines(block: bytes) -> list[bytes]:
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in block.split(b"\n")]


def _fields(lines: list[bytes]) -> tuple[tuple[str, str], ...]:
    if len(lines) > MAX_FIELDS:
        raise MalformedError(PROTO, "too many header fields")
    out: list[tuple[str, str]] = []
    is_token = _TOKEN.fullmatch
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # obs-fold: continue the previous value
            if not out:
                raise MalformedError(PROTO, "folded line before any field")
            prev_name, prev_value = out[-1]
            out[-1] = (prev_name, f"{prev_value} {_text(line.strip())}")
            continue
        name, sep, value = line.partition(b":")
        if not sep or not is_token(name):
            continue  # not a field line: skipped (lenient, like Zeek and browsers)
        # (``_text`` inlined: a call per field line)
        out.append((name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")))
    return tuple(out)


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")  # RFC 9110 §5.5: octets; latin-1 keeps every byte


def parse_request_head(block: bytes) -> Head:
    """Parse a request head (without the final empty line)."""
    lines = _lines(block.lstrip(b"\r\n"))
    method, _, rest = lines[0].partition(b" ")
    target, _, version = rest.rpartition(b" ")
    if not _TOKEN.fullmatch(method) or not target.strip(b" "):
        raise MalformedError(PROTO, "bad request line")
    if not _VERSION.fullmatch(version):
        raise MalformedError(PROTO, "bad HTTP version in request line")
    # a target with spaces is kept whole, as Zeek does (``CONNECT host:25 / HTTP/1.0``)
    return _head(_text(method), _text(target.strip(b" ")), _text(version), _fields(lines[1:]))


def parse_response_head(block: bytes) -> Head:
    """Parse a response head (without the final empty line)."""
    lines = _lines(block)
    m = _STATUS.fullmatch(lines[0])
    if m is None:
        raise MalformedError(PROTO, "bad status line")
    return _head(_text(m[1]), _text(m[2]), _text(m[3] or b""), _fields(lines[1:]))


def content_length(head: Head) -> int | None:
    """The Content-Length, None if absent; conflicting or bad values are malformed (§6.3)."""
    values = {v.strip() for raw in head.get_all("content-length") for v in raw.split(",")}
    if not values:
        return None
    if len(values) != 1:
        raise MalformedError(PROTO, "conflicting Content-Length values")
    (value,) = values
    if not value.isdigit() or len(value) > 18:
        raise MalformedError(PROTO, "bad Content-Length")
    return int(value)


def is_chunked(head: Head) -> bool:
    codings = [c.strip().lower() for v in head.get_all("transfer-encoding") for c in v.split(",")]
    return bool(codings) and codings[-1] == "chunked"


def request_framing(head: Head) -> tuple[Framing, int]:
    """§6.3 rules 4-6 for a request: chunked, Content-Length, else no body."""
    if head.get("transfer-encoding") is not None:
        if not is_chunked(head):  # §6.3 rule 4: a request must end in chunked
            raise MalformedError(PROTO, "request Transfer-Encoding without final chunked")
        return _CHUNKED
    length = content_length(head)
    if length:
        return _LENGTH, length
    return _NO_BODY


def response_framing(method: str | None, head: Head) -> tuple[Framing, int]:
    """§6.3 rules 1-7 for a response to ``method``."""
    status = int(head.b)
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return _NO_BODY
    if method == "CONNECT" and 200 <= status < 300:
        return _TUNNEL
    if head.get("transfer-encoding") is not None:
        return _CHUNKED if is_chunked(head) else _UNTIL_CLOSE
    length = content_length(head)
    if length is not None:
        return (_LENGTH, length) if length else _NO_BODY
    return _UNTIL_CLOSE


def parse_chunk_size(line: bytes) -> int:
    """The size of a chunk-size line (without its line end), extensions ignored (§7.1.1)."""
    size = line.split(b";", 1)[0].strip(b" \t")
    if not _HEX.fullmatch(size):
        raise MalformedError(PROTO, "bad chunk size")
    return int(size, 16)
