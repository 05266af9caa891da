"""SIP analyzer: RFC 3261 §7 (messages), §13 and §15 (INVITE and BYE: the call's life),
§17.1.1 (INVITE client transaction: provisional, final responses), §9 (CANCEL); SDP
offers and answers (RFC 3264) announce the RTP/RTCP media flows, which are linked to
this flow with :class:`ExpectConnection`.

The call state of each Call-ID is a transition table (:data:`CALL_TRANSITIONS`) over
events derived from each message: a request's method, or a response's class together
with the method in its CSeq (only INVITE and BYE responses move a call).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir, ExpectConnection
from netwatch.dpi.sip.message import (
    PROTO,
    Message,
    StreamFramer,
    addr_of,
    looks_like_sip,
    parse_datagram,
)
from netwatch.dpi.sip.sdp import parse_sdp

MAX_CALLS = 32  # calls (Call-IDs) kept per flow; the rest are counted
MAX_LIST = 32  # methods, status codes, media per call
MEDIA_TIMEOUT = 120.0  # seconds an announced media flow may take to start
#: UAs refresh registrations and send keep-alives every few minutes (RFC 3261 §10.2.1,
#: RFC 5626 §4.4): keep one row per signalling association rather than one per burst.
IDLE_TIMEOUT = 600.0

# fmt: off
#: (state, event) -> next state; pairs not listed leave the state as it is.
CALL_TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "INVITE"):              "calling",
    ("failed", "INVITE"):          "calling",      # retried with credentials (407/401)
    ("calling", "INVITE-1xx"):     "proceeding",
    ("calling", "INVITE-ringing"): "ringing",
    ("proceeding", "INVITE-ringing"): "ringing",
    ("calling", "INVITE-2xx"):     "established",
    ("proceeding", "INVITE-2xx"):  "established",
    ("ringing", "INVITE-2xx"):     "established",
    ("calling", "INVITE-fail"):    "failed",
    ("proceeding", "INVITE-fail"): "failed",
    ("ringing", "INVITE-fail"):    "failed",
    ("calling", "CANCEL"):         "cancelled",
    ("proceeding", "CANCEL"):      "cancelled",
    ("ringing", "CANCEL"):         "cancelled",
    ("established", "BYE"):        "terminating",
    ("calling", "BYE"):            "terminating",
    ("proceeding", "BYE"):         "terminating",
    ("ringing", "BYE"):            "terminating",
    ("terminating", "BYE-2xx"):    "terminated",
    ("terminating", "BYE-fail"):   "terminated",
}
# fmt: on


def event_of(msg: Message) -> str:
    """The call-state event a message is: the method, or ``<CSeq method>-<class>``."""
    if msg.method is not None:
        return msg.method
    status = msg.status or 0
    if status in (180, 183):
        kind = "ringing"
    elif status < 200:
        kind = "1xx"
    elif status < 300:
        kind = "2xx"
    else:
        kind = "fail"
    return f"{msg.cseq_method}-{kind}"


def detect_udp(data: bytes) -> bool:
    return looks_like_sip(data)


def detect_tcp(data: bytes) -> bool:
    return looks_like_sip(data)


class _Call:
    __slots__ = ("call_id", "frm", "info", "media", "state", "to")

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.state: str | None = None
        self.frm: str | None = None
        self.to: str | None = None
        self.media: list[dict[str, Any]] = []
        self.info: dict[tuple[str, int], dict[str, Any]] = {}

    def record(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "state": self.state,
            "from": self.frm,
            "to": self.to,
            "media": [dict(m) for m in self.media],
        }


class SIPAnalyzer(AnalyzerBase):
    """The SIP messages of one flow: a UDP 5-tuple or a TCP connection."""

    protocol = PROTO

    def __init__(self, transport: str = "udp") -> None:
        self._transport = transport
        self._framers = (StreamFramer(), StreamFramer()) if transport == "tcp" else None
        self._lost = [False, False]
        self._methods: list[str] = []
        self._statuses: list[int] = []
        self._calls: dict[str, _Call] = {}
        self._more_calls = 0
        self._first: dict[str, str | None] = {
            "request_uri": None,
            "from": None,
            "to": None,
            "contact": None,
            "user_agent": None,
            "server": None,
        }
        self._counts = {"requests": 0, "responses": 0, "keepalives": 0}

    # -- feeding -------------------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        if self._framers is None:
            if not data.strip():
                self._counts["keepalives"] += 1  # RFC 5626 §4.4.1 / vendors' blank pings
                return ()
            return self._message(parse_datagram(data), ts)
        if self._lost[direction]:
            return ()
        events: list[AppEvent] = []
        for msg in self._framers[direction].push(data):
            events.extend(self._message(msg, ts))
        return events

    def gap(self, direction: Dir, length: int) -> None:
        self._lost[direction] = True

    @property
    def buffered(self) -> int:
        if self._framers is None:
            return 0
        client, server = self._framers
        return len(client.buf) + len(server.buf)

    def _message(self, msg: Message, ts: float) -> list[AppEvent]:
        h = msg.headers
        if msg.method is not None:
            self._counts["requests"] += 1
            _add(self._methods, msg.method)
            self._keep("request_uri", msg.uri)
            self._keep("user_agent", h.get("user-agent"))
        else:
            self._counts["responses"] += 1
            if msg.status is not None and msg.status not in self._statuses:
                if len(self._statuses) < MAX_LIST:
                    self._statuses.append(msg.status)
            self._keep("server", h.get("server"))
        self._keep("from", addr_of(h.get("from", "")))
        self._keep("to", addr_of(h.get("to", "")))
        self._keep("contact", addr_of(h.get("contact", "")))
        call = self._call(h.get("call-id", ""))
        if call is None:
            return []
        call.frm = call.frm or addr_of(h.get("from", ""))
        call.to = call.to or addr_of(h.get("to", ""))
        nxt = CALL_TRANSITIONS.get((call.state, event_of(msg)))
        if nxt is not None:
            call.state = nxt
        ctype = h.get("content-type", "").lower()
        if msg.body and (ctype.startswith("application/sdp") or msg.body.startswith(b"v=0")):
            return self._media(call, msg.body, ts)
        return []

    def _keep(self, key: str, value: str | None) -> None:
        if value and self._first[key] is None:
            self._first[key] = value

    def _call(self, call_id: str) -> _Call | None:
        if not call_id:
            return None
        call = self._calls.get(call_id)
        if call is None:
            if len(self._calls) >= MAX_CALLS:
                self._more_calls += 1
                return None
            call = self._calls[call_id] = _Call(call_id)
        return call

    def _media(self, call: _Call, body: bytes, ts: float) -> list[AppEvent]:
        events: list[AppEvent] = []
        for m in parse_sdp(body):
            if (m.address, m.port) in call.info or len(call.media) >= MAX_LIST:
                continue
            call.media.append(
                {"media": m.media, "address": m.address, "port": m.port, "codecs": list(m.codecs)}
            )
            for proto, port in (("RTP", m.port), ("RTCP", m.rtcp_port)):
                if port >= 65536:
                    continue
                info: dict[str, Any] = {
                    "call_id": call.call_id,
                    "media": m.media,
                    "codecs": list(m.codecs),
                }
                call.info[(m.address, port)] = info
                events.append(
                    ExpectConnection(ts, "udp", m.address, port, proto, info, MEDIA_TIMEOUT)
                )
        return events

    # -- output --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return False

    @property
    def idle_timeout(self) -> float | None:
        return IDLE_TIMEOUT

    @property
    def app_state(self) -> str | None:
        states = [c.state for c in self._calls.values() if c.state]
        if not states:
            return "SIP_REGISTER" if "REGISTER" in self._methods else None
        return f"SIP_{states[-1].upper()}"

    def record(self) -> dict[str, Any]:
        return {
            "transport": self._transport,
            "methods": list(self._methods),
            "status_codes": list(self._statuses),
            **self._first,
            "call_ids": list(self._calls),
            "calls": [c.record() for c in self._calls.values()],
            "more_calls": self._more_calls,
            **self._counts,
        }

    def summary(self) -> str:
        parts = ["SIP"]
        invites = [c for c in self._calls.values() if c.state]
        if invites:
            call = invites[-1]
            parts += [call.to or "?", str(call.state)]
        elif self._methods:
            parts.append(self._methods[0])
            if self._first["from"]:
                parts.append(self._first["from"] or "")
        return " ".join(parts)


def _add(items: list[str], value: str) -> None:
    if value not in items and len(items) < MAX_LIST:
        items.append(value)
