"""Content detection of HTTP/1.x and cleartext HTTP/2 (RFC 9112 §3, RFC 9113 §3.4).

Payload decides, ports are only a hint (:data:`PORT_HINTS`): a stream is HTTP when it
starts with a known method followed by a plausible request target, with a whole
``token SP target SP HTTP/1.x`` line, with a status line (a capture that starts
mid-connection), or with (a prefix of) the HTTP/2 connection preface. RTSP and SIP share
the method names but not the targets or version (``OPTIONS rtsp://…``), so they are not
claimed.
"""

from __future__ import annotations

import re

from netwatch.dpi.http.h2 import PREFACE

METHODS: frozenset[bytes] = frozenset(
    {
        b"GET",
        b"HEAD",
        b"POST",
        b"PUT",
        b"DELETE",
        b"CONNECT",
        b"OPTIONS",
        b"TRACE",
        b"PATCH",
        # WebDAV (RFC 4918, 3253, 5323, 4791)
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"REPORT",
        b"SEARCH",
        b"MKCALENDAR",
        b"PURGE",
    }
)
PORT_HINTS: frozenset[int] = frozenset({80, 8000, 8008, 8080, 8082, 8888, 3128})

_TARGET = re.compile(rb"(?:/|\*|https?://|[A-Za-z0-9.\-\[\]:]+:[0-9]+(?:[ \r\n]|$))")
_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,24} [^ \r\n]+ HTTP/1\.[01]\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] [0-9]{3}[ \r\n]")
_VERSION_END = re.compile(rb" HTTP/1\.[01]$")


def detect_tcp(data: bytes) -> bool:
    """True if the first bytes of a TCP direction look like HTTP/1.x or HTTP/2."""
    if len(data) >= 4 and data[: len(PREFACE)] == PREFACE[: len(data)]:
        return True
    line = data.lstrip(b"\r\n")[:2048]
    if _REQUEST_LINE.match(line) or _STATUS_LINE.match(line):
        return True
    method, sep, rest = line.partition(b" ")
    if not sep or method not in METHODS:
        return False
    if b"\n" in rest:
        # A whole first line: HTTP/1.x at its end (even with spaces in the target, as in
        # ``CONNECT host:25 / HTTP/1.0``), not RTSP/1.0 or SIP/2.0.
        first = rest.split(b"\n", 1)[0].rstrip(b"\r")
        return bool(_VERSION_END.search(first))
    return bool(_TARGET.match(rest))
