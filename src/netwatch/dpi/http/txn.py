"""One HTTP request/response exchange as the analyzer records it (``app.http.requests[]``),
filled from HTTP/1.x heads (RFC 9112) or HTTP/2 pseudo-header fields (RFC 9113 §8.3).

Also the tunnel sniffing table used after CONNECT or a non-h2c 101 (RFC 9110 §9.3.6):
the first bytes inside the tunnel name the protocol that takes over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import Dir
from netwatch.dpi.http.h1 import Head

MAX_TXNS = 100  # exchanges kept per connection; the rest are counted
MAX_FIELD = 1024  # characters kept of any recorded header value
SUMMARY_PATH = 60


def _clip(value: str | None) -> str | None:
    return None if value is None else value[:MAX_FIELD]


def _first_values(head: Head) -> dict[str, str]:
    """Each field's first value (``head.get`` of every name), as one dict built in C: the
    later duplicates are overwritten by the earlier ones. Cheaper than a scan of the
    fields for each name read."""
    return dict(reversed(head.fields))


@dataclass(slots=True)
class Txn:
    method: str | None = None
    host: str | None = None
    path: str | None = None
    version: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    request_content_type: str | None = None
    status: int | None = None
    response_version: str | None = None
    status_msg: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    server: str | None = None
    request_body_bytes: int = 0
    response_body_bytes: int = 0
    upgrade: str | None = None

    @classmethod
    def from_request(cls, head: Head) -> Txn:
        first = _first_values(head)
        return cls(
            method=head.a,
            path=_clip(head.b),
            version=head.c,
            host=_clip(first.get("host")),
            user_agent=_clip(first.get("user-agent")),
            referrer=_clip(first.get("referer")),
            request_content_type=_clip(first.get("content-type")),
            upgrade=_clip(first.get("upgrade")),
        )

    @classmethod
    def from_h2_request(cls, fields: dict[str, str]) -> Txn:
        txn = cls()
        txn.add_h2_request(fields)
        return txn

    def add_h2_request(self, fields: dict[str, str]) -> None:
        self.method = fields.get(":method")
        self.host = _clip(fields.get(":authority") or fields.get("host"))
        self.path = _clip(fields.get(":path"))
        self.version = "HTTP/2"
        self.user_agent = _clip(fields.get("user-agent"))
        self.referrer = _clip(fields.get("referer"))
        self.request_content_type = _clip(fields.get("content-type"))

    @property
    def asks_switch(self) -> bool:
        """CONNECT or Upgrade: the client waits for the response before speaking again."""
        return self.method == "CONNECT" or self.upgrade is not None

    def add_response(self, head: Head) -> None:
        self.status = int(head.b)
        self.response_version = head.a
        self.status_msg = _clip(head.c) or None
        first = _first_values(head)
        self.content_type = _clip(first.get("content-type"))
        self.content_encoding = _clip(first.get("content-encoding"))
        self.server = _clip(first.get("server"))
        if self.version is None:
            self.version = head.a

    def add_h2_response(self, fields: dict[str, str]) -> None:
        status = fields.get(":status", "")
        if not status.isdigit() or 100 <= int(status) < 200:
            return  # interim (1xx) or broken: wait for the final response
        self.status = int(status)
        self.response_version = "HTTP/2"
        self.content_type = _clip(fields.get("content-type"))
        self.content_encoding = _clip(fields.get("content-encoding"))
        self.server = _clip(fields.get("server"))

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "version": self.version,
            "user_agent": self.user_agent,
            "referrer": self.referrer,
            "content_type": self.content_type,
            "content_encoding": self.content_encoding,
            "request_content_type": self.request_content_type,
            "status": self.status,
            "response_version": self.response_version,
            "status_msg": self.status_msg,
            "server": self.server,
            "request_body_bytes": self.request_body_bytes,
            "response_body_bytes": self.response_body_bytes,
        }

    def summary(self) -> str:
        if self.method is None:
            return "HTTP" if self.status is None else f"HTTP {self.status}"
        target = self.path or ""
        if self.method == "CONNECT" or not target.startswith("/"):
            where = target  # authority-form or absolute-form already names the host
        else:
            where = f"{self.host or ''}{target}"
        if len(where) > SUMMARY_PATH:
            where = where[: SUMMARY_PATH - 1] + "…"
        return f"HTTP {self.method} {where}"


#: First bytes inside a tunnel -> protocol name, per direction that can speak first.
TUNNEL_SIGNATURES: tuple[tuple[Dir, bytes, str], ...] = (
    (Dir.CLIENT, b"\x16\x03", "TLS"),
    (Dir.CLIENT, b"SSH-", "SSH"),
    (Dir.SERVER, b"SSH-", "SSH"),
    (Dir.SERVER, b"220", "SMTP"),
    (Dir.CLIENT, b"PRI * HTTP/2.0", "HTTP"),
    (Dir.CLIENT, b"GET ", "HTTP"),
)


def sniff_tunnel(direction: Dir, first: bytes) -> str | None:
    """The protocol the first tunnel bytes of ``direction`` announce, if one is known."""
    for d, prefix, name in TUNNEL_SIGNATURES:
        if d is direction and first.startswith(prefix):
            return name
    return None
