"""BitTorrent peer wire protocol (BEP 3 "peer protocol", BEP 10 extension protocol).

Each side opens with a 68-byte handshake, then length-prefixed messages::

    13 "BitTorrent protocol"  00 00 00 00 00 10 00 05  <info_hash 20> <peer_id 20>
    pstrlen pstr              reserved (bit 20: BEP 10, bits 62/64: DHT, fast)

    00 00 00 0d  06  <index 4> <begin 4> <length 4>       request
    length       id

Message 20 (BEP 10) carries a one-byte extended id; id 0 is the extension handshake, a
bencoded dictionary naming the client (``v``) and its extensions (``m``). Other bodies
(pieces, bitfields) are skipped as they stream by, never buffered.
"""

from __future__ import annotations

from typing import Any

from netwatch.dpi.bittorrent.bencode import PROTO, decode
from netwatch.errors import MalformedError

HANDSHAKE_PREFIX = b"\x13BitTorrent protocol"
HANDSHAKE_LEN = 68
MAX_MESSAGE = 4 * 1024 * 1024  # clients drop peers sending more (a 16 KiB block is usual)
MAX_EXT_HANDSHAKE = 64 * 1024
MAX_NAMES = 32
#: messages a side may send before the handshake phase is taken as over (clients that
#: never send an extension handshake)
MAX_HANDSHAKE_MESSAGES = 64

MESSAGE_NAMES = {
    0: "choke",
    1: "unchoke",
    2: "interested",
    3: "not_interested",
    4: "have",
    5: "bitfield",
    6: "request",
    7: "piece",
    8: "cancel",
    9: "port",
    13: "suggest",
    14: "have_all",
    15: "have_none",
    16: "reject",
    17: "allowed_fast",
    20: "extended",
}


def _text(value: Any) -> str | None:
    return value.decode("utf-8", "replace")[:128] if isinstance(value, bytes) else None


class PeerSide:
    """One direction of a peer wire connection."""

    __slots__ = (
        "buf",
        "client_name",
        "extensions",
        "info_hash",
        "listen_port",
        "lost",
        "messages",
        "peer_id",
        "reserved",
        "skip",
    )

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0
        self.lost = False
        self.info_hash: bytes | None = None
        self.peer_id: bytes | None = None
        self.reserved: bytes | None = None
        self.client_name: str | None = None
        self.listen_port: int | None = None
        self.extensions: list[str] = []
        self.messages: dict[str, int] = {}

    def feed(self, data: bytes) -> None:
        if self.lost:
            return
        if self.skip:
            n = min(self.skip, len(data))
            self.skip -= n
            data = data[n:]
        self.buf += data
        if self.peer_id is None:
            if len(self.buf) < HANDSHAKE_LEN:
                if not HANDSHAKE_PREFIX.startswith(bytes(self.buf[:20])):
                    self.lost = True  # joined mid-stream: nothing to learn here
                return
            if self.buf[:20] != HANDSHAKE_PREFIX:
                self.lost = True
                return
            self.reserved = bytes(self.buf[20:28])
            self.info_hash = bytes(self.buf[28:48])
            self.peer_id = bytes(self.buf[48:68])
            del self.buf[:HANDSHAKE_LEN]
        self._messages()

    def _messages(self) -> None:
        buf = self.buf
        while len(buf) >= 4 and not self.skip:
            length = int.from_bytes(buf[:4], "big")
            if length == 0:
                self._count("keep_alive")
                del buf[:4]
                continue
            if length > MAX_MESSAGE:
                raise MalformedError(PROTO, "peer message longer than 4 MiB")
            if len(buf) < 5:
                return
            mid = buf[4]
            name = MESSAGE_NAMES.get(mid, f"id_{mid}")
            if mid == 20 and length <= MAX_EXT_HANDSHAKE:
                if len(buf) < 4 + length:
                    return
                body = bytes(buf[5 : 4 + length])
                del buf[: 4 + length]
                self._count(name)
                if body[:1] == b"\x00":
                    self._ext_handshake(body[1:])
                continue
            self._count(name)
            have = min(len(buf), 4 + length)
            self.skip = 4 + length - have
            del buf[:have]

    def _count(self, name: str) -> None:
        if name in self.messages or len(self.messages) < MAX_NAMES:
            self.messages[name] = self.messages.get(name, 0) + 1

    def _ext_handshake(self, body: bytes) -> None:
        d = decode(body)
        if not isinstance(d, dict):
            raise MalformedError(PROTO, "extension handshake is not a dictionary")
        self.client_name = _text(d.get(b"v"))
        port = d.get(b"p")
        if isinstance(port, int) and 0 < port < 65536:
            self.listen_port = port
        m = d.get(b"m")
        if isinstance(m, dict):
            self.extensions = sorted(k.decode("utf-8", "replace") for k in m)[:MAX_NAMES]

    @property
    def done(self) -> bool:
        """Handshake and extension handshake seen, the side unreadable, or past the start."""
        if self.lost or (self.peer_id is not None and self.client_name is not None):
            return True
        return sum(self.messages.values()) >= MAX_HANDSHAKE_MESSAGES
