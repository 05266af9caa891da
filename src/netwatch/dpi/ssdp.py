"""SSDP analyzer: UPnP Device Architecture 2.0 §1 (discovery: ``M-SEARCH`` requests,
their unicast ``HTTP/1.1 200 OK`` replies, ``NOTIFY`` ``ssdp:alive``/``ssdp:byebye``
announcements), HTTP over UDP on 239.255.255.250 / ff02::c port 1900 (one message per
datagram, headers only)::

    M-SEARCH * HTTP/1.1\\r\\n
    HOST: 239.255.255.250:1900\\r\\n
    MAN: "ssdp:discover"\\r\\n
    MX: 1\\r\\n
    ST: urn:dial-multiscreen-org:service:dial:1\\r\\n\\r\\n
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "SSDP"
MAX_MESSAGE = 8 * 1024
MAX_HEADERS = 64
MAX_LIST = 16  # values kept per header per flow
_START = re.compile(rb"(M-SEARCH|NOTIFY) \* HTTP/1\.[01]|HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.6.2
#: header (lower case) -> record field; list fields collect distinct values
LIST_FIELDS = {"st": "st", "nt": "nt", "usn": "usn", "location": "location", "nts": "nts"}
ONE_FIELDS = {"server": "server", "user-agent": "user_agent", "man": "man"}


def detect_udp(data: bytes) -> bool:
    m = _START.match(data)
    if m is None or data[m.end() : m.end() + 2] != b"\r\n":
        return False
    if m[1] is not None:
        return True
    # A 200 OK on UDP is SSDP only with discovery headers.
    head = data[:MAX_MESSAGE].lower()
    return b"\nst:" in head and b"\nusn:" in head


class SSDPAnalyzer(AnalyzerBase):
    """The SSDP messages of one UDP flow."""

    protocol = PROTO

    def __init__(self) -> None:
        self._methods: list[str] = []
        self._lists: dict[str, list[str]] = {f: [] for f in LIST_FIELDS.values()}
        self._one: dict[str, str | None] = {f: None for f in ONE_FIELDS.values()}
        self._counts = {"requests": 0, "responses": 0}

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        if len(data) > MAX_MESSAGE:
            raise MalformedError(PROTO, "message larger than the limit")
        lines = data.split(b"\r\n")
        m = _START.fullmatch(lines[0])
        if m is None:
            raise MalformedError(PROTO, "not an SSDP start line")
        if m[1] is not None:
            self._counts["requests"] += 1
            _add(self._methods, m[1].decode("ascii"))
        else:
            self._counts["responses"] += 1
            _add(self._methods, f"HTTP {m[2].decode('ascii')}")
        for n, line in enumerate(lines[1:]):
            if not line:
                break
            if n >= MAX_HEADERS:
                raise MalformedError(PROTO, "too many headers")
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(name.strip()):
                raise MalformedError(PROTO, "not a header line")
            key = name.strip().lower().decode("ascii", "replace")
            text = value.strip().decode("utf-8", "replace")
            if key in LIST_FIELDS:
                _add(self._lists[LIST_FIELDS[key]], text)
            elif key in ONE_FIELDS and self._one[ONE_FIELDS[key]] is None:
                self._one[ONE_FIELDS[key]] = text
        return ()

    @property
    def finished(self) -> bool:
        return False

    def record(self) -> dict[str, Any]:
        return {
            "methods": list(self._methods),
            **{k: list(v) for k, v in self._lists.items()},
            **self._one,
            **self._counts,
        }

    def summary(self) -> str:
        parts = ["SSDP"]
        if self._methods:
            parts.append(self._methods[0])
        target = self._lists["st"] or self._lists["nt"]
        if target:
            parts.append(target[0])
        if self._one["server"]:
            parts.append(f"({self._one['server']})")
        return " ".join(parts)


def _add(items: list[str], value: str) -> None:
    if value not in items and len(items) < MAX_LIST:
        items.append(value)
