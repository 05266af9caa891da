"""SDP media descriptions: RFC 8866 §5.7 (``c=`` connection data, session- or
media-level), §5.14 (``m=<media> <port> <proto> <fmt>...``), §6.6 (``a=rtpmap``) and
RFC 3605 (``a=rtcp:<port>``; otherwise RTCP is on the RTP port + 1, RFC 3550 §11).

::

    c=IN IP4 212.242.33.36
    m=audio 40392 RTP/AVP 8 0
    a=rtpmap:8 PCMA/8000/1
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MEDIA = 8  # m= lines kept per body
#: RFC 3264 §8.4: an unspecified address puts the stream on hold (nothing to expect)
_ON_HOLD = frozenset({"0.0.0.0", "::"})  # noqa: S104 - compared, never bound


@dataclass(frozen=True, slots=True)
class Media:
    media: str  # audio, video, ...
    address: str
    port: int
    rtcp_port: int
    transport: str  # RTP/AVP, RTP/SAVP, ...
    codecs: tuple[str, ...]


class _Block:
    __slots__ = ("addr", "codecs", "fmts", "media", "port", "proto", "rtcp")

    def __init__(self, media: str, port: int, proto: str, fmts: list[str]) -> None:
        self.media, self.port, self.proto, self.fmts = media, port, proto, fmts
        self.addr: str | None = None
        self.rtcp: int | None = None
        self.codecs: dict[str, str] = {}


def _port(text: str) -> int:
    head = text.split("/", 1)[0]
    return int(head) if head.isdigit() and len(head) <= 5 and int(head) < 65536 else 0


def parse_sdp(body: bytes) -> list[Media]:
    """The media streams a body offers (port 0, disabled or held streams left out)."""
    session_addr = ""
    blocks: list[_Block] = []
    current: _Block | None = None
    in_media = False
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        parts = value.split()
        if kind == "c" and len(parts) >= 3:
            addr = parts[2].split("/", 1)[0]
            if not in_media:
                session_addr = addr
            elif current is not None:
                current.addr = addr
        elif kind == "m":
            in_media = True
            current = None
            if len(blocks) < MAX_MEDIA and len(parts) >= 3:
                current = _Block(parts[0], _port(parts[1]), parts[2], parts[3:19])
                blocks.append(current)
        elif kind == "a" and current is not None:
            name, _, rest = value.partition(":")
            if name == "rtpmap":
                pt, _, enc = rest.partition(" ")
                current.codecs[pt] = enc.split("/", 1)[0]
            elif name == "rtcp" and rest.split():
                current.rtcp = _port(rest.split()[0]) or None
    out: list[Media] = []
    for b in blocks:
        addr = b.addr or session_addr
        if b.port == 0 or not addr or addr in _ON_HOLD:
            continue
        names = tuple(b.codecs.get(f, _STATIC.get(f, f)) for f in b.fmts)
        rtcp = b.rtcp if b.rtcp is not None else b.port + 1
        out.append(Media(b.media, addr, b.port, rtcp, b.proto, names))
    return out


#: RFC 3551 §6 static payload types (the common ones)
_STATIC = {
    "0": "PCMU",
    "3": "GSM",
    "4": "G723",
    "8": "PCMA",
    "9": "G722",
    "18": "G729",
    "13": "CN",
    "34": "H263",
}
